// Sharding: split a message into evenly sized shards, each carrying enough metadata to be
// placed and verified on its own, and a sans-I/O reassembler with bounded memory.
//
// Layout (see stoq_packet.proto): with base = floor(total / count) and rem = total % count,
// shard i covers [i*base + min(i, rem), ... + base + (i < rem ? 1 : 0)). Sizes differ by at most
// one byte, so a receiver knows every shard's offset and size from (index, count, total_length).

import { createHash, timingSafeEqual } from 'node:crypto';
import { StoqError } from '../errors';
import { toU64 } from './u64';

export const SHARD_HASH_LENGTH = 32;
const U32_MAX = 0xffff_ffff;

/** The `stoq.v1.Shard` message. */
export interface ShardInfo {
  messageId: bigint;
  index: number;
  count: number;
  totalLength: number;
  /** SHA-256 of this shard's bytes. */
  shardHash: Uint8Array;
  /** SHA-256 of the whole message. */
  messageHash: Uint8Array;
}

/** A shard's metadata together with its bytes (`StoqPacket.data`). */
export interface Shard {
  info: ShardInfo;
  data: Uint8Array;
}

function sha256(data: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(data).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Offset and size of shard `index` of a `totalLength`-byte message in `count` shards. */
export function shardRange(index: number, count: number, totalLength: number): { start: number; length: number } {
  const base = Math.floor(totalLength / count);
  const rem = totalLength % count;
  return { start: index * base + Math.min(index, rem), length: base + (index < rem ? 1 : 0) };
}

/**
 * What is structurally wrong with `info` (field name and value), or null. Shared by the packet
 * codec (which reports PACKET_MALFORMED) and the reassembler (SHARD_CORRUPT).
 */
export function shardInfoProblem(info: ShardInfo): string | null {
  if (!Number.isInteger(info.count) || info.count < 1 || info.count > U32_MAX) return `count ${info.count} is not in 1..2^32-1`;
  if (!Number.isInteger(info.index) || info.index < 0 || info.index >= info.count) {
    return `index ${info.index} is not below count ${info.count}`;
  }
  if (!Number.isSafeInteger(info.totalLength) || info.totalLength < 0) return `total_length ${info.totalLength} is not a non-negative safe integer`;
  if (info.totalLength === 0 ? info.count !== 1 : info.count > info.totalLength) {
    return `count ${info.count} is impossible for total_length ${info.totalLength} (every shard holds at least one byte)`;
  }
  if (info.shardHash.length !== SHARD_HASH_LENGTH) return `shard_hash is ${info.shardHash.length} bytes, expected 32`;
  if (info.messageHash.length !== SHARD_HASH_LENGTH) return `message_hash is ${info.messageHash.length} bytes, expected 32`;
  return null;
}

/**
 * Splits `data` into ceil(length / shardSize) shards (at least one) of at most `shardSize`
 * bytes. Shard bytes are views of `data`, not copies.
 */
export function shardMessage(messageId: bigint | number, data: Uint8Array, shardSize: number): Shard[] {
  const id = toU64(messageId, 'message_id');
  if (!Number.isSafeInteger(shardSize) || shardSize < 1) {
    throw new StoqError('INVALID_ARGUMENT', `shard size must be a positive integer, got ${shardSize}`);
  }
  const totalLength = data.length;
  const count = Math.max(1, Math.ceil(totalLength / shardSize));
  if (count > U32_MAX) {
    throw new StoqError('INVALID_ARGUMENT', `${totalLength} bytes in ${shardSize}-byte shards needs ${count} shards, more than 2^32-1`);
  }
  const messageHash = sha256(data);
  const shards: Shard[] = [];
  for (let index = 0; index < count; index++) {
    const { start, length } = shardRange(index, count, totalLength);
    const bytes = data.subarray(start, start + length);
    shards.push({
      info: { messageId: id, index, count, totalLength, shardHash: count === 1 ? messageHash : sha256(bytes), messageHash },
      data: bytes,
    });
  }
  return shards;
}

export interface ShardReassemblerOptions {
  /** Largest message accepted (total_length). Default 64 MiB. */
  maxMessageBytes?: number;
  /** Sum of total_length over incomplete messages. Default 256 MiB. */
  maxInFlightBytes?: number;
  /** Incomplete messages held at once. Default 64. */
  maxInFlightMessages?: number;
  /** Largest shard count per message. Default 2^20. */
  maxShardsPerMessage?: number;
  /** An incomplete message with no new shard for this long is dropped by `expire`. Default 30 s. */
  timeoutMs?: number;
  /** How many completed message ids are remembered to drop late duplicates. Default 1024. */
  completedMemory?: number;
}

/** An incomplete message given up on, by `expire` (SHARD_TIMEOUT) or `end` (SHARD_MISSING). */
export interface IncompleteMessage {
  messageId: bigint;
  /** Indexes of the shards never received, ascending. */
  missing: number[];
  count: number;
  error: StoqError;
}

interface Pending {
  count: number;
  totalLength: number;
  messageHash: Uint8Array;
  buffer: Uint8Array;
  received: Uint8Array; // bitset over shard indexes
  receivedCount: number;
  lastActivityMs: number;
}

interface Completed {
  messageHash: Uint8Array;
  atMs: number;
}

const MiB = 1024 * 1024;

/**
 * Sans-I/O shard reassembler. Feed shards in any order with the current time; get the whole
 * message back from the `push` that completes it. Memory is bounded: a message's buffer is
 * allocated (by total_length) only once its limits are checked, and the sum over incomplete
 * messages is capped. Errors reject the offending shard and leave the message's state intact,
 * except a final message-hash mismatch, which discards the message.
 */
export class ShardReassembler {
  readonly maxMessageBytes: number;
  readonly maxInFlightBytes: number;
  readonly maxInFlightMessages: number;
  readonly maxShardsPerMessage: number;
  readonly timeoutMs: number;
  readonly completedMemory: number;
  private readonly pending = new Map<bigint, Pending>();
  private readonly completed = new Map<bigint, Completed>(); // insertion order = completion order
  private inFlight = 0;

  constructor(options: ShardReassemblerOptions = {}) {
    const positive = (name: string, value: number | undefined, fallback: number, min = 1): number => {
      const v = value ?? fallback;
      if (!Number.isSafeInteger(v) || v < min) {
        throw new StoqError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${v}`);
      }
      return v;
    };
    this.maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes, 64 * MiB, 0);
    this.maxInFlightBytes = positive('maxInFlightBytes', options.maxInFlightBytes, 256 * MiB, 0);
    this.maxInFlightMessages = positive('maxInFlightMessages', options.maxInFlightMessages, 64);
    this.maxShardsPerMessage = positive('maxShardsPerMessage', options.maxShardsPerMessage, 1 << 20);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, 30_000);
    this.completedMemory = positive('completedMemory', options.completedMemory, 1024, 0);
  }

  /** Incomplete messages currently held. */
  get inFlightMessages(): number {
    return this.pending.size;
  }

  /** Bytes reserved for incomplete messages (sum of their total_length). */
  get inFlightBytes(): number {
    return this.inFlight;
  }

  /**
   * Adds one shard received at `nowMs`. Returns the whole message when this shard completes it,
   * else null (also for a duplicate of a shard already held). Throws SHARD_CORRUPT,
   * SHARD_DUPLICATE_MISMATCH or SHARD_LIMIT.
   */
  push(shard: Shard, nowMs: number): Uint8Array | null {
    if (!Number.isFinite(nowMs)) throw new StoqError('INVALID_ARGUMENT', `nowMs must be a finite number, got ${nowMs}`);
    const { info, data } = shard;
    const id = info.messageId;
    const what = `shard ${info.index}/${info.count} of message ${id}`;
    const problem = shardInfoProblem(info);
    if (problem !== null) throw new StoqError('SHARD_CORRUPT', `${what}: ${problem}`, { details: { messageId: id } });
    if (info.totalLength > this.maxMessageBytes) {
      throw new StoqError('SHARD_LIMIT', `message ${id} is ${info.totalLength} bytes, limit is ${this.maxMessageBytes}`, {
        details: { messageId: id, totalLength: info.totalLength, maxMessageBytes: this.maxMessageBytes },
      });
    }
    if (info.count > this.maxShardsPerMessage) {
      throw new StoqError('SHARD_LIMIT', `message ${id} has ${info.count} shards, limit is ${this.maxShardsPerMessage}`, {
        details: { messageId: id, count: info.count },
      });
    }
    const range = shardRange(info.index, info.count, info.totalLength);
    if (data.length !== range.length) {
      throw new StoqError('SHARD_CORRUPT', `${what} holds ${data.length} bytes, expected ${range.length}`, {
        details: { messageId: id, index: info.index },
      });
    }
    if (!sameBytes(sha256(data), info.shardHash)) {
      throw new StoqError('SHARD_CORRUPT', `${what}: bytes do not match shard_hash`, { details: { messageId: id, index: info.index } });
    }

    const done = this.completed.get(id);
    if (done !== undefined) {
      if (!sameBytes(done.messageHash, info.messageHash)) {
        throw new StoqError('SHARD_DUPLICATE_MISMATCH', `${what} claims a different message_hash than the completed message ${id}`, {
          details: { messageId: id, index: info.index },
        });
      }
      return null; // late duplicate of a message already delivered
    }

    let entry = this.pending.get(id);
    if (entry !== undefined) {
      if (entry.count !== info.count || entry.totalLength !== info.totalLength || !sameBytes(entry.messageHash, info.messageHash)) {
        throw new StoqError(
          'SHARD_CORRUPT',
          `${what} (total_length ${info.totalLength}) disagrees with earlier shards (count ${entry.count}, total_length ${entry.totalLength}) or their message_hash`,
          { details: { messageId: id, index: info.index } },
        );
      }
      if (hasBit(entry.received, info.index)) {
        const held = entry.buffer.subarray(range.start, range.start + range.length);
        if (!sameBytes(held, data)) {
          throw new StoqError('SHARD_DUPLICATE_MISMATCH', `${what} was received twice with different contents`, {
            details: { messageId: id, index: info.index },
          });
        }
        entry.lastActivityMs = nowMs;
        return null;
      }
    } else {
      if (info.count === 1) {
        // Whole message in one shard: shard_hash already verified, so message_hash must equal it.
        if (!sameBytes(info.shardHash, info.messageHash)) {
          throw new StoqError('SHARD_CORRUPT', `message ${id}: reassembled bytes do not match message_hash`, { details: { messageId: id } });
        }
        this.remember(id, info.messageHash, nowMs);
        return data;
      }
      if (this.pending.size >= this.maxInFlightMessages) {
        throw new StoqError('SHARD_LIMIT', `${this.pending.size} incomplete messages already held, limit is ${this.maxInFlightMessages}; refusing message ${id}`, {
          details: { messageId: id },
        });
      }
      if (this.inFlight + info.totalLength > this.maxInFlightBytes) {
        throw new StoqError(
          'SHARD_LIMIT',
          `message ${id} needs ${info.totalLength} bytes but ${this.inFlight} of ${this.maxInFlightBytes} in-flight bytes are reserved`,
          { details: { messageId: id, totalLength: info.totalLength } },
        );
      }
      entry = {
        count: info.count,
        totalLength: info.totalLength,
        messageHash: Uint8Array.from(info.messageHash),
        buffer: new Uint8Array(info.totalLength),
        received: new Uint8Array(Math.ceil(info.count / 8)),
        receivedCount: 0,
        lastActivityMs: nowMs,
      };
      this.pending.set(id, entry);
      this.inFlight += info.totalLength;
    }

    entry.buffer.set(data, range.start);
    entry.received[info.index >>> 3]! |= 1 << (info.index & 7);
    entry.receivedCount++;
    entry.lastActivityMs = nowMs;
    if (entry.receivedCount < entry.count) return null;

    this.drop(id, entry);
    if (!sameBytes(sha256(entry.buffer), entry.messageHash)) {
      throw new StoqError('SHARD_CORRUPT', `message ${id}: reassembled bytes do not match message_hash; message discarded`, {
        details: { messageId: id },
      });
    }
    this.remember(id, entry.messageHash, nowMs);
    return entry.buffer;
  }

  /** Indexes still missing from incomplete message `messageId` (e.g. to request them), or null. */
  missing(messageId: bigint): number[] | null {
    const entry = this.pending.get(messageId);
    return entry === undefined ? null : missingIndexes(entry);
  }

  /**
   * Drops incomplete messages that saw no shard for `timeoutMs` before `nowMs` and reports
   * them (SHARD_TIMEOUT); also forgets completed ids older than the timeout.
   */
  expire(nowMs: number): IncompleteMessage[] {
    const out: IncompleteMessage[] = [];
    for (const [id, entry] of this.pending) {
      const idle = nowMs - entry.lastActivityMs;
      if (idle < this.timeoutMs) continue;
      this.drop(id, entry);
      out.push(this.report(id, entry, 'SHARD_TIMEOUT', `no shard for ${idle} ms (timeout ${this.timeoutMs} ms)`));
    }
    for (const [id, done] of this.completed) {
      if (nowMs - done.atMs < this.timeoutMs) break; // insertion order = completion order
      this.completed.delete(id);
    }
    return out;
  }

  /** The sender is done (stream finished): drops and reports every incomplete message (SHARD_MISSING). */
  end(): IncompleteMessage[] {
    const out: IncompleteMessage[] = [];
    for (const [id, entry] of this.pending) {
      this.drop(id, entry);
      out.push(this.report(id, entry, 'SHARD_MISSING', 'input ended'));
    }
    return out;
  }

  private report(id: bigint, entry: Pending, code: 'SHARD_TIMEOUT' | 'SHARD_MISSING', why: string): IncompleteMessage {
    const missing = missingIndexes(entry);
    const shown = missing.length > 16 ? `${missing.slice(0, 16).join(', ')}, ...` : missing.join(', ');
    const error = new StoqError(code, `message ${id} incomplete, ${why}: missing ${missing.length} of ${entry.count} shards (${shown})`, {
      details: { messageId: id, missingCount: missing.length, count: entry.count },
    });
    return { messageId: id, missing, count: entry.count, error };
  }

  private drop(id: bigint, entry: Pending): void {
    this.pending.delete(id);
    this.inFlight -= entry.totalLength;
  }

  private remember(id: bigint, messageHash: Uint8Array, nowMs: number): void {
    if (this.completedMemory === 0) return;
    this.completed.set(id, { messageHash: Uint8Array.from(messageHash), atMs: nowMs });
    if (this.completed.size > this.completedMemory) {
      const oldest = this.completed.keys().next().value as bigint;
      this.completed.delete(oldest);
    }
  }
}

function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >>> 3]! & (1 << (i & 7))) !== 0;
}

function missingIndexes(entry: Pending): number[] {
  const out: number[] = [];
  for (let i = 0; i < entry.count; i++) if (!hasBit(entry.received, i)) out.push(i);
  return out;
}
