// Reading DER (X.690) tag-length-value elements by byte offset, without decoding them into a
// model: callers cut exact byte ranges out of signed structures. Definite lengths only, in their
// shortest form, single-byte tags; every element is checked against its container.
import { DerError } from './errors';

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

export interface ReadOptions {
  /** Largest content length accepted for any element (and, for readSingle, the input). Default: no limit beyond 4 length octets. */
  readonly maxLength?: number;
}

/** At most 4 length octets: lengths below 2^32, far beyond anything held in memory here. */
const MAX_LENGTH_OCTETS = 4;

/** Reads the TLV starting at `offset`, which must end at or before `limit` (clamped to the input). */
export function readTlv(bytes: Uint8Array, offset: number, limit: number = bytes.length, options: ReadOptions = {}): Tlv {
  if (limit > bytes.length) limit = bytes.length;
  if (offset + 2 > limit) throw new DerError('TRUNCATED', offset, `truncated header at offset ${offset}`);
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('MULTI_BYTE_TAG', offset, `multi-byte tag at offset ${offset}`);
  let pos = offset + 1;
  const first = bytes[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerError('INDEFINITE_LENGTH', offset, `indefinite length at offset ${offset}`);
    if (count > MAX_LENGTH_OCTETS) throw new DerError('LENGTH_TOO_LONG', offset, `length of ${count} octets at offset ${offset} is too large`);
    if (pos + count > limit) throw new DerError('TRUNCATED', offset, `truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos++]!;
    // DER: the shortest length form, no leading zero octets.
    if (length < 0x80 || bytes[offset + 2] === 0) throw new DerError('NON_MINIMAL_LENGTH', offset, `non-minimal length at offset ${offset}`);
  }
  if (options.maxLength !== undefined && length > options.maxLength) {
    throw new DerError('TOO_LARGE', offset, `element of ${length} bytes exceeds ${options.maxLength}`);
  }
  const end = pos + length;
  if (end > limit) throw new DerError('OVERRUN', offset, `element at offset ${offset} (length ${length}) overruns its container`);
  return { tag, start: offset, contentStart: pos, end };
}

/** The TLVs directly inside a constructed element, in order. */
export function children(bytes: Uint8Array, parent: Tlv, options: ReadOptions = {}): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const tlv = readTlv(bytes, pos, parent.end, options);
    out.push(tlv);
    pos = tlv.end;
  }
  return out;
}

/** Reads exactly one TLV spanning the whole input. */
export function readSingle(bytes: Uint8Array, options: ReadOptions = {}): Tlv {
  if (options.maxLength !== undefined && bytes.length > options.maxLength) {
    throw new DerError('TOO_LARGE', 0, `${bytes.length} bytes exceeds ${options.maxLength}`);
  }
  const tlv = readTlv(bytes, 0, bytes.length, options);
  if (tlv.end !== bytes.length) throw new DerError('TRAILING_BYTES', tlv.end, `${bytes.length - tlv.end} trailing bytes`);
  return tlv;
}

/** The whole element, tag and length included (a view, not a copy). */
export function elementBytes(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.start, tlv.end);
}

/** The element's content octets (a view, not a copy). */
export function contentBytes(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.contentStart, tlv.end);
}
