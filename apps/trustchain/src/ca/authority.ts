// TrustChain's key material and what it signs with it. Layout of the data dir:
//
//   trustchain.db     issued certificates, tokens, revocations, leases (store/ca-store.ts)
//   ca/               root: ECDSA P-384 + FALCON-1024, 10 years (the DevCa key set, 0700/0600)
//   ct-key/log.key    the CT log's ECDSA P-256 signing key (its SHA-256 SPKI is the log id)
//   ct/               the CT log (libs/ct-log FileLogStorage)
//   identity/         TrustChain's own node identity, a leaf self-issued from the root
//   crl.der           the current CRL (rewritten on every revocation)
//
// First start creates the root (logged with its fingerprint) and the log key. A later start
// whose database names a root must find that root, and never creates another in its place.
// The CT log's tree heads carry a FALCON signature by the root's FALCON key, so one pinned
// root fingerprint lets a client check certificates and the log's post-quantum signatures.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  DevCa,
  PRIVATE_FILE_MODE,
  createDirectoryAtomic,
  generateClassicalKey,
  inspectSetDirectory,
  nativeFalcon,
  parseClassicalKey,
  parseHybridCertificate,
  readSetFile,
  type CertificateExtension,
  type FalconScheme,
  type HybridCertificate,
} from '@stoq/core';
import { LogSigningKey, type FalconSigner } from '@stoq/ct-log';
import { TrustChainError } from '../core/errors';
import type { CertificateNames } from '../core/issuance-policy';
import type { CaStore } from '../store/ca-store';

export const DATA_DIR_LAYOUT = {
  db: 'trustchain.db',
  ca: 'ca',
  ctKey: 'ct-key',
  ctKeyFile: 'log.key',
  ct: 'ct',
  identity: 'identity',
  crl: 'crl.der',
} as const;

export const DEFAULT_CERT_LIFETIME_MS = 24 * 3600 * 1000;
const ROOT_META_KEY = 'root_fingerprint';

export interface IssuedLeaf {
  readonly der: Uint8Array;
  readonly serial: string;
  readonly fingerprint: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export class Authority {
  private constructor(
    private readonly root: DevCa,
    readonly rootCertificate: HybridCertificate,
    readonly logKey: LogSigningKey,
    private readonly falcon: FalconScheme,
  ) {}

  /**
   * Opens (or, on first start, creates) the root and log key in `dataDir`, and binds `store` to
   * this root. Refuses when the store belongs to a root that is not there. `now` dates a new
   * root; pass the issuer's clock so the root is valid whenever that clock issues leaves.
   */
  static async open(dataDir: string, store: CaStore, logger: Logger, falcon: FalconScheme = nativeFalcon, now: () => number = Date.now): Promise<Authority> {
    const caDir = join(dataDir, DATA_DIR_LAYOUT.ca);
    const known = store.meta(ROOT_META_KEY);
    if (known !== undefined && !existsSync(join(caDir, 'root.pem'))) {
      throw new TrustChainError(
        'STATE_DAMAGED',
        `${store.path} belongs to root ${known}, but ${caDir} holds no root; restore ${caDir} from a backup (creating a new root would orphan every certificate issued)`,
      );
    }
    // No logger for DevCa: the lines below say the same, and what to do with the fingerprint.
    const root = await DevCa.openOrCreate(caDir, { commonName: 'TrustChain Root CA', label: 'TrustChain root CA', falcon, now: new Date(now()) });
    if (known !== undefined && known !== root.fingerprint) {
      throw new TrustChainError('STATE_DAMAGED', `${store.path} belongs to root ${known}, but ${caDir} holds root ${root.fingerprint}; use the matching data dir`);
    }
    store.setMetaOnce(ROOT_META_KEY, root.fingerprint);
    if (root.created) logger.info({ fingerprint: root.fingerprint, path: caDir }, 'TrustChain root created: pin this fingerprint in every service');
    else logger.info({ fingerprint: root.fingerprint, path: caDir }, 'TrustChain root loaded');
    const logKey = await openLogKey(join(dataDir, DATA_DIR_LAYOUT.ctKey), store, logger);
    return new Authority(root, parseHybridCertificate(root.rootDer), logKey, falcon);
  }

  get rootDer(): Uint8Array {
    return this.root.rootDer;
  }

  get rootPem(): string {
    return this.root.rootPem;
  }

  /** SHA-256 of the root DER, lowercase hex: what enrolling services pin. */
  get fingerprint(): string {
    return this.root.fingerprint;
  }

  /** The DevCa view of the root: a CertificateSource for TrustChain's own identity. */
  get rootCa(): DevCa {
    return this.root;
  }

  /** FALCON signer/verifier of the CT log's tree heads (the root's FALCON key). */
  get logFalcon(): FalconSigner {
    const pk = this.rootCertificate.falconPublicKey;
    return {
      sign: (m) => this.root.signFalcon(m),
      verify: (m, s) => this.falcon.verify(pk, m, s),
    };
  }

  issueLeaf(publicKey: KeyObject, falconPublicKey: Uint8Array, names: CertificateNames, now: number, lifetimeMs: number, extraExtensions?: readonly CertificateExtension[]): IssuedLeaf {
    const { der } = this.root.issueLeafCertificate({
      service: names.service,
      instance: names.instance,
      publicKey,
      falconPublicKey,
      ipAddresses: [...names.ipAddresses],
      now: new Date(now),
      lifetimeMs,
      ...(extraExtensions ? { extraExtensions } : {}),
    });
    const leaf = parseHybridCertificate(der);
    return { der, serial: leaf.serialNumber, fingerprint: leaf.fingerprintSha256, notBefore: leaf.notBefore.getTime(), notAfter: leaf.notAfter.getTime() };
  }

  signClassical(data: Uint8Array): Uint8Array {
    return this.root.signClassical(data);
  }

  signFalcon(data: Uint8Array): Uint8Array {
    return this.root.signFalcon(data);
  }
}

async function openLogKey(dir: string, store: CaStore, logger: Logger): Promise<LogSigningKey> {
  const file = join(dir, DATA_DIR_LAYOUT.ctKeyFile);
  const known = store.meta('ct_log_id');
  const found = await inspectSetDirectory(dir, 'CT log key');
  if (!found.entries.has(DATA_DIR_LAYOUT.ctKeyFile)) {
    if (known !== undefined) {
      throw new TrustChainError('STATE_DAMAGED', `${store.path} belongs to CT log ${known}, but ${file} is missing; restore it from a backup (a new key would split the log)`);
    }
    const created = generateClassicalKey('P-256');
    if (await createDirectoryAtomic(dir, [{ name: DATA_DIR_LAYOUT.ctKeyFile, data: created.pem, mode: PRIVATE_FILE_MODE }])) {
      const key = new LogSigningKey(createPrivateKey(created.pem));
      store.setMetaOnce('ct_log_id', key.logId.toString('hex'));
      logger.info({ logId: key.logId.toString('base64'), path: file }, 'CT log key created');
      return key;
    }
  }
  const remedy = `restore ${file} from a backup`;
  const key = new LogSigningKey(parseClassicalKey(await readSetFile(file, 'private', 'CT log key', remedy), file, remedy));
  const id = key.logId.toString('hex');
  if (known !== undefined && known !== id) throw new TrustChainError('STATE_DAMAGED', `${file} is not the key of CT log ${known} named in ${store.path}`);
  store.setMetaOnce('ct_log_id', id);
  return key;
}
