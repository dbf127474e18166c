// The PreTBSCertificate of ITU-T X.509 (10/2019) §7.2.2: the bytes the issuer's alternative
// (FALCON) signature covers. It is the TBSCertificate with two components left out:
//   - the `signature` AlgorithmIdentifier (the classical algorithm, which is only decided when the
//     classical signature is made), and
//   - the altSignatureValue extension (which is the very signature being computed).
// Every other component keeps its exact DER bytes and order, and the outer SEQUENCE, the
// `extensions` [3] wrapper and the inner Extensions SEQUENCE get re-computed lengths.
// We cut the components out of the original bytes instead of re-encoding a parsed model, so a
// verifier signs/verifies exactly what the issuer encoded.

import {
  TAG_EXTENSIONS,
  TAG_INTEGER,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_VERSION,
  bytesEqual,
  children,
  encodeOid,
  encodeTlv,
  readSingle,
  readTlv,
} from './der';
import { StoqError } from '../errors';
import { OID_ALT_SIGNATURE_VALUE } from './oids';

const ALT_SIGNATURE_VALUE_OID_DER = encodeOid(OID_ALT_SIGNATURE_VALUE);
const WHAT = 'TBSCertificate';

/** Build the PreTBSCertificate DER from a TBSCertificate DER. */
export function preTbsCertificate(tbsDer: Uint8Array): Uint8Array {
  const tbs = readSingle(tbsDer, WHAT);
  if (tbs.tag !== TAG_SEQUENCE) throw new StoqError('PEER_REJECTED', 'TBSCertificate is not a SEQUENCE');
  const fields = children(tbsDer, tbs, WHAT);
  // version [0] is optional (absent for v1); serialNumber INTEGER; then signature AlgorithmIdentifier.
  const signatureIndex = fields[0]?.tag === TAG_VERSION ? 2 : 1;
  const serial = fields[signatureIndex - 1];
  const signature = fields[signatureIndex];
  if (!serial || serial.tag !== TAG_INTEGER || !signature || signature.tag !== TAG_SEQUENCE) {
    throw new StoqError('PEER_REJECTED', 'TBSCertificate does not start with version, serialNumber, signature');
  }
  const parts: Uint8Array[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (i === signatureIndex) continue;
    if (field.tag === TAG_EXTENSIONS) {
      parts.push(extensionsWithoutAltSignature(tbsDer, field));
    } else {
      parts.push(tbsDer.subarray(field.start, field.end));
    }
  }
  return encodeTlv(TAG_SEQUENCE, ...parts);
}

function extensionsWithoutAltSignature(tbsDer: Uint8Array, wrapper: { contentStart: number; end: number }): Uint8Array {
  const list = readTlv(tbsDer, wrapper.contentStart, wrapper.end, 'extensions');
  if (list.tag !== TAG_SEQUENCE || list.end !== wrapper.end) {
    throw new StoqError('PEER_REJECTED', 'certificate extensions are not a single SEQUENCE');
  }
  const kept: Uint8Array[] = [];
  for (const ext of children(tbsDer, list, 'extensions')) {
    const first = readTlv(tbsDer, ext.contentStart, ext.end, 'extension');
    if (first.tag !== TAG_OID) throw new StoqError('PEER_REJECTED', 'certificate extension without an extnID');
    if (bytesEqual(tbsDer.subarray(first.start, first.end), ALT_SIGNATURE_VALUE_OID_DER)) continue;
    kept.push(tbsDer.subarray(ext.start, ext.end));
  }
  return encodeTlv(TAG_EXTENSIONS, encodeTlv(TAG_SEQUENCE, ...kept));
}
