import fc from 'fast-check';
import { StoqError } from '../src/errors';
import {
  VARINT_MAX,
  decodeVarint,
  decodeVarintNumber,
  encodeVarint,
  varintLength,
  writeVarint,
} from '../src/varint';

describe('QUIC varint (RFC 9000 §16)', () => {
  it('encodes the RFC 9000 Appendix A.1 examples and decodes them back', () => {
    const examples: Array<[string, bigint]> = [
      ['c2197c5eff14e88c', 151_288_809_941_952_652n],
      ['9d7f3e7d', 494_878_333n],
      ['7bbd', 15_293n],
      ['25', 37n],
    ];
    for (const [hex, value] of examples) {
      expect(Buffer.from(encodeVarint(value)).toString('hex')).toBe(hex);
      expect(decodeVarint(Buffer.from(hex, 'hex'))).toEqual({ value, length: hex.length / 2 });
    }
  });

  it('accepts the non-minimal encoding 0x4025 for 37, as RFC 9000 allows', () => {
    expect(decodeVarint(Uint8Array.from([0x40, 0x25]))).toEqual({ value: 37n, length: 2 });
  });

  it('uses 1/2/4/8 bytes at the range boundaries', () => {
    expect([0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30].map((v) => varintLength(v))).toEqual([1, 1, 2, 2, 4, 4, 8]);
    expect(varintLength(VARINT_MAX)).toBe(8);
  });

  it('round-trips every value in every length class (bigint and number APIs)', () => {
    const ranges = fc.oneof(
      fc.bigInt({ min: 0n, max: 63n }),
      fc.bigInt({ min: 64n, max: 16_383n }),
      fc.bigInt({ min: 16_384n, max: (1n << 30n) - 1n }),
      fc.bigInt({ min: 1n << 30n, max: VARINT_MAX }),
    );
    fc.assert(
      fc.property(ranges, fc.nat(7), (value, pad) => {
        const enc = encodeVarint(value);
        const buf = new Uint8Array(pad + enc.length + 3);
        expect(writeVarint(value, buf, pad)).toBe(enc.length);
        expect(decodeVarint(buf, pad)).toEqual({ value, length: enc.length });
        const asNumber = decodeVarintNumber(buf, pad)!;
        if (value <= BigInt(Number.MAX_SAFE_INTEGER)) expect(asNumber.value).toBe(Number(value));
        else expect(asNumber.value).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
        // every strict prefix is "need more bytes", never a wrong value
        for (let cut = 0; cut < enc.length; cut++) expect(decodeVarint(enc.subarray(0, cut))).toBeNull();
      }),
    );
  });

  it('refuses values it cannot encode', () => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, VARINT_MAX + 1n, -1n]) {
      expect(() => encodeVarint(bad)).toThrow(StoqError);
    }
    expect(() => writeVarint(300, new Uint8Array(1), 0)).toThrow(/does not fit/);
  });
});
