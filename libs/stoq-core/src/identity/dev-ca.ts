// A development certificate authority kept in a directory, used until the TrustChain service
// issues certificates. Same certificate shapes as TrustChain: an ECDSA P-384 + FALCON-1024 root
// (10 years, CA, pathLen 0) issuing 24 h hybrid leaves named by naming.ts.
//
// Files in the CA directory:
//   root.key         ECDSA P-384 private key, PKCS#8 PEM, 0600
//   root-falcon.key  FALCON-1024 secret key, 0600
//   root-falcon.pub  FALCON-1024 public key, 0644
//   root.pem         self-signed root certificate, 0644 (written last: its presence marks a
//                    complete CA; keys without it are a crashed creation and are regenerated)

import { X509Certificate, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoqError } from '../errors';
import { nativeFalcon, type FalconScheme } from '../falcon';
import { bytesEqual } from './der';
import { issueCertificate } from './hybrid-cert';
import { loadOrCreateClassicalKey, loadOrCreateFalconKeys } from './key-files';
import { STOQ_ORGANIZATION, standardDnsNames } from './naming';
import { parseHybridCertificate, type HybridCertificate } from './parse';
import { pemToDer } from './pem';
import { PUBLIC_FILE_MODE, ensureDir, exists, readBoundedFile, writeFileAtomic } from './secure-files';

export const DEV_CA_FILES = {
  key: 'root.key',
  falconKey: 'root-falcon.key',
  falconPub: 'root-falcon.pub',
  cert: 'root.pem',
} as const;

export const DEFAULT_LEAF_LIFETIME_MS = 24 * 60 * 60 * 1000;
const ROOT_LIFETIME_MS = 10 * 365 * 24 * 60 * 60 * 1000;
/** Leaves start this much before "now", so peers with slightly slow clocks accept them. */
const BACKDATE_MS = 60 * 1000;

export interface DevCaOptions {
  falcon?: FalconScheme;
  /** Clock for the root's validity when it is created. */
  now?: Date;
  /** Root subject common name (default "STOQ Development Root CA"). */
  commonName?: string;
}

export interface IssueLeafOptions {
  service: string;
  instance: string;
  /** The leaf's classical public key (KeyObject or PEM; a private key is reduced to its public half). */
  publicKey: KeyObject | string;
  falconPublicKey: Uint8Array;
  /** Extra dNSName SANs beyond the standard `<instance>.<service>.hypermesh`, `<service>.hypermesh`, `<service>`. */
  dnsNames?: string[];
  /** IPv6 iPAddress SANs. */
  ipAddresses?: string[];
  /** Lifetime from notBefore to notAfter; default 24 h. */
  lifetimeMs?: number;
  /** Default: 60 s before `now`. May be in the past to produce already-expired certificates. */
  notBefore?: Date;
  now?: Date;
}

export class DevCa {
  private constructor(
    readonly dir: string,
    private readonly key: KeyObject,
    private readonly falconKeys: { publicKey: Uint8Array; secretKey: Uint8Array },
    private readonly root: HybridCertificate,
    private readonly falcon: FalconScheme,
  ) {}

