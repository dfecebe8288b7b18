import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Loaded with `--import` (and `--expose-gc`) into each server the gateway benchmark measures — the gateway as
 * production runs it (`dist/src/main.js`) and the bare echo server alike — so both are measured the same way, from
 * inside their own process, over IPC:
 *   { type: 'stats-start' }  → starts counting CPU time and event-loop delay; replies { type: 'stats-started' }
 *   { type: 'stats-read' }   → replies { type: 'stats', cpuMicros, loopP99Ms, loopMaxMs, heapUsed } since the last start
 * `heapUsed` is read after two full garbage collections.
 */

export type StatsCommand = { type: 'stats-start' } | { type: 'stats-read' };
export type StatsReport =
  { type: 'stats-started' } | { type: 'stats'; cpuMicros: number; loopP99Ms: number; loopMaxMs: number; heapUsed: number };

const collectGarbage = (globalThis as { gc?: () => void }).gc;

if (process.send !== undefined) {
  let cpuAtStart = process.cpuUsage();
  let loop = monitorEventLoopDelay({ resolution: 10 });
  const reply = (report: StatsReport) => process.send!(report);
  process.on('message', (command: StatsCommand) => {
    if (command?.type === 'stats-start') {
      loop.disable();
      loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      cpuAtStart = process.cpuUsage();
      reply({ type: 'stats-started' });
    } else if (command?.type === 'stats-read') {
      const cpu = process.cpuUsage(cpuAtStart);
      const loopP99Ms = loop.percentile(99) / 1e6;
      const loopMaxMs = loop.max / 1e6;
      collectGarbage?.();
      collectGarbage?.();
      reply({ type: 'stats', cpuMicros: cpu.user + cpu.system, loopP99Ms, loopMaxMs, heapUsed: process.memoryUsage().heapUsed });
    }
  });
  // The IPC channel alone must not keep a server alive, nor stop it from exiting when told to.
  process.channel?.unref();
}
