import { ManualClock } from './manual-clock.js';

describe(ManualClock.name, () => {
  it('fires timers in time order as it advances, at their own times', async () => {
    const clock = new ManualClock(1000);
    const fired: [string, number][] = [];
    clock.setTimer(300, () => {
      fired.push(['b', clock.now()]);
    });
    clock.setTimer(100, () => {
      fired.push(['a', clock.now()]);
    });
    clock.setTimer(900, () => {
      fired.push(['c', clock.now()]);
    });
    await clock.advance(500);
    expect(fired).toEqual([
      ['a', 1100],
      ['b', 1300],
    ]);
    expect(clock.now()).toBe(1500);
  });

  it('does not fire a cancelled timer', async () => {
    const clock = new ManualClock(0);
    let fired = false;
    const cancel = clock.setTimer(10, () => {
      fired = true;
    });
    cancel();
    await clock.advance(100);
    expect(fired).toBe(false);
  });
});
