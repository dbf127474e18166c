// Which names a CSR may get: exactly the standard STOQ names of one instance of the entitled
// service, plus at most 8 IPv6 addresses; anything else is refused (NAME_NOT_ALLOWED), not dropped.
import fc from 'fast-check';
import { parseCsr, standardDnsNames, type ParsedCsr } from '@stoq/core';
import { MAX_IP_SANS, certificateNames } from '../../src/core/issuance-policy';
import { nodeKeys, signedCsr, tcError } from './support';

const keys = nodeKeys();
const base = parseCsr(signedCsr(keys, 'caesar', 'caesar-1', ['2001:db8::1']).der);
/** The real parsed CSR with some fields changed (the policy is pure over ParsedCsr). */
const csr = (o: Partial<ParsedCsr> = {}): ParsedCsr => ({ ...base, ...o });

describe('issuance policy', () => {
  it('issues exactly the standard names of the instance and its IPv6 addresses', () => {
    expect(certificateNames(base, 'caesar')).toEqual({
      service: 'caesar',
      instance: 'caesar-1',
      dnsNames: ['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar'],
      ipAddresses: ['2001:db8::1'],
    });
  });

  it('keeps the instance on renewal and refuses another one', async () => {
    expect(certificateNames(base, 'caesar', 'caesar-1').instance).toBe('caesar-1');
    const e = await tcError(() => certificateNames(base, 'caesar', 'caesar-2'));
    expect(e.code).toBe('NAME_NOT_ALLOWED');
    expect(e.message).toMatch(/renewal must keep the instance name/);
  });

  it('refuses a service the caller may not hold', async () => {
    const e = await tcError(() => certificateNames(base, 'catalog'));
    expect(e).toEqual({ code: 'NAME_NOT_ALLOWED', message: expect.stringContaining('may only hold "catalog"') });
  });

  it('refuses extra DNS names, naming them and what is issued', async () => {
    const e = await tcError(() => certificateNames(csr({ dnsNames: [...base.dnsNames, 'evil.example.com'] }), 'caesar'));
    expect(e.code).toBe('NAME_NOT_ALLOWED');
    expect(e.message).toContain('evil.example.com');
    expect(e.message).toContain('caesar-1.caesar.hypermesh');
  });

  it('refuses a CSR missing one of the standard names', async () => {
    const e = await tcError(() => certificateNames(csr({ dnsNames: ['caesar-1.caesar.hypermesh', 'caesar.hypermesh'] }), 'caesar'));
    expect(e.code).toBe('NAME_NOT_ALLOWED');
    expect(e.message).toMatch(/lacks the DNS names caesar$/);
  });

  it('refuses an instance name that is not a lowercase DNS label, and a foreign organization', async () => {
    for (const cn of ['Caesar-1', 'a.b', '-x', '', 'x'.repeat(64)]) {
      expect((await tcError(() => certificateNames(csr({ commonName: cn }), 'caesar'))).code).toBe('NAME_NOT_ALLOWED');
    }
    expect((await tcError(() => certificateNames(csr({ organization: 'ACME' }), 'caesar'))).code).toBe('NAME_NOT_ALLOWED');
  });

  it('refuses IPv4, IPv4-mapped and non-address iPAddress entries', async () => {
    for (const ip of ['192.0.2.1', '::ffff:c000:201', '::ffff:192.0.2.1', 'fe80::1%eth0', 'not-an-ip']) {
      const e = await tcError(() => certificateNames(csr({ ipAddresses: [ip] }), 'caesar'));
      expect(e.code).toBe('NAME_NOT_ALLOWED');
      expect(e.message).toContain('IPv6');
    }
  });

  it('allows at most 8 IP addresses', async () => {
    const ips = (n: number): string[] => Array.from({ length: n }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
    expect(certificateNames(csr({ ipAddresses: ips(MAX_IP_SANS) }), 'caesar').ipAddresses).toHaveLength(8);
    const e = await tcError(() => certificateNames(csr({ ipAddresses: ips(MAX_IP_SANS + 1) }), 'caesar'));
    expect(e.code).toBe('NAME_NOT_ALLOWED');
    expect(e.message).toMatch(/9 IP addresses; at most 8/);
  });

  it('accepts exactly the standard names for any valid labels, and refuses any one extra name (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, fc.domain(), (service, instance, extra) => {
        const names = standardDnsNames(service, instance);
        const ok = csr({ service, commonName: instance, dnsNames: names, ipAddresses: [] });
        expect(certificateNames(ok, service).dnsNames).toEqual(names);
        if (names.includes(extra)) return;
        expect(() => certificateNames({ ...ok, dnsNames: [...names, extra] }, service)).toThrow(/extra DNS names/);
      }),
    );
  });
});
