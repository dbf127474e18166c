// Packet token: SHA-256 over (stream_id u64 BE || sequence u64 BE || data), plus a sliding
// anti-replay window per stream in the style of IPsec ESP (RFC 4303 §3.4.3) and DTLS
// (RFC 6347 §4.1.2.6): a bitmap of the last `size` sequence numbers below the highest seen.

import { createHash, timingSafeEqual } from 'node:crypto';
import { StoqError } from '../errors';
import { toU64, writeU64BE } from './u64';

export const TOKEN_DIGEST_LENGTH = 32;
export const DEFAULT_REPLAY_WINDOW = 1024;
/** Largest replay window accepted (bitmap of 128 KiB). */
export const MAX_REPLAY_WINDOW = 1 << 20;

/** The `stoq.v1.Token` message. */
export interface Token {
  /** SHA-256(stream_id u64 BE || sequence u64 BE || data). */
  digest: Uint8Array;
}

/** What a token is computed over. */
export interface TokenInput {
  streamId: bigint | number;
  sequence: bigint | number;
  data: Uint8Array;
}

/**
 * Hashes many preimages at once (e.g. the native addon's SHA-256 batch); must return one
 * 32-byte SHA-256 digest per item, in order.
 */
export type BatchHasher = (items: Uint8Array[]) => Uint8Array[];

/** The exact bytes a token digest covers, in one buffer (for batch hashers). */
export function tokenPreimage(input: TokenInput): Uint8Array {
  const out = new Uint8Array(16 + input.data.length);
  writeU64BE(toU64(input.streamId, 'stream_id'), out, 0);
  writeU64BE(toU64(input.sequence, 'sequence'), out, 8);
  out.set(input.data, 16);
  return out;
}

/** Computes the token for one packet (no copy of `data`). */
export function computeToken(input: TokenInput): Token {
  const header = new Uint8Array(16);
  writeU64BE(toU64(input.streamId, 'stream_id'), header, 0);
  writeU64BE(toU64(input.sequence, 'sequence'), header, 8);
  const digest = createHash('sha256').update(header).update(input.data).digest();
  return { digest: new Uint8Array(digest.buffer, digest.byteOffset, digest.length) };
}

/** Tokens for many packets; with `hasher`, one batch call instead of one hash per packet. */
export function computeTokens(inputs: readonly TokenInput[], hasher?: BatchHasher): Token[] {
  if (hasher === undefined) return inputs.map(computeToken);
  const digests = hasher(inputs.map(tokenPreimage));
  if (digests.length !== inputs.length) {
    throw new StoqError('INVALID_ARGUMENT', `batch hasher returned ${digests.length} digests for ${inputs.length} inputs`);
  }
  return digests.map((digest, i) => {
    if (digest.length !== TOKEN_DIGEST_LENGTH) {
      throw new StoqError('INVALID_ARGUMENT', `batch hasher returned a ${digest.length}-byte digest for input ${i}, expected 32`);
    }
    return { digest };
  });
}

export type ReplayVerdict = 'new' | 'replayed' | 'too-old';

export interface ReplayWindowStats {
  accepted: number;
  /** Accepted packets that arrived after a higher sequence number (reordering inside the window). */
  reordered: number;
  replayed: number;
  tooOld: number;
}

/**
 * Sliding anti-replay window over one sequence-number space (one stream). Accepts each
 * sequence number at most once; accepts out-of-order arrival while the number is within `size`
 * of the highest accepted; refuses older numbers as 'too-old' (their state has been forgotten).
 */
