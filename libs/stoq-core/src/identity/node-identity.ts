// A service instance's identity on disk: its keys, its certificate chain and the roots it
// trusts, created together on first start and reused after. The certificate is re-issued (by the
// CA handed in) when it is missing, past 2/3 of its lifetime, expired, or no longer matches the
// keys, names or CA. The keys are never replaced: a start that finds them partial, damaged or
// exposed refuses (IdentityError) and writes nothing.
//
// Files in <dataDir>/identity/ (directory 0700):
//   tls.key          ECDSA P-256 private key, PKCS#8 PEM, 0600
//   falcon.key       FALCON-1024 secret key, 0600
//   falcon.pub       FALCON-1024 public key, 0644
//   cert.pem         certificate chain: leaf, then the root, 0644
//   trust-roots.pem  the roots this node trusts, 0644

import { X509Certificate, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { basename, join } from 'node:path';
import pino, { type Logger } from 'pino';
import { StoqError } from '../errors';
import { nativeFalcon, type FalconKeypair, type FalconScheme } from '../falcon';
import { bytesEqual } from './der';
import type { CertificateSource } from './certificate-source';
import { IdentityError } from './errors';
import { generateClassicalKey, generateFalconKeys, readSigningKeys } from './key-files';
import { bytesToIpv6, ipv6ToBytes, standardDnsNames } from './naming';
import { parseHybridCertificate, verifyAltSignatureChain, type HybridCertificate } from './parse';
import { pemToDerList } from './pem';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, createDirectoryAtomic, inspectSetDirectory, readSetFile, writeFileAtomic, type SetFile } from './secure-files';

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
  /**
   * Issues (re-issues) the leaf: a DevCa, or any CertificateSource (e.g. enrollment with
   * TrustChain). Null: use the stored certificate, failing if it must be re-issued.
   */
  ca: CertificateSource | null;
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
  /** Where creation and re-issue are logged (path, fingerprint, reason). Default: silent. */
  logger?: Logger;
}

/** Set by NodeIdentity's static block: the loaders below construct identities; others use loadOrCreate. */
let makeIdentity: (
  dir: string,
  options: NodeIdentityOptions,
  keyPem: string,
  chainPem: string,
  rootsPem: string,
  falconKeys: FalconKeypair,
  leaf: HybridCertificate,
  reissued: boolean,
) => NodeIdentity;

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
    const log = options.logger ?? pino({ enabled: false });
    const now = options.now ?? new Date();
    const wanted = wantedNames(options);
    const dir = join(options.dataDir, NODE_IDENTITY_FILES.dir);
    const found = await inspectSetDirectory(dir, 'identity');
    const all = [NODE_IDENTITY_FILES.tlsKey, NODE_IDENTITY_FILES.falconKey, NODE_IDENTITY_FILES.falconPub, NODE_IDENTITY_FILES.certChain, NODE_IDENTITY_FILES.trustRoots];
    if (all.every((n) => !found.entries.has(n))) {
      if (!options.ca) {
        throw new StoqError('TLS_CONFIG', `identity ${options.instance} (${options.service}) in ${dir}: ${join(dir, NODE_IDENTITY_FILES.certChain)} does not exist and no certificate authority is available to issue one`);
      }
      const created = await createIdentity(dir, options, wanted, now, options.ca, falcon);
      if (await createDirectoryAtomic(dir, created.files)) {
        log.info({ path: dir, fingerprint: created.identity.fingerprint, falconKeySha256: sha256Hex(created.identity.falconPublicKey) }, 'created a new node identity');
        return created.identity;
      }
      // Another process created it first: use that one.
      return loadIdentity(dir, (await inspectSetDirectory(dir, 'identity')).entries, options, wanted, now, falcon, log);
    }
    return loadIdentity(dir, found.entries, options, wanted, now, falcon, log);
  }

  static {
    makeIdentity = (dir, options, keyPem, chainPem, rootsPem, falconKeys, leaf, reissued) =>
      new NodeIdentity(dir, options.service, options.instance, keyPem, chainPem, rootsPem, falconKeys.publicKey, falconKeys.secretKey, leaf, reissued);
  }
}


