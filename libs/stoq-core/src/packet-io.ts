// I/O shell for StoqPackets over a connection: sharded messages spread over several streams
// (so shards really arrive out of order) and tokenized datagrams.
import { loadNative } from './native-binding';
import { computeToken, computeTokens, decodeStoqPacket, encodeStoqPacket, shardMessage, type BatchHasher, type PacketReceiver, type StoqPacket } from './packet';
import type { StoqConnection, StoqStream } from './types';

export interface SendShardedOptions {
  messageId: bigint;
  /** Bytes per shard. Default 1 MiB. */
  shardSize?: number;
  /** Streams the shards are spread over, round-robin. Default 4. */
  lanes?: number;
}

/**
 * Send `data` as shards, each a tokenized StoqPacket frame; shard i goes on lane i mod lanes.
 * Each lane is its own stream (stream_id in the packet = lane number, sequence = per-lane count).
 */
export async function sendSharded(conn: StoqConnection, data: Uint8Array, options: SendShardedOptions): Promise<void> {
  const shards = shardMessage(options.messageId, data, options.shardSize ?? 1 << 20);
  const lanes = Math.max(1, Math.min(options.lanes ?? 4, shards.length));
  const perLane = new Array<bigint>(lanes).fill(0n);
  const packets: StoqPacket[] = shards.map((shard, i) => ({
    streamId: BigInt(i % lanes),
    sequence: perLane[i % lanes]!++,
    data: shard.data,
    shard: shard.info,
  }));
  // All tokens in one native batch call rather than one hash per packet.
  computeTokens(packets, nativeBatchHasher).forEach((token, i) => (packets[i]!.token = token));
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const stream = await conn.openStream();
      for (let i = lane; i < packets.length; i += lanes) await stream.sendMessage(encodeStoqPacket(packets[i]!));
      stream.finish();
    }),
  );
}

/** SHA-256 of many inputs in one call into the native addon (see computeTokens). */
export const nativeBatchHasher: BatchHasher = (items) => {
  const digests = loadNative().sha256Batch(items.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  return items.map((_, i) => new Uint8Array(digests.buffer, digests.byteOffset + 32 * i, 32));
};

/**
 * Read StoqPacket frames from a stream into `receiver` until the stream ends; every completed
 * message goes to `onMessage`. A bad packet (token, shard) rejects with its StoqError.
 */
export async function receivePackets(
  stream: StoqStream,
  receiver: PacketReceiver,
  onMessage: (message: Uint8Array) => void,
  now: () => number = Date.now,
  maxPacketBytes?: number,
): Promise<void> {
  for (;;) {
    const frame = await stream.receiveMessage();
    if (frame === null) return;
    const message = receiver.accept(decodeStoqPacket(frame, { maxBytes: maxPacketBytes }), now());
    if (message) onMessage(message);
  }
}

/** Send one tokenized StoqPacket as a QUIC datagram. Returns the encoded bytes. */
export function sendPacketDatagram(conn: StoqConnection, packet: Omit<StoqPacket, 'token'>): Uint8Array {
  const full: StoqPacket = { ...packet, token: computeToken(packet) };
  const bytes = encodeStoqPacket(full);
  conn.sendDatagram(bytes);
  return bytes;
}
