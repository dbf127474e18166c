// validate_certificate's checks, pure: each takes what it needs (certificates, the root, the
// time, the store's row, the CT evidence) and says ok or not and why. The service gathers the
// inputs; nothing here reads a clock, the store or the log.
import { X509Certificate } from 'node:crypto';
import { nativeFalcon, verifyAltSignatureChain, type FalconScheme, type HybridCertificate } from '@stoq/core';
import {
  LogEntryType,
  V1,
  encodeMerkleTreeLeaf,
  explainInclusion,
  explainSct,
  explainSth,
  sha256Hasher,
  type FalconVerifier,
  type SignedCertificateTimestamp,
  type SignedTreeHead,
} from '@stoq/ct-log';
import type { KeyObject } from 'node:crypto';
import type { CertificateRow } from '../store/ca-store';
import { reasonName } from './revocations';

export type CheckName = 'classical_chain' | 'falcon_chain' | 'validity' | 'revocation' | 'ct_inclusion';

export interface Check {
  readonly check: CheckName;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Verdict {
  readonly valid: boolean;
  readonly checks: readonly Check[];
}

const pass = (check: CheckName, detail: string): Check => ({ check, ok: true, detail });
const fail = (check: CheckName, detail: string): Check => ({ check, ok: false, detail });

/** Valid only when every check passed; the checks keep their order. */
export function verdictOf(checks: readonly Check[]): Verdict {
  return { valid: checks.length > 0 && checks.every((c) => c.ok), checks };
}

/** ECDSA/RSA signatures from the leaf up to `rootDer`, each certificate issued by the next (the root closes the chain). */
export function checkClassicalChain(chainDer: readonly Uint8Array[], rootDer: Uint8Array): Check {
  try {
    const root = new X509Certificate(Buffer.from(rootDer));
    const certs = chainDer.map((d) => new X509Certificate(Buffer.from(d)));
    // A trailing copy of the root is allowed (chains are leaf ... root).
    if (certs.length > 1 && certs[certs.length - 1]!.raw.equals(root.raw)) certs.pop();
    for (let i = 0; i < certs.length; i++) {
      const cert = certs[i]!;
      const issuer = certs[i + 1] ?? root;
      const name = cert.subject.replace(/\n/g, ', ');
      if (!cert.checkIssued(issuer)) return fail('classical_chain', `certificate ${i} (${name}) is not issued by ${i + 1 < certs.length ? `certificate ${i + 1}` : "TrustChain's root"} (${issuer.subject.replace(/\n/g, ', ')})`);
      if (i + 1 < certs.length && !issuer.ca) return fail('classical_chain', `certificate ${i + 1} issued certificate ${i} but is not a CA`);
      if (!cert.verify(issuer.publicKey)) return fail('classical_chain', `the signature of certificate ${i} (${name}) does not verify under its issuer's key`);
    }
    return pass('classical_chain', `${certs.length} certificate(s) chain to TrustChain's root (classical signatures verify)`);
  } catch (err) {
    return fail('classical_chain', `the chain cannot be read as X.509: ${(err as Error).message}`);
  }
}

/** The FALCON-1024 alternative signatures (X.509 2.5.29.72..74) from the leaf up to the root. */
export function checkFalconChain(chainDer: readonly Uint8Array[], rootDer: Uint8Array, falcon: FalconScheme = nativeFalcon): Check {
  try {
    const path = verifyAltSignatureChain(chainDer, [rootDer], falcon);
    return pass('falcon_chain', `FALCON-1024 alternative signatures verify along ${path.length} certificate(s) to TrustChain's root`);
  } catch (err) {
    return fail('falcon_chain', (err as Error).message);
  }
}

export function checkValidity(leaf: HybridCertificate, now: number): Check {
  const from = leaf.notBefore.getTime();
  const to = leaf.notAfter.getTime();
  if (now < from) return fail('validity', `not valid before ${leaf.notBefore.toISOString()}`);
  if (now >= to) return fail('validity', `expired at ${leaf.notAfter.toISOString()}`);
  return pass('validity', `valid from ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}`);
}

/** `row`: what the store knows of the leaf (by fingerprint), undefined when TrustChain never issued it. */
export function checkRevocation(row: CertificateRow | undefined, revocationVersion: number): Check {
  if (!row) return fail('revocation', 'this TrustChain never issued the certificate, so it cannot vouch that it is not revoked');
  if (row.revokedAt !== null) {
    return fail('revocation', `revoked at ${new Date(row.revokedAt).toISOString()} (reason ${row.revocationReason ?? 0} ${reasonName(row.revocationReason ?? 0)}, revocation list version ${row.revocationVersion ?? '?'})`);
  }
  return pass('revocation', `not revoked (revocation list version ${revocationVersion})`);
}

export interface CtEvidence {
  /** The SCT the caller presented (decoded), or undefined: the log was searched instead. */
  readonly sct?: SignedCertificateTimestamp;
  /** The leaf's timestamp in the log (from the SCT, or from the log's entry). */
  readonly timestamp: number;
  readonly leafIndex: number;
  /** Inclusion proof of the leaf at `sth.treeSize`. */
  readonly auditPath: readonly Uint8Array[];
  /** The log's current signed tree head. */
  readonly sth: SignedTreeHead;
}

/**
 * The SCT's signature over this leaf, the STH's signatures (ECDSA + FALCON), and the leaf's
 * inclusion under the STH's root. `evidence` is a string when the service could not find any
 * (the reason).
 */
export function checkCtInclusion(leafDer: Uint8Array, evidence: CtEvidence | string, logPublicKey: KeyObject, falcon: FalconVerifier): Check {
  if (typeof evidence === 'string') return fail('ct_inclusion', evidence);
  const entry = { entryType: LogEntryType.x509_entry, certificate: leafDer } as const;
  if (evidence.sct) {
    const why = explainSct(evidence.sct, entry, logPublicKey);
    if (why) return fail('ct_inclusion', `SCT: ${why}`);
  }
  const sthWhy = explainSth(evidence.sth, logPublicKey, falcon);
  if (sthWhy) return fail('ct_inclusion', `signed tree head: ${sthWhy}`);
  const extensions = evidence.sct?.extensions ?? new Uint8Array(0);
  const leafHash = sha256Hasher.hashLeaf(encodeMerkleTreeLeaf({ version: V1, timestampedEntry: { timestamp: evidence.timestamp, signedEntry: entry, extensions } }));
  const why = explainInclusion(sha256Hasher, evidence.leafIndex, evidence.sth.treeSize, leafHash, evidence.auditPath, evidence.sth.rootHash);
  if (why) return fail('ct_inclusion', `inclusion proof: ${why}`);
  return pass('ct_inclusion', `${evidence.sct ? 'SCT verifies; ' : 'no SCT given, found in the log; '}leaf ${evidence.leafIndex} is included in the signed tree head of size ${evidence.sth.treeSize}`);
}
