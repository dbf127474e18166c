// The two keys every STOQ identity (node or CA) keeps on disk, encoded and decoded:
//   - a classical key, PKCS#8 PEM, mode 0600;
//   - a FALCON-1024 keypair: secret key 0600 and public key 0644, each a PEM block holding the
//     raw PQClean key bytes (labels "FALCON-1024 SECRET KEY" / "FALCON-1024 PUBLIC KEY").
// No file I/O here: dev-ca.ts and node-identity.ts read and write whole sets (secure-files.ts).

import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { StoqError } from '../errors';
import { FALCON_PUBLIC_KEY_LENGTH, FALCON_SECRET_KEY_LENGTH, type FalconKeypair, type FalconScheme } from '../falcon';
import { IdentityError } from './errors';
import { derToPem, pemToDer } from './pem';
import { readSetFile } from './secure-files';

export const FALCON_SECRET_KEY_LABEL = 'FALCON-1024 SECRET KEY';
export const FALCON_PUBLIC_KEY_LABEL = 'FALCON-1024 PUBLIC KEY';

export type ClassicalKeyKind = 'P-256' | 'P-384';

export function generateClassicalKey(kind: ClassicalKeyKind): { key: KeyObject; pem: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: kind });
  return { key: privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** The classical private key in `pem` (read from `path`); IDENTITY_DAMAGED (message ending in `remedy`) when it is not one STOQ uses. */
export function parseClassicalKey(pem: string, path: string, remedy: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new IdentityError('IDENTITY_DAMAGED', [path], `${path} does not hold a readable private key (${(err as Error).message}); ${remedy}`, { cause: err });
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const ok = key.asymmetricKeyType === 'ed25519' || (key.asymmetricKeyType === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1'));
  if (!ok) throw new IdentityError('IDENTITY_DAMAGED', [path], `${path} holds a ${key.asymmetricKeyType} ${curve ?? ''} key, STOQ uses ECDSA P-256/P-384 or Ed25519; ${remedy}`);
  return key;
}

export function generateFalconKeys(falcon: FalconScheme): { keys: FalconKeypair; secretPem: string; publicPem: string } {
  const keys = falcon.keypair();
  if (keys.secretKey.length !== FALCON_SECRET_KEY_LENGTH || keys.publicKey.length !== FALCON_PUBLIC_KEY_LENGTH) {
    throw new StoqError('TLS_CONFIG', `the FALCON implementation returned keys of ${keys.secretKey.length}/${keys.publicKey.length} bytes, not ${FALCON_SECRET_KEY_LENGTH}/${FALCON_PUBLIC_KEY_LENGTH}`);
  }
  return { keys, secretPem: derToPem(keys.secretKey, FALCON_SECRET_KEY_LABEL), publicPem: derToPem(keys.publicKey, FALCON_PUBLIC_KEY_LABEL) };
}

function decodeFalconKey(pem: string, label: string, length: number, path: string, remedy: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = pemToDer(pem, label, path);
  } catch (err) {
    throw new IdentityError('IDENTITY_DAMAGED', [path], `${path} does not hold a ${label} PEM block (${(err as Error).message}); ${remedy}`, { cause: err });
  }
  if (bytes.length !== length) throw new IdentityError('IDENTITY_DAMAGED', [path], `${path} holds ${bytes.length} bytes, a FALCON-1024 key here is ${length}; ${remedy}`);
  return bytes;
}

/** The FALCON keypair in the two PEM texts, checked to belong together (sign and verify a random probe). */
export function parseFalconKeys(secretPem: string, publicPem: string, secretPath: string, publicPath: string, falcon: FalconScheme, remedy: string): FalconKeypair {
  const secretKey = decodeFalconKey(secretPem, FALCON_SECRET_KEY_LABEL, FALCON_SECRET_KEY_LENGTH, secretPath, remedy);
  const publicKey = decodeFalconKey(publicPem, FALCON_PUBLIC_KEY_LABEL, FALCON_PUBLIC_KEY_LENGTH, publicPath, remedy);
  const probe = randomBytes(32);
  let ok: boolean;
  try {
    ok = falcon.verify(publicKey, probe, falcon.sign(secretKey, probe));
  } catch {
    ok = false; // a mangled secret key of the right length can make signing itself fail
  }
  if (!ok) throw new IdentityError('IDENTITY_DAMAGED', [secretPath, publicPath], `FALCON keys ${secretPath} and ${publicPath} do not belong together; ${remedy}`);
  return { secretKey, publicKey };
}

/**
 * Reads and checks the signing keys of a key set (an identity, a CA): the classical private key
 * and the FALCON key pair, each file through readSetFile (permissions, symlinks), each parse
 * failure naming its file and `remedy`.
 */
export async function readSigningKeys(paths: { key: string; falconKey: string; falconPub: string }, what: string, remedy: string, falcon: FalconScheme): Promise<{ key: KeyObject; falconKeys: FalconKeypair }> {
  const key = parseClassicalKey(await readSetFile(paths.key, 'private', what, remedy), paths.key, remedy);
  const falconKeys = parseFalconKeys(await readSetFile(paths.falconKey, 'private', what, remedy), await readSetFile(paths.falconPub, 'public', what, remedy), paths.falconKey, paths.falconPub, falcon, remedy);
  return { key, falconKeys };
}
