import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { ChannelsService } from '../channels/channels.service.js';
import { CliOutput } from './cli-output.js';

interface CreateChannelOptions {
  name: string;
  languages: string[];
  source: string;
  offline?: boolean;
  dubbing?: boolean;
}

const LANGUAGE = /^[a-z]{2,3}(-[A-Z]{2})?$/;

@SubCommand({ name: 'create', arguments: '<id>', description: 'Create or update a channel' })
export class ChannelsCreateCommand extends CommandRunner {
  constructor(
    private readonly channels: ChannelsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([id]: string[], options: CreateChannelOptions): Promise<void> {
    const channel = {
      id,
      name: options.name,
      isLive: options.offline !== true,
      supportsDubbing: options.dubbing !== false,
      sourceLanguage: options.source,
      dubbingLanguages: options.languages,
    };
    const { created } = await this.channels.save(channel);
    this.output.line(
      `${created ? 'created' : 'updated'} channel ${id} (${channel.isLive ? 'live' : 'offline'}, source ${channel.sourceLanguage}, dubbing ${channel.supportsDubbing ? channel.dubbingLanguages.join(',') : 'off'})`,
    );
  }

  @Option({ flags: '--name <name>', description: 'Channel name', required: true })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '--languages <list>', description: 'Dubbing languages offered, comma-separated (e.g. en,es)', required: true })
  parseLanguages(value: string): string[] {
    const languages = value.split(',').map((language) => language.trim());
    const invalid = languages.filter((language) => !LANGUAGE.test(language));
    if (invalid.length > 0) {
      throw new Error(`--languages: invalid language code ${invalid.map((code) => JSON.stringify(code)).join(', ')}`);
    }
    return languages;
  }

  @Option({ flags: '--source <language>', description: 'Source language of the channel audio', defaultValue: 'he' })
  parseSource(value: string): string {
    if (!LANGUAGE.test(value)) {
      throw new Error(`--source: invalid language code "${value}"`);
    }
    return value;
  }

  @Option({ flags: '--offline', description: 'Create the channel as not live' })
  parseOffline(): boolean {
    return true;
  }

  @Option({ flags: '--no-dubbing', description: 'The channel does not support dubbing' })
  parseDubbing(): boolean {
    return false;
  }
}

@Command({ name: 'channels', description: 'Manage channels', subCommands: [ChannelsCreateCommand] })
export class ChannelsCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
