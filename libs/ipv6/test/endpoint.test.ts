import { parseIpv6Endpoint } from '../src';

const err = (code: string, input?: string) => expect.objectContaining(input === undefined ? { code } : { code, input });

describe('parseIpv6Endpoint', () => {
  it('parses [addr]:port endpoints', () => {
    expect(parseIpv6Endpoint('[::1]:4433')).toEqual({ address: '::1', port: 4433 });
    expect(parseIpv6Endpoint('[::]:0')).toEqual({ address: '::', port: 0 });
    expect(parseIpv6Endpoint('[2001:db8::1]:65535')).toEqual({ address: '2001:db8::1', port: 65535 });
  });

  it('refuses IPv4 endpoints and addresses, other shapes and bad ports, naming the offending piece', () => {
    expect(() => parseIpv6Endpoint('127.0.0.1:4433')).toThrow(err('IPV4_ENDPOINT', '127.0.0.1:4433'));
    expect(() => parseIpv6Endpoint('127.0.0.1')).toThrow(err('IPV4_ENDPOINT'));
    expect(() => parseIpv6Endpoint('[127.0.0.1]:4433')).toThrow(err('IPV4', '127.0.0.1'));
    expect(() => parseIpv6Endpoint('[::ffff:127.0.0.1]:4433')).toThrow(err('IPV4_MAPPED', '::ffff:127.0.0.1'));
    expect(() => parseIpv6Endpoint('[::1]:65536')).toThrow(err('BAD_PORT', '65536'));
    expect(() => parseIpv6Endpoint('[::1]:-1')).toThrow(err('BAD_PORT', '-1'));
    expect(() => parseIpv6Endpoint('[::1]:')).toThrow(err('BAD_PORT', ''));
    expect(() => parseIpv6Endpoint('::1:4433')).toThrow(err('NOT_ENDPOINT', '::1:4433'));
    expect(() => parseIpv6Endpoint('[::1]')).toThrow(err('NOT_ENDPOINT'));
    expect(() => parseIpv6Endpoint('[fe80::1%eth0]:1')).toThrow(err('ZONE_ID'));
  });
});
