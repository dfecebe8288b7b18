import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/database/embedded-database.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`dist/src/cli.js`, built by `pretest`) as a child process, as an operator would. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const cli = join(projectRoot(), 'dist', 'src', 'cli.js');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
