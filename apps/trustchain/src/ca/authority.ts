// TrustChain's key material and what it signs with it. Layout of the data dir:
//
//   trustchain.db     issued certificates, tokens, revocations, leases (store/ca-store.ts)
//   ca/               root: ECDSA P-384 + FALCON-1024, 10 years (the DevCa key set, 0700/0600);
//                     absent when the root is kept offline (`trustchain ca init --root-offline`)
//   intermediate/     `trustchain ca init` only: the intermediate that signs (ca-setup.ts)
//   ct-key/log.key    the CT log's ECDSA P-256 signing key (its SHA-256 SPKI is the log id)
//   ct/               the CT log (libs/ct-log FileLogStorage)
//   identity/         TrustChain's own node identity, a leaf self-issued from the root
//   crl.der           the current CRL (rewritten on every revocation)
//
// First start creates the root (logged with its fingerprint) and the log key, unless `ca init`
// made a root and an intermediate. A later start whose database names a root must find that root
// (in ca/ or as the intermediate's issuer), and never creates another in its place. What signs
// (leaves, CRLs, revocation lists, the FALCON signature of CT tree heads) is the intermediate
// when there is one, else the root; either way it chains to the one pinned root fingerprint.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  DEV_CA_FILES,
  DevCa,
  PRIVATE_FILE_MODE,
  derToPem,
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
  type SpkiPublicKey,
} from '@stoq/core';
import { LogSigningKey, type FalconSigner } from '@stoq/ct-log';
import { TrustChainError } from '../core/errors';
import { INTERMEDIATE_DIR, ROOT_COMMON_NAME, ROOT_META_KEY, loadIntermediate } from './ca-setup';
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
  intermediate: INTERMEDIATE_DIR,
} as const;

export const DEFAULT_CERT_LIFETIME_MS = 24 * 3600 * 1000;

