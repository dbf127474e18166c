// What TrustChain will put in a certificate: exactly the standard STOQ names of one instance of
// the service the caller is entitled to, plus IPv6 addresses. Pure.
import { standardDnsNames, type ParsedCsr } from '@stoq/core';
import { parseIpv6 } from '@stoq/ipv6';
import { TrustChainError } from './errors';

export const MAX_IP_SANS = 8;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface CertificateNames {
  readonly service: string;
  readonly instance: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/**
 * The names to certify for `csr` when the caller may hold only `service` (and, for a renewal,
 * only `instance`). Anything else in the CSR is refused, not dropped: a caller asking for names
 * it may not have should learn so.
 */
export function certificateNames(csr: ParsedCsr, service: string, instance?: string): CertificateNames {
  if (csr.service !== service) {
    throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR asks for service "${csr.service}", but the caller may only hold "${service}"`);
  }
  if (!LABEL.test(csr.commonName)) {
    throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR's instance name (CN) ${JSON.stringify(csr.commonName)} is not a lowercase DNS label`);
  }
  if (instance !== undefined && csr.commonName !== instance) {
    throw new TrustChainError('NAME_NOT_ALLOWED', `renewal must keep the instance name: the current certificate is for "${instance}", the CSR asks for "${csr.commonName}"`);
  }
  if (csr.organization !== undefined && csr.organization !== 'STOQ') {
    throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR's organization "${csr.organization}" is not STOQ`);
  }
  const wanted = standardDnsNames(service, csr.commonName);
  const extra = csr.dnsNames.filter((n) => !wanted.includes(n));
  if (extra.length > 0) {
    throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR asks for extra DNS names ${extra.join(', ')}; only ${wanted.join(', ')} are issued`);
  }
  const missing = wanted.filter((n) => !csr.dnsNames.includes(n));
  if (missing.length > 0) throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR lacks the DNS names ${missing.join(', ')}`);
  if (csr.ipAddresses.length > MAX_IP_SANS) {
    throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR asks for ${csr.ipAddresses.length} IP addresses; at most ${MAX_IP_SANS}`);
  }
  // parseCsr refuses dotted IPv4 but formats a 16-byte IPv4-mapped SAN as IPv6 text; refuse it
  // here as a name, not later as a signing failure.
  for (const ip of csr.ipAddresses) {
    try {
      parseIpv6(ip);
    } catch (err) {
      throw new TrustChainError('NAME_NOT_ALLOWED', `the CSR asks for IP address ${JSON.stringify(ip)}: ${(err as Error).message}; only plain IPv6 addresses are issued`, { cause: err });
    }
  }
  return { service, instance: csr.commonName, dnsNames: wanted, ipAddresses: [...new Set(csr.ipAddresses)] };
}
