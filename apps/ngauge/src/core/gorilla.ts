// One chunk of one series, compressed as in Facebook's Gorilla paper (VLDB 2015) and Prometheus'
// XOR chunks: timestamps as delta-of-delta in variable buckets, float64 values as the XOR with
// the previous value, written with the previous run's leading/trailing-zero window when it fits.
// At a steady 1 s interval a timestamp costs one bit; a value that did not change costs one bit,
// a slowly moving counter a dozen or two. That is what keeps NGauge's window near the ≤ 2 bytes
// per sample of Prometheus' TSDB (the README states what is reached).
//
// Layout: t0 (64 bits, ms since the epoch), v0 (64 raw bits); then per sample the timestamp's
// delta-of-delta code and the value's XOR code. The sample count is kept beside the bytes.

import { BitReader, BitWriter } from './bits';

export interface Sample {
  /** Milliseconds since the epoch. */
  readonly t: number;
  readonly v: number;
}

/** A chunk that takes no more samples: its bytes and what they hold. */
export interface SealedChunk {
  readonly minT: number;
  readonly maxT: number;
  readonly count: number;
  readonly bits: number;
  readonly bytes: Uint8Array;
}

// Delta-of-delta buckets (bits of the two's-complement value) and their prefixes, as Prometheus.
const BUCKETS: readonly { prefix: number; prefixBits: number; bits: number }[] = [
  { prefix: 0b10, prefixBits: 2, bits: 14 },
  { prefix: 0b110, prefixBits: 3, bits: 17 },
  { prefix: 0b1110, prefixBits: 4, bits: 20 },
];

const f64 = new DataView(new ArrayBuffer(8));
function bitsFloat(b: bigint): number {
  f64.setBigUint64(0, b);
  return f64.getFloat64(0);
}

const TWO_32 = 2 ** 32;

/** Trailing zero bits of a non-zero unsigned 32-bit number. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

// The encoder works on 64-bit quantities (a float64's bits, their XOR, a huge delta-of-delta) as
// two unsigned 32-bit halves: BigInt arithmetic allocates, and this runs once per sample.
export class ChunkEncoder {
  private readonly w = new BitWriter(32);
  private n = 0;
  private t0 = 0;
  private lastT = 0;
  private lastDelta = 0;
  private lastHi = 0; // the previous value's bits
  private lastLo = 0;
  private leading = -1; // the current XOR window; -1 before the first window
  private trailing = 0;

  get count(): number {
    return this.n;
  }

  get minT(): number {
    return this.t0;
  }

  get maxT(): number {
    return this.lastT;
  }

  /** Bytes held now. */
  get byteSize(): number {
    return this.w.capacity;
  }

  /** Appends a sample; `t` must be an integer above the previous sample's. */
  append(t: number, v: number): void {
    if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`sample time ${t} is not a non-negative integer millisecond`);
    if (this.n > 0 && t <= this.lastT) throw new RangeError(`sample time ${t} is not after the previous sample (${this.lastT})`);
    f64.setFloat64(0, v);
    const hi = f64.getUint32(0);
    const lo = f64.getUint32(4);
    if (this.n === 0) {
      this.w.write64(Math.floor(t / TWO_32), t % TWO_32, 64);
      this.w.write64(hi, lo, 64);
      this.t0 = t;
    } else {
      const delta = t - this.lastT;
      this.writeDod(delta - this.lastDelta);
      this.lastDelta = delta;
      this.writeXor((hi ^ this.lastHi) >>> 0, (lo ^ this.lastLo) >>> 0);
    }
    this.lastT = t;
    this.lastHi = hi;
    this.lastLo = lo;
    this.n++;
  }

  seal(): SealedChunk {
    return { minT: this.t0, maxT: this.lastT, count: this.n, bits: this.w.length, bytes: this.w.bytes() };
  }

  private writeDod(dod: number): void {
    if (dod === 0) {
      this.w.writeBit(0);
      return;
    }
    for (const b of BUCKETS) {
      const half = 2 ** (b.bits - 1);
      if (dod >= -(half - 1) && dod <= half) {
        this.w.write(b.prefix, b.prefixBits);
        this.w.write(dod < 0 ? dod + 2 ** b.bits : dod, b.bits);
        return;
      }
    }
    this.w.write(0b1111, 4);
    // 64-bit two's complement of a safe integer: the high half is floor(dod / 2^32) mod 2^32.
    const high = Math.floor(dod / TWO_32);
    this.w.write64(high >>> 0, dod - high * TWO_32, 64);
  }

  private writeXor(hi: number, lo: number): void {
    if (hi === 0 && lo === 0) {
      this.w.writeBit(0);
      return;
    }
    this.w.writeBit(1);
    const leading = Math.min(hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo), 31); // 5 bits hold it
    const trailing = lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
    if (this.leading >= 0 && leading >= this.leading && trailing >= this.trailing) {
      this.w.writeBit(0);
      this.writeShifted(hi, lo, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    const significant = 64 - leading - trailing;
    this.w.writeBit(1);
    this.w.write(leading, 5);
    this.w.write(significant & 63, 6); // 64 is written as 0
    this.writeShifted(hi, lo, trailing, significant);
    this.leading = leading;
    this.trailing = trailing;
  }

  /** The low `n` bits of the 64-bit `hi:lo` shifted right by `shift` (0..63). */
  private writeShifted(hi: number, lo: number, shift: number, n: number): void {
    if (shift >= 32) this.w.write64(0, hi >>> (shift - 32), n);
    else if (shift > 0) this.w.write64(hi >>> shift, ((lo >>> shift) | (hi << (32 - shift))) >>> 0, n);
    else this.w.write64(hi, lo, n);
  }
}

/** The samples of a sealed chunk, oldest first. Throws RangeError on a damaged chunk. */
export function* decodeChunk(chunk: SealedChunk): Generator<Sample> {
  if (chunk.count === 0) return;
  const r = new BitReader(chunk.bytes, chunk.bits);
  let t = Number(r.readBig(64));
  let bits = r.readBig(64);
  yield { t, v: bitsFloat(bits) };
  let delta = 0;
  let leading = 0;
  let trailing = 0;
  for (let i = 1; i < chunk.count; i++) {
    delta += readDod(r);
    t += delta;
    if (r.readBit() === 1) {
      if (r.readBit() === 1) {
        leading = r.read(5);
        const significant = r.read(6) || 64;
        trailing = 64 - leading - significant;
        if (trailing < 0) throw new RangeError('XOR window wider than 64 bits');
      }
      bits ^= r.readBig(64 - leading - trailing) << BigInt(trailing);
    }
    yield { t, v: bitsFloat(bits) };
  }
}

function readDod(r: BitReader): number {
  // '0', '10', '110', '1110': the number of leading ones picks the bucket; '1111' is 64 bits.
  for (let ones = 0; ones < 4; ones++) {
    if (r.readBit() === 0) {
      if (ones === 0) return 0;
      const bits = BUCKETS[ones - 1]!.bits;
      const v = r.read(bits);
      return v > 2 ** (bits - 1) ? v - 2 ** bits : v;
    }
  }
  return Number(BigInt.asIntN(64, r.readBig(64)));
}
