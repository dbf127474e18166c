// StoqPacket <-> protobuf bytes. The schema is src/proto/stoq_packet.proto (copied next to the
// compiled code at build), loaded once with protobufjs. Decoding checks the size limit before
// parsing and validates every extension afterwards, so a decoded packet is always well formed.
// Unknown fields are skipped (forward compatibility). Decoded byte fields are views of the input.

import { join } from 'node:path';
import { loadSync, type Type } from 'protobufjs';
import { StoqError, isStoqError } from '../errors';
import { validateHopInfo, type HopInfo } from './hop';
import { validateSeedInfo, type SeedInfo } from './seed';
import { shardInfoProblem, type ShardInfo } from './shard';
import { TOKEN_DIGEST_LENGTH, type Token } from './token';
import { toU64 } from './u64';

/** Default largest encoded packet accepted by `decodeStoqPacket`: 16 MiB. */
export const DEFAULT_MAX_PACKET_BYTES = 16 * 1024 * 1024;

/** The `stoq.v1.StoqPacket` message. */
export interface StoqPacket {
  streamId: bigint;
  sequence: bigint;
  data: Uint8Array;
  token?: Token | undefined;
  shard?: ShardInfo | undefined;
  hopInfo?: HopInfo | undefined;
  seedInfo?: SeedInfo | undefined;
}

/** Path of the .proto schema this codec uses. */
export const STOQ_PACKET_PROTO_PATH = join(__dirname, '..', 'proto', 'stoq_packet.proto');

let packetType: Type | null = null;
function stoqPacketType(): Type {
  if (packetType === null) {
    try {
      packetType = loadSync(STOQ_PACKET_PROTO_PATH).lookupType('stoq.v1.StoqPacket');
    } catch (cause) {
      throw new StoqError('PACKET_MALFORMED', `cannot load the StoqPacket schema from ${STOQ_PACKET_PROTO_PATH}`, { cause });
    }
  }
  return packetType;
}

// protobufjs represents uint64 as Long-like {low, high} objects (or numbers without `long`).
interface LongBits {
  low: number;
  high: number;
}

function longFrom(value: bigint): LongBits {
  return { low: Number(value & 0xffff_ffffn), high: Number(value >> 32n) };
}

function bigintFrom(value: unknown): bigint {
  if (typeof value === 'number') return BigInt(value);
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const { low, high } = value as LongBits;
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

function bytesFrom(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.length);
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  return new Uint8Array(0);
}

function malformed(message: string, cause?: unknown): StoqError {
  return new StoqError('PACKET_MALFORMED', message, cause === undefined ? {} : { cause });
}

/** Structural checks shared by encode and decode; extension-specific codes pass through. */
function validatePacket(p: StoqPacket): void {
  if (p.token !== undefined && p.token.digest.length !== TOKEN_DIGEST_LENGTH) {
    throw malformed(`token.digest is ${p.token.digest.length} bytes, expected ${TOKEN_DIGEST_LENGTH}`);
  }
  if (p.shard !== undefined) {
    const problem = shardInfoProblem(p.shard);
    if (problem !== null) throw malformed(`shard: ${problem}`);
  }
  try {
    if (p.hopInfo !== undefined) validateHopInfo(p.hopInfo);
    if (p.seedInfo !== undefined) validateSeedInfo(p.seedInfo);
  } catch (err) {
    // Range and length faults in a received message are malformation; loops, limits and IPv4
    // keep their own codes.
    if (isStoqError(err, 'INVALID_ARGUMENT') || isStoqError(err, 'INVALID_ADDRESS')) throw malformed(err.message, err);
    throw err;
  }
}

