// Load-or-generate of the two keys every STOQ identity (node or CA) keeps on disk:
//   - a classical key, PKCS#8 PEM, mode 0600;
//   - a FALCON-1024 keypair: secret key 0600 and public key 0644, each a PEM block holding the
//     raw PQClean key bytes (labels "FALCON-1024 SECRET KEY" / "FALCON-1024 PUBLIC KEY").

import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { StoqError } from '../errors';
import { FALCON_PUBLIC_KEY_LENGTH, FALCON_SECRET_KEY_LENGTH, type FalconKeypair, type FalconScheme } from '../falcon';
import { derToPem, pemToDer } from './pem';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, exists, readBoundedFile, readPrivateFile, writeFileAtomic } from './secure-files';

export const FALCON_SECRET_KEY_LABEL = 'FALCON-1024 SECRET KEY';
export const FALCON_PUBLIC_KEY_LABEL = 'FALCON-1024 PUBLIC KEY';

export type ClassicalKeyKind = 'P-256' | 'P-384';

export interface LoadedKey<T> {
  key: T;
  /** True when the key was generated (and written) by this call. */
  created: boolean;
}

/** Load the classical private key at `path`, or generate one of `kind` and write it 0600. */
export async function loadOrCreateClassicalKey(path: string, kind: ClassicalKeyKind): Promise<LoadedKey<KeyObject>> {
  if (await exists(path)) {
    const pem = await readPrivateFile(path);
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new StoqError('TLS_CONFIG', `${path} does not hold a readable private key: ${(err as Error).message}`, { cause: err });
    }
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const ok = key.asymmetricKeyType === 'ed25519' || (key.asymmetricKeyType === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1'));
    if (!ok) throw new StoqError('TLS_CONFIG', `${path} holds a ${key.asymmetricKeyType} ${curve ?? ''} key; STOQ uses ECDSA P-256/P-384 or Ed25519`);
    return { key, created: false };
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: kind });
  await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, PRIVATE_FILE_MODE);
  return { key: privateKey, created: true };
}

/**
 * Load the FALCON keypair at `secretPath`/`publicPath`, or generate and write one when neither
 * file exists. The pair is checked to belong together (sign and verify a random probe).
 */
export async function loadOrCreateFalconKeys(secretPath: string, publicPath: string, falcon: FalconScheme): Promise<LoadedKey<FalconKeypair>> {
  const [hasSecret, hasPublic] = await Promise.all([exists(secretPath), exists(publicPath)]);
  if (!hasSecret && !hasPublic) {
    const pair = falcon.keypair();
    checkLength(pair.secretKey, FALCON_SECRET_KEY_LENGTH, 'generated FALCON secret key');
    checkLength(pair.publicKey, FALCON_PUBLIC_KEY_LENGTH, 'generated FALCON public key');
    // Secret first: a crash in between leaves a secret without its public half, which the next
    // start reports instead of silently pairing a new public key with an old secret.
    await writeFileAtomic(secretPath, derToPem(pair.secretKey, FALCON_SECRET_KEY_LABEL), PRIVATE_FILE_MODE);
    await writeFileAtomic(publicPath, derToPem(pair.publicKey, FALCON_PUBLIC_KEY_LABEL), PUBLIC_FILE_MODE);
    return { key: pair, created: true };
  }
  if (!hasSecret || !hasPublic) {
    const missing = hasSecret ? publicPath : secretPath;
    throw new StoqError('TLS_CONFIG', `FALCON key file ${missing} is missing while its pair exists; restore it or remove both to generate a new FALCON identity`);
  }
  const secretKey = pemToDer(await readPrivateFile(secretPath), FALCON_SECRET_KEY_LABEL, secretPath);
  const publicKey = pemToDer(await readBoundedFile(publicPath), FALCON_PUBLIC_KEY_LABEL, publicPath);
  checkLength(secretKey, FALCON_SECRET_KEY_LENGTH, secretPath);
  checkLength(publicKey, FALCON_PUBLIC_KEY_LENGTH, publicPath);
  const probe = randomBytes(32);
  if (!falcon.verify(publicKey, probe, falcon.sign(secretKey, probe))) {
    throw new StoqError('TLS_CONFIG', `FALCON keys ${secretPath} and ${publicPath} do not belong together`);
  }
  return { key: { secretKey, publicKey }, created: false };
}

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) throw new StoqError('TLS_CONFIG', `${what} holds ${bytes.length} bytes, a FALCON-1024 key here is ${length}`);
}