function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function issueLeaf(tlsKey: KeyObject, falcon: FalconKeypair, options: NodeIdentityOptions, wanted: WantedNames, now: Date, ca: CertificateSource, reason: string, currentChainPem?: string): Promise<{ chainPem: string; rootPem: string; leaf: HybridCertificate }> {
  const issued = await ca.issue({
    service: options.service,
    instance: options.instance,
    tlsKey,
    falconPublicKey: falcon.publicKey,
    falconSecretKey: falcon.secretKey,
    dnsNames: wanted.dnsNames,
    ipAddresses: wanted.ipAddresses,
    now,
    reason,
    ...(currentChainPem !== undefined ? { currentChainPem } : {}),
    ...(options.lifetimeMs !== undefined ? { lifetimeMs: options.lifetimeMs } : {}),
    ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
  });
  const chain = pemToDerList(issued.chainPem, 'CERTIFICATE', 'issued chain');
  const leaf = parseHybridCertificate(chain[0]!);
  // Never store a certificate that is not for these keys and names, whoever issued it.
  const spki = new Uint8Array(createPublicKey(tlsKey).export({ type: 'spki', format: 'der' }));
  if (!bytesEqual(leaf.spkiDer, spki) || !bytesEqual(leaf.falconPublicKey, falcon.publicKey)) {
    throw new StoqError('TLS_CONFIG', `the certificate issued for ${options.instance} (${options.service}) is for other keys; refusing to store it`);
  }
  if (leaf.commonName !== wanted.commonName || !wanted.dnsNames.every((n) => leaf.dnsNames.includes(n))) {
    throw new StoqError('TLS_CONFIG', `the certificate issued for ${options.instance} (${options.service}) names ${leaf.commonName} (${leaf.dnsNames.join(', ')}); refusing to store it`);
  }
  return { chainPem: issued.chainPem, rootPem: issued.rootsPem, leaf };
}

async function createIdentity(dir: string, options: NodeIdentityOptions, wanted: WantedNames, now: Date, ca: CertificateSource, falcon: FalconScheme): Promise<{ identity: NodeIdentity; files: SetFile[] }> {
  const tls = generateClassicalKey('P-256');
  const fk = generateFalconKeys(falcon);
  const { chainPem, rootPem, leaf } = await issueLeaf(tls.key, fk.keys, options, wanted, now, ca, 'first start: no identity yet');
  const F = NODE_IDENTITY_FILES;
  return {
    identity: makeIdentity(dir, options, tls.pem, chainPem, rootPem, fk.keys, leaf, true),
    files: [
      { name: F.tlsKey, data: tls.pem, mode: PRIVATE_FILE_MODE },
      { name: F.falconKey, data: fk.secretPem, mode: PRIVATE_FILE_MODE },
      { name: F.falconPub, data: fk.publicPem, mode: PUBLIC_FILE_MODE },
      { name: F.certChain, data: chainPem, mode: PUBLIC_FILE_MODE },
      { name: F.trustRoots, data: rootPem, mode: PUBLIC_FILE_MODE },
    ],
  };
}

