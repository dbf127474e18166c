// A development certificate authority kept in a directory, used until the TrustChain service
// issues certificates. Same certificate shapes as TrustChain: an ECDSA P-384 + FALCON-1024 root
// (10 years, CA, pathLen 0) issuing 24 h hybrid leaves named by naming.ts.
//
// Files in the CA directory (0700):
//   root.key         ECDSA P-384 private key, PKCS#8 PEM, 0600
//   root-falcon.key  FALCON-1024 secret key, 0600
//   root-falcon.pub  FALCON-1024 public key, 0644
//   root.pem         self-signed root certificate, 0644
//
// The four files are one set: created together in one atomic step (secure-files.ts) and never
// replaced. Every identity the CA issued trusts this root, so a start that finds only part of
// the set, or a damaged or exposed file, refuses (IdentityError) instead of making a new CA.

import { X509Certificate, createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { ecdsaSign } from '../ecdsa';
import { StoqError } from '../errors';
import { nativeFalcon, type FalconScheme } from '../falcon';
import { bytesEqual } from './der';
import { IdentityError } from './errors';
import type { CertificateRequest, CertificateSource, IssuedChain } from './certificate-source';
import { issueCertificate, type CertificateExtension, type IssuedCertificate, type SpkiPublicKey } from './hybrid-cert';
import { generateClassicalKey, generateFalconKeys, readSigningKeys } from './key-files';
import { STOQ_ORGANIZATION, standardDnsNames } from './naming';
import { parseHybridCertificate, verifyAltSignature, type HybridCertificate } from './parse';
import { pemToDer } from './pem';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, createDirectoryAtomic, inspectSetDirectory, readSetFile } from './secure-files';

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
  /** Where the creation of a new CA is logged (path and fingerprint). Default: silent. */
  logger?: Logger;
  /** What the CA is called in logs and errors (default "development CA"; TrustChain says "TrustChain root CA"). */
  label?: string;
  /**
   * basicConstraints pathLenConstraint of a root this call creates (default 0: the root signs
   * leaves only). 1 lets the root sign an intermediate CA (TrustChain's `ca init`).
   */
  pathLen?: number;
}

export interface IssueCaOptions {
  /** Subject common name of the new CA certificate. */
  commonName: string;
  /** Its classical public key (ECDSA P-256/P-384). */
  publicKey: KeyObject;
  falconPublicKey: Uint8Array;
  now: Date;
  /** Lifetime from now; capped at this CA's own notAfter (a child never outlives its issuer). */
  lifetimeMs: number;
  /** Its pathLenConstraint (default 0: it signs leaves only). */
  pathLen?: number;
}

export interface IssueLeafOptions {
  service: string;
  instance: string;
  /** The leaf's classical public key (KeyObject, PEM or SPKI DER; a private key is reduced to its public half). */
  publicKey: KeyObject | string | SpkiPublicKey;
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

export class DevCa implements CertificateSource {
  private constructor(
    readonly dir: string,
    private readonly key: KeyObject,
    private readonly falconKeys: { publicKey: Uint8Array; secretKey: Uint8Array },
    private readonly root: HybridCertificate,
    private readonly falcon: FalconScheme,
    /** Whether this call created the CA (false: it opened an existing one). */
    readonly created: boolean = false,
  ) {}

  /**
   * Open the CA in `dir` without ever creating one: for a root kept offline, whose absence must
   * be an error (IDENTITY_INCOMPLETE), not a reason to make a new root.
   */
  static async openExisting(dir: string, options: Omit<DevCaOptions, 'now' | 'commonName' | 'pathLen'> = {}): Promise<DevCa> {
    const label = options.label ?? 'development CA';
    const found = await inspectSetDirectory(dir, label);
    const names = Object.values(DEV_CA_FILES);
    const missing = names.filter((n) => !found.entries.has(n));
    if (missing.length > 0) {
      throw new IdentityError(
        'IDENTITY_INCOMPLETE',
        missing.map((n) => join(dir, n)),
        `${label} ${dir} is ${missing.length === names.length ? 'absent' : 'incomplete'}: ${missing.map((n) => join(dir, n)).join(', ')} missing. ` +
          `Give the directory that holds the CA's ${names.join(', ')}.`,
        { details: { missing } },
      );
    }
    return DevCa.load(dir, options.falcon ?? nativeFalcon, label);
  }

