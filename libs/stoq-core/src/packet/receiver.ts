// PacketReceiver: the pure receive path for StoqPackets — token check with a replay window per
// stream id, then shard reassembly. Time is passed in; no I/O here.
import { StoqError } from '../errors';
import type { StoqPacket } from './codec';
import { ShardReassembler, type IncompleteMessage, type ShardReassemblerOptions } from './shard';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow, verifyToken } from './token';

export interface PacketReceiverOptions {
  /** Refuse packets without a valid token (default true). */
  requireToken?: boolean;
  replayWindow?: number;
  /** Most distinct stream ids tracked with a replay window (bounds memory). Default 4096. */
  maxStreams?: number;
  reassembly?: ShardReassemblerOptions;
}

export class PacketReceiver {
  private readonly windows = new Map<bigint, ReplayWindow>();
  private readonly reassembler: ShardReassembler;
  private readonly requireToken: boolean;
  private readonly windowSize: number;
  private readonly maxStreams: number;

  constructor(options: PacketReceiverOptions = {}) {
    this.requireToken = options.requireToken ?? true;
    this.windowSize = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    this.maxStreams = options.maxStreams ?? 4096;
    this.reassembler = new ShardReassembler(options.reassembly);
  }

  /**
   * Accept one packet. Returns the payload it completes: its own data when unsharded, the whole
   * message when it was the last missing shard, otherwise null. Throws StoqError (TOKEN_*,
   * SHARD_*) for a packet that must be dropped; the receiver's state stays consistent.
   */
  accept(packet: StoqPacket, nowMs: number): Uint8Array | null {
    if (this.requireToken || packet.token !== undefined) verifyToken(packet, this.windowFor(packet.streamId));
    if (packet.shard === undefined) return packet.data;
    return this.reassembler.push({ info: packet.shard, data: packet.data }, nowMs);
  }

  /** Drop incomplete messages idle for longer than the reassembly timeout. */
  expire(nowMs: number): IncompleteMessage[] {
    return this.reassembler.expire(nowMs);
  }

  /** The sender is done: report every message still incomplete (SHARD_MISSING). */
  end(): IncompleteMessage[] {
    return this.reassembler.end();
  }

  private windowFor(streamId: bigint): ReplayWindow {
    let w = this.windows.get(streamId);
    if (!w) {
      if (this.windows.size >= this.maxStreams) {
        throw new StoqError('SHARD_LIMIT', `more than ${this.maxStreams} packet streams in flight; refusing stream ${streamId}`);
      }
      w = new ReplayWindow(this.windowSize);
      this.windows.set(streamId, w);
    }
    return w;
  }
}
