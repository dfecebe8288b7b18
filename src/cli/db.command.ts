import { Command, CommandRunner, SubCommand } from 'nest-commander';
import { ChannelsService } from '../channels/channels.service.js';
import type { SubscriptionTier } from '../users/user.schema.js';
import { UsersService } from '../users/users.service.js';
import { CliOutput } from './cli-output.js';

const DEMO_USERS: { email: string; tier: SubscriptionTier; admin: boolean }[] = [
  { email: 'admin@demo.local', tier: 'premium', admin: true },
  { email: 'premium@demo.local', tier: 'premium', admin: false },
  { email: 'family@demo.local', tier: 'family', admin: false },
  { email: 'free@demo.local', tier: 'free', admin: false },
];

const DEMO_CHANNELS = [
  {
    id: 'news-il',
    name: 'Israel News Live',
    isLive: true,
    supportsDubbing: true,
    sourceLanguage: 'he',
    dubbingLanguages: ['en', 'es', 'fr'],
  },
  { id: 'sports-es', name: 'Deportes en Vivo', isLive: true, supportsDubbing: true, sourceLanguage: 'es', dubbingLanguages: ['en', 'he'] },
];

@SubCommand({ name: 'seed', description: 'Insert demo users and channels (idempotent)' })
export class DbSeedCommand extends CommandRunner {
  constructor(
    private readonly users: UsersService,
    private readonly channels: ChannelsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run(): Promise<void> {
    for (const demo of DEMO_USERS) {
      const existing = await this.users.findByEmail(demo.email);
      const user = existing ?? (await this.users.create(demo));
      this.output.line(`${existing ? 'kept' : 'created'} user ${user.email} (${user.tier}${demo.admin ? ', admin' : ''})`);
    }
    for (const channel of DEMO_CHANNELS) {
      await this.channels.save(channel);
      this.output.line(`saved channel ${channel.id} (${channel.dubbingLanguages.join(',')})`);
    }
  }
}

@Command({ name: 'db', description: 'Database helpers', subCommands: [DbSeedCommand] })
export class DbCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
