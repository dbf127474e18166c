import fc from 'fast-check';
import { AsyncQueue } from '../src/async-queue';

describe('AsyncQueue', () => {
  test('delivers every pushed item once, in order, however pushes and takes interleave', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { maxLength: 3000 }), async (ops) => {
        const q = new AsyncQueue<number>();
        const taken: Promise<IteratorResult<number>>[] = [];
        let pushed = 0;
        for (const isPush of ops) {
          if (isPush) q.push(pushed++);
          else taken.push(q.next());
        }
        q.end();
        const values = (await Promise.all(taken)).filter((r) => !r.done).map((r) => r.value);
        for (let r = await q.next(); !r.done; r = await q.next()) values.push(r.value);
        expect(values).toEqual(Array.from({ length: pushed }, (_, i) => i));
      }),
      { numRuns: 100 },
    );
  });

  test('end: queued items first, then done (pull: null); later pushes are refused', async () => {
    const q = new AsyncQueue<string>();
    q.push('a');
    q.end();
    expect(q.push('b')).toBe(false);
    expect(await q.pull()).toBe('a');
    expect(await q.pull()).toBeNull();
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  test('fail: drops what is queued and rejects waiting and later takers', async () => {
    const q = new AsyncQueue<number>();
    const waiting = new AsyncQueue<number>();
    const pending = waiting.next();
    q.push(1);
    q.fail(new Error('boom'));
    waiting.fail(new Error('gone'));
    await expect(q.next()).rejects.toThrow('boom');
    await expect(pending).rejects.toThrow('gone');
    expect(q.push(2)).toBe(false);
  });

  test('waitForSpace resolves once the consumer has taken the queue below the limit', async () => {
    const q = new AsyncQueue<number>();
    for (let i = 0; i < 4; i++) q.push(i);
    let resolved = false;
    const space = q.waitForSpace(3).then(() => {
      resolved = true;
    });
    await q.next();
    await Promise.resolve();
    expect(resolved).toBe(false); // 3 left: still at the limit
    await q.next();
    await space;
    expect(q.size).toBe(2);
  });
});
