// The signed, versioned revocation list peers follow. Its signatures cover the protobuf encoding
// of the list with both signature fields empty (protobufjs writes fields in field-number order,
// so the encoding is canonical for a given list). Pure: signing and verifying are passed in.
import { trustchain } from '@stoq/protos';

export type RevocationListMessage = trustchain.RevocationList;

/** The bytes both signatures cover. */
export function revocationListSigningInput(list: RevocationListMessage): Uint8Array {
  const unsigned = trustchain.RevocationListType.create({ version: list.version, issuedAtMs: list.issuedAtMs, entries: list.entries ?? [] });
  return trustchain.RevocationListType.encode(unsigned).finish();
}

/**
 * Signs `list`. `signerChain`: the signing CA's certificate(s) below the root, signer first (an
 * intermediate), so followers that pin only the root can check the signer; empty when the root signs.
 */
export function signRevocationList(
  list: Omit<RevocationListMessage, 'signature' | 'falconSignature' | 'signerChain'>,
  signClassical: (data: Uint8Array) => Uint8Array,
  signFalcon: (data: Uint8Array) => Uint8Array,
  signerChain: readonly Uint8Array[] = [],
): RevocationListMessage {
  const input = revocationListSigningInput(list);
  return { ...list, signature: signClassical(input), falconSignature: signFalcon(input), ...(signerChain.length > 0 ? { signerChain: [...signerChain] } : {}) };
}

/** Whether both signatures of `list` verify (classical with the signer's key, FALCON with its FALCON key). */
export function verifyRevocationList(
  list: RevocationListMessage,
  verifyClassical: (data: Uint8Array, signature: Uint8Array) => boolean,
  verifyFalcon: (data: Uint8Array, signature: Uint8Array) => boolean,
): boolean {
  if (!list.signature?.length || !list.falconSignature?.length) return false;
  const input = revocationListSigningInput(list);
  return verifyClassical(input, list.signature) && verifyFalcon(input, list.falconSignature);
}
