import fc from 'fast-check';
import { checkIpv6Bytes, formatIpv6, isIpv4Mapped, Ipv6Error, parseIpv6 } from '../src';

const err = (code: string, input?: string) => expect.objectContaining(input === undefined ? { code } : { code, input });

describe('parseIpv6 / formatIpv6', () => {
  it('parses and formats addresses (RFC 5952 canonical text)', () => {
    expect(formatIpv6(parseIpv6('2001:0db8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('::1'))).toBe('::1');
    expect(formatIpv6(parseIpv6('::'))).toBe('::');
    expect(formatIpv6(parseIpv6('1::'))).toBe('1::');
    expect(formatIpv6(parseIpv6('fe80::1:0:0:0:1'))).toBe('fe80:0:0:1::1'); // longest run wins
    expect(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1'); // tie: first run
    expect(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1'); // a lone zero stays
    expect(formatIpv6(parseIpv6('64:ff9b::192.0.2.1'))).toBe('64:ff9b::c000:201'); // dotted-quad tail
    expect(formatIpv6(parseIpv6('2001:DB8::A'))).toBe('2001:db8::a');
  });

  it('gives the 16 bytes in network order', () => {
    expect(Array.from(parseIpv6('2001:db8::1:2'))).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
  });

  it('round-trips any 16-byte non-mapped address through text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        fc.pre(!isIpv4Mapped(bytes));
        expect(Array.from(parseIpv6(formatIpv6(bytes)))).toEqual(Array.from(bytes));
      }),
    );
  });

  it('refuses IPv4, IPv4-mapped, zone ids and garbage with typed codes naming the input', () => {
    expect(() => parseIpv6('192.0.2.1')).toThrow(err('IPV4', '192.0.2.1'));
    expect(() => parseIpv6('::ffff:192.0.2.1')).toThrow(err('IPV4_MAPPED', '::ffff:192.0.2.1'));
    expect(() => parseIpv6('::ffff:c000:201')).toThrow(err('IPV4_MAPPED'));
    expect(() => parseIpv6('fe80::1%eth0')).toThrow(err('ZONE_ID', 'fe80::1%eth0'));
    expect(() => parseIpv6('2001:db8::g')).toThrow(err('NOT_IPV6', '2001:db8::g'));
    expect(() => parseIpv6('')).toThrow(err('NOT_IPV6'));
    expect(() => parseIpv6(42 as unknown as string)).toThrow(err('NOT_IPV6'));
    expect(() => parseIpv6('192.0.2.1')).toThrow(Ipv6Error);
  });

  it('formats a wrong-length buffer as a description, not an address', () => {
    expect(formatIpv6(new Uint8Array(4))).toBe('<4-byte address>');
  });
});

describe('checkIpv6Bytes', () => {
  it('accepts 16 non-mapped bytes, refuses other lengths and IPv4-mapped', () => {
    expect(() => checkIpv6Bytes(parseIpv6('2001:db8::1'))).not.toThrow();
    expect(() => checkIpv6Bytes(new Uint8Array(4))).toThrow(err('WRONG_LENGTH', '<4-byte address>'));
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff, 10, 0, 0, 1], 10);
    expect(isIpv4Mapped(mapped)).toBe(true);
    expect(() => checkIpv6Bytes(mapped)).toThrow(err('IPV4_MAPPED', '::ffff:a00:1'));
  });
});
