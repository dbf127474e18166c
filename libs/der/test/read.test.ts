import fc from 'fast-check';
import { children, contentBytes, DerError, elementBytes, encodeTlv, readSingle, readTlv, TAG_OCTET_STRING, TAG_SEQUENCE } from '../src';

const err = (code: string, offset: number) => expect.objectContaining({ code, offset });
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

describe('readTlv', () => {
  it('reads short and long form lengths, giving exact offsets', () => {
    expect(readTlv(hex('0403010203'), 0)).toEqual({ tag: 0x04, start: 0, contentStart: 2, end: 5 });
    const long = new Uint8Array(3 + 200);
    long.set([0x04, 0x81, 200]);
    expect(readTlv(long, 0)).toEqual({ tag: 0x04, start: 0, contentStart: 3, end: 203 });
    const two = new Uint8Array(4 + 300);
    two.set([0x30, 0x82, 0x01, 0x2c]);
    expect(readTlv(two, 0)).toEqual({ tag: 0x30, start: 0, contentStart: 4, end: 304 });
  });

  it('refuses what is not DER with a code and the offset of the element', () => {
    expect(() => readTlv(hex('04'), 0)).toThrow(err('TRUNCATED', 0));
    expect(() => readTlv(hex('0000' + '1f01'), 2)).toThrow(err('MULTI_BYTE_TAG', 2));
    expect(() => readTlv(hex('308000'), 0)).toThrow(err('INDEFINITE_LENGTH', 0));
    expect(() => readTlv(hex('3085000000000100'), 0)).toThrow(err('LENGTH_TOO_LONG', 0));
    expect(() => readTlv(hex('3082'), 0)).toThrow(err('TRUNCATED', 0));
    expect(() => readTlv(hex('04817f'), 0)).toThrow(err('NON_MINIMAL_LENGTH', 0)); // 127 fits the short form
    expect(() => readTlv(hex('0482008000'), 0)).toThrow(err('NON_MINIMAL_LENGTH', 0)); // leading zero octet
    expect(() => readTlv(hex('040501'), 0)).toThrow(err('OVERRUN', 0));
    expect(() => readTlv(hex('04020102'), 0, 3)).toThrow(err('OVERRUN', 0)); // the container ends first
    expect(() => readTlv(hex('04020102'), 0, 4, { maxLength: 1 })).toThrow(err('TOO_LARGE', 0));
    expect(() => readTlv(hex('04'), 0)).toThrow(DerError);
  });

  it('never reads past the input, whatever the bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const t = readTlv(bytes, 0);
          expect(t.end).toBeLessThanOrEqual(bytes.length);
          expect(t.contentStart).toBeLessThanOrEqual(t.end);
        } catch (e) {
          expect(e).toBeInstanceOf(DerError);
        }
      }),
    );
  });
});

describe('children / readSingle', () => {
  it('lists the elements of a SEQUENCE and cuts their exact bytes', () => {
    const a = encodeTlv(TAG_OCTET_STRING, hex('aa'));
    const b = encodeTlv(TAG_OCTET_STRING, hex('bbcc'));
    const seq = encodeTlv(TAG_SEQUENCE, a, b);
    const root = readSingle(seq);
    const kids = children(seq, root);
    expect(kids.map((k) => Buffer.from(elementBytes(seq, k)).toString('hex'))).toEqual(['04 01 aa', '04 02 bbcc'].map((s) => s.replace(/ /g, '')));
    expect(Buffer.from(contentBytes(seq, kids[1]!)).toString('hex')).toBe('bbcc');
  });

  it('refuses trailing bytes, an oversized input, and a child overrunning its parent', () => {
    expect(() => readSingle(hex('040100ff'))).toThrow(err('TRAILING_BYTES', 3));
    expect(() => readSingle(new Uint8Array(10), { maxLength: 8 })).toThrow(err('TOO_LARGE', 0));
    const bad = hex('3003040201'); // the child claims 2 bytes, the parent holds 1
    expect(() => children(bad, readSingle(bad))).toThrow(err('OVERRUN', 2));
  });
});
