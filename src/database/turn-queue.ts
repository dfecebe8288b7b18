/**
 * Collects what is asked for during one turn of the event loop and hands it all over at once, in that turn's check
 * phase (`setImmediate`): right after the I/O callbacks that asked, so a burst's requests leave together and a
 * lone request waits for nothing but the callbacks already running.
 */
export class TurnQueue<T> {
  private items: T[] = [];

  constructor(private readonly send: (items: T[]) => void) {}

  push(item: T): void {
    if (this.items.length === 0) {
      setImmediate(() => {
        const items = this.items;
        this.items = [];
        this.send(items);
      });
    }
    this.items.push(item);
  }
}

/** Splits `items` into runs of at most `size`, in order. */
export function chunks<T>(items: T[], size: number): T[][] {
  const runs: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    runs.push(items.slice(start, start + size));
  }
  return runs;
}
