import { flushPromises } from '../../../../test/harness/manual-clock.js';
import { Semaphore } from './semaphore.js';

describe(Semaphore.name, () => {
  it('lets `permits` holders in at once and the next waiter in when one releases', async () => {
    const semaphore = new Semaphore(2);
    const first = await semaphore.acquire();
    await semaphore.acquire();
    let thirdIn = false;
    const third = semaphore.acquire().then((release) => {
      thirdIn = true;
      return release;
    });
    await flushPromises();
    expect(thirdIn).toBe(false);
    first();
    await third;
    expect(thirdIn).toBe(true);
  });

  it('serves waiters first come, first served', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => semaphore.acquire().then((next) => (order.push(n), next())));
    release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
  });

  it('counts a release once however often it is called', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    release();
    release();
    await semaphore.acquire();
    let secondIn = false;
    void semaphore.acquire().then(() => (secondIn = true));
    await flushPromises();
    expect(secondIn).toBe(false);
  });

  it('drops a waiter whose signal aborts, with the abort reason', async () => {
    const semaphore = new Semaphore(1);
    const release = await semaphore.acquire();
    const abort = new AbortController();
    const waiting = semaphore.acquire(abort.signal);
    abort.abort(new Error('segment dropped'));
    await expect(waiting).rejects.toThrow('segment dropped');
    expect(semaphore.waiting()).toBe(0);
    release();
    await expect(semaphore.acquire()).resolves.toBeInstanceOf(Function);
  });

  it('refuses an already aborted signal at once', async () => {
    const abort = new AbortController();
    abort.abort(new Error('closed'));
    await expect(new Semaphore(1).acquire(abort.signal)).rejects.toThrow('closed');
  });

  it('refuses a permit count below one', () => {
    expect(() => new Semaphore(0)).toThrow('A semaphore needs a positive whole number of permits, got 0');
  });
});
