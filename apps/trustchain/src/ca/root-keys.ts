// The root CA's key set on disk, plain or password-encrypted. Same four files as a DevCa root
// (root.key, root-falcon.key, root-falcon.pub, root.pem); when encrypted:
//
//   root.key         "ENCRYPTED PRIVATE KEY" PEM (encrypted-pkcs8.ts: PBES2, PBKDF2-HMAC-SHA256
//                    600,000 iterations, AES-256-CBC): `openssl pkey -in root.key -passin file:F`
//   root-falcon.key  "ENCRYPTED FALCON-1024 SECRET KEY" PEM around a key envelope (key-envelope.ts:
//                    scrypt N=2^17 r=8 p=1, AES-256-GCM, context "FALCON-1024 SECRET KEY")
//
// Both under the same password. Opening tries the authenticated FALCON envelope first, so a
// wrong password is WRONG_PASSWORD for certain; a root.key that then does not open is damage.
// A set is wholly plain or wholly encrypted; a mix is STATE_DAMAGED. Plain sets (all roots
// before this, and `--insecure-no-password`) open exactly as before (DevCa.openExisting).
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import {
  DEV_CA_FILES,
  DevCa,
  FALCON_SECRET_KEY_LABEL,
  FALCON_SECRET_KEY_LENGTH,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  STOQ_ORGANIZATION,
  createDirectoryAtomic,
  derToPem,
  generateClassicalKey,
  generateFalconKeys,
  inspectSetDirectory,
  issueCertificate,
  parseClassicalKey,
  parseFalconKeys,
  parseHybridCertificate,
  pemToDer,
  readSetFile,
  verifyAltSignature,
  type FalconScheme,
} from '@stoq/core';
import { TrustChainError, isTrustChainError } from '../core/errors';
import { ENCRYPTED_PKCS8_LABEL, DEFAULT_PBKDF2_ITERATIONS, decryptPkcs8, encryptPkcs8 } from '../core/encrypted-pkcs8';
import { DEFAULT_SCRYPT_COST, openEnvelope, sealEnvelope, type ScryptCost } from '../core/key-envelope';
import { isKeyFileError } from '../core/key-file-errors';

/** PEM label of the sealed FALCON secret key (the plain one is "FALCON-1024 SECRET KEY"). */
export const ENCRYPTED_FALCON_KEY_LABEL = 'ENCRYPTED FALCON-1024 SECRET KEY';
/** The envelope's context: what the sealed bytes are (PQClean FALCON-1024 secret key). */
export const FALCON_ENVELOPE_CONTEXT = 'FALCON-1024 SECRET KEY';
const ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
/** As DevCa roots: valid from a minute ago, for peers whose clocks lag. */
const BACKDATE_MS = 60 * 1000;

/** The KDF costs of new encrypted files (tests lower them; the defaults are what the CLI writes). */
export interface RootKeyCost {
  readonly scrypt: ScryptCost;
  readonly pbkdf2Iterations: number;
}
export const DEFAULT_ROOT_KEY_COST: RootKeyCost = { scrypt: DEFAULT_SCRYPT_COST, pbkdf2Iterations: DEFAULT_PBKDF2_ITERATIONS };

/** How a new root's key files are written: under a password, or plain (asked for by name). */
export type RootKeyProtection = { readonly password: Uint8Array; readonly cost?: RootKeyCost } | { readonly insecureNoPassword: true };

/** Asked for the password only when the set is encrypted. */
export type PasswordSource = () => Promise<Uint8Array>;

export const PASSWORD_HINT = '--password-file FILE (or $STOQ_ROOT_PASSWORD_FILE)';

export interface NewRootOptions {
  readonly commonName: string;
  readonly label: string;
  readonly pathLen: number;
  readonly now: Date;
  readonly falcon: FalconScheme;
}

/** Creates the root set in `dir` (absent or empty): plain through DevCa, encrypted here. */
export async function createRootSet(dir: string, protection: RootKeyProtection, o: NewRootOptions): Promise<DevCa> {
  if ('insecureNoPassword' in protection) return DevCa.openOrCreate(dir, { commonName: o.commonName, label: o.label, falcon: o.falcon, now: o.now, pathLen: o.pathLen });
  const cost = protection.cost ?? DEFAULT_ROOT_KEY_COST;
  const key = generateClassicalKey('P-384');
  const fk = generateFalconKeys(o.falcon);
  const cert = issueCertificate({
    subject: { commonName: o.commonName, organization: STOQ_ORGANIZATION },
    subjectPublicKey: createPublicKey(key.key),
    subjectFalconPublicKey: fk.keys.publicKey,
    issuer: { certificate: null, privateKey: key.key, falconSecretKey: fk.keys.secretKey, falconPublicKey: fk.keys.publicKey },
    notBefore: new Date(o.now.getTime() - BACKDATE_MS),
    notAfter: new Date(o.now.getTime() + ROOT_LIFETIME_MS),
    isCa: true,
    pathLen: o.pathLen,
    falcon: o.falcon,
  });
  const files = [
    ...(await encryptedKeyFiles(key.key, fk.keys.secretKey, protection.password, cost)),
    { name: DEV_CA_FILES.falconPub, data: fk.publicPem, mode: PUBLIC_FILE_MODE },
    { name: DEV_CA_FILES.cert, data: cert.pem, mode: PUBLIC_FILE_MODE },
  ];
  if (!(await createDirectoryAtomic(dir, files))) {
    throw new TrustChainError('STATE_EXISTS', `${dir} was created by another process meanwhile; nothing was written`);
  }
  return DevCa.fromIssuingCa(dir, key.key, fk.keys, cert.der, o.falcon);
}

