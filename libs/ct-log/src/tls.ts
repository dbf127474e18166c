// Minimal TLS presentation-language (RFC 5246 §4) codec for the RFC 6962 structures.
// Big-endian integers; variable-length vectors carry a 1/2/3-byte length prefix.
import { CtLogError } from './errors';

const MAX_U64_SAFE = Number.MAX_SAFE_INTEGER;

export class TlsWriter {
  private chunks: Buffer[] = [];
  private length = 0;

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Buffer.from([v & 0xff]));
  }

  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v);
    return this.push(b);
  }

  u24(v: number): this {
    const b = Buffer.allocUnsafe(3);
    b.writeUIntBE(v, 0, 3);
    return this.push(b);
  }

  /** uint64 from a safe-integer number (timestamps in ms, tree sizes). */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uint64 value must be a non-negative safe integer, got ${v}`);
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(v));
    return this.push(b);
  }

  /** Fixed-length opaque. */
  bytes(v: Uint8Array): this {
    return this.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }

  /** opaque<min..max> with a length prefix of prefixBytes (1, 2 or 3). */
  vector(v: Uint8Array, prefixBytes: 1 | 2 | 3, what: string, min = 0): this {
    const max = 2 ** (8 * prefixBytes) - 1;
    if (v.length < min || v.length > max) {
      throw new RangeError(`${what} is ${v.length} bytes, must be ${min}..${max}`);
    }
    if (prefixBytes === 1) this.u8(v.length);
    else if (prefixBytes === 2) this.u16(v.length);
    else this.u24(v.length);
    return this.bytes(v);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** Bounds-checked reader: every read names what it was reading when the input runs short. */
export class TlsReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private take(n: number, field: string): Uint8Array {
    if (n > this.remaining) {
      throw new CtLogError('DECODE', `${this.what}: truncated reading ${field} at byte ${this.pos} (need ${n}, have ${this.remaining})`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(field: string): number {
    return this.take(1, field)[0]!;
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u24(field: string): number {
    const b = this.take(3, field);
    return (b[0]! << 16) | (b[1]! << 8) | b[2]!;
  }

  u64(field: string): number {
    const b = this.take(8, field);
    const v = Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64BE();
    if (v > BigInt(MAX_U64_SAFE)) throw new CtLogError('DECODE', `${this.what}: ${field} ${v} exceeds 2^53-1`);
    return Number(v);
  }

  bytes(n: number, field: string): Uint8Array {
    return this.take(n, field);
  }

  vector(prefixBytes: 1 | 2 | 3, field: string, min = 0, max = 2 ** (8 * prefixBytes) - 1): Uint8Array {
    const len = prefixBytes === 1 ? this.u8(field) : prefixBytes === 2 ? this.u16(field) : this.u24(field);
    if (len < min || len > max) throw new CtLogError('DECODE', `${this.what}: ${field} length ${len} outside ${min}..${max}`);
    return this.take(len, field);
  }

  end(): void {
    if (this.remaining !== 0) throw new CtLogError('DECODE', `${this.what}: ${this.remaining} trailing bytes at byte ${this.pos}`);
  }
}