export interface IssuedLeaf {
  readonly der: Uint8Array;
  readonly serial: string;
  readonly fingerprint: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export class Authority {
  private constructor(
    /** What signs leaves, CRLs, revocation lists and tree heads: the intermediate, else the root. */
    private readonly signer: DevCa,
    readonly rootCertificate: HybridCertificate,
    /** The intermediate's certificate when one signs (DER); empty when the root signs directly. */
    readonly intermediates: readonly Uint8Array[],
    readonly logKey: LogSigningKey,
    private readonly falcon: FalconScheme,
    /** FALCON keys that signed tree heads of this log (the current signer's last). */
    private readonly logFalconKeys: readonly Uint8Array[],
  ) {}

  /**
   * Opens (or, on first start, creates) the CA and log key in `dataDir`, and binds `store` to
   * the root. With `<data-dir>/intermediate/` (made by `trustchain ca init`) the intermediate
   * signs and the root key may be absent (kept offline); without it the root in `<data-dir>/ca/`
   * signs, created on first start as before. Refuses when the store belongs to a root that is
   * not there, and never creates a root in place of a missing one. `now` dates a new root; pass
   * the issuer's clock so the root is valid whenever that clock issues leaves.
   */
  static async open(dataDir: string, store: CaStore, logger: Logger, falcon: FalconScheme = nativeFalcon, now: () => number = Date.now): Promise<Authority> {
    const caDir = join(dataDir, DATA_DIR_LAYOUT.ca);
    const intermediateDir = join(dataDir, DATA_DIR_LAYOUT.intermediate);
    const known = store.meta(ROOT_META_KEY);
    let signer: DevCa;
    let root: HybridCertificate;
    let intermediates: Uint8Array[] = [];
    let created = false;
    if ((await inspectSetDirectory(intermediateDir, 'TrustChain intermediate CA')).exists) {
      const loaded = await loadIntermediate(intermediateDir, falcon);
      root = loaded.root;
      signer = loaded.ca;
      intermediates = [loaded.certificate.der];
      // A root kept online beside the intermediate must be the intermediate's root.
      if ((await inspectSetDirectory(caDir, 'TrustChain root CA')).exists) {
        const online = await DevCa.openExisting(caDir, { label: 'TrustChain root CA', falcon });
        if (online.fingerprint !== root.fingerprintSha256) {
          throw new TrustChainError('STATE_DAMAGED', `${caDir} holds root ${online.fingerprint}, but ${intermediateDir} chains to root ${root.fingerprintSha256}; restore the matching directories`);
        }
      }
    } else {
      const found = await inspectSetDirectory(caDir, 'TrustChain root CA');
      if (known !== undefined && !found.entries.has(DEV_CA_FILES.cert)) {
        throw new TrustChainError(
          'STATE_DAMAGED',
          `${store.path} belongs to root ${known}, but ${caDir} holds no root; restore ${caDir} from a backup (creating a new root would orphan every certificate issued), ` +
            `or, if the root key is kept offline, sign an intermediate: \`trustchain ca sign-intermediate --data-dir ${dataDir} --root-dir <the offline root dir>\``,
        );
      }
      // Both private keys gone, the public parts left: the root was moved offline without an
      // intermediate. (One file missing is damage: DevCa's IDENTITY_INCOMPLETE below.)
      if (found.entries.has(DEV_CA_FILES.cert) && !found.entries.has(DEV_CA_FILES.key) && !found.entries.has(DEV_CA_FILES.falconKey)) {
        throw new TrustChainError(
          'NO_SIGNING_KEY',
          `${caDir} holds the root certificate but not its keys (${join(caDir, DEV_CA_FILES.key)}, ${join(caDir, DEV_CA_FILES.falconKey)}), and there is no intermediate (${intermediateDir}): nothing can sign. ` +
            `Restore the root key, or sign an intermediate with the offline root: \`trustchain ca sign-intermediate --data-dir ${dataDir} --root-dir <the offline root dir>\``,
        );
      }
      // No logger for DevCa: the lines below say the same, and what to do with the fingerprint.
      const ca = await DevCa.openOrCreate(caDir, { commonName: ROOT_COMMON_NAME, label: 'TrustChain root CA', falcon, now: new Date(now()) });
      signer = ca;
      root = ca.certificate;
      created = ca.created;
    }
    const fingerprint = root.fingerprintSha256;
    if (known !== undefined && known !== fingerprint) {
      throw new TrustChainError('STATE_DAMAGED', `${store.path} belongs to root ${known}, but ${dataDir} holds root ${fingerprint}; use the matching data dir`);
    }
    store.setMetaOnce(ROOT_META_KEY, fingerprint);
    const where = { fingerprint, path: intermediates.length > 0 ? intermediateDir : caDir };
    if (created) logger.info(where, 'TrustChain root created: pin this fingerprint in every service');
    else if (intermediates.length > 0) logger.info({ ...where, intermediate: signer.fingerprint }, 'TrustChain root and intermediate loaded; the intermediate signs');
    else logger.info(where, 'TrustChain root loaded');
    const logKey = await openLogKey(join(dataDir, DATA_DIR_LAYOUT.ctKey), store, logger);
    return new Authority(signer, root, intermediates, logKey, falcon, rememberLogFalconKey(store, signer.certificate.falconPublicKey));
  }

  get rootDer(): Uint8Array {
    return this.rootCertificate.der;
  }

  get rootPem(): string {
    return derToPem(this.rootCertificate.der, 'CERTIFICATE');
  }

  /** SHA-256 of the root DER, lowercase hex: what enrolling services pin. */
  get fingerprint(): string {
    return this.rootCertificate.fingerprintSha256;
  }

  /** The certificate of the CA that signs (the intermediate, or the root): the issuer of leaves and CRLs. */
  get issuerCertificate(): HybridCertificate {
    return this.signer.certificate;
  }

  /** What follows a leaf in every chain TrustChain hands out: the intermediate (if any), then the root. */
  get chainTail(): readonly Uint8Array[] {
    return [...this.intermediates, this.rootCertificate.der];
  }

  /**
   * FALCON signer/verifier of the CT log's tree heads: the signing CA's FALCON key (the root's
   * when it signs directly). Verification also accepts keys that signed this log's earlier tree
   * heads (a replaced intermediate), so the log reopens after `ca sign-intermediate`.
   */
  get logFalcon(): FalconSigner {
    const keys = this.logFalconKeys;
    return {
      sign: (m) => this.signer.signFalcon(m),
      verify: (m, s) => keys.some((k) => this.falcon.verify(k, m, s)),
    };
  }

  issueLeaf(publicKey: KeyObject | SpkiPublicKey, falconPublicKey: Uint8Array, names: CertificateNames, now: number, lifetimeMs: number, extraExtensions?: readonly CertificateExtension[]): IssuedLeaf {
    const { der } = this.signer.issueLeafCertificate({
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

  /** ECDSA P-384 signature by the signing CA (CRLs, revocation lists). */
  signClassical(data: Uint8Array): Uint8Array {
    return this.signer.signClassical(data);
  }

  /** FALCON-1024 signature by the signing CA. */
  signFalcon(data: Uint8Array): Uint8Array {
    return this.signer.signFalcon(data);
  }
}

const LOG_FALCON_KEYS_META = 'log_falcon_keys';

/** Records `current` among the FALCON keys that signed tree heads; returns them all, current last. */
function rememberLogFalconKey(store: CaStore, current: Uint8Array): Uint8Array[] {
  const hex = Buffer.from(current).toString('hex');
  const raw = store.meta(LOG_FALCON_KEYS_META);
  const list: string[] = raw === undefined ? [] : (JSON.parse(raw) as string[]);
  if (!list.includes(hex)) {
    list.push(hex);
    store.setMeta(LOG_FALCON_KEYS_META, JSON.stringify(list));
  }
  return [...list.filter((k) => k !== hex), hex].map((k) => new Uint8Array(Buffer.from(k, 'hex')));
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