async function encryptedKeyFiles(key: KeyObject, falconSecret: Uint8Array, password: Uint8Array, cost: RootKeyCost): Promise<{ name: string; data: string; mode: number }[]> {
  const envelope = await sealEnvelope(falconSecret, password, FALCON_ENVELOPE_CONTEXT, cost.scrypt);
  return [
    { name: DEV_CA_FILES.key, data: await encryptPkcs8(key, password, cost.pbkdf2Iterations), mode: PRIVATE_FILE_MODE },
    { name: DEV_CA_FILES.falconKey, data: derToPem(envelope, ENCRYPTED_FALCON_KEY_LABEL), mode: PRIVATE_FILE_MODE },
  ];
}

export interface OpenedRoot {
  readonly ca: DevCa;
  /** Whether its key files are password-encrypted. */
  readonly encrypted: boolean;
}

const isEncryptedKeyPem = (text: string): boolean => text.includes(`-----BEGIN ${ENCRYPTED_PKCS8_LABEL}-----`);
const isEncryptedFalconPem = (text: string): boolean => text.includes(`-----BEGIN ${ENCRYPTED_FALCON_KEY_LABEL}-----`);

/**
 * Opens the root set in `dir` (never creates one). Plain: DevCa.openExisting. Encrypted: asks
 * `password` (ROOT_KEY_LOCKED without one), WRONG_PASSWORD when it does not open the FALCON key,
 * STATE_DAMAGED for a damaged or mixed set; checks the keys are the certificate's. Errors of the
 * files themselves (missing, permissions) are DevCa's IdentityError, as before.
 */
export async function openRootSet(dir: string, opts: { readonly label: string; readonly falcon: FalconScheme; readonly password?: PasswordSource }): Promise<OpenedRoot> {
  const found = await inspectSetDirectory(dir, opts.label);
  if (!Object.values(DEV_CA_FILES).every((n) => found.entries.has(n))) return { ca: await DevCa.openExisting(dir, { label: opts.label, falcon: opts.falcon }), encrypted: false };
  const path = (n: keyof typeof DEV_CA_FILES): string => join(dir, DEV_CA_FILES[n]);
  const what = `${opts.label} ${dir}`;
  const remedy = `restore ${dir} from a backup`;
  const keyPem = await readSetFile(path('key'), 'private', what, remedy);
  const falconPem = await readSetFile(path('falconKey'), 'private', what, remedy);
  const [keyEncrypted, falconEncrypted] = [isEncryptedKeyPem(keyPem), isEncryptedFalconPem(falconPem)];
  if (!keyEncrypted && !falconEncrypted) return { ca: await DevCa.openExisting(dir, { label: opts.label, falcon: opts.falcon }), encrypted: false };
  if (keyEncrypted !== falconEncrypted) {
    throw new TrustChainError('STATE_DAMAGED', `${what}: ${keyEncrypted ? path('key') : path('falconKey')} is password-encrypted but ${keyEncrypted ? path('falconKey') : path('key')} is not; a root set is encrypted whole. ${remedy}`);
  }
  if (!opts.password) {
    throw new TrustChainError('ROOT_KEY_LOCKED', `${what}: the root keys are password-encrypted; give the password with ${PASSWORD_HINT}`);
  }
  const password = await opts.password();
  const damaged = (file: string, err: unknown): TrustChainError =>
    new TrustChainError('STATE_DAMAGED', `${file} cannot be read (${(err as Error).message}); ${remedy}`, { cause: err });

  let falconSecret: Uint8Array;
  try {
    falconSecret = await openEnvelope(pemToDer(falconPem, ENCRYPTED_FALCON_KEY_LABEL, path('falconKey')), password, FALCON_ENVELOPE_CONTEXT, FALCON_SECRET_KEY_LENGTH);
  } catch (err) {
    if (isKeyFileError(err, 'WRONG_PASSWORD')) {
      throw new TrustChainError('WRONG_PASSWORD', `the password does not open ${path('falconKey')} (wrong password, or the file was altered); give the root's password with ${PASSWORD_HINT}`, { cause: err });
    }
    throw damaged(path('falconKey'), err);
  }
  let key: KeyObject;
  try {
    const opened = await decryptPkcs8(keyPem, password);
    key = parseClassicalKey(opened.export({ type: 'pkcs8', format: 'pem' }) as string, path('key'), remedy);
  } catch (err) {
    if (isKeyFileError(err, 'WRONG_PASSWORD')) {
      throw new TrustChainError('STATE_DAMAGED', `${path('key')} does not open with the password that opens ${path('falconKey')}: the set was altered or mixed; ${remedy}`, { cause: err });
    }
    throw damaged(path('key'), err);
  }
  const falconKeys = parseFalconKeys(derToPem(falconSecret, FALCON_SECRET_KEY_LABEL), await readSetFile(path('falconPub'), 'public', what, remedy), path('falconKey'), path('falconPub'), opts.falcon, remedy);
  const certPem = await readSetFile(path('cert'), 'public', what, remedy);
  let der: Uint8Array;
  try {
    der = pemToDer(certPem, 'CERTIFICATE', path('cert'));
    const root = parseHybridCertificate(der);
    const x = new X509Certificate(Buffer.from(der));
    if (!root.isCa || !x.verify(x.publicKey)) throw new Error('not a self-signed CA certificate');
    verifyAltSignature(root, root, opts.falcon);
  } catch (err) {
    throw new TrustChainError('STATE_DAMAGED', `${path('cert')} does not hold a valid self-signed root certificate (${(err as Error).message}); ${remedy}`, { cause: err });
  }
  try {
    return { ca: DevCa.fromIssuingCa(dir, key, falconKeys, der, opts.falcon), encrypted: true };
  } catch (err) {
    throw new TrustChainError('STATE_DAMAGED', (err as Error).message, { cause: err });
  }
}