  /**
   * A CA whose certificate is not self-signed (an intermediate), from keys and certificate the
   * caller read and checked against its issuer. Checks that the keys are the certificate's.
   */
  static fromIssuingCa(dir: string, key: KeyObject, falconKeys: { publicKey: Uint8Array; secretKey: Uint8Array }, certificateDer: Uint8Array, falcon: FalconScheme = nativeFalcon): DevCa {
    const cert = parseHybridCertificate(certificateDer);
    if (!cert.isCa) throw new IdentityError('IDENTITY_DAMAGED', [dir], `${dir}: certificate "${cert.commonName}" is not a CA certificate`);
    if (!bytesEqual(cert.spkiDer, new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })))) {
      throw new IdentityError('IDENTITY_DAMAGED', [dir], `${dir}: the CA key does not match certificate "${cert.commonName}"; restore the matching files from a backup`);
    }
    if (!bytesEqual(cert.falconPublicKey, falconKeys.publicKey)) {
      throw new IdentityError('IDENTITY_DAMAGED', [dir], `${dir}: the FALCON key does not match certificate "${cert.commonName}"; restore the matching files from a backup`);
    }
    return new DevCa(dir, key, falconKeys, cert, falcon);
  }

  /**
   * Open the CA in `dir`, creating its keys and self-signed root when the directory is absent
   * or empty. Throws IdentityError (writing nothing) when the set is incomplete, damaged, exposed
   * or has a leftover of an interrupted creation.
   */
  static async openOrCreate(dir: string, options: DevCaOptions = {}): Promise<DevCa> {
    const falcon = options.falcon ?? nativeFalcon;
    const log = options.logger ?? pino({ enabled: false });
    const label = options.label ?? 'development CA';
    const found = await inspectSetDirectory(dir, label);
    const names = Object.values(DEV_CA_FILES);
    const present = names.filter((n) => found.entries.has(n));
    if (present.length === 0) {
      const created = DevCa.generate(dir, options, falcon);
      if (await createDirectoryAtomic(dir, created.files)) {
        log.info({ path: dir, fingerprint: created.ca.fingerprint }, `created a new ${label}`);
        return created.ca;
      }
      // Another process created it first: use that one (load reads what is there now).
    } else if (present.length < names.length) {
      const missing = names.filter((n) => !found.entries.has(n));
      throw new IdentityError(
        'IDENTITY_INCOMPLETE',
        missing.map((n) => join(dir, n)),
        `${label} ${dir} is incomplete: ${missing.map((n) => join(dir, n)).join(', ')} missing (present: ${present.join(', ')}). ` +
          `Refusing to create a new CA in its place: every identity it issued trusts this one. ` +
          `Restore the missing file(s) from a backup, or move ${dir} away to start over with a new CA (identities are then re-issued by it).`,
        { details: { missing, present } },
      );
    }
    return DevCa.load(dir, falcon, label);
  }

  private static generate(dir: string, options: DevCaOptions, falcon: FalconScheme): { ca: DevCa; files: { name: string; data: string; mode: number }[] } {
    const key = generateClassicalKey('P-384');
    const falconKeys = generateFalconKeys(falcon);
    const now = options.now ?? new Date();
    const { der, pem } = issueCertificate({
      subject: { commonName: options.commonName ?? 'STOQ Development Root CA', organization: STOQ_ORGANIZATION },
      subjectPublicKey: createPublicKey(key.key),
      subjectFalconPublicKey: falconKeys.keys.publicKey,
      issuer: { certificate: null, privateKey: key.key, falconSecretKey: falconKeys.keys.secretKey, falconPublicKey: falconKeys.keys.publicKey },
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + ROOT_LIFETIME_MS),
      isCa: true,
      pathLen: options.pathLen ?? 0,
      falcon,
    });
    return {
      ca: new DevCa(dir, key.key, falconKeys.keys, parseHybridCertificate(der), falcon, true),
      files: [
        { name: DEV_CA_FILES.key, data: key.pem, mode: PRIVATE_FILE_MODE },
        { name: DEV_CA_FILES.falconKey, data: falconKeys.secretPem, mode: PRIVATE_FILE_MODE },
        { name: DEV_CA_FILES.falconPub, data: falconKeys.publicPem, mode: PUBLIC_FILE_MODE },
        { name: DEV_CA_FILES.cert, data: pem, mode: PUBLIC_FILE_MODE },
      ],
    };
  }

  private static async load(dir: string, falcon: FalconScheme, label: string): Promise<DevCa> {
    const path = (name: keyof typeof DEV_CA_FILES): string => join(dir, DEV_CA_FILES[name]);
    const what = `${label} ${dir}`;
    const remedy = `restore it from a backup, or move ${dir} away to start over with a new CA`;
    const { key, falconKeys } = await readSigningKeys({ key: path('key'), falconKey: path('falconKey'), falconPub: path('falconPub') }, what, remedy, falcon);
    const certPem = await readSetFile(path('cert'), 'public', what, remedy);
    let root: HybridCertificate;
    try {
      root = parseHybridCertificate(pemToDer(certPem, 'CERTIFICATE', path('cert')));
      const x509 = new X509Certificate(Buffer.from(root.der));
      if (!root.isCa || !x509.verify(x509.publicKey)) throw new StoqError('PEER_REJECTED', 'not a self-signed CA certificate');
      verifyAltSignature(root, root, falcon);
    } catch (err) {
      throw new IdentityError('IDENTITY_DAMAGED', [path('cert')], `${path('cert')} does not hold a valid self-signed root certificate (${(err as Error).message}); ${remedy}`, { cause: err });
    }
    const mismatch = (file: string): IdentityError =>
      new IdentityError('IDENTITY_DAMAGED', [file, path('cert')], `${label} ${dir}: ${file} does not match the key of ${path('cert')}; restore the matching files from a backup`);
    if (!bytesEqual(root.spkiDer, new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })))) throw mismatch(path('key'));
    if (!bytesEqual(root.falconPublicKey, falconKeys.publicKey)) throw mismatch(path('falconPub'));
    return new DevCa(dir, key, falconKeys, root, falcon);
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

  /** CertificateSource: a leaf for the request's keys and names, chained to this root. */
  async issue(request: CertificateRequest): Promise<IssuedChain> {
    const pem = this.issueLeaf({
      service: request.service,
      instance: request.instance,
      publicKey: createPublicKey(request.tlsKey),
      falconPublicKey: request.falconPublicKey,
      dnsNames: request.dnsNames.filter((n) => !standardDnsNames(request.service, request.instance).includes(n)),
      ipAddresses: [...request.ipAddresses],
      now: request.now,
      ...(request.lifetimeMs !== undefined ? { lifetimeMs: request.lifetimeMs } : {}),
      ...(request.notBefore !== undefined ? { notBefore: request.notBefore } : {}),
    });
    return { chainPem: pem + this.rootPem, rootsPem: this.rootPem };
  }

  /** Issue a hybrid leaf for `instance` of `service`; returns its PEM. */
  issueLeaf(options: IssueLeafOptions): string {
    return this.issueLeafCertificate(options).pem;
  }

  /** Issue a hybrid leaf; returns its DER and PEM. */
  issueLeafCertificate(options: IssueLeafOptions & { serialNumber?: Uint8Array; extraExtensions?: readonly CertificateExtension[] }): IssuedCertificate {
    const now = options.now ?? new Date();
    const lifetimeMs = options.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
    if (!Number.isFinite(lifetimeMs) || lifetimeMs < 1000) {
      throw new StoqError('TLS_CONFIG', `leaf lifetime ${lifetimeMs} ms is too short (at least 1000 ms)`);
    }
    if (now.getTime() > this.root.notAfter.getTime()) {
      throw new StoqError('TLS_CONFIG', `CA "${this.root.commonName}" in ${this.dir} expired at ${this.root.notAfter.toISOString()}${!bytesEqual(this.root.subjectDer, this.root.issuerDer) ? '; sign a new intermediate with the root (trustchain ca sign-intermediate)' : ''}`);
    }
    // The lifetime counts from now; notBefore is backdated for peers whose clocks lag, by at most
    // a quarter of the lifetime so a short-lived leaf is not born mostly used up (and due for
    // renewal at once: renewal comes at 2/3 of notBefore..notAfter).
    const notBefore = options.notBefore ?? new Date(now.getTime() - Math.min(BACKDATE_MS, Math.floor(lifetimeMs / 4)));
    const notAfter = options.notBefore ? new Date(notBefore.getTime() + lifetimeMs) : new Date(now.getTime() + lifetimeMs);
    const publicKey = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey;
    return issueCertificate({
      subject: { commonName: options.instance, organization: STOQ_ORGANIZATION },
      subjectPublicKey: 'spkiDer' in publicKey || publicKey.type !== 'private' ? publicKey : createPublicKey(publicKey),
      subjectFalconPublicKey: options.falconPublicKey,
      issuer: { certificate: this.root.der, privateKey: this.key, falconSecretKey: this.falconKeys.secretKey, falconPublicKey: this.falconKeys.publicKey },
      notBefore,
      notAfter,
      isCa: false,
      dnsNames: [...standardDnsNames(options.service, options.instance), ...(options.dnsNames ?? [])],
      ipAddresses: options.ipAddresses ?? [],
      falcon: this.falcon,
      ...(options.serialNumber ? { serialNumber: options.serialNumber } : {}),
      ...(options.extraExtensions ? { extraExtensions: options.extraExtensions } : {}),
    });
  }

  /** This CA's certificate, parsed. */
  get certificate(): HybridCertificate {
    return this.root;
  }

  /**
   * Sign a subordinate CA certificate (an intermediate: keyCertSign + cRLSign, pathLen 0 by
   * default). Refused when this CA's own pathLenConstraint forbids CAs below it (openssl and
   * webpki would reject the chain).
   */
  issueCaCertificate(options: IssueCaOptions): IssuedCertificate {
    const pathLen = options.pathLen ?? 0;
    if (this.root.pathLen !== undefined && this.root.pathLen < pathLen + 1) {
      throw new StoqError(
        'TLS_CONFIG',
        `CA "${this.root.commonName}" in ${this.dir} has pathLenConstraint ${this.root.pathLen}: it may sign leaves only, not a CA below it (a root made by \`trustchain ca init\` allows one intermediate)`,
      );
    }
    if (options.now.getTime() > this.root.notAfter.getTime()) {
      throw new StoqError('TLS_CONFIG', `CA "${this.root.commonName}" in ${this.dir} expired at ${this.root.notAfter.toISOString()}`);
    }
    const notAfter = new Date(Math.min(options.now.getTime() + options.lifetimeMs, this.root.notAfter.getTime()));
    return issueCertificate({
      subject: { commonName: options.commonName, organization: STOQ_ORGANIZATION },
      subjectPublicKey: options.publicKey.type === 'private' ? createPublicKey(options.publicKey) : options.publicKey,
      subjectFalconPublicKey: options.falconPublicKey,
      issuer: { certificate: this.root.der, privateKey: this.key, falconSecretKey: this.falconKeys.secretKey, falconPublicKey: this.falconKeys.publicKey },
      notBefore: new Date(options.now.getTime() - BACKDATE_MS),
      notAfter,
      isCa: true,
      pathLen,
      falcon: this.falcon,
    });
  }

  /** ECDSA P-384 / SHA-384 signature (DER) with the root key: for CRLs and signed lists. */
  signClassical(data: Uint8Array): Uint8Array {
    // Roots this class creates are P-384; a P-256 root loaded from disk still signs with SHA-384.
    if (this.key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return ecdsaSign(this.key, data);
    return new Uint8Array(sign('sha384', data, { key: this.key, dsaEncoding: 'der' }));
  }

  /** FALCON-1024 signature with the root's FALCON key. */
  signFalcon(data: Uint8Array): Uint8Array {
    return this.falcon.sign(this.falconKeys.secretKey, data);
  }

  /** The root's subject Name DER (the issuer of everything it signs). */
  get subjectDer(): Uint8Array {
    return this.root.subjectDer;
  }

  get subjectKeyIdentifier(): Uint8Array | undefined {
    return this.root.subjectKeyIdentifier;
  }
}
