// A service instance's identity on disk: its keys, its certificate chain and the roots it
// trusts, generated on first start and reused after. The certificate is re-issued (by the CA
// handed in) when it is missing, past 2/3 of its lifetime, expired, or no longer matches the keys,
// names or CA; the keys themselves are kept.
//
// Files in <dataDir>/identity/ (directory 0700):
//   tls.key          ECDSA P-256 private key, PKCS#8 PEM, 0600
//   falcon.key       FALCON-1024 secret key, 0600
//   falcon.pub       FALCON-1024 public key, 0644
//   cert.pem         certificate chain: leaf, then the root, 0644
//   trust-roots.pem  the roots this node trusts, 0644

import { X509Certificate, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { StoqError } from '../errors';
import { nativeFalcon, type FalconScheme } from '../falcon';
import { bytesEqual } from './der';
import type { DevCa } from './dev-ca';
import { loadOrCreateClassicalKey, loadOrCreateFalconKeys } from './key-files';
import { bytesToIpv6, ipv6ToBytes, standardDnsNames } from './naming';
import { parseHybridCertificate, verifyAltSignatureChain, type HybridCertificate } from './parse';
import { pemToDerList } from './pem';
import { PUBLIC_FILE_MODE, ensureDir, exists, readBoundedFile, writeFileAtomic } from './secure-files';

export const NODE_IDENTITY_FILES = {
  dir: 'identity',
  tlsKey: 'tls.key',
  falconKey: 'falcon.key',
  falconPub: 'falcon.pub',
  certChain: 'cert.pem',
  trustRoots: 'trust-roots.pem',
} as const;

/** Fraction of a certificate's lifetime after which it is re-issued. */
export const RENEW_AT_FRACTION = 2 / 3;

export interface NodeIdentityOptions {
  dataDir: string;
  service: string;
  instance: string;
  /** Issues (re-issues) the leaf. Null: use the stored certificate, failing if it must be re-issued. */
  ca: DevCa | null;
  /** Extra dNSName SANs beyond the standard STOQ names. */
  dnsNames?: string[];
  /** IPv6 iPAddress SANs; default ['::1']. */
  ipAddresses?: string[];
  /** Leaf lifetime when issuing; default 24 h (the CA's default). */
  lifetimeMs?: number;
  /** notBefore of a newly issued leaf (e.g. in the past, to produce an expired certificate for tests). */
  notBefore?: Date;
  now?: Date;
  falcon?: FalconScheme;
}

export class NodeIdentity {
  private constructor(
    readonly dir: string,
    readonly service: string,
    readonly instance: string,
    readonly keyPem: string,
    readonly certChainPem: string,
    readonly trustRootsPem: string,
    readonly falconPublicKey: Uint8Array,
    readonly falconSecretKey: Uint8Array,
    private readonly leaf: HybridCertificate,
    /** Whether this load issued a new certificate (first start or renewal). */
    readonly reissued: boolean,
  ) {}

  get leafDer(): Uint8Array {
    return this.leaf.der;
  }

  /** SHA-256 of the leaf certificate DER, lowercase hex. */
  get fingerprint(): string {
    return this.leaf.fingerprintSha256;
  }

  get notBefore(): Date {
    return this.leaf.notBefore;
  }

  get notAfter(): Date {
    return this.leaf.notAfter;
  }

  /** When the leaf should be re-issued (2/3 of its lifetime); call loadOrCreate again then. */
  get renewAt(): Date {
    return renewalTime(this.leaf);
  }

  static async loadOrCreate(options: NodeIdentityOptions): Promise<NodeIdentity> {
    const falcon = options.falcon ?? nativeFalcon;
    const now = options.now ?? new Date();
    const wanted = wantedNames(options);
    const dir = join(options.dataDir, NODE_IDENTITY_FILES.dir);
    await ensureDir(dir);
    const path = (name: keyof typeof NODE_IDENTITY_FILES): string => join(dir, NODE_IDENTITY_FILES[name]);

    const tlsKey = (await loadOrCreateClassicalKey(path('tlsKey'), 'P-256')).key;
    const falconKeys = (await loadOrCreateFalconKeys(path('falconKey'), path('falconPub'), falcon)).key;
    const keyPem = tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const spki = new Uint8Array(createPublicKey(tlsKey).export({ type: 'spki', format: 'der' }));

    const read = await readStoredChain(path('certChain'), path('trustRoots'));
    const stored = 'reason' in read ? undefined : read;
    const caRootDer = options.ca?.rootDer;
    const reason = stored
      ? reissueReason(stored.chain[0]!, stored, { wanted, spki, falconPublicKey: falconKeys.publicKey, now, caRootDer, falcon })
      : (read as { reason: string }).reason;

    if (reason === undefined && stored) {
      return new NodeIdentity(dir, options.service, options.instance, keyPem, stored.chainPem, stored.rootsPem, falconKeys.publicKey, falconKeys.secretKey, stored.chain[0]!, false);
    }
    if (!options.ca) {
      throw new StoqError('TLS_CONFIG', `identity ${options.instance} (${options.service}) needs a new certificate (${reason}) but no certificate authority is available`);
    }
    const leafPem = options.ca.issueLeaf({
      service: options.service,
      instance: options.instance,
      publicKey: createPublicKey(tlsKey),
      falconPublicKey: falconKeys.publicKey,
      dnsNames: options.dnsNames ?? [],
      ipAddresses: wanted.ipAddresses,
      now,
      ...(options.lifetimeMs !== undefined ? { lifetimeMs: options.lifetimeMs } : {}),
      ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
    });
    const rootPem = options.ca.rootPem;
    const chainPem = leafPem + rootPem;
    // Roots first: a crash in between leaves the old chain with the new roots, which the next
    // start detects (the chain no longer verifies) and repairs by re-issuing.
    await writeFileAtomic(path('trustRoots'), rootPem, PUBLIC_FILE_MODE);
    await writeFileAtomic(path('certChain'), chainPem, PUBLIC_FILE_MODE);
    const leaf = parseHybridCertificate(pemToDerList(leafPem, 'CERTIFICATE', 'issued leaf')[0]!);
    return new NodeIdentity(dir, options.service, options.instance, keyPem, chainPem, rootPem, falconKeys.publicKey, falconKeys.secretKey, leaf, true);
  }
}

interface WantedNames {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

function wantedNames(options: NodeIdentityOptions): WantedNames {
  const dnsNames = [...new Set([...standardDnsNames(options.service, options.instance), ...(options.dnsNames ?? [])])];
  // Normalise so that "0:0::1" and "::1" compare equal.
  const ipAddresses = [...new Set((options.ipAddresses ?? ['::1']).map((ip) => bytesToIpv6(ipv6ToBytes(ip))))];
  return { commonName: options.instance, dnsNames, ipAddresses };
}

interface StoredChain {
  chain: HybridCertificate[];
  roots: HybridCertificate[];
  chainPem: string;
  rootsPem: string;
}

async function readStoredChain(chainPath: string, rootsPath: string): Promise<StoredChain | { reason: string }> {
  for (const p of [chainPath, rootsPath]) {
    if (!(await exists(p))) return { reason: `${p} does not exist` };
  }
  const chainPem = await readBoundedFile(chainPath);
  const rootsPem = await readBoundedFile(rootsPath);
  try {
    const chain = pemToDerList(chainPem, 'CERTIFICATE', chainPath).map(parseHybridCertificate);
    const roots = pemToDerList(rootsPem, 'CERTIFICATE', rootsPath).map(parseHybridCertificate);
    return { chain, roots, chainPem, rootsPem };
  } catch (err) {
    // An unreadable stored certificate is replaced like an expired one; keys are never replaced.
    if (err instanceof StoqError) return { reason: `the stored certificates do not parse: ${err.message}` };
    throw err;
  }
}

function renewalTime(leaf: HybridCertificate): Date {
  const start = leaf.notBefore.getTime();
  return new Date(start + (leaf.notAfter.getTime() - start) * RENEW_AT_FRACTION);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

/** Why the stored leaf must be re-issued, or undefined when it is still good. */
function reissueReason(
  leaf: HybridCertificate,
  stored: StoredChain,
  ctx: { wanted: WantedNames; spki: Uint8Array; falconPublicKey: Uint8Array; now: Date; caRootDer: Uint8Array | undefined; falcon: FalconScheme },
): string | undefined {
  const t = ctx.now.getTime();
  if (t >= leaf.notAfter.getTime()) return `the certificate expired at ${leaf.notAfter.toISOString()}`;
  if (t < leaf.notBefore.getTime()) return `the certificate is not valid before ${leaf.notBefore.toISOString()}`;
  if (t >= renewalTime(leaf).getTime()) return `the certificate is past ${Math.round(RENEW_AT_FRACTION * 100)}% of its lifetime`;
  if (!bytesEqual(leaf.spkiDer, ctx.spki)) return 'the certificate is for a different TLS key';
  if (!bytesEqual(leaf.falconPublicKey, ctx.falconPublicKey)) return 'the certificate is for a different FALCON key';
  if (leaf.commonName !== ctx.wanted.commonName) return `the certificate names instance ${leaf.commonName}`;
  if (!sameSet(leaf.dnsNames, ctx.wanted.dnsNames)) return `the certificate DNS names changed (${leaf.dnsNames.join(', ')})`;
  if (!sameSet(leaf.ipAddresses, ctx.wanted.ipAddresses)) return `the certificate IP addresses changed (${leaf.ipAddresses.join(', ')})`;
  const rootsDer = stored.roots.map((r) => r.der);
  if (ctx.caRootDer && !rootsDer.some((r) => bytesEqual(r, ctx.caRootDer!))) return 'the certificate authority changed';
  // Both chains must still verify against the stored roots (classical, then FALCON).
  const issuer = stored.chain[1] ?? stored.roots[0];
  if (!issuer || !new X509Certificate(Buffer.from(leaf.der)).verify(new X509Certificate(Buffer.from(issuer.der)).publicKey)) {
    return 'the certificate is not signed by the stored root';
  }
  try {
    verifyAltSignatureChain(stored.chain.map((c) => c.der), rootsDer, ctx.falcon);
  } catch (err) {
    return `the certificate chain fails the FALCON check: ${(err as Error).message}`;
  }
  return undefined;
}

