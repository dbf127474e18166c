// The sample codec round-trips every float64 (NaN payloads, ±0, ±Inf, subnormals) and every
// strictly increasing timestamp sequence, and compresses a scrape-like series to the sizes the
// README states.
import fc from 'fast-check';
import { ChunkEncoder, decodeChunk, type Sample } from '../src/core/gorilla';

const sameBits = (a: number, b: number): boolean => {
  const da = new DataView(new ArrayBuffer(8));
  const db = new DataView(new ArrayBuffer(8));
  da.setFloat64(0, a);
  db.setFloat64(0, b);
  return da.getBigUint64(0) === db.getBigUint64(0);
};

function roundTrip(samples: Sample[]): Sample[] {
  const enc = new ChunkEncoder();
  for (const s of samples) enc.append(s.t, s.v);
  return [...decodeChunk(enc.seal())];
}

describe('gorilla chunks', () => {
  it('round-trip any increasing timestamps and any doubles, bit for bit', () => {
    const gaps = fc.oneof(fc.constant(1000), fc.integer({ min: 995, max: 1005 }), fc.integer({ min: 1, max: 2 ** 40 }));
    const value = fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, 5e-324), fc.integer().map((i) => i * 1.0));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.array(fc.tuple(gaps, value), { minLength: 1, maxLength: 300 }), (start, steps) => {
        let t = start;
        const samples = steps.map(([gap, v]) => ({ t: (t += gap), v }));
        const back = roundTrip(samples);
        expect(back.length).toBe(samples.length);
        back.forEach((s, i) => {
          expect(s.t).toBe(samples[i]!.t);
          expect(sameBits(s.v, samples[i]!.v)).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a sample that is not after the previous one', () => {
    const enc = new ChunkEncoder();
    enc.append(1000, 1);
    expect(() => enc.append(1000, 2)).toThrow(/not after the previous sample/);
    expect(() => enc.append(999, 2)).toThrow(RangeError);
    expect(() => enc.append(1000.5, 2)).toThrow(/not a non-negative integer/);
    expect(enc.count).toBe(1);
  });

  it('a damaged chunk is a RangeError, not garbage', () => {
    const enc = new ChunkEncoder();
    for (let i = 0; i < 50; i++) enc.append(1000 * i, Math.sin(i));
    const sealed = enc.seal();
    expect(() => [...decodeChunk({ ...sealed, bits: sealed.bits - 20 })]).toThrow(RangeError);
  });

  it('a steady 1 s series costs about a bit per timestamp and little per slowly moving value', () => {
    const enc = new ChunkEncoder();
    let counter = 0;
    for (let i = 0; i < 120; i++) {
      counter += i % 10 === 0 ? 3 : 0; // a counter that moves every tenth scrape
      enc.append(1_700_000_000_000 + 1000 * i, counter);
    }
    const { bytes, count } = enc.seal();
    expect(bytes.length / count).toBeLessThan(1);
  });

  it('writes exactly the bits of the straightforward BigInt encoder (the format is unchanged)', () => {
    const gaps = fc.oneof(fc.constant(1000), fc.integer({ min: 995, max: 1005 }), fc.integer({ min: 1, max: 2 ** 40 }));
    const value = fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, 1, 2, 3), fc.integer().map((i) => i * 1.0));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.array(fc.tuple(gaps, value), { minLength: 1, maxLength: 300 }), (start, steps) => {
        let t = start;
        const samples = steps.map(([gap, v]) => ({ t: (t += gap), v }));
        const enc = new ChunkEncoder();
        for (const s of samples) enc.append(s.t, s.v);
        const sealed = enc.seal();
        const ref = referenceEncode(samples);
        expect(sealed.bits).toBe(ref.length);
        expect(Buffer.from(sealed.bytes).toString('hex')).toBe(Buffer.from(ref.bytes()).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });
});

/** The encoder as first written (BigInt values, one bit at a time): the reference for the format. */
function referenceEncode(samples: Sample[]): { length: number; bytes(): Uint8Array } {
  const out: number[] = [];
  const bit = (b: number): void => void out.push(b);
  const big = (v: bigint, n: number): void => {
    for (let i = n - 1; i >= 0; i--) bit(Number((v >> BigInt(i)) & 1n));
  };
  const dv = new DataView(new ArrayBuffer(8));
  const floatBits = (v: number): bigint => (dv.setFloat64(0, v), dv.getBigUint64(0));
  const clz64 = (x: bigint): number => 64 - x.toString(2).length;
  const ctz64 = (x: bigint): number => {
    let n = 0;
    while ((x & 1n) === 0n) (x >>= 1n), n++;
    return n;
  };
  const buckets = [[0b10, 2, 14], [0b110, 3, 17], [0b1110, 4, 20]] as const;
  let lastT = 0;
  let lastDelta = 0;
  let lastBits = 0n;
  let wl = -1;
  let wt = 0;
  samples.forEach(({ t, v }, i) => {
    const bits = floatBits(v);
    if (i === 0) {
      big(BigInt(t), 64);
      big(bits, 64);
    } else {
      const delta = t - lastT;
      const dod = delta - lastDelta;
      lastDelta = delta;
      const b = buckets.find(([, , n]) => dod >= -(2 ** (n - 1) - 1) && dod <= 2 ** (n - 1));
      if (dod === 0) bit(0);
      else if (b) {
        big(BigInt(b[0]), b[1]);
        big(BigInt(dod < 0 ? dod + 2 ** b[2] : dod), b[2]);
      } else {
        big(0b1111n, 4);
        big(BigInt.asUintN(64, BigInt(dod)), 64);
      }
      const x = bits ^ lastBits;
      if (x === 0n) bit(0);
      else {
        bit(1);
        const leading = Math.min(clz64(x), 31);
        const trailing = ctz64(x);
        if (wl >= 0 && leading >= wl && trailing >= wt) {
          bit(0);
          big(x >> BigInt(wt), 64 - wl - wt);
        } else {
          bit(1);
          big(BigInt(leading), 5);
          big(BigInt((64 - leading - trailing) & 63), 6);
          big(x >> BigInt(trailing), 64 - leading - trailing);
          wl = leading;
          wt = trailing;
        }
      }
    }
    lastT = t;
    lastBits = bits;
  });
  return {
    length: out.length,
    bytes: () => {
      const b = new Uint8Array((out.length + 7) >>> 3);
      out.forEach((x, i) => (b[i >>> 3] |= x << (7 - (i & 7))));
      return b;
    },
  };
}
