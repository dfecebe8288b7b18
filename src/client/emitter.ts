/** A small typed event emitter: `on` returns the function that removes the handler. */
export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<(event: never) => void>>();

  on<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(type, set);
    }
    set.add(handler as (event: never) => void);
    return () => void set.delete(handler as (event: never) => void);
  }

  /** A handler that throws does not disturb the emitter's caller: its error is rethrown on its own. */
  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const set = this.handlers.get(type);
    if (set === undefined) {
      return;
    }
    for (const handler of [...set]) {
      try {
        (handler as (event: Events[K]) => void)(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
