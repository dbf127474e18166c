// The consensus core's Signer and SignatureVerifier on FALCON-1024 (the native module): votes,
// proposals and timeouts are signed with the validator's identity key (identity/falcon.key),
// whose public half is in genesis.
import type { Signer, SignatureVerifier, SignedItem } from '@stoq/consensus';
import type { FalconScheme } from '@stoq/core';

export function falconSigner(falcon: FalconScheme, validator: number, secretKey: Uint8Array): Signer {
  return { validator, sign: (message) => falcon.sign(secretKey, message) };
}

export function falconVerifier(falcon: FalconScheme): SignatureVerifier {
  return {
    verify(item: SignedItem): boolean {
      try {
        return falcon.verify(item.publicKey, item.message, item.signature);
      } catch {
        return false; // malformed signature bytes are a failed verification, not a crash
      }
    },
  };
}
