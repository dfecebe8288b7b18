import 'reflect-metadata';
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

checkConfiguration()
  .then(() =>
    CommandFactory.run(CliModule, {
      cliName: 'cli',
      logger: ['error'],
      errorHandler: onUsageError,
      serviceErrorHandler: onCommandError,
    }),
  )
  .catch(onCommandError);
