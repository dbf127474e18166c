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
});
