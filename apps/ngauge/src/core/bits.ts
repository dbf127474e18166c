// Bit-granular writer and reader for the sample codec (gorilla.ts). Values up to 64 bits go in
// as BigInt (the XOR of two float64s); up to 32 bits as numbers. The writer grows its buffer by
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
    for (let i = n - 1; i >= 0; i--) this.writeBit((value >>> i) & 1);
  }

  /** The low `n` bits of `value` (0 ≤ n ≤ 64), most significant first. */
  writeBig(value: bigint, n: number): void {
    if (n > 32) {
      this.write(Number((value >> BigInt(n - 32)) & 0xffffffffn), 32);
      n -= 32;
    }
    this.write(Number(value & ((1n << BigInt(n)) - 1n)), n);
  }

  writeBit(bit: number): void {
    const byte = this.bitLength >>> 3;
    if (byte >= this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    if (bit) this.buf[byte] = this.buf[byte]! | (0x80 >>> (this.bitLength & 7));
    this.bitLength++;
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
