import fc from 'fast-check';
import { encodeLength, encodeOid, encodeTlv, oidContent, readSingle } from '../src';

describe('encodeTlv / encodeLength', () => {
  it('writes the shortest length form', () => {
    expect(Array.from(encodeLength(0))).toEqual([0]);
    expect(Array.from(encodeLength(127))).toEqual([127]);
    expect(Array.from(encodeLength(128))).toEqual([0x81, 128]);
    expect(Array.from(encodeLength(256))).toEqual([0x82, 1, 0]);
  });

  it('round-trips through the reader for any content', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        const out = encodeTlv(0x30, a, b);
        const t = readSingle(out);
        expect(t.tag).toBe(0x30);
        expect(Buffer.from(out.subarray(t.contentStart, t.end))).toEqual(Buffer.concat([a, b]));
      }),
    );
  });
});

describe('OIDs', () => {
  it('encodes dotted OIDs (multi-byte arcs included)', () => {
    expect(Buffer.from(oidContent('1.3.6.1.4.1.11129.2.4.3')).toString('hex')).toBe('2b06010401d679020403');
    expect(Buffer.from(encodeOid('2.5.29.72')).toString('hex')).toBe('0603551d48');
  });

  it('refuses malformed OIDs as a caller error', () => {
    expect(() => oidContent('1')).toThrow(RangeError);
    expect(() => oidContent('3.1')).toThrow(/invalid OID/);
    expect(() => oidContent('1.a')).toThrow(/invalid OID/);
  });
});
