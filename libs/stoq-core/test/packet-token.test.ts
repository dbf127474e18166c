import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ReplayWindow, computeToken, computeTokens, tokenPreimage, verifyToken, type ReplayVerdict } from '../src/packet/token';

describe('packet token', () => {
  it('is SHA-256 over stream_id u64 BE, sequence u64 BE and data', () => {
    const data = Buffer.from('hello');
    const expected = createHash('sha256')
      .update(Buffer.from('0000000000000007' + '0102030405060708', 'hex'))
      .update(data)
      .digest();
    const token = computeToken({ streamId: 7n, sequence: 0x0102030405060708n, data });
    expect(Buffer.from(token.digest).equals(expected)).toBe(true);
    expect(Buffer.from(tokenPreimage({ streamId: 7, sequence: 0x0102030405060708n, data })).toString('hex')).toBe(
      '0000000000000007010203040506070868656c6c6f',
    );
  });

  it('uses an injected batch hasher with the same result', () => {
    const inputs = [0, 1, 2].map((i) => ({ streamId: 4n, sequence: BigInt(i), data: Uint8Array.from([i]) }));
    let calls = 0;
    const hasher = (items: Uint8Array[]): Uint8Array[] => {
      calls++;
      return items.map((it) => createHash('sha256').update(it).digest());
    };
    const batched = computeTokens(inputs, hasher);
    expect(calls).toBe(1);
    expect(batched.map((t) => Buffer.from(t.digest).toString('hex'))).toEqual(
      inputs.map((i) => Buffer.from(computeToken(i).digest).toString('hex')),
    );
    expect(() => computeTokens(inputs, () => [])).toThrow(/returned 0 digests for 3 inputs/);
    expect(() => computeTokens(inputs, (items) => items.map(() => new Uint8Array(5)))).toThrow(/5-byte digest/);
  });

  it('verifies good tokens and rejects altered data, stream, sequence or token with TOKEN_INVALID', () => {
    const packet = { streamId: 3n, sequence: 9n, data: Uint8Array.from([1, 2, 3]) };
    const token = computeToken(packet);
    expect(() => verifyToken({ ...packet, token })).not.toThrow();
    const invalid = expect.objectContaining({ code: 'TOKEN_INVALID' });
    expect(() => verifyToken({ ...packet, data: Uint8Array.from([1, 2, 4]), token })).toThrow(invalid);
    expect(() => verifyToken({ ...packet, streamId: 4n, token })).toThrow(invalid);
    expect(() => verifyToken({ ...packet, sequence: 10n, token })).toThrow(invalid);
    expect(() => verifyToken({ ...packet })).toThrow(/carries no token/);
    expect(() => verifyToken({ ...packet, token: { digest: new Uint8Array(31) } })).toThrow(/31 bytes, expected 32/);
  });

  it('rejects replays and too-old packets with TOKEN_REPLAYED, without letting forged packets advance the window', () => {
    const w = new ReplayWindow(4);
    const pkt = (sequence: bigint) => {
      const p = { streamId: 1n, sequence, data: Uint8Array.from([Number(sequence)]) };
      return { ...p, token: computeToken(p) };
    };
    verifyToken(pkt(0n), w);
    expect(() => verifyToken(pkt(0n), w)).toThrow(expect.objectContaining({ code: 'TOKEN_REPLAYED', message: expect.stringContaining('already accepted') }));
    // forged packet far ahead: rejected, window unchanged
    expect(() => verifyToken({ ...pkt(100n), data: Uint8Array.from([0]) }, w)).toThrow(expect.objectContaining({ code: 'TOKEN_INVALID' }));
    expect(w.highestAccepted).toBe(0n);
    verifyToken(pkt(10n), w);
    expect(() => verifyToken(pkt(5n), w)).toThrow(expect.objectContaining({ code: 'TOKEN_REPLAYED', message: expect.stringContaining('older than the replay window') }));
    verifyToken(pkt(8n), w); // reordered, inside the window
    expect(w.stats).toEqual({ accepted: 3, reordered: 1, replayed: 1, tooOld: 1 });
  });
});

describe('ReplayWindow', () => {
  it('matches a naive set model on any sequence of arrivals', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        // a wandering cursor keeps arrivals near the window's edges; the jump reaches the u64 top
        fc.array(
          fc.oneof(
            { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 6 },
            { arbitrary: fc.integer({ min: -45, max: 0 }), weight: 3 },
            { arbitrary: fc.constant(100), weight: 1 },
          ),
          { maxLength: 300, size: 'max' },
        ),
        fc.boolean(),
        (size, steps, nearTop) => {
          const base = nearTop ? (1n << 64n) - 30_000n : 0n;
          let cursor = 0n;
          const arrivals = steps.map((step) => {
            cursor += BigInt(step);
            if (cursor < 0n) cursor = 0n;
            return base + cursor;
          });
          const w = new ReplayWindow(size);
          const seen = new Set<bigint>();
          let highest = -1n;
          for (const seq of arrivals) {
            let expected: ReplayVerdict;
            if (highest >= 0n && seq <= highest - BigInt(size)) expected = 'too-old';
            else if (seen.has(seq)) expected = 'replayed';
            else expected = 'new';
            const peeked = w.peek(seq);
            const checked = w.check(seq);
            if (peeked !== expected || checked !== expected) {
              throw new Error(`seq ${seq}: peek ${peeked}, check ${checked}, model ${expected}`);
            }
            if (expected === 'new') {
              seen.add(seq);
              if (seq > highest) highest = seq;
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('accepts out-of-order arrival within the window and counts it as reordered', () => {
    const w = new ReplayWindow(1024);
    for (const s of [5, 3, 4, 1, 2, 0, 1000, 6]) expect(w.check(s)).toBe('new');
    expect(w.check(3)).toBe('replayed');
    expect(w.stats.reordered).toBe(6);
    expect(w.check(2000)).toBe('new');
    expect(w.check(976)).toBe('too-old');
    expect(w.check(977)).toBe('new');
  });

  it('forgets ring positions it jumps over (no stale bit from a sequence one ring earlier)', () => {
    const w = new ReplayWindow(32);
    for (const s of [0, 31, 33]) expect(w.check(s)).toBe('new');
    expect(w.check(32)).toBe('new'); // shares a bitmap slot with 0
  });

  it('validates its size and inputs', () => {
    expect(() => new ReplayWindow(0)).toThrow(/replay window size/);
    expect(() => new ReplayWindow(1.5)).toThrow(/replay window size/);
    expect(() => new ReplayWindow().check(-1)).toThrow(/sequence/);
    expect(() => new ReplayWindow().check(1n << 64n)).toThrow(/sequence/);
  });
});
