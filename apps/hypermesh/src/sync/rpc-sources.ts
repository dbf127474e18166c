// The other validators as state-sync sources, over STOQ: `hypermesh/consensus/snapshot`,
// `snapshot_chunk` and `block`, each sent to that validator's address (genesis or DNS).
import type { ValidatorId } from '@stoq/consensus';
import type { Ipv6Endpoint } from '@stoq/core';
import { hypermesh as proto } from '@stoq/protos';
import type { RpcClient } from '@stoq/rpc';
import type { GenesisValidator } from '../genesis';
import type { ValidatorDirectory } from '../network/validator-directory';
import type { SignedManifest } from './snapshot-choice';
import type { SnapshotSource } from './state-sync';

const M = proto.ConsensusMethods;
/** A manifest is small: a validator that is down must not hold up the start for long. */
const MANIFEST_TIMEOUT_MS = 2_000;
/** A chunk is 1 MiB: a validator that cannot send it in this long is not a good source. */
const CHUNK_TIMEOUT_MS = 15_000;

const num = (v: number | proto.Long | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : Number(v.toString()));

export function rpcSnapshotSources(client: RpcClient, directory: ValidatorDirectory, peers: readonly GenesisValidator[]): SnapshotSource[] {
  return peers.map((v) => {
    const target = async (timeoutMs = CHUNK_TIMEOUT_MS): Promise<{ target: Ipv6Endpoint; timeoutMs: number }> => {
      const at = await directory.locate(v);
      if (!at) throw new Error(`validator ${v.id} (${v.instance}) has no address in genesis or DNS`);
      return { target: at, timeoutMs };
    };
    return {
      validator: v.id as ValidatorId,
      async manifest(height: number): Promise<SignedManifest> {
        const m = await client.call(M.snapshot, { height }, await target(MANIFEST_TIMEOUT_MS));
        return { height: num(m.height), blockHash: m.blockHash ?? '', digest: m.digest ?? '', size: num(m.size), chunkSize: m.chunkSize ?? 0, validator: m.validator ?? -1, signature: m.signature ?? new Uint8Array(0) };
      },
      async chunk(height: number, index: number): Promise<Uint8Array> {
        return (await client.call(M.snapshotChunk, { height, index }, await target())).data ?? new Uint8Array(0);
      },
      async block(height: number): Promise<Uint8Array> {
        return (await client.call(M.block, { height }, await target())).encoded ?? new Uint8Array(0);
      },
    };
  });
}
