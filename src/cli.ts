import 'reflect-metadata';
import { Module, type Provider, type Type } from '@nestjs/common';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli/cli.module.js';
import { checkConfiguration } from './config/config.module.js';

type CliError = Error & { code?: string; exitCode?: number };

/** Usage errors were already printed by commander (exit 2); a failed command prints one line (exit 1). */
function onUsageError(error: CliError): void {
  process.exit(error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2);
}

function onCommandError(error: CliError): void {
  const message = (error.message || String(error)).replace(/^error: /, '').split('\n')[0];
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
const wantsHelp = args.length === 0 || args[0] === 'help' || args.includes('--help') || args.includes('-h');

/**
 * Help needs neither the configuration nor the database: the same commands, with what they depend on left
 * unbuilt (a help request never runs a command), so `--help` answers at once on any machine.
 */
function helpModule(): Type<unknown> {
  const commands = (Reflect.getMetadata('providers', CliModule) as Provider[]).filter(
    (provider): provider is Type<unknown> => typeof provider === 'function',
  );
  const dependencies = new Set<unknown>(commands.flatMap((command) => Reflect.getMetadata('design:paramtypes', command) ?? []));
  @Module({ providers: [...commands, ...[...dependencies].map((token) => ({ provide: token as Type<unknown>, useValue: {} }))] })
  class CliHelpModule {}
  return CliHelpModule;
}

(wantsHelp ? Promise.resolve() : checkConfiguration())
  .then(() =>
    CommandFactory.run(wantsHelp ? helpModule() : CliModule, {
      cliName: 'cli',
      logger: ['error'],
      errorHandler: onUsageError,
      serviceErrorHandler: onCommandError,
    }),
  )
  .catch(onCommandError);
