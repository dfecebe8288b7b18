// `npm run bench [-- <name>...]`: runs every registered benchmark, or only the named ones.
import type { Benchmark } from './benchmark.js';
import { checkpointBenchmark } from './checkpoint.bench.js';
import { gatewayBenchmark } from './gateway.bench.js';

const BENCHMARKS: Benchmark[] = [checkpointBenchmark, gatewayBenchmark];

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((name) => !BENCHMARKS.some((benchmark) => benchmark.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((benchmark) => benchmark.name).join(', ')}`);
  }
  const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((benchmark) => names.includes(benchmark.name));
  for (const benchmark of selected) {
    process.stdout.write(`\n## ${benchmark.name}: ${benchmark.description}\n\n`);
    await benchmark.run();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
