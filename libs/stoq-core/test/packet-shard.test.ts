import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { StoqError } from '../src/errors';
import { ShardReassembler, shardMessage, shardRange, type Shard } from '../src/packet/shard';

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'));

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoqError);
    return (err as StoqError).code;
  }
  throw new Error('expected a StoqError');
}

/** Shard `i` with its bytes replaced (and shard_hash recomputed so only the content differs). */
function withData(shard: Shard, data: Uint8Array): Shard {
  return { info: { ...shard.info, shardHash: sha(data) }, data };
}

describe('shardMessage', () => {
  it('splits evenly into ceil(len/size) shards that tile the message', () => {
    const data = Uint8Array.from({ length: 10 }, (_, i) => i);
    const shards = shardMessage(1n, data, 4);
    expect(shards.map((s) => s.data.length)).toEqual([4, 3, 3]);
    expect(shards.map((s) => Array.from(s.data)).flat()).toEqual(Array.from(data));
    for (const s of shards) {
      expect(s.info).toMatchObject({ messageId: 1n, count: 3, totalLength: 10 });
      expect(hex(s.info.shardHash)).toBe(hex(sha(s.data)));
      expect(hex(s.info.messageHash)).toBe(hex(sha(data)));
    }
    expect(shardMessage(2n, new Uint8Array(0), 4).map((s) => s.info.count)).toEqual([1]);
  });

  it('shardRange tiles [0, total) for any count <= total', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), (total, c) => {
        const count = Math.min(c, total);
        let next = 0;
        for (let i = 0; i < count; i++) {
          const r = shardRange(i, count, total);
          if (r.start !== next || r.length < 1) throw new Error(`shard ${i}/${count} of ${total}: ${JSON.stringify(r)}`);
          next += r.length;
        }
        expect(next).toBe(total);
      }),
    );
  });

  it('refuses a non-positive shard size', () => {
    expect(code(() => shardMessage(1n, new Uint8Array(4), 0))).toBe('INVALID_ARGUMENT');
  });
});

