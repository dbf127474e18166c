import type { SignatureVerifier } from '@stoq/consensus';
import { nativeFalcon, type FalconScheme } from '@stoq/core';

/**
 * The consensus core's SignatureVerifier on FALCON-1024: what validators, TrustChain, Caesar and
 * auditors check QCs, proposals and evidence with. Malformed signature bytes are a failed
 * verification, never a crash.
 */
export function falconSignatureVerifier(falcon: FalconScheme = nativeFalcon): SignatureVerifier {
  return {
    verify(item) {
      try {
        return falcon.verify(item.publicKey, item.message, item.signature);
      } catch {
        return false;
      }
    },
  };
}
