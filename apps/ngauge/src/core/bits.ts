// Bit-granular writer and reader for the sample codec (gorilla.ts). The writer takes values up to
// 32 bits as numbers and 64-bit values as two unsigned 32-bit halves (no BigInt on the append
// path: it ran once per sample); the reader returns 64-bit values as BigInt. The writer grows its buffer by
// doubling; the reader refuses to read past the bits written, so a damaged chunk ends with an
// error instead of garbage.

export class BitWriter {
  private buf: Uint8Array;
  private bitLength = 0;

  constructor(initialBytes = 64) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** Bits written so far. */
  get length(): number {
    return this.bitLength;
  }

  /** The low `n` bits of `value` (0 ≤ n ≤ 32), most significant first. */
  write(value: number, n: number): void {
    if (n <= 0) return;
    this.reserve(n);
    // Whole runs of bits per byte instead of one bit at a time (the codec's hot path).
    const buf = this.buf;
    let pos = this.bitLength;
    let left = n;
    while (left > 0) {
      const free = 8 - (pos & 7);
      const take = free < left ? free : left;
      const bits = (value >>> (left - take)) & ((1 << take) - 1);
      buf[pos >>> 3] = buf[pos >>> 3]! | (bits << (free - take));
      pos += take;
      left -= take;
    }
    this.bitLength = pos;
  }

  /** The low `n` bits (0 ≤ n ≤ 64) of the 64-bit value `hi`·2³² + `lo` (both unsigned 32-bit), most significant first. */
  write64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.write(hi, n - 32);
      this.write(lo, 32);
    } else {
      this.write(lo, n);
    }
  }

  writeBit(bit: number): void {
    const byte = this.bitLength >>> 3;
    if (byte >= this.buf.length) this.reserve(1);
    if (bit) this.buf[byte] = this.buf[byte]! | (0x80 >>> (this.bitLength & 7));
    this.bitLength++;
  }

  /** Room for `n` more bits: the buffer doubles until they fit. */
  private reserve(n: number): void {
    const need = (this.bitLength + n + 7) >>> 3;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf);
    this.buf = grown;
  }

  /** The bytes written (the last one zero-padded); a copy sized to fit. */
  bytes(): Uint8Array {
    return this.buf.slice(0, (this.bitLength + 7) >>> 3);
  }

  /** Bytes the writer holds now (what it costs in memory). */
  get capacity(): number {
    return this.buf.length;
  }
}

export class BitReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly bitLength: number,
  ) {
    if (bitLength > buf.length * 8) throw new RangeError(`${bitLength} bits claimed in ${buf.length} bytes`);
  }

  get remaining(): number {
    return this.bitLength - this.pos;
  }

  readBit(): number {
    if (this.pos >= this.bitLength) throw new RangeError('read past the end of the chunk');
    const bit = (this.buf[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return bit;
  }

  /** `n` bits (0 ≤ n ≤ 32) as an unsigned number. */
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.readBit();
    return v;
  }

  /** `n` bits (0 ≤ n ≤ 64) as an unsigned BigInt. */
  readBig(n: number): bigint {
    let v = 0n;
    if (n > 32) {
      v = BigInt(this.read(32)) << BigInt(n - 32);
      n -= 32;
    }
    return v | BigInt(this.read(n));
  }
}
