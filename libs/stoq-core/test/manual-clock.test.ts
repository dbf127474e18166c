// ManualClock: time moves only on advance; due timers fire in deadline order, ties in the order
// they were set, timers set by a firing timer fire within the same advance when due.
import { ManualClock } from '../src';

describe('ManualClock', () => {
  it('fires due timers in order, skips cancelled ones and ends at the target time', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => fired.push('never'), 5);
    clock.clearTimeout(cancelled);
    clock.setTimeout(() => {
      fired.push(`d@${clock.now()}`);
      clock.setTimeout(() => fired.push(`e@${clock.now()}`), 3);
    }, 15);
    clock.advance(19);
    expect(fired).toEqual(['a@10', 'd@15', 'e@18']);
    expect(clock.now()).toBe(19);
    expect(clock.pending).toBe(2);
    clock.advance(1);
    expect(fired.slice(3)).toEqual(['b@20', 'c@20']);
    expect(clock.pending).toBe(0);
  });
});
