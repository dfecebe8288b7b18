/** Commands print results through this seam so tests and the terminal see the same lines. */
export abstract class CliOutput {
  abstract line(text: string): void;
}

export class StdoutCliOutput extends CliOutput {
  line(text: string): void {
    process.stdout.write(text + '\n');
  }
}
