// Seeding (replication) metadata and deterministic replica selection by rendezvous hashing
// (highest random weight, Thaler & Ravishankar 1998): each candidate's weight is
// SHA-256(u32 BE seed length || seed || candidate); the n heaviest win. Every node that knows the
// same candidates and seed picks the same peers, and adding or removing one candidate moves only
// the replicas that candidate held.

import { createHash } from 'node:crypto';
import { StoqError } from '../errors';
import { checkIpv6Bytes, formatIpv6 } from './ipv6';
import { toU64 } from './u64';

/** Largest fan-out accepted in a SeedInfo. */
export const MAX_SEED_FAN_OUT = 64;

/** The `stoq.v1.SeedInfo` message. */
export interface SeedInfo {
  /** 16-byte IPv6 address of the originating node. */
  readonly origin: Uint8Array;
  /** Replicas wanted, 1..MAX_SEED_FAN_OUT. */
  readonly fanOut: number;
  /** 16-byte IPv6 addresses chosen to hold replicas; at most fanOut, distinct, never origin. */
  readonly replicaPeers: readonly Uint8Array[];
  /** Replication round; higher supersedes lower. */
  readonly generation: bigint;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * The `n` candidates with the highest rendezvous weight for `seedBytes` (e.g. the content hash
 * of the data being replicated), heaviest first. Duplicate candidates count once; fewer than
 * `n` distinct candidates returns them all. Candidates are opaque bytes (IPv6 addresses in
 * SeedInfo).
 */
export function selectSeedPeers(candidates: readonly Uint8Array[], n: number, seedBytes: Uint8Array): Uint8Array[] {
  if (!Number.isInteger(n) || n < 0) throw new StoqError('INVALID_ARGUMENT', `seed fan-out must be a non-negative integer, got ${n}`);
  const prefix = new Uint8Array(4 + seedBytes.length);
  new DataView(prefix.buffer).setUint32(0, seedBytes.length);
  prefix.set(seedBytes, 4);
  const distinct = new Map<string, Uint8Array>();
  for (const c of candidates) distinct.set(hex(c), c);
  const weighted = [...distinct.values()].map((candidate) => ({
    candidate,
    weight: createHash('sha256').update(prefix).update(candidate).digest(),
  }));
  // Heaviest first; equal weights (impossible short of a SHA-256 collision) fall back to bytes.
  weighted.sort((a, b) => compareBytes(b.weight, a.weight) || compareBytes(a.candidate, b.candidate));
  return weighted.slice(0, n).map((w) => w.candidate);
}

export interface CreateSeedInfoOptions {
  origin: Uint8Array;
  /** Addresses that could hold a replica; origin is excluded automatically. */
  candidates: readonly Uint8Array[];
  fanOut: number;
  /** Selection seed, normally the SHA-256 of the data being replicated. */
  seedBytes: Uint8Array;
  generation?: bigint | number;
}

/** A valid SeedInfo with replica peers chosen by `selectSeedPeers`. */
export function createSeedInfo(options: CreateSeedInfoOptions): SeedInfo {
  checkIpv6Bytes(options.origin, 'seed origin');
  options.candidates.forEach((c, i) => checkIpv6Bytes(c, `seed candidate ${i}`));
  const originHex = hex(options.origin);
  const others = options.candidates.filter((c) => hex(c) !== originHex);
  const info: SeedInfo = {
    origin: options.origin,
    fanOut: options.fanOut,
    replicaPeers: selectSeedPeers(others, options.fanOut, options.seedBytes),
    generation: toU64(options.generation ?? 0n, 'seed generation'),
  };
  validateSeedInfo(info);
  return info;
}

/**
 * Checks a SeedInfo: fan-out in 1..MAX_SEED_FAN_OUT (SEED_INVALID), addresses 16-byte
 * non-mapped IPv6 (INVALID_ADDRESS / IPV4_REFUSED), replica peers at most fan-out, distinct and
 * not the origin (SEED_INVALID).
 */
export function validateSeedInfo(info: SeedInfo): void {
  if (!Number.isInteger(info.fanOut) || info.fanOut < 1 || info.fanOut > MAX_SEED_FAN_OUT) {
    throw new StoqError('SEED_INVALID', `seed_info.fan_out must be in 1..${MAX_SEED_FAN_OUT}, got ${info.fanOut}`);
  }
  checkIpv6Bytes(info.origin, 'seed_info.origin');
  if (info.replicaPeers.length > info.fanOut) {
    throw new StoqError('SEED_INVALID', `seed_info lists ${info.replicaPeers.length} replica peers for fan_out ${info.fanOut}`);
  }
  const originHex = hex(info.origin);
  const seen = new Set<string>();
  info.replicaPeers.forEach((peer, i) => {
    checkIpv6Bytes(peer, `seed_info.replica_peers[${i}]`);
    const h = hex(peer);
    if (h === originHex) throw new StoqError('SEED_INVALID', `seed_info.replica_peers[${i}] is the origin ${formatIpv6(peer)}`);
    if (seen.has(h)) throw new StoqError('SEED_INVALID', `seed_info.replica_peers[${i}] ${formatIpv6(peer)} is listed twice`);
    seen.add(h);
  });
  toU64(info.generation, 'seed_info.generation');
}
