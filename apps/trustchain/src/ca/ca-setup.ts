// `trustchain ca init` and `trustchain ca sign-intermediate`: a root and an intermediate CA, as
// `step ca init` makes them. The root (ECDSA P-384 + FALCON-1024, pathLen 1, 10 years) signs
// only the intermediate (ECDSA P-384 + FALCON-1024, pathLen 0, keyCertSign + cRLSign); the
// intermediate signs every leaf, CRL, revocation list and CT tree head, so `serve` needs only
// the intermediate's keys and the root key can live offline.
//
//   <data-dir>/intermediate/   intermediate.key, intermediate-falcon.key (0600),
//                              intermediate-falcon.pub, intermediate.pem, root.pem (0644)
//   <root dir>                 the root set (DevCa files: root.key, root-falcon.key,
//                              root-falcon.pub, root.pem): <data-dir>/ca/ when the root stays
//                              online, else outside the data dir (--root-offline), where its
//                              two key files are password-encrypted (root-keys.ts) unless
//                              the caller asked for plain files by name (insecureNoPassword)
//
// Nothing here replaces a key or certificate: every step refuses when its target exists.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import {
  DevCa,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  createDirectoryAtomic,
  generateClassicalKey,
  generateFalconKeys,
  inspectSetDirectory,
  nativeFalcon,
  parseHybridCertificate,
  pemToDer,
  readSetFile,
  readSigningKeys,
  verifyAltSignature,
  type FalconScheme,
  type HybridCertificate,
} from '@stoq/core';
import { TrustChainError, isTrustChainError } from '../core/errors';
import { CaStore } from '../store/ca-store';
import { PASSWORD_HINT, createRootSet, openRootSet, type PasswordSource, type RootKeyProtection } from './root-keys';

export const INTERMEDIATE_DIR = 'intermediate';
export const INTERMEDIATE_FILES = {
  key: 'intermediate.key',
  falconKey: 'intermediate-falcon.key',
  falconPub: 'intermediate-falcon.pub',
  cert: 'intermediate.pem',
  root: 'root.pem',
} as const;

export const ROOT_COMMON_NAME = 'TrustChain Root CA';
export const INTERMEDIATE_COMMON_NAME = 'TrustChain Intermediate CA';
/** What a `ca init` root allows below it: one intermediate. */
export const ROOT_PATH_LEN = 1;
export const INTERMEDIATE_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
export const ROOT_META_KEY = 'root_fingerprint';
const DB_FILE = 'trustchain.db';
const ROOT_DIR = 'ca';

/** An intermediate loaded from its directory and checked against the root it names. */
export interface LoadedIntermediate {
  readonly ca: DevCa;
  readonly certificate: HybridCertificate;
  readonly root: HybridCertificate;
}

/**
 * Reads `<dir>` (INTERMEDIATE_FILES) and checks: both certificates parse as hybrid certificates,
 * root.pem is a self-signed CA (classical and FALCON), intermediate.pem is a CA issued by it
 * (classical signature, FALCON alternative signature, issuer name), pathLen 0, and the keys are
 * the intermediate's. Anything else is STATE_DAMAGED naming the file.
 */
