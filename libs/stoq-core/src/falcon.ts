// FALCON-1024 signatures behind a small interface, so identity code can be handed any
// implementation (the native PQClean one by default). The native addon is loaded on first use,
// not at import time, so pure parts of @stoq/core work before the Rust addon is built.
import { loadNative } from './native-binding';

/** FALCON-1024 public key length (PQClean `falcon-1024`). */
export const FALCON_PUBLIC_KEY_LENGTH = 1793;
/** FALCON-1024 secret key length (PQClean `falcon-1024`). */
export const FALCON_SECRET_KEY_LENGTH = 2305;
/** Largest FALCON-1024 compressed detached signature (PQClean CRYPTO_BYTES). */
export const FALCON_MAX_SIGNATURE_LENGTH = 1462;

export interface FalconKeypair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A FALCON-1024 implementation producing PQClean-compatible keys and detached signatures. */
export interface FalconScheme {
  keypair(): FalconKeypair;
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** The addon, checked to export `name` (an older build may lack it). */
function addonWith(name: 'falconKeypair' | 'falconSign' | 'falconVerify') {
  const addon = loadNative();
  if (typeof addon[name] !== 'function') {
    throw new Error(`the native addon @stoq/native does not export ${name}(): rebuild it with npm run build`);
  }
  return addon;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** FALCON-1024 from the native addon (PQClean, constant-time signing). */
export const nativeFalcon: FalconScheme = {
  keypair() {
    const { publicKey, secretKey } = addonWith('falconKeypair').falconKeypair();
    return { publicKey: new Uint8Array(publicKey), secretKey: new Uint8Array(secretKey) };
  },
  sign(secretKey, message) {
    return new Uint8Array(addonWith('falconSign').falconSign(asBuffer(secretKey), asBuffer(message)));
  },
  verify(publicKey, message, signature) {
    return addonWith('falconVerify').falconVerify(asBuffer(publicKey), asBuffer(message), asBuffer(signature));
  },
};
