import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { SUBSCRIPTION_TIERS, type SubscriptionTier } from '../users/user.schema.js';
import { UsersService } from '../users/users.service.js';
import { CliOutput } from './cli-output.js';

interface CreateUserOptions {
  tier: SubscriptionTier;
  admin?: boolean;
  name?: string;
}

@SubCommand({ name: 'create', arguments: '<email>', description: 'Create a user' })
export class UsersCreateCommand extends CommandRunner {
  constructor(
    private readonly users: UsersService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[], options: CreateUserOptions): Promise<void> {
    const user = await this.users.create({ email, tier: options.tier, admin: options.admin, displayName: options.name });
    this.output.line(`created user ${user.email} (id ${user.id}, tier ${user.tier}, roles ${user.roles.join(',')})`);
  }

  @Option({ flags: '-t, --tier <tier>', description: `Subscription tier: ${SUBSCRIPTION_TIERS.join('|')}`, required: true })
  parseTier(value: string): SubscriptionTier {
    if (!(SUBSCRIPTION_TIERS as readonly string[]).includes(value)) {
      throw new Error(`--tier must be one of ${SUBSCRIPTION_TIERS.join(', ')}`);
    }
    return value as SubscriptionTier;
  }

  @Option({ flags: '--admin', description: 'Grant the admin role' })
  parseAdmin(): boolean {
    return true;
  }

  @Option({ flags: '-n, --name <name>', description: 'Display name (default: the part of the email before @)' })
  parseName(value: string): string {
    return value;
  }
}

@Command({ name: 'users', description: 'Manage users', subCommands: [UsersCreateCommand] })
export class UsersCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