export async function loadIntermediate(dir: string, falcon: FalconScheme = nativeFalcon): Promise<LoadedIntermediate> {
  const what = `TrustChain intermediate CA ${dir}`;
  const remedy = `restore ${dir} from a backup, or sign a new intermediate with \`trustchain ca sign-intermediate\` after moving ${dir} away`;
  const found = await inspectSetDirectory(dir, what);
  const names = Object.values(INTERMEDIATE_FILES);
  const missing = names.filter((n) => !found.entries.has(n));
  if (missing.length > 0) {
    throw new TrustChainError('STATE_DAMAGED', `${what} is incomplete: ${missing.map((n) => join(dir, n)).join(', ')} missing; ${remedy}`);
  }
  const path = (n: keyof typeof INTERMEDIATE_FILES): string => join(dir, INTERMEDIATE_FILES[n]);
  const certOf = async (n: 'cert' | 'root'): Promise<HybridCertificate> => {
    const pem = await readSetFile(path(n), 'public', what, remedy);
    try {
      return parseHybridCertificate(pemToDer(pem, 'CERTIFICATE', path(n)));
    } catch (err) {
      throw new TrustChainError('STATE_DAMAGED', `${path(n)} is not a STOQ hybrid certificate (${(err as Error).message}); ${remedy}`, { cause: err });
    }
  };
  const root = await certOf('root');
  const intermediate = await certOf('cert');
  checkRoot(root, path('root'), falcon);
  checkIssuedBy(intermediate, root, path('cert'), falcon);
  if (!intermediate.isCa || intermediate.pathLen !== 0) {
    throw new TrustChainError('STATE_DAMAGED', `${path('cert')} is not an intermediate CA certificate with pathLen 0; ${remedy}`);
  }
  const { key, falconKeys } = await readSigningKeys({ key: path('key'), falconKey: path('falconKey'), falconPub: path('falconPub') }, what, remedy, falcon);
  const ca = DevCa.fromIssuingCa(dir, key, falconKeys, intermediate.der, falcon);
  return { ca, certificate: intermediate, root };
}

function checkRoot(root: HybridCertificate, file: string, falcon: FalconScheme): void {
  try {
    const x = new X509Certificate(Buffer.from(root.der));
    if (!root.isCa || !x.verify(x.publicKey)) throw new Error('not a self-signed CA certificate');
    verifyAltSignature(root, root, falcon);
  } catch (err) {
    throw new TrustChainError('STATE_DAMAGED', `${file} does not hold a valid self-signed root certificate (${(err as Error).message})`, { cause: err });
  }
}

function checkIssuedBy(cert: HybridCertificate, issuer: HybridCertificate, file: string, falcon: FalconScheme): void {
  const x = new X509Certificate(Buffer.from(cert.der));
  const ix = new X509Certificate(Buffer.from(issuer.der));
  if (!x.checkIssued(ix) || !x.verify(ix.publicKey)) {
    throw new TrustChainError('STATE_DAMAGED', `${file} ("${cert.commonName}") is not signed by root "${issuer.commonName}" (${fingerprintOf(issuer)}); restore the matching intermediate and root`);
  }
  try {
    verifyAltSignature(cert, issuer, falcon);
  } catch (err) {
    throw new TrustChainError('STATE_DAMAGED', `${file}: ${(err as Error).message}; restore the matching intermediate and root`, { cause: err });
  }
}

const fingerprintOf = (c: HybridCertificate): string => c.fingerprintSha256;

/** STATE_EXISTS when `dir` exists: an intermediate is never replaced in place. */
async function refuseExistingIntermediate(dir: string): Promise<void> {
  if ((await inspectSetDirectory(dir, 'TrustChain intermediate CA')).exists) {
    throw new TrustChainError(
      'STATE_EXISTS',
      `${dir} already exists; an intermediate is never replaced in place. To sign a new one, stop \`trustchain serve\`, move ${dir} away (certificates it issued stay valid: the root anchors them), then run this again`,
    );
  }
}

/** Makes an intermediate signed by `root` in `dir` (which must not exist yet). */
export async function createIntermediate(dir: string, root: DevCa, now: Date, falcon: FalconScheme = nativeFalcon): Promise<LoadedIntermediate> {
  await refuseExistingIntermediate(dir);
  const key = generateClassicalKey('P-384');
  const fk = generateFalconKeys(falcon);
  let issued;
  try {
    issued = root.issueCaCertificate({ commonName: INTERMEDIATE_COMMON_NAME, publicKey: key.key, falconPublicKey: fk.keys.publicKey, now, lifetimeMs: INTERMEDIATE_LIFETIME_MS, pathLen: 0 });
  } catch (err) {
    throw new TrustChainError('INVALID_ARGUMENT', (err as Error).message, { cause: err });
  }
  const files = [
    { name: INTERMEDIATE_FILES.key, data: key.pem, mode: PRIVATE_FILE_MODE },
    { name: INTERMEDIATE_FILES.falconKey, data: fk.secretPem, mode: PRIVATE_FILE_MODE },
    { name: INTERMEDIATE_FILES.falconPub, data: fk.publicPem, mode: PUBLIC_FILE_MODE },
    { name: INTERMEDIATE_FILES.cert, data: issued.pem, mode: PUBLIC_FILE_MODE },
    { name: INTERMEDIATE_FILES.root, data: root.rootPem, mode: PUBLIC_FILE_MODE },
  ];
  if (!(await createDirectoryAtomic(dir, files))) {
    throw new TrustChainError('STATE_EXISTS', `${dir} was created by another process meanwhile; nothing was written`);
  }
  return loadIntermediate(dir, falcon);
}

