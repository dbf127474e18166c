// Minimal DER tag-length-value reader and writer. Used where the exact bytes of a certificate
// matter (the PreTBSCertificate is cut out of the signed TBSCertificate bytes, never re-encoded
// from a parsed model), and for the few small structures asn1-schema does not cover.

import { StoqError } from '../errors';

/** Largest DER object we accept anywhere in the identity code (a certificate is a few KiB). */
export const MAX_DER_LENGTH = 64 * 1024;

export interface Tlv {
  /** The identifier octet (single-byte tags only; X.509 never needs more). */
  readonly tag: number;
  /** Offset of the identifier octet in the input. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

function malformed(what: string, detail: string): StoqError {
  return new StoqError('PEER_REJECTED', `malformed DER in ${what}: ${detail}`);
}

/** Read the TLV starting at `offset`, which must end at or before `limit`. */
export function readTlv(bytes: Uint8Array, offset: number, limit: number, what: string): Tlv {
  if (limit > bytes.length) limit = bytes.length;
  if (offset + 2 > limit) throw malformed(what, `truncated header at offset ${offset}`);
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw malformed(what, `multi-byte tag at offset ${offset}`);
  let pos = offset + 1;
  const first = bytes[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw malformed(what, `indefinite length at offset ${offset}`);
    if (count > 3) throw malformed(what, `length of ${count} octets at offset ${offset} is too large`);
    if (pos + count > limit) throw malformed(what, `truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos++]!;
    // DER: the shortest length form, no leading zero octets.
    if (length < 0x80 || bytes[offset + 2] === 0) throw malformed(what, `non-minimal length at offset ${offset}`);
  }
  if (length > MAX_DER_LENGTH) throw malformed(what, `element of ${length} bytes exceeds ${MAX_DER_LENGTH}`);
  const end = pos + length;
  if (end > limit) throw malformed(what, `element at offset ${offset} overruns its container`);
  return { tag, start: offset, contentStart: pos, end };
}

/** The TLVs directly inside a constructed element, in order. */
export function children(bytes: Uint8Array, parent: Tlv, what: string): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const tlv = readTlv(bytes, pos, parent.end, what);
    out.push(tlv);
    pos = tlv.end;
  }
  return out;
}

/** Read exactly one TLV spanning the whole input. */
export function readSingle(bytes: Uint8Array, what: string): Tlv {
  if (bytes.length > MAX_DER_LENGTH) throw malformed(what, `${bytes.length} bytes exceeds ${MAX_DER_LENGTH}`);
  const tlv = readTlv(bytes, 0, bytes.length, what);
  if (tlv.end !== bytes.length) throw malformed(what, `${bytes.length - tlv.end} trailing bytes`);
  return tlv;
}

export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/** Encode one TLV with the given tag around the concatenated parts. */
export function encodeTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const contentLength = parts.reduce((n, p) => n + p.length, 0);
  const len = encodeLength(contentLength);
  const out = new Uint8Array(1 + len.length + contentLength);
  out[0] = tag;
  out.set(len, 1);
  let pos = 1 + len.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;
/** [3] EXPLICIT, constructed: the `extensions` field of a TBSCertificate. */
export const TAG_EXTENSIONS = 0xa3;
/** [0] EXPLICIT, constructed: the `version` field of a TBSCertificate. */
export const TAG_VERSION = 0xa0;

/** Encode a dotted OID string as its DER content octets (no tag/length). */
export function oidContent(oid: string): Uint8Array {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`invalid OID ${oid}`);
    return Number(s);
  });
  if (arcs.length < 2 || arcs[0]! > 2) throw new Error(`invalid OID ${oid}`);
  const out: number[] = [];
  const push = (value: number): void => {
    const groups: number[] = [value & 0x7f];
    for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return Uint8Array.from(out);
}

export function encodeOid(oid: string): Uint8Array {
  return encodeTlv(TAG_OID, oidContent(oid));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
