// Discovery through trustchain/resolve_dns: its presentation-format records become the DNS answer
// DnsSrvResolver reads, so a service resolves the same as over TrustChain's DNS; malformed or
// oversized answers are refused (DnsQueryError MALFORMED), never half-used.
import { DnsQueryError, resolutionFromDns } from '@stoq/rpc';
import { dnsAnswerOf } from '../src';

const bounds = { minMs: 1000, maxMs: 300_000, negativeMs: 5000 };

test('SRV and AAAA records resolve to targets as over DNS; other types are left out', () => {
  const answer = dnsAnswerOf({
    rcode: 'NOERROR',
    answers: [
      { name: '_stoq._udp.caesar.hypermesh.', type: 'SRV', ttl: 30, data: '0 1 4435 caesar-1.caesar.hypermesh.' },
      { name: '_stoq._udp.caesar.hypermesh.', type: 'SRV', ttl: 30, data: '10 1 4436 caesar-2.caesar.hypermesh.' },
      { name: '_stoq._udp.caesar.hypermesh.', type: 'TXT', ttl: 30, data: '"v=1"' },
    ],
    additionals: [
      { name: 'caesar-1.caesar.hypermesh.', type: 'AAAA', ttl: 30, data: '::1' },
      { name: 'caesar-2.caesar.hypermesh.', type: 'AAAA', ttl: 20, data: 'fd00::2' },
    ],
  });
  expect(resolutionFromDns('caesar', answer, bounds)).toEqual({
    targets: [
      { endpoint: '[::1]:4435', expectedService: 'caesar', priority: 0, weight: 1 },
      { endpoint: '[fd00::2]:4436', expectedService: 'caesar', priority: 10, weight: 1 },
    ],
    ttlMs: 20_000,
  });
});

test('no such service: NXDOMAIN or no records is an empty answer, cached briefly', () => {
  expect(resolutionFromDns('nope', dnsAnswerOf({ rcode: 'NXDOMAIN', answers: [], additionals: [] }), bounds)).toEqual({ targets: [], ttlMs: 5000 });
  expect(resolutionFromDns('nope', dnsAnswerOf({ rcode: 'NOERROR' }), bounds)).toEqual({ targets: [], ttlMs: 5000 });
});

test.each([
  ['an SRV with three fields', { type: 'SRV', data: '0 1 4435' }],
  ['an SRV port above 65535', { type: 'SRV', data: '0 1 70000 host.' }],
  ['an AAAA that is not an address', { type: 'AAAA', data: 'caesar-1; rm -rf' }],
])('refuses %s', (_what, rec) => {
  const err = (() => {
    try {
      dnsAnswerOf({ rcode: 'NOERROR', answers: [{ name: 'x.hypermesh.', ttl: 1, ...rec }] });
      return null;
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(DnsQueryError);
  expect((err as DnsQueryError).code).toBe('MALFORMED');
});

test('refuses an answer of more than 1,024 records', () => {
  const many = Array.from({ length: 1025 }, (_, i) => ({ name: 'x.', type: 'AAAA', ttl: 1, data: `fd00::${(i + 1).toString(16)}` }));
  expect(() => dnsAnswerOf({ rcode: 'NOERROR', answers: many })).toThrow(/more than 1024/);
});