export interface InitCaOptions {
  readonly dataDir: string;
  /** Put the root key set outside the data dir (in `rootDir`, default `<data-dir>.root-ca`). */
  readonly rootOffline: boolean;
  readonly rootDir?: string;
  /**
   * Required with rootOffline, refused without: the password the root's key files are encrypted
   * with, or `{ insecureNoPassword: true }` for plain 0600 files. (An online root in
   * `<data-dir>/ca/` is read by every `serve` start, which has no one to ask for a password.)
   */
  readonly rootKeys?: RootKeyProtection;
  readonly now?: Date;
  readonly falcon?: FalconScheme;
}

export interface InitCaResult {
  readonly rootFingerprint: string;
  readonly rootDir: string;
  readonly intermediateDir: string;
  readonly intermediateFingerprint: string;
  readonly rootOffline: boolean;
  /** Whether the root's key files are password-encrypted. */
  readonly rootEncrypted: boolean;
}

/** The root dir `ca init --root-offline` uses without --root-dir: beside the data dir, never in it. */
export function defaultOfflineRootDir(dataDir: string): string {
  const abs = resolve(dataDir);
  return join(dirname(abs), `${basename(abs)}.root-ca`);
}

function inside(parent: string, child: string): boolean {
  const rel = relative(resolve(parent), resolve(child));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `trustchain ca init`: a new root (pathLen 1) and an intermediate signed by it, and the
 * database bound to the root. Refuses (STATE_EXISTS, writing nothing) when the data dir already
 * holds a database, a root or an intermediate, or the offline root dir exists.
 */
export async function initCa(opts: InitCaOptions): Promise<InitCaResult> {
  const falcon = opts.falcon ?? nativeFalcon;
  const dataDir = resolve(opts.dataDir);
  const now = opts.now ?? new Date();
  for (const part of [DB_FILE, ROOT_DIR, INTERMEDIATE_DIR]) {
    if (existsSync(join(dataDir, part))) {
      throw new TrustChainError(
        'STATE_EXISTS',
        `${dataDir} is already initialized (${join(dataDir, part)} exists); \`ca init\` never replaces a CA. Use a new data dir, or \`trustchain ca sign-intermediate\` for a new intermediate`,
      );
    }
  }
  const rootDir = opts.rootOffline ? resolve(opts.rootDir ?? defaultOfflineRootDir(dataDir)) : join(dataDir, ROOT_DIR);
  if (opts.rootOffline && inside(dataDir, rootDir)) {
    throw new TrustChainError('INVALID_ARGUMENT', `--root-dir ${rootDir} is inside the data dir ${dataDir}; an offline root must live outside what \`serve\` reads`);
  }
  if (!opts.rootOffline && opts.rootDir !== undefined) {
    throw new TrustChainError('INVALID_ARGUMENT', '--root-dir is for --root-offline; without it the root stays in <data-dir>/ca/');
  }
  if (opts.rootOffline && opts.rootKeys === undefined) {
    throw new TrustChainError(
      'INVALID_ARGUMENT',
      `an offline root's keys are written password-encrypted: give the password with ${PASSWORD_HINT}, or pass --insecure-no-password for plain 0600 key files`,
    );
  }
  if (!opts.rootOffline && opts.rootKeys !== undefined && 'password' in opts.rootKeys) {
    throw new TrustChainError('INVALID_ARGUMENT', 'a root password goes with --root-offline: a root in <data-dir>/ca/ is read by every `serve` start, which cannot ask for one');
  }
  if ((await inspectSetDirectory(rootDir, 'TrustChain root CA')).exists) {
    throw new TrustChainError('STATE_EXISTS', `${rootDir} already exists; \`ca init\` never replaces or adopts a root. Choose another --root-dir, or move it away`);
  }
  const root = await createRootSet(rootDir, opts.rootKeys ?? { insecureNoPassword: true }, { commonName: ROOT_COMMON_NAME, label: 'TrustChain root CA', falcon, now, pathLen: ROOT_PATH_LEN });
  const rootEncrypted = opts.rootKeys !== undefined && 'password' in opts.rootKeys;
  const intermediateDir = join(dataDir, INTERMEDIATE_DIR);
  const intermediate = await createIntermediate(intermediateDir, root, now, falcon);
  const store = CaStore.open(join(dataDir, DB_FILE), { create: true });
  try {
    store.setMetaOnce(ROOT_META_KEY, root.fingerprint);
  } finally {
    store.close();
  }
  return { rootFingerprint: root.fingerprint, rootDir, intermediateDir, intermediateFingerprint: intermediate.certificate.fingerprintSha256, rootOffline: opts.rootOffline, rootEncrypted };
}

export interface SignIntermediateOptions {
  readonly dataDir: string;
  /** The root key set (DevCa files); default `<data-dir>/ca/`. */
  readonly rootDir?: string;
  /** Asked only when the root's key files are encrypted; without it such a root is ROOT_KEY_LOCKED. */
  readonly password?: PasswordSource;
  readonly now?: Date;
  readonly falcon?: FalconScheme;
}

/**
 * `trustchain ca sign-intermediate`: a new intermediate in `<data-dir>/intermediate/`, signed by
 * the root in `rootDir` (brought back from offline storage for this). The root must be the one
 * the data dir's database names, and `<data-dir>/intermediate/` must not exist.
 */
export async function signIntermediate(opts: SignIntermediateOptions): Promise<{ intermediateDir: string; intermediateFingerprint: string; rootFingerprint: string; rootEncrypted: boolean }> {
  const falcon = opts.falcon ?? nativeFalcon;
  const dataDir = resolve(opts.dataDir);
  const rootDir = resolve(opts.rootDir ?? join(dataDir, ROOT_DIR));
  const dbPath = join(dataDir, DB_FILE);
  if (!existsSync(dbPath)) {
    throw new TrustChainError('STATE_DAMAGED', `${dbPath} does not exist: ${dataDir} is not a TrustChain data dir (create one with \`trustchain ca init\`)`);
  }
  await refuseExistingIntermediate(join(dataDir, INTERMEDIATE_DIR)); // before the password is asked for
  let root: DevCa;
  let rootEncrypted: boolean;
  try {
    ({ ca: root, encrypted: rootEncrypted } = await openRootSet(rootDir, { label: 'TrustChain root CA', falcon, ...(opts.password ? { password: opts.password } : {}) }));
  } catch (err) {
    if (isTrustChainError(err)) throw err; // ROOT_KEY_LOCKED, WRONG_PASSWORD, STATE_DAMAGED: already say what to do
    throw new TrustChainError('NO_SIGNING_KEY', `cannot use the root in ${rootDir}: ${(err as Error).message}`, { cause: err });
  }
  const store = CaStore.open(dbPath, { create: false });
  try {
    const known = store.meta(ROOT_META_KEY);
    if (known !== undefined && known !== root.fingerprint) {
      throw new TrustChainError('STATE_DAMAGED', `${rootDir} holds root ${root.fingerprint}, but ${dbPath} belongs to root ${known}; give the root this data dir was made with (--root-dir)`);
    }
  } finally {
    store.close();
  }
  const intermediate = await createIntermediate(join(dataDir, INTERMEDIATE_DIR), root, opts.now ?? new Date(), falcon);
  return { intermediateDir: join(dataDir, INTERMEDIATE_DIR), intermediateFingerprint: intermediate.certificate.fingerprintSha256, rootFingerprint: root.fingerprint, rootEncrypted };
}
