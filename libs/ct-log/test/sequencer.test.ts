import fc from 'fast-check';
import { Sequencer } from '../src';

type Op = { kind: 'submit'; bytes: number } | { kind: 'next'; now: number } | { kind: 'complete' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('submit' as const), bytes: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('next' as const), now: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ kind: fc.constant('complete' as const) }),
);

describe('Sequencer (pure group commit)', () => {
  it('assigns every submission exactly one consecutive index, in order, within batch limits', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 600 }), fc.nat(50), (ops, maxEntries, maxBytes, start) => {
        const s = new Sequencer<number>(start, 0, { maxBatchEntries: maxEntries, maxBatchBytes: maxBytes });
        let submitted = 0;
        const sequenced: number[] = []; // submission ids in index order
        let inFlight: ReturnType<typeof s.next> = null;
        let lastTs = 0;
        const sizes: number[] = [];
        const drive = (op: Op): void => {
          if (op.kind === 'submit') {
            sizes.push(op.bytes);
            s.submit(submitted++, op.bytes);
          } else if (op.kind === 'next') {
            const b = s.next(op.now);
            if (inFlight) expect(b).toBeNull(); // one batch at a time: the torn-tail rule depends on it
            if (!b) return;
            inFlight = b;
            expect(b.firstIndex).toBe(start + sequenced.length);
            expect(b.items.length).toBeGreaterThan(0);
            expect(b.items.length).toBeLessThanOrEqual(maxEntries);
            const bytes = b.items.reduce((a, id) => a + sizes[id]!, 0);
            if (b.items.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
            expect(b.timestamp).toBeGreaterThanOrEqual(lastTs);
            expect(b.timestamp).toBeGreaterThanOrEqual(op.now);
            lastTs = b.timestamp;
            sequenced.push(...b.items);
          } else if (inFlight) {
            s.complete(inFlight);
            inFlight = null;
          }
        };
        ops.forEach(drive);
        // Drain.
        for (;;) {
          if (inFlight) {
            s.complete(inFlight);
            inFlight = null;
          }
          const b = s.next(0);
          if (!b) break;
          inFlight = b;
          sequenced.push(...b.items);
        }
        expect(sequenced).toEqual(Array.from({ length: submitted }, (_, i) => i));
        expect(s.durableSize).toBe(start + submitted);
        expect(s.pending).toBe(0);
      }),
    );
  });

  it('on failure hands back every non-durable item and refuses new ones', () => {
    const s = new Sequencer<string>(0, 0, { maxBatchEntries: 2, maxBatchBytes: 100 });
    ['a', 'b', 'c'].forEach((x) => s.submit(x, 1));
    const b = s.next(1)!;
    expect(b.items).toEqual(['a', 'b']);
    expect(s.fail()).toEqual(['a', 'b', 'c']);
    expect(s.durableSize).toBe(0);
    expect(() => s.submit('d', 1)).toThrow('log is failed; not accepting entries');
    expect(s.next(2)).toBeNull();
  });

  it('an oversized single entry still forms its own batch', () => {
    const s = new Sequencer<string>(0, 0, { maxBatchEntries: 10, maxBatchBytes: 10 });
    s.submit('big', 50);
    s.submit('small', 1);
    expect(s.next(0)!.items).toEqual(['big']);
  });
});
