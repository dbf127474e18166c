// STOQ packet extensions (token, shard, hop_info, seed_info) and the StoqPacket codec.
export {
  DEFAULT_MAX_PACKET_BYTES,
  STOQ_PACKET_PROTO_PATH,
  decodeStoqPacket,
  encodeStoqPacket,
  type DecodeStoqPacketOptions,
  type StoqPacket,
} from './codec';
export {
  DEFAULT_REPLAY_WINDOW,
  MAX_REPLAY_WINDOW,
  ReplayWindow,
  TOKEN_DIGEST_LENGTH,
  computeToken,
  computeTokens,
  tokenPreimage,
  verifyToken,
  type BatchHasher,
  type ReplayVerdict,
  type ReplayWindowStats,
  type Token,
  type TokenInput,
  type TokenizedPacket,
} from './token';
export {
  SHARD_HASH_LENGTH,
  ShardReassembler,
  shardInfoProblem,
  shardMessage,
  shardRange,
  type IncompleteMessage,
  type Shard,
  type ShardInfo,
  type ShardReassemblerOptions,
} from './shard';
export { DEFAULT_HOP_LIMIT, MAX_HOP_LIMIT, appendHop, createHopInfo, hasVisited, validateHopInfo, type HopInfo } from './hop';
export {
  MAX_SEED_FAN_OUT,
  createSeedInfo,
  selectSeedPeers,
  validateSeedInfo,
  type CreateSeedInfoOptions,
  type SeedInfo,
} from './seed';
export {
  IPV6_LENGTH,
  checkIpv6Bytes,
  formatIpv6,
  isIpv4Mapped,
  parseIpv6,
  parseIpv6Endpoint,
  type Ipv6SocketAddress,
} from './ipv6';
export { U64_MAX } from './u64';
export { PacketReceiver, type PacketReceiverOptions } from './receiver';