/** Encodes a packet after validating it (so we never emit what a peer must reject). */
export function encodeStoqPacket(packet: StoqPacket): Uint8Array {
  toU64(packet.streamId, 'stream_id');
  toU64(packet.sequence, 'sequence');
  validatePacket(packet);
  const message: Record<string, unknown> = {
    streamId: longFrom(packet.streamId),
    sequence: longFrom(packet.sequence),
    data: packet.data,
  };
  if (packet.token !== undefined) message['token'] = { digest: packet.token.digest };
  if (packet.shard !== undefined) {
    const s = packet.shard;
    message['shard'] = {
      messageId: longFrom(toU64(s.messageId, 'shard.message_id')),
      index: s.index,
      count: s.count,
      totalLength: longFrom(BigInt(s.totalLength)),
      shardHash: s.shardHash,
      messageHash: s.messageHash,
    };
  }
  if (packet.hopInfo !== undefined) message['hopInfo'] = { hops: [...packet.hopInfo.hops], hopLimit: packet.hopInfo.hopLimit };
  if (packet.seedInfo !== undefined) {
    const s = packet.seedInfo;
    message['seedInfo'] = { origin: s.origin, fanOut: s.fanOut, replicaPeers: [...s.replicaPeers], generation: longFrom(s.generation) };
  }
  return stoqPacketType().encode(message).finish();
}

export interface DecodeStoqPacketOptions {
  /** Largest encoded size accepted. Default 16 MiB. */
  maxBytes?: number;
}

/**
 * Decodes and validates a packet. Throws PACKET_TOO_LARGE before parsing anything over
 * `maxBytes`, PACKET_MALFORMED for bytes that are not a well-formed StoqPacket, and the
 * extension's own code (HOP_LIMIT, HOP_LOOP, IPV4_REFUSED, SEED_INVALID) for a bad extension.
 */
export function decodeStoqPacket(bytes: Uint8Array, options: DecodeStoqPacketOptions = {}): StoqPacket {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (bytes.length > maxBytes) {
    throw new StoqError('PACKET_TOO_LARGE', `packet is ${bytes.length} bytes, limit is ${maxBytes}`, {
      details: { length: bytes.length, maxBytes },
    });
  }
  let raw: Record<string, unknown>;
  try {
    raw = stoqPacketType().decode(bytes) as unknown as Record<string, unknown>;
  } catch (cause) {
    if (isStoqError(cause)) throw cause;
    throw malformed(`not a valid StoqPacket: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const packet: StoqPacket = {
    streamId: bigintFrom(raw['streamId']),
    sequence: bigintFrom(raw['sequence']),
    data: bytesFrom(raw['data']),
  };
  const token = raw['token'] as Record<string, unknown> | null | undefined;
  if (token != null) packet.token = { digest: bytesFrom(token['digest']) };
  const shard = raw['shard'] as Record<string, unknown> | null | undefined;
  if (shard != null) {
    const totalLength = bigintFrom(shard['totalLength']);
    if (totalLength > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`shard.total_length ${totalLength} exceeds 2^53-1`);
    packet.shard = {
      messageId: bigintFrom(shard['messageId']),
      index: Number(shard['index'] ?? 0),
      count: Number(shard['count'] ?? 0),
      totalLength: Number(totalLength),
      shardHash: bytesFrom(shard['shardHash']),
      messageHash: bytesFrom(shard['messageHash']),
    };
  }
  const hop = raw['hopInfo'] as Record<string, unknown> | null | undefined;
  if (hop != null) {
    packet.hopInfo = { hops: ((hop['hops'] as unknown[] | undefined) ?? []).map(bytesFrom), hopLimit: Number(hop['hopLimit'] ?? 0) };
  }
  const seed = raw['seedInfo'] as Record<string, unknown> | null | undefined;
  if (seed != null) {
    packet.seedInfo = {
      origin: bytesFrom(seed['origin']),
      fanOut: Number(seed['fanOut'] ?? 0),
      replicaPeers: ((seed['replicaPeers'] as unknown[] | undefined) ?? []).map(bytesFrom),
      generation: bigintFrom(seed['generation']),
    };
  }
  validatePacket(packet);
  return packet;
}
