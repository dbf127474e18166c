import { hash as nodeHash } from 'node:crypto';
import { concatBytes } from './bytes';

/** SHA-256 of the concatenation of `parts` (one-shot node:crypto; the hot verification primitive). */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const data = parts.length === 1 ? parts[0]! : concatBytes(...parts);
  const digest = nodeHash('sha256', data, 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/**
 * Domain-separation tags, one per use of SHA-256, so a hash computed for one purpose can never be
 * replayed as another. Changing any of these is a breaking change of the proof format.
 */
export const DOMAIN = {
  operation: tag('stoq/four-proof/v1/operation'),
  plotBlock: tag('stoq/four-proof/v1/plot-block'),
  spaceSeed: tag('stoq/four-proof/v1/pospace-seed'),
  spaceChallenge: tag('stoq/four-proof/v1/pospace-challenge'),
  powChallenge: tag('stoq/four-proof/v1/powork-challenge'),
  stakeAttestation: tag('stoq/four-proof/v1/stake-attestation'),
  vdfInput: tag('stoq/four-proof/v1/potime-input'),
  vdfPrime: tag('stoq/four-proof/v1/potime-prime'),
  certificateKeys: tag('stoq/four-proof/v1/certificate-keys'),
} as const;

function tag(name: string): Uint8Array {
  // NUL terminator: no tag is a prefix of another tag followed by data.
  return new Uint8Array(Buffer.from(name + '\0', 'utf8'));
}
