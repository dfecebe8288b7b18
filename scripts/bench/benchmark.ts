import { performance } from 'node:perf_hooks';

/** One benchmark, registered in run.ts; it prints its own results. */
export interface Benchmark {
  name: string;
  /** One line: what it measures. */
  description: string;
  run(): Promise<void>;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Wall-clock milliseconds `work` takes. */
export async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A plain-text table with right-aligned columns, as pasted into the README. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padStart(widths[column])).join(' | ')} |`;
  const rule = `|${widths.map((width) => `${'-'.repeat(width + 1)}:`).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Runs per benchmark row: `BENCH_REPETITIONS`, a whole number ≥ 1 (`fallback` when unset). */
export function repetitions(fallback: number): number {
  const value = process.env.BENCH_REPETITIONS ?? String(fallback);
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`BENCH_REPETITIONS must be a whole number ≥ 1, not "${value}"`);
  }
  return count;
}
