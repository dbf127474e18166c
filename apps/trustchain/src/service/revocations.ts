// The revocation list and CRL as TrustChain publishes them, pure: RFC 5280 reason codes by name
// and number, the unsigned list of a store snapshot, and the CRL input. Signing and the clock
// are the caller's (ca-service.ts).
import { trustchain } from '@stoq/protos';
import type { CrlEntry, CrlInput } from '../core/crl';
import { TrustChainError } from '../core/errors';
import type { RevocationRow } from '../store/ca-store';

/** RFC 5280 §5.3.1 CRLReason values TrustChain accepts, by the name the CLI uses. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  'key-compromise': 1,
  'ca-compromise': 2,
  'affiliation-changed': 3,
  superseded: 4,
  'cessation-of-operation': 5,
  'certificate-hold': 6,
  'privilege-withdrawn': 9,
  'aa-compromise': 10,
} as const;

export type RevocationReasonName = keyof typeof REVOCATION_REASONS;

/** How long a published CRL is current (nextUpdate - thisUpdate). It is re-signed well before. */
export const CRL_VALIDITY_MS = 24 * 3600 * 1000;

export function reasonName(code: number): string {
  for (const [name, c] of Object.entries(REVOCATION_REASONS)) if (c === code) return name;
  return `reason-${code}`;
}

/**
 * The reason code if TrustChain revokes with it. 7 is unassigned in RFC 5280; 8 (removeFromCRL)
 * belongs only in delta CRLs, which TrustChain does not publish; above 10 there is none.
 */
export function checkReason(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 10 || code === 7 || code === 8) {
    const why = code === 7 ? '7 is unassigned' : code === 8 ? '8 (removeFromCRL) is only for delta CRLs' : 'there is no such CRLReason';
    throw new TrustChainError(
      'INVALID_ARGUMENT',
      `revocation reason ${String(code)} is not accepted (${why}); use one of ${Object.entries(REVOCATION_REASONS).map(([n, c]) => `${c} ${n}`).join(', ')} (RFC 5280 §5.3.1)`,
    );
  }
  return code;
}

/** A reason given by name (`key-compromise`) or number (`1`), or undefined when it is neither. */
export function parseReason(text: string): number | undefined {
  const t = text.trim().toLowerCase().replace(/_/g, '-');
  if (t in REVOCATION_REASONS) return REVOCATION_REASONS[t as RevocationReasonName];
  if (/^\d{1,3}$/.test(t)) return Number(t);
  return undefined;
}

/** Serial numbers are lowercase hex without separators; accepts `AB:CD` and upper case, refuses the rest. */
export function normalizeSerial(text: string): string {
  const s = typeof text === 'string' ? text.trim().toLowerCase().replace(/:/g, '') : '';
  if (!/^[0-9a-f]{1,64}$/.test(s)) {
    throw new TrustChainError('INVALID_ARGUMENT', `serial ${JSON.stringify(text)} is not a hex serial number (up to 64 hex digits, as \`trustchain certs list\` prints)`);
  }
  // The store keeps even-length hex as parseHybridCertificate prints it.
  return s.length % 2 === 1 ? `0${s}` : s;
}

/** The revocation list of `rows` at `version`, unsigned (signRevocationList signs it). */
export function unsignedRevocationList(rows: readonly RevocationRow[], version: number, issuedAtMs: number): Omit<trustchain.RevocationList, 'signature' | 'falconSignature'> {
  return {
    version,
    issuedAtMs,
    entries: rows.map((r) => ({
      serial: r.serial,
      fingerprint: r.fingerprint,
      reason: r.reason as trustchain.RevocationReason,
      revokedAtMs: r.revokedAt,
      service: r.service,
      instance: r.instance,
    })),
  };
}

/** The CRL of `rows`: its number is the revocation list version, so the two always agree. */
export function crlInput(rows: readonly RevocationRow[], version: number, now: number, issuer: { subjectDer: Uint8Array; subjectKeyIdentifier?: Uint8Array | undefined }): CrlInput {
  const entries: CrlEntry[] = rows.map((r) => {
    try {
      return { serial: r.serial, revokedAt: r.revokedAt, reason: checkReason(r.reason) };
    } catch (err) {
      // The store only holds reasons checkReason let through: another is damage, not input.
      throw new TrustChainError('STATE_DAMAGED', `the store holds revocation reason ${r.reason} for serial ${r.serial}, which no CRL may carry`, { cause: err });
    }
  });
  return {
    issuerDer: issuer.subjectDer,
    ...(issuer.subjectKeyIdentifier ? { authorityKeyIdentifier: issuer.subjectKeyIdentifier } : {}),
    crlNumber: version,
    thisUpdate: now,
    nextUpdate: now + CRL_VALIDITY_MS,
    entries,
  };
}
