// @stoq/core's ManualClock, with an advance that lets promise reactions run before and between
// timers: RPC code reacts to a timer through promise chains, so a test must let them settle.
import { ManualClock as CoreManualClock } from '@stoq/core';

export class ManualClock extends CoreManualClock {
  /** Moves time forward, firing due timers in order and letting promise callbacks run between them. */
  override async advance(ms: number): Promise<void> {
    const target = this.now() + ms;
    for (;;) {
      await flushMicrotasks();
      if (!this.fireNext(target)) break;
    }
    super.advance(target - this.now());
    await flushMicrotasks();
  }
}

/** Lets queued promise reactions run (several turns, as chains span many microtasks). */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
