import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { TokenService } from '../auth/token.service.js';
import { parseDurationSeconds } from '../common/duration.js';
import { AppConfig } from '../config/app-config.js';
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

/**
 * The web client's address with a token for the user in its fragment (`#token=…`): the browser keeps the fragment
 * to itself, so the token never travels in a URL (README, "Web client").
 */
@SubCommand({ name: 'link', arguments: '<email>', description: 'Print a web client link that signs the user in (manual testing)' })
export class AuthLinkCommand extends CommandRunner {
  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokenService,
    private readonly config: AppConfig,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[], options: { ttl: number; baseUrl?: string }): Promise<void> {
    const user = await this.users.getByEmail(email);
    const token = await this.tokens.issue(user, options.ttl);
    const base = (options.baseUrl ?? `http://localhost:${this.config.port}`).replace(/\/+$/, '');
    this.output.line(`${base}/#token=${token}`);
  }

  @Option({ flags: '--ttl <duration>', description: 'Lifetime of the token, e.g. 15m, 1h, 7d', defaultValue: 3600 })
  parseTtl(value: string): number {
    return parseDurationSeconds(value);
  }

  @Option({ flags: '--base-url <url>', description: 'Where the service is reached (default http://localhost:PORT)' })
  parseBaseUrl(value: string): string {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`--base-url: expected an http or https URL, got "${value}"`);
    }
    return url.origin + url.pathname;
  }
}

@Command({ name: 'auth', description: 'Authentication helpers', subCommands: [AuthTokenCommand, AuthLinkCommand] })
export class AuthCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