describe('ShardReassembler', () => {
  it('reassembles any permutation of the shards, with duplicates, into the original', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000, size: 'max' }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer(),
        (data, shardSize, dupPicks, seed) => {
          const shards = shardMessage(42n, data, shardSize);
          const order = [...shards, ...dupPicks.map((p) => shards[p % shards.length]!)];
          // deterministic shuffle from the seed
          let s = seed >>> 0;
          for (let i = order.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            const j = s % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const r = new ShardReassembler();
          const results = order.map((sh, i) => r.push(sh, i)).filter((x): x is Uint8Array => x !== null);
          expect(results.length).toBe(1);
          expect(hex(results[0]!)).toBe(hex(data));
          expect(r.inFlightMessages).toBe(0);
          expect(r.inFlightBytes).toBe(0);
        },
      ),
    );
  });

  it('interleaves several messages', () => {
    const a = randomBytes(5000);
    const b = randomBytes(3000);
    const r = new ShardReassembler();
    const sa = shardMessage(1n, a, 1000);
    const sb = shardMessage(2n, b, 1000);
    const out: Array<Uint8Array | null> = [];
    for (let i = 0; i < 5; i++) {
      out.push(r.push(sa[i]!, 0));
      if (sb[i]) out.push(r.push(sb[i]!, 0));
    }
    expect(out.filter((x) => x !== null).map(hex)).toEqual([hex(b), hex(a)]);
  });

  it('rejects a duplicate index with different content (SHARD_DUPLICATE_MISMATCH) and keeps the message', () => {
    const data = randomBytes(100);
    const shards = shardMessage(7n, data, 40);
    const r = new ShardReassembler();
    expect(r.push(shards[0]!, 0)).toBeNull();
    expect(r.push(shards[0]!, 1)).toBeNull(); // exact duplicate tolerated
    const forged = withData(shards[0]!, Uint8Array.from(shards[0]!.data).fill(9));
    expect(code(() => r.push(forged, 2))).toBe('SHARD_DUPLICATE_MISMATCH');
    expect(r.push(shards[1]!, 3)).toBeNull();
    expect(hex(r.push(shards[2]!, 4))).toBe(hex(data));
  });

  it('rejects a shard whose bytes do not match its shard_hash (SHARD_CORRUPT)', () => {
    const shards = shardMessage(7n, randomBytes(100), 40);
    const r = new ShardReassembler();
    const flipped = Uint8Array.from(shards[1]!.data);
    flipped[0]! ^= 1;
    expect(() => r.push({ info: shards[1]!.info, data: flipped }, 0)).toThrow(
      expect.objectContaining({ code: 'SHARD_CORRUPT', message: expect.stringContaining('shard_hash') }),
    );
    expect(r.inFlightMessages).toBe(0);
  });

  it('rejects a completed message whose bytes do not match message_hash (SHARD_CORRUPT) and discards it', () => {
    const data = randomBytes(100);
    const shards = shardMessage(7n, data, 40);
    // a consistent but wrong shard 2: valid shard_hash for its own bytes, wrong for the message
    const bad = withData(shards[2]!, randomBytes(shards[2]!.data.length));
    const r = new ShardReassembler();
    r.push(shards[0]!, 0);
    r.push(shards[1]!, 0);
    expect(() => r.push(bad, 0)).toThrow(expect.objectContaining({ code: 'SHARD_CORRUPT', message: expect.stringContaining('message_hash') }));
    expect(r.inFlightMessages).toBe(0);
    expect(r.inFlightBytes).toBe(0);
    // single-shard message with a wrong message_hash
    const one = shardMessage(8n, randomBytes(10), 100)[0]!;
    expect(code(() => r.push({ ...one, info: { ...one.info, messageHash: sha(Uint8Array.from([1])) } }, 0))).toBe('SHARD_CORRUPT');
  });

  it('rejects shards whose count, total_length or message_hash disagree with earlier ones (SHARD_CORRUPT)', () => {
    const shards = shardMessage(7n, randomBytes(120), 40);
    const r = new ShardReassembler();
    r.push(shards[0]!, 0);
    const s1 = shards[1]!;
    expect(code(() => r.push({ ...s1, info: { ...s1.info, count: 4 } }, 0))).toBe('SHARD_CORRUPT');
    expect(code(() => r.push({ ...s1, info: { ...s1.info, totalLength: 121 } }, 0))).toBe('SHARD_CORRUPT');
    expect(code(() => r.push({ ...s1, info: { ...s1.info, messageHash: sha(Uint8Array.from([0])) } }, 0))).toBe('SHARD_CORRUPT');
    // structurally impossible metadata
    expect(code(() => r.push({ ...s1, info: { ...s1.info, index: 3 } }, 0))).toBe('SHARD_CORRUPT');
    expect(code(() => r.push({ ...s1, info: { ...s1.info, count: 0 } }, 0))).toBe('SHARD_CORRUPT');
    expect(code(() => r.push({ ...s1, info: { ...s1.info, shardHash: new Uint8Array(3) } }, 0))).toBe('SHARD_CORRUPT');
    // wrong size for its position
    expect(code(() => r.push(withData(s1, new Uint8Array(39)), 0))).toBe('SHARD_CORRUPT');
    expect(r.missing(7n)).toEqual([1, 2]);
  });

  it('enforces message size, in-flight bytes, in-flight messages and shard-count limits (SHARD_LIMIT)', () => {
    const r = new ShardReassembler({ maxMessageBytes: 1000, maxInFlightBytes: 1500, maxInFlightMessages: 2, maxShardsPerMessage: 10 });
    expect(code(() => r.push(shardMessage(1n, new Uint8Array(1001), 100)[0]!, 0))).toBe('SHARD_LIMIT');
    expect(code(() => r.push(shardMessage(1n, new Uint8Array(1000), 10)[0]!, 0))).toBe('SHARD_LIMIT'); // 100 shards
    r.push(shardMessage(2n, new Uint8Array(1000), 500)[0]!, 0);
    expect(code(() => r.push(shardMessage(3n, new Uint8Array(600), 300)[0]!, 0))).toBe('SHARD_LIMIT'); // bytes
    r.push(shardMessage(4n, new Uint8Array(400), 200)[0]!, 0);
    expect(code(() => r.push(shardMessage(5n, new Uint8Array(20), 10)[0]!, 0))).toBe('SHARD_LIMIT'); // messages
    expect(r.inFlightBytes).toBe(1400);
    expect(r.inFlightMessages).toBe(2);
  });

  it('expires idle incomplete messages with SHARD_TIMEOUT and the missing indexes; the clock is the caller’s', () => {
    const r = new ShardReassembler({ timeoutMs: 1000 });
    const shards = shardMessage(9n, randomBytes(100), 10);
    r.push(shards[0]!, 0);
    r.push(shards[5]!, 500);
    expect(r.expire(1499)).toEqual([]);
    const [expired, ...rest] = r.expire(1500);
    expect(rest).toEqual([]);
    expect(expired!.messageId).toBe(9n);
    expect(expired!.missing).toEqual([1, 2, 3, 4, 6, 7, 8, 9]);
    expect(expired!.error.code).toBe('SHARD_TIMEOUT');
    expect(expired!.error.message).toContain('missing 8 of 10 shards');
    expect(r.inFlightBytes).toBe(0);
  });

  it('end() reports every incomplete message with SHARD_MISSING', () => {
    const r = new ShardReassembler();
    r.push(shardMessage(1n, randomBytes(30), 10)[2]!, 0);
    const reports = r.end();
    expect(reports.map((x) => [x.messageId, x.missing, x.error.code])).toEqual([[1n, [0, 1], 'SHARD_MISSING']]);
    expect(r.inFlightMessages).toBe(0);
  });

  it('drops late duplicates of a completed message instead of starting it again', () => {
    const data = randomBytes(100);
    const shards = shardMessage(3n, data, 50);
    const r = new ShardReassembler({ timeoutMs: 1000 });
    r.push(shards[0]!, 0);
    expect(hex(r.push(shards[1]!, 0))).toBe(hex(data));
    expect(r.push(shards[0]!, 10)).toBeNull();
    expect(r.inFlightMessages).toBe(0);
    const other = shardMessage(3n, randomBytes(100), 50)[0]!;
    expect(code(() => r.push(other, 20))).toBe('SHARD_DUPLICATE_MISMATCH');
    r.expire(5000); // forgets completed ids after the timeout
    expect(r.push(other, 5000)).toBeNull();
    expect(r.inFlightMessages).toBe(1);
  });

  it('never throws anything but StoqError on arbitrary shards', () => {
    const arbShard = fc.record({
      info: fc.record({
        messageId: fc.bigInt({ min: 0n, max: 3n }),
        index: fc.integer({ min: -1, max: 5 }),
        count: fc.integer({ min: -1, max: 5 }),
        totalLength: fc.integer({ min: -1, max: 40 }),
        shardHash: fc.uint8Array({ minLength: 31, maxLength: 33 }),
        messageHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
      data: fc.uint8Array({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(fc.array(arbShard, { maxLength: 20 }), (shards) => {
        const r = new ShardReassembler({ maxInFlightMessages: 2, maxMessageBytes: 30 });
        for (const s of shards) {
          try {
            r.push(s, 0);
          } catch (err) {
            expect(err).toBeInstanceOf(StoqError);
          }
        }
      }),
    );
  });

  it('shards and reassembles a 64 MiB message', () => {
    const data = randomBytes(64 * 1024 * 1024);
    const shards = shardMessage(99n, data, 64 * 1024);
    expect(shards.length).toBe(1024);
    const r = new ShardReassembler({ maxMessageBytes: 64 * 1024 * 1024, maxInFlightBytes: 64 * 1024 * 1024 });
    let out: Uint8Array | null = null;
    for (let i = shards.length - 1; i >= 0; i--) out = r.push(shards[i]!, 0) ?? out; // reverse order
    expect(out).not.toBeNull();
    expect(Buffer.compare(out!, data)).toBe(0);
  });
});