/**
 * `trustchain ca encrypt-root`: writes an encrypted copy of the plain root set in `from` to `to`
 * (which must not exist), then opens the copy with the password and checks it is the same root.
 * `from` is left as it is: the operator deletes it once the copy is verified and backed up.
 */
export async function encryptRootSet(from: string, to: string, password: Uint8Array, o: { readonly label: string; readonly falcon: FalconScheme; readonly cost?: RootKeyCost }): Promise<{ fingerprint: string }> {
  if ((await inspectSetDirectory(to, o.label)).exists) {
    throw new TrustChainError('STATE_EXISTS', `${to} already exists; the encrypted copy goes to a new directory, nothing is overwritten`);
  }
  const plain = await openRootSet(from, { label: o.label, falcon: o.falcon }).catch((err: unknown) => {
    // Opened without a password source: an encrypted set stops here, locked.
    throw isTrustChainError(err, 'ROOT_KEY_LOCKED') ? new TrustChainError('INVALID_ARGUMENT', `${from} is already password-encrypted; nothing to do`, { cause: err }) : err;
  });
  const what = `${o.label} ${from}`;
  const remedy = `restore ${from} from a backup`;
  const key = parseClassicalKey(await readSetFile(join(from, DEV_CA_FILES.key), 'private', what, remedy), join(from, DEV_CA_FILES.key), remedy);
  const falconPub = await readSetFile(join(from, DEV_CA_FILES.falconPub), 'public', what, remedy);
  const falcon = parseFalconKeys(await readSetFile(join(from, DEV_CA_FILES.falconKey), 'private', what, remedy), falconPub, join(from, DEV_CA_FILES.falconKey), join(from, DEV_CA_FILES.falconPub), o.falcon, remedy);
  const files = [
    ...(await encryptedKeyFiles(key, falcon.secretKey, password, o.cost ?? DEFAULT_ROOT_KEY_COST)),
    { name: DEV_CA_FILES.falconPub, data: falconPub, mode: PUBLIC_FILE_MODE },
    { name: DEV_CA_FILES.cert, data: await readSetFile(join(from, DEV_CA_FILES.cert), 'public', what, remedy), mode: PUBLIC_FILE_MODE },
  ];
  if (!(await createDirectoryAtomic(to, files))) throw new TrustChainError('STATE_EXISTS', `${to} was created by another process meanwhile; nothing was written`);
  const check = await openRootSet(to, { label: o.label, falcon: o.falcon, password: () => Promise.resolve(password) });
  if (!check.encrypted || check.ca.fingerprint !== plain.ca.fingerprint) {
    throw new TrustChainError('STATE_DAMAGED', `the encrypted copy in ${to} does not open as root ${plain.ca.fingerprint}; keep ${from} and remove ${to}`);
  }
  return { fingerprint: plain.ca.fingerprint };
}
