import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { StoqError } from '../src/errors';
import { DEFAULT_MAX_FRAME_LENGTH, FrameDecoder, encodeFrame } from '../src/frame';

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Cuts `bytes` at the given (sorted, deduplicated) positions. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

function drain(d: FrameDecoder): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  return out;
}

describe('encodeFrame', () => {
  it('writes a minimal varint length then the payload', () => {
    expect(Array.from(encodeFrame(new Uint8Array(0)))).toEqual([0]);
    expect(Array.from(encodeFrame(Uint8Array.from([7, 8, 9])))).toEqual([3, 7, 8, 9]);
    const f = encodeFrame(new Uint8Array(300));
    expect(Array.from(f.subarray(0, 2))).toEqual([0x41, 0x2c]);
    expect(f.length).toBe(302);
  });
});

describe('FrameDecoder', () => {
  it('reassembles any frame sequence from any split of its bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300, size: 'medium' }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40, size: 'max' }),
        (payloads, cuts) => {
          const wire = concat(payloads.map(encodeFrame));
          const d = new FrameDecoder();
          const got: Uint8Array[] = [];
          for (const chunk of split(wire, cuts)) {
            d.push(chunk);
            got.push(...drain(d));
          }
          got.push(...d.end());
          expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(payloads.map((p) => Buffer.from(p).toString('hex')));
          expect(d.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it('decodes non-minimal length prefixes', () => {
    const d = new FrameDecoder();
    // 3 written as a 2-byte, a 4-byte and an 8-byte varint
    d.push(Uint8Array.from([0x40, 3, 1, 2, 3, 0x80, 0, 0, 1, 9, 0xc0, 0, 0, 0, 0, 0, 0, 0]));
    expect(drain(d).map((f) => Array.from(f))).toEqual([[1, 2, 3], [9], []]);
  });

  it('throws FRAME_TOO_LARGE from the prefix alone, before any payload arrives', () => {
    const d = new FrameDecoder({ maxFrameLength: 1000 });
    const prefix = encodeFrame(new Uint8Array(1001)).subarray(0, 2);
    d.push(prefix.subarray(0, 1));
    expect(d.next()).toBeNull();
    expect(() => d.push(prefix.subarray(1))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    // the decoder stays failed: the stream is out of sync
    expect(() => d.next()).toThrow(/1001 bytes, limit is 1000/);
  });

  it('refuses the largest varint (2^62-1) without allocating', () => {
    const d = new FrameDecoder();
    expect(() => d.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
  });

  it('accepts a frame of exactly maxFrameLength', () => {
    const d = new FrameDecoder({ maxFrameLength: 5 });
    d.push(encodeFrame(Uint8Array.from([1, 2, 3, 4, 5])));
    expect(Array.from(d.next()!)).toEqual([1, 2, 3, 4, 5]);
  });

  it('end() returns remaining whole frames and throws FRAME_TRUNCATED on a partial payload or prefix', () => {
    const d = new FrameDecoder();
    d.push(concat([encodeFrame(Uint8Array.from([1])), encodeFrame(Uint8Array.from([2, 3, 4])).subarray(0, 2)]));
    expect(() => d.end()).toThrow(expect.objectContaining({ code: 'FRAME_TRUNCATED', message: expect.stringContaining('1 of 3 payload bytes') }));

    const clean = new FrameDecoder();
    clean.push(encodeFrame(Uint8Array.from([5])));
    expect(clean.end().map((f) => Array.from(f))).toEqual([[5]]);

    const prefixOnly = new FrameDecoder();
    prefixOnly.push(Uint8Array.from([0x80, 0]));
    expect(() => prefixOnly.end()).toThrow(expect.objectContaining({ code: 'FRAME_TRUNCATED', message: expect.stringContaining('length prefix') }));
  });

  it('never throws anything but StoqError on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), fc.integer({ min: 0, max: 4096 }), (chunks, max) => {
        const d = new FrameDecoder({ maxFrameLength: max });
        try {
          for (const c of chunks) {
            d.push(c);
            drain(d);
          }
          d.end();
        } catch (err) {
          expect(err).toBeInstanceOf(StoqError);
          expect(['FRAME_TOO_LARGE', 'FRAME_TRUNCATED']).toContain((err as StoqError).code);
        }
      }),
    );
  });

  it('assembles a 64 MiB frame from 64 KiB chunks in linear time', () => {
    const payload = randomBytes(64 * 1024 * 1024);
    const wire = encodeFrame(payload);
    const d = new FrameDecoder({ maxFrameLength: 64 * 1024 * 1024 });
    const started = process.hrtime.bigint();
    let frame: Uint8Array | null = null;
    for (let off = 0; off < wire.length; off += 64 * 1024) {
      d.push(wire.subarray(off, off + 64 * 1024));
      frame = d.next() ?? frame;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(frame).not.toBeNull();
    expect(Buffer.compare(frame!, payload)).toBe(0);
    // A quadratic implementation copies ~2 TB here; linear copies 64 MiB once.
    expect(ms).toBeLessThan(5000);
  });

  it('handles many tiny chunks (one byte at a time) and many frames per chunk', () => {
    const payloads = Array.from({ length: 2000 }, (_, i) => Uint8Array.from([i & 0xff, i >> 8]));
    const wire = concat(payloads.map(encodeFrame));
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) {
      d.push(wire.subarray(i, i + 1));
      got.push(...drain(d));
    }
    expect(got.length).toBe(2000);
    expect(Array.from(got[1999]!)).toEqual([1999 & 0xff, 1999 >> 8]);
    const whole = new FrameDecoder();
    whole.push(wire);
    expect(drain(whole).length).toBe(2000);
  });

  it('validates its options', () => {
    expect(() => new FrameDecoder({ maxFrameLength: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(new FrameDecoder().maxFrameLength).toBe(DEFAULT_MAX_FRAME_LENGTH);
  });
});
