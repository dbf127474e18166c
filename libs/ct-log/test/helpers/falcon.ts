// FALCON-1024 implementations for tests: @noble/post-quantum (always), @stoq/native (once built).
import { falcon1024 } from '@noble/post-quantum/falcon.js';
import type { FalconSigner, FalconVerifier } from '../../src';

export interface FalconKeys {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

let cached: FalconKeys | null = null;
/** One noble keypair per test file (keygen takes about a second). */
export function nobleKeys(): FalconKeys {
  cached ??= falcon1024.keygen();
  return cached;
}

export function nobleSigner(keys: FalconKeys = nobleKeys()): FalconSigner {
  return {
    sign: (msg) => falcon1024.sign(msg, keys.secretKey),
    verify: (msg, sig) => falcon1024.verify(sig, msg, keys.publicKey),
  };
}

export function nobleVerifier(publicKey: Uint8Array): FalconVerifier {
  return { verify: (msg, sig) => falcon1024.verify(sig, msg, publicKey) };
}

interface NativeFalcon {
  falconKeypair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  falconSign(sk: Uint8Array, msg: Uint8Array): Uint8Array;
  falconVerify(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
}

/** @stoq/native's FALCON if the addon is built and exports it, else null. */
export function loadNative(): NativeFalcon | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const n = require('@stoq/native') as Partial<NativeFalcon>;
    if (typeof n.falconKeypair === 'function' && typeof n.falconSign === 'function' && typeof n.falconVerify === 'function') {
      return n as NativeFalcon;
    }
  } catch {
    // not built yet
  }
  return null;
}

export function nativeSigner(n: NativeFalcon): FalconSigner & { publicKey: Uint8Array } {
  const kp = n.falconKeypair();
  return {
    publicKey: kp.publicKey,
    sign: (msg) => n.falconSign(kp.secretKey, msg),
    verify: (msg, sig) => n.falconVerify(kp.publicKey, msg, sig),
  };
}
