import { Logger } from '@nestjs/common';

/**
 * A graceful shutdown (SIGTERM, SIGINT) that has not finished after this exits anyway: the live sessions were
 * suspended first, and what a stuck close leaves behind (a record still live) is the lost-session sweep's on the
 * other instances (docs/credits.md, "Ownership across instances"). Orchestrators kill a process that takes longer.
 */
export const SHUTDOWN_DEADLINE_MS = 8_000;

/** Arms the deadline on the first shutdown signal; the log names what the process still waited on. */
export function armShutdownDeadline(deadlineMs = SHUTDOWN_DEADLINE_MS): void {
  const arm = (signal: NodeJS.Signals) => {
    setTimeout(() => {
      new Logger('Shutdown').error({ signal, waiting_on: activeHandles() }, `Shutdown not finished after ${deadlineMs} ms; exiting`);
      // A moment for the log line to be written.
      setTimeout(() => process.exit(1), 200).unref();
    }, deadlineMs).unref();
  };
  process.once('SIGTERM', arm);
  process.once('SIGINT', arm);
}

/** What keeps the process alive, by kind; sockets by their peer. */
function activeHandles(): string[] {
  const handles = (
    process as unknown as { _getActiveHandles(): { constructor?: { name?: string }; remoteAddress?: string; remotePort?: number }[] }
  )._getActiveHandles();
  return handles.map((handle) => {
    const kind = handle.constructor?.name ?? 'unknown';
    return handle.remotePort === undefined ? kind : `${kind} ${handle.remoteAddress}:${handle.remotePort}`;
  });
}
