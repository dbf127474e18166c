// Chain validation for add-chain / add-pre-chain (RFC 6962 §4.1, §4.2) with node:crypto X.509:
// every certificate must be issued and signed by the next, and the chain must end at (or be
// issued by) one of the log's accepted roots.
import { createHash, X509Certificate } from 'node:crypto';
import { CT_PRECERT_SIGNING_EKU, parseCertificate, tbsWithoutPoison } from './der';
import { CtLogError } from './errors';
import { LogEntryType, MAX_CERT_BYTES, type SignedEntry } from './structs';

export interface AcceptedRoot {
  der: Buffer;
  cert: X509Certificate;
}

/** Parses the accepted roots (DER). */
export function parseRoots(roots: readonly Uint8Array[]): AcceptedRoot[] {
  if (roots.length === 0) throw new CtLogError('INVALID_ARGUMENT', 'a log needs at least one accepted root');
  return roots.map((r, i) => {
    const der = Buffer.from(r);
    try {
      return { der, cert: new X509Certificate(der) };
    } catch (err) {
      throw new CtLogError('INVALID_ARGUMENT', `accepted root ${i} is not a parseable X.509 certificate: ${(err as Error).message}`);
    }
  });
}

export interface ValidatedSubmission {
  /** The signed_entry to log. */
  entry: SignedEntry;
  /** The full chain: the submitted certificates followed by the root if it was not submitted. */
  chain: Buffer[];
}

/**
 * Parsing and signature checks of issuer certificates repeat for every submission under the same
 * intermediate; remember parsed issuers and verified issuer links (bounded, evicting oldest).
 * Leaves are always parsed and verified afresh.
 */
export class IssuerCache {
  private readonly parsed = new Map<string, X509Certificate>();
  private readonly links = new Set<string>();

  constructor(private readonly limit = 256) {}

  parse(der: Buffer): X509Certificate {
    const key = der.toString('base64');
    let cert = this.parsed.get(key);
    if (!cert) {
      cert = new X509Certificate(der);
      if (this.parsed.size >= this.limit) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(key, cert);
    }
    return cert;
  }

  verifiedLink(child: Buffer, parent: Buffer): boolean {
    return this.links.has(linkKey(child, parent));
  }

  rememberLink(child: Buffer, parent: Buffer): void {
    if (this.links.size >= this.limit) this.links.delete(this.links.values().next().value!);
    this.links.add(linkKey(child, parent));
  }
}

const linkKey = (child: Buffer, parent: Buffer): string => `${createHash('sha256').update(child).digest('base64')}>${createHash('sha256').update(parent).digest('base64')}`;

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function validate(chainDer: readonly Uint8Array[], roots: readonly AcceptedRoot[], maxChainLength: number, cache?: IssuerCache): { certs: X509Certificate[]; chain: Buffer[] } {
  if (!Array.isArray(chainDer) || chainDer.length === 0) throw new CtLogError('INVALID_ARGUMENT', 'chain is empty');
  if (chainDer.length > maxChainLength) {
    throw new CtLogError('INVALID_ARGUMENT', `chain has ${chainDer.length} certificates, at most ${maxChainLength} accepted`);
  }
  const chain = chainDer.map((c, i) => {
    if (!(c instanceof Uint8Array)) throw new CtLogError('INVALID_ARGUMENT', `chain[${i}] is not bytes`);
    if (c.length === 0 || c.length > MAX_CERT_BYTES) throw new CtLogError('INVALID_ARGUMENT', `chain[${i}] is ${c.length} bytes, must be 1..${MAX_CERT_BYTES}`);
    return Buffer.from(c);
  });
  const certs = chain.map((der, i) => {
    try {
      return i > 0 && cache ? cache.parse(der) : new X509Certificate(der);
    } catch (err) {
      throw new CtLogError('INVALID_ARGUMENT', `chain[${i}] is not a parseable X.509 certificate: ${(err as Error).message}`);
    }
  });
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i + 1]!.ca) throw new CtLogError('INVALID_ARGUMENT', `chain[${i + 1}] (${certs[i + 1]!.subject}) is not a CA certificate`);
    if (i > 0 && cache?.verifiedLink(chain[i]!, chain[i + 1]!)) continue;
    if (!issuedBy(certs[i]!, certs[i + 1]!)) {
      throw new CtLogError('INVALID_ARGUMENT', `chain[${i}] (${certs[i]!.subject}) is not issued and signed by chain[${i + 1}] (${certs[i + 1]!.subject})`);
    }
    if (i > 0) cache?.rememberLink(chain[i]!, chain[i + 1]!);
  }
  const last = chain[chain.length - 1]!;
  const lastCert = certs[certs.length - 1]!;
  if (roots.some((r) => r.der.equals(last))) return { certs, chain };
  const cachedRoot = chain.length > 1 ? roots.find((r) => cache?.verifiedLink(last, r.der)) : undefined;
  const root = cachedRoot ?? roots.find((r) => issuedBy(lastCert, r.cert));
  if (root && !cachedRoot && chain.length > 1) cache?.rememberLink(last, root.der);
  if (!root) throw new CtLogError('INVALID_ARGUMENT', `chain does not lead to an accepted root (last certificate: ${lastCert.subject}, issuer ${lastCert.issuer})`);
  return { certs: [...certs, root.cert], chain: [...chain, root.der] };
}

/** add-chain: an ordinary certificate chain, leaf first. */
export function validateX509Chain(chainDer: readonly Uint8Array[], roots: readonly AcceptedRoot[], maxChainLength: number, cache?: IssuerCache): ValidatedSubmission {
  const { chain } = validate(chainDer, roots, maxChainLength, cache);
  if (parseCertificate(chain[0]!, 'chain[0]').poison !== 'absent') {
    throw new CtLogError('INVALID_ARGUMENT', 'chain[0] carries the CT poison extension: submit precertificates with addPreChain');
  }
  return { entry: { entryType: LogEntryType.x509_entry, certificate: chain[0]! }, chain };
}

/**
 * add-pre-chain: chain[0] is a precertificate (critical CT poison extension) issued directly by
 * chain[1] (or by an accepted root). Precertificate Signing Certificates are not supported.
 */
export function validatePrecertChain(chainDer: readonly Uint8Array[], roots: readonly AcceptedRoot[], maxChainLength: number, cache?: IssuerCache): ValidatedSubmission {
  const { certs, chain } = validate(chainDer, roots, maxChainLength, cache);
  const pre = parseCertificate(chain[0]!, 'chain[0]');
  if (pre.poison !== 'critical') {
    throw new CtLogError('INVALID_ARGUMENT', `chain[0] is not a precertificate: CT poison extension is ${pre.poison === 'absent' ? 'missing' : 'not critical'}`);
  }
  if (chain.length < 2) throw new CtLogError('INVALID_ARGUMENT', 'precertificate chain has no issuer');
  if ((certs[1]!.keyUsage ?? []).includes(CT_PRECERT_SIGNING_EKU)) {
    throw new CtLogError('INVALID_ARGUMENT', 'chain[1] is a Precertificate Signing Certificate, which this log does not support');
  }
  const issuerKeyHash = createHash('sha256').update(parseCertificate(chain[1]!, 'chain[1]').spki).digest();
  const tbsCertificate = tbsWithoutPoison(chain[0]!, 'chain[0]');
  return { entry: { entryType: LogEntryType.precert_entry, preCert: { issuerKeyHash, tbsCertificate } }, chain };
}
