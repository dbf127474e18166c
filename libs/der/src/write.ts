// Writing DER elements around bytes the caller already has (re-wrapping kept components with
// recomputed lengths), and the few fixed encodings both users need (OIDs). Tag constants live
// here too: they are what a caller passes to encodeTlv and compares `Tlv.tag` with.

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;
/** [0] EXPLICIT, constructed: the `version` field of a TBSCertificate. */
export const TAG_VERSION = 0xa0;
/** [3] EXPLICIT, constructed: the `extensions` field of a TBSCertificate. */
export const TAG_EXTENSIONS = 0xa3;

/** The DER length octets for `length` (shortest form). */
export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/** One TLV with the given tag around the concatenated parts. */
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

/**
 * A dotted OID string as its DER content octets (no tag/length). Arcs of any size (UUID OIDs,
 * "2.25.<128-bit integer>", are why: Number() would round them). A malformed OID is a caller
 * bug: RangeError.
 */
export function oidContent(oid: string): Uint8Array {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`invalid OID ${oid}`);
    return BigInt(s);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! >= 40n)) throw new RangeError(`invalid OID ${oid}`);
  const out: number[] = [];
  const push = (value: bigint): void => {
    const groups: number[] = [Number(value & 0x7fn)];
    for (let v = value >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return Uint8Array.from(out);
}

/** A complete OBJECT IDENTIFIER element. */
export function encodeOid(oid: string): Uint8Array {
  return encodeTlv(TAG_OID, oidContent(oid));
}