export class ReplayWindow {
  readonly size: number;
  private readonly capacity: bigint; // bitmap bits, a multiple of 32 that is >= size
  private readonly bits: Uint32Array;
  private highest = -1n; // -1 = nothing accepted yet
  private readonly counters: ReplayWindowStats = { accepted: 0, reordered: 0, replayed: 0, tooOld: 0 };

  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW) {
      throw new StoqError('INVALID_ARGUMENT', `replay window size must be an integer in 1..${MAX_REPLAY_WINDOW}, got ${size}`);
    }
    this.size = size;
    const words = Math.ceil(size / 32);
    this.capacity = BigInt(words * 32);
    this.bits = new Uint32Array(words);
  }

  /** Highest sequence number accepted so far, or null. */
  get highestAccepted(): bigint | null {
    return this.highest < 0n ? null : this.highest;
  }

  get stats(): Readonly<ReplayWindowStats> {
    return { ...this.counters };
  }

  /** The verdict for `sequence` without recording it (use before the digest is verified). */
  peek(sequence: bigint | number): ReplayVerdict {
    const seq = toU64(sequence, 'sequence');
    if (seq > this.highest) return 'new';
    if (this.highest - seq >= BigInt(this.size)) return 'too-old';
    return this.testBit(seq) ? 'replayed' : 'new';
  }

  /** The verdict for `sequence`, recording it as seen when 'new'. */
  check(sequence: bigint | number): ReplayVerdict {
    const seq = toU64(sequence, 'sequence');
    const verdict = this.peek(seq);
    if (verdict === 'replayed') this.counters.replayed++;
    else if (verdict === 'too-old') this.counters.tooOld++;
    else {
      this.counters.accepted++;
      if (seq > this.highest) this.advanceTo(seq);
      else this.counters.reordered++;
      this.setBit(seq);
    }
    return verdict;
  }

  private advanceTo(seq: bigint): void {
    const shift = seq - this.highest;
    if (shift >= this.capacity) {
      this.bits.fill(0);
    } else {
      // Forget the positions that now fall out of the window (they are reused by seq's range).
      for (let s = this.highest + 1n; s <= seq; s++) this.clearBit(s);
    }
    this.highest = seq;
  }

  private position(seq: bigint): number {
    return Number(seq % this.capacity);
  }

  private testBit(seq: bigint): boolean {
    const p = this.position(seq);
    return (this.bits[p >>> 5]! & (1 << (p & 31))) !== 0;
  }

  private setBit(seq: bigint): void {
    const p = this.position(seq);
    this.bits[p >>> 5]! |= 1 << (p & 31);
  }

  private clearBit(seq: bigint): void {
    const p = this.position(seq);
    this.bits[p >>> 5]! &= ~(1 << (p & 31));
  }
}

/** A packet as far as token verification is concerned. */
export interface TokenizedPacket extends TokenInput {
  token?: Token | undefined;
}

/**
 * Verifies a packet's token and, with `window`, that its sequence number is fresh. Throws
 * TOKEN_INVALID (absent, wrong length or wrong digest) or TOKEN_REPLAYED (seen before, or older
 * than the window). The window records the sequence only after the digest checks out, so forged
 * packets cannot advance or poison it.
 */
export function verifyToken(packet: TokenizedPacket, window?: ReplayWindow): void {
  const where = `stream ${packet.streamId} sequence ${packet.sequence}`;
  // Cheap refusal of replays before hashing; check() (not peek) so the stats count them.
  if (window !== undefined && window.peek(packet.sequence) !== 'new') replayCheck(window.check(packet.sequence), where, window);
  const token = packet.token;
  if (token === undefined) {
    throw new StoqError('TOKEN_INVALID', `packet on ${where} carries no token`);
  }
  if (token.digest.length !== TOKEN_DIGEST_LENGTH) {
    throw new StoqError('TOKEN_INVALID', `token on ${where} is ${token.digest.length} bytes, expected ${TOKEN_DIGEST_LENGTH}`);
  }
  const expected = computeToken(packet).digest;
  if (!timingSafeEqual(expected, token.digest)) {
    throw new StoqError('TOKEN_INVALID', `token digest mismatch on ${where}: data, stream id or sequence was altered`, {
      details: { streamId: packet.streamId, sequence: packet.sequence },
    });
  }
  if (window !== undefined) replayCheck(window.check(packet.sequence), where, window);
}

function replayCheck(verdict: ReplayVerdict, where: string, window: ReplayWindow): void {
  if (verdict === 'replayed') {
    throw new StoqError('TOKEN_REPLAYED', `${where} was already accepted (replayed packet)`);
  }
  if (verdict === 'too-old') {
    throw new StoqError(
      'TOKEN_REPLAYED',
      `${where} is older than the replay window (highest accepted ${window.highestAccepted}, window ${window.size})`,
    );
  }
}