  /** Open the CA in `dir`, creating its keys and self-signed root on first use. */
  static async openOrCreate(dir: string, options: DevCaOptions = {}): Promise<DevCa> {
    const falcon = options.falcon ?? nativeFalcon;
    await ensureDir(dir);
    const certPath = join(dir, DEV_CA_FILES.cert);
    const complete = await exists(certPath);
    if (!complete) {
      // A creation that crashed before root.pem was written: nobody can trust those keys yet.
      for (const f of [DEV_CA_FILES.key, DEV_CA_FILES.falconKey, DEV_CA_FILES.falconPub]) {
        await unlink(join(dir, f)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
    }
    const key = await loadOrCreateClassicalKey(join(dir, DEV_CA_FILES.key), 'P-384');
    const falconKeys = await loadOrCreateFalconKeys(join(dir, DEV_CA_FILES.falconKey), join(dir, DEV_CA_FILES.falconPub), falcon);
    if (complete) {
      if (key.created || falconKeys.created) {
        throw new StoqError('TLS_CONFIG', `dev CA ${dir}: ${certPath} exists but its keys were missing; remove the directory to start a new CA`);
      }
      const der = pemToDer(await readBoundedFile(certPath), 'CERTIFICATE', certPath);
      const root = parseHybridCertificate(der);
      if (!bytesEqual(root.spkiDer, new Uint8Array(createPublicKey(key.key).export({ type: 'spki', format: 'der' })))) {
        throw new StoqError('TLS_CONFIG', `dev CA ${dir}: ${DEV_CA_FILES.key} does not match the key of ${DEV_CA_FILES.cert}`);
      }
      if (!bytesEqual(root.falconPublicKey, falconKeys.key.publicKey)) {
        throw new StoqError('TLS_CONFIG', `dev CA ${dir}: ${DEV_CA_FILES.falconPub} does not match the FALCON key of ${DEV_CA_FILES.cert}`);
      }
      return new DevCa(dir, key.key, falconKeys.key, root, falcon);
    }
    const now = options.now ?? new Date();
    const { der, pem } = issueCertificate({
      subject: { commonName: options.commonName ?? 'STOQ Development Root CA', organization: STOQ_ORGANIZATION },
      subjectPublicKey: createPublicKey(key.key),
      subjectFalconPublicKey: falconKeys.key.publicKey,
      issuer: { certificate: null, privateKey: key.key, falconSecretKey: falconKeys.key.secretKey, falconPublicKey: falconKeys.key.publicKey },
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + ROOT_LIFETIME_MS),
      isCa: true,
      pathLen: 0,
      falcon,
    });
    await writeFileAtomic(certPath, pem, PUBLIC_FILE_MODE);
    return new DevCa(dir, key.key, falconKeys.key, parseHybridCertificate(der), falcon);
  }

  get rootDer(): Uint8Array {
    return this.root.der;
  }

  get rootPem(): string {
    return new X509Certificate(Buffer.from(this.root.der)).toString();
  }

  /** SHA-256 of the root certificate DER, lowercase hex (what enrolling nodes pin). */
  get fingerprint(): string {
    return createHash('sha256').update(this.root.der).digest('hex');
  }

  get rootFalconPublicKey(): Uint8Array {
    return this.falconKeys.publicKey;
  }

  /** Issue a hybrid leaf for `instance` of `service`; returns its PEM. */
  issueLeaf(options: IssueLeafOptions): string {
    const now = options.now ?? new Date();
    const lifetimeMs = options.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
    if (!Number.isFinite(lifetimeMs) || lifetimeMs < 1000) {
      throw new StoqError('TLS_CONFIG', `leaf lifetime ${lifetimeMs} ms is too short (at least 1000 ms)`);
    }
    if (now.getTime() > this.root.notAfter.getTime()) {
      throw new StoqError('TLS_CONFIG', `dev CA root in ${this.dir} expired at ${this.root.notAfter.toISOString()}`);
    }
    const notBefore = options.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
    const publicKey = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey;
    const { pem } = issueCertificate({
      subject: { commonName: options.instance, organization: STOQ_ORGANIZATION },
      subjectPublicKey: publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey,
      subjectFalconPublicKey: options.falconPublicKey,
      issuer: { certificate: this.root.der, privateKey: this.key, falconSecretKey: this.falconKeys.secretKey, falconPublicKey: this.falconKeys.publicKey },
      notBefore,
      notAfter: new Date(notBefore.getTime() + lifetimeMs),
      isCa: false,
      dnsNames: [...standardDnsNames(options.service, options.instance), ...(options.dnsNames ?? [])],
      ipAddresses: options.ipAddresses ?? [],
      falcon: this.falcon,
    });
    return pem;
  }
}
