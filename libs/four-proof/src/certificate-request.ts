import { bytesEqual, lp, toHex } from './bytes';
import { checkBytes } from './context';
import { fail } from './errors';
import { DOMAIN, sha256 } from './hash';
import type { OperationContext } from './types';

/**
 * The operation context of an earned certificate (`trustchain/issue_certificate`): the proofs
 * commit to the keys the certificate will certify, so a proof set made for one key pair cannot be
 * replayed to certify another. The key binding is
 *   SHA-256("stoq/four-proof/v1/certificate-keys\0" ‖ lp(TLS SubjectPublicKeyInfo DER) ‖ lp(FALCON public key))
 * and the asset id is "cert-keys:" + its lowercase hex. TrustChain computes it from the CSR,
 * HyperMesh checks the set's context against it, the node builds its set with it.
 */
export const CERTIFICATE_OPERATION = 'trustchain/issue_certificate';
const ASSET_PREFIX = 'cert-keys:';

export function certificateKeyBinding(tlsSpkiDer: Uint8Array, falconPublicKey: Uint8Array): Uint8Array {
  checkBytes(tlsSpkiDer, 'tlsSpkiDer', 1, 0xffff, 'INVALID_ARGUMENT');
  checkBytes(falconPublicKey, 'falconPublicKey', 1, 0xffff, 'INVALID_ARGUMENT');
  return sha256(DOMAIN.certificateKeys, lp(tlsSpkiDer), lp(falconPublicKey));
}

/** The context a node's set must carry to earn a certificate for the bound keys. */
export function certificateRequestContext(keyBinding: Uint8Array, nodeId: Uint8Array): OperationContext {
  checkBytes(keyBinding, 'keyBinding', 32, 32, 'INVALID_ARGUMENT');
  return { operation: CERTIFICATE_OPERATION, assetId: ASSET_PREFIX + toHex(keyBinding), nodeId: new Uint8Array(nodeId) };
}

/** Throws OPERATION_MISMATCH unless `context` is a certificate request for exactly these keys. */
export function checkCertificateRequestContext(context: OperationContext, keyBinding: Uint8Array): void {
  checkBytes(keyBinding, 'keyBinding', 32, 32, 'INVALID_ARGUMENT');
  if (context.operation !== CERTIFICATE_OPERATION) {
    fail('OPERATION_MISMATCH', 'context.operation', `is "${context.operation}", a certificate request needs "${CERTIFICATE_OPERATION}"`);
  }
  const expected = ASSET_PREFIX + toHex(keyBinding);
  if (!bytesEqual(Buffer.from(context.assetId, 'utf8'), Buffer.from(expected, 'utf8'))) {
    fail('OPERATION_MISMATCH', 'context.assetId', 'the proofs are bound to other keys than this certificate request\'s');
  }
}
