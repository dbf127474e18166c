// The consensus core's Signer on FALCON-1024 (the native module): votes, proposals and timeouts
// are signed with the validator's identity key (identity/falcon.key), whose public half is in
// genesis. Verification is @stoq/consensus-approval's falconSignatureVerifier.
import type { Signer } from '@stoq/consensus';
import type { FalconScheme } from '@stoq/core';

export function falconSigner(falcon: FalconScheme, validator: number, secretKey: Uint8Array): Signer {
  return { validator, sign: (message) => falcon.sign(secretKey, message) };
}