async function loadIdentity(dir: string, entries: Set<string>, options: NodeIdentityOptions, wanted: WantedNames, now: Date, falcon: FalconScheme, log: Logger): Promise<NodeIdentity> {
  const path = (name: Exclude<keyof typeof NODE_IDENTITY_FILES, 'dir'>): string => join(dir, NODE_IDENTITY_FILES[name]);
  const what = `identity ${dir}`;
  const remedy = `restore it from a backup, or move ${dir} away to start over with a new identity`;
  // The keys are the identity: any of them missing is an incomplete set, never a reason to make new ones.
  const keyFiles = [NODE_IDENTITY_FILES.tlsKey, NODE_IDENTITY_FILES.falconKey, NODE_IDENTITY_FILES.falconPub];
  const missingKeys = keyFiles.filter((n) => !entries.has(n));
  if (missingKeys.length > 0) {
    throw new IdentityError(
      'IDENTITY_INCOMPLETE',
      missingKeys.map((n) => join(dir, n)),
      `${what} is incomplete: ${missingKeys.map((n) => join(dir, n)).join(', ')} missing (present: ${[...entries].filter((e) => !e.startsWith('.')).join(', ') || 'nothing'}). ` +
        `Refusing to generate new keys in place of this identity's. Restore the missing file(s) from a backup, or move ${dir} away to start over with a new identity.`,
      { details: { missing: missingKeys } },
    );
  }
  const { key: tlsKey, falconKeys } = await readSigningKeys({ key: path('tlsKey'), falconKey: path('falconKey'), falconPub: path('falconPub') }, what, remedy, falcon);
  const keyPem = tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const spki = new Uint8Array(createPublicKey(tlsKey).export({ type: 'spki', format: 'der' }));

  const read = await readStoredChain(path('certChain'), path('trustRoots'), entries, what);
  const stored = 'reason' in read ? undefined : read;
  const caRootDer = options.ca?.rootDer;
  const reason = stored ? reissueReason(stored.chain[0]!, stored, { wanted, spki, falconPublicKey: falconKeys.publicKey, now, caRootDer, falcon }) : (read as { reason: string }).reason;

  if (reason === undefined && stored) {
    return makeIdentity(dir, options, keyPem, stored.chainPem, stored.rootsPem, falconKeys, stored.chain[0]!, false);
  }
  if (!options.ca) {
    // No CA here (a client loading an identity that its holder renews: TrustChain's admin, a
    // `stoq enroll` identity): a certificate only due for renewal is still valid until notAfter,
    // so it is used, not refused a third of its life early.
    if (reason === RENEWAL_DUE && stored) return makeIdentity(dir, options, keyPem, stored.chainPem, stored.rootsPem, falconKeys, stored.chain[0]!, false);
    throw new StoqError('TLS_CONFIG', `identity ${options.instance} (${options.service}) needs a new certificate (${reason}) but no certificate authority is available`);
  }
  const { chainPem, rootPem, leaf } = await issueLeaf(tlsKey, falconKeys, options, wanted, now, options.ca, reason ?? 'renewal', stored?.chainPem);
  // Roots first: a crash in between leaves the old chain with the new roots, which the next
  // start detects (the chain no longer verifies) and repairs by re-issuing.
  await writeFileAtomic(path('trustRoots'), rootPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(path('certChain'), chainPem, PUBLIC_FILE_MODE);
  const rootsChanged = stored !== undefined && stored.rootsPem !== rootPem;
  (rootsChanged ? log.warn : log.info).call(log, { path: dir, fingerprint: leaf.fingerprintSha256, reason, trustRootsReplaced: rootsChanged }, 'issued a new certificate for the node identity');
  return makeIdentity(dir, options, keyPem, chainPem, rootPem, falconKeys, leaf, true);
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

/**
 * The stored chain and roots, or why a certificate must be issued. A missing certificate file
 * is re-issued (it holds nothing secret and the CA vouches for the same keys again); a damaged
 * one is refused, since we cannot tell corruption from tampering.
 */
async function readStoredChain(chainPath: string, rootsPath: string, entries: Set<string>, what: string): Promise<StoredChain | { reason: string }> {
  for (const p of [chainPath, rootsPath]) {
    if (!entries.has(basename(p))) return { reason: `${p} is missing` };
  }
  const remedy = (p: string): string => `restore it from a backup, or delete it to have the certificate authority issue a new one for the existing keys (${p})`;
  const chainPem = await readSetFile(chainPath, 'public', what, remedy(chainPath));
  const rootsPem = await readSetFile(rootsPath, 'public', what, remedy(rootsPath));
  const parse = (pem: string, p: string): HybridCertificate[] => {
    try {
      return pemToDerList(pem, 'CERTIFICATE', p).map(parseHybridCertificate);
    } catch (err) {
      throw new IdentityError(
        'IDENTITY_DAMAGED',
        [p],
        `${p} does not hold readable certificates (${(err as Error).message}); ${remedy(p)}`,
        { cause: err },
      );
    }
  };
  return { chain: parse(chainPem, chainPath), roots: parse(rootsPem, rootsPath), chainPem, rootsPem };
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
  // Last, so that this reason means every other check passed (see RENEWAL_DUE's use).
  if (t >= renewalTime(leaf).getTime()) return RENEWAL_DUE;
  return undefined;
}

/** The one re-issue reason that leaves the certificate usable: valid, only past 2/3 of its life. */
const RENEWAL_DUE = `the certificate is past ${Math.round(RENEW_AT_FRACTION * 100)}% of its lifetime`;

