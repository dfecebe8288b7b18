import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { TokenService } from '../auth/token.service.js';
import { parseDurationSeconds } from '../common/duration.js';
import { UsersService } from '../users/users.service.js';
import { CliOutput } from './cli-output.js';

@SubCommand({ name: 'token', arguments: '<email>', description: 'Print a signed access token for a user (manual testing)' })
export class AuthTokenCommand extends CommandRunner {
  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokenService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[], options: { ttl: number }): Promise<void> {
    const user = await this.users.getByEmail(email);
    this.output.line(await this.tokens.issue(user, options.ttl));
  }

  @Option({ flags: '--ttl <duration>', description: 'Lifetime, e.g. 15m, 1h, 7d', defaultValue: 3600 })
  parseTtl(value: string): number {
    return parseDurationSeconds(value);
  }
}

@Command({ name: 'auth', description: 'Authentication helpers', subCommands: [AuthTokenCommand] })
export class AuthCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
