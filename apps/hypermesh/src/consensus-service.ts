// `hypermesh/consensus/*` over STOQ (libs/protos/proto/hypermesh.proto): decode → validator →
// encode. `stream` is for validators only; submit, status, block and watch for any
// authenticated peer (docs/hypermesh-api.md).
import type { CommittedBlock, QuorumCertificate, Signer } from '@stoq/consensus';
import { encodeCommittedBlock } from '@stoq/consensus';
import { hypermesh as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import type { LoadedGenesis } from './genesis';
import type { ValidatorNetwork } from './network/validator-network';
import { decodeOperation, operationIdProblem, type Operation } from './operations';
import { committedOrThrow } from './submit-outcome';
import type { SnapshotInfo, ValidatorStore } from './store/validator-store';
import { manifestSigningBytes } from './sync/snapshot-choice';
import type { Validator } from './validator';

const M = proto.ConsensusMethods;
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Bytes per snapshot_chunk answer (well under the RPC message limit). */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

export function qcMessage(qc: QuorumCertificate): proto.QuorumCertificate {
  return { view: qc.view, height: qc.height, blockHash: qc.blockHash, signatures: qc.signatures.map((s) => ({ validator: s.validator, signature: s.signature })) };
}

export function blockMessage(c: CommittedBlock): proto.CommittedBlock {
  const b = c.block;
  return {
    height: b.height,
    hash: c.hash,
    view: b.view,
    proposer: b.proposer,
    parentHash: b.parentHash,
    justify: qcMessage(b.justify),
    operations: b.payload.map((bytes) => operationMessage(decodeOperation(bytes), bytes)),
    qc: qcMessage(c.qc),
    encoded: encodeCommittedBlock(c),
  };
}

/** An operation as CommittedBlock shows it (bytes that are not an Operation: empty id, raw payload). */
function operationMessage(op: Operation | null, bytes: Uint8Array): proto.Operation {
  if (!op) return { operationId: '', payload: bytes };
  const m = proto.OperationType.decode(bytes) as unknown as proto.Operation;
  return { ...m, operationId: op.operationId };
}

function height(v: number | proto.Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v.toString());
}

export interface ConsensusServiceDeps {
  validator: Validator;
  network: ValidatorNetwork;
  store: ValidatorStore;
  genesis: LoadedGenesis;
  instance: string;
  /** This validator's FALCON signer (snapshot manifests). */
  signer: Signer;
}

export function addConsensusMethods(rpc: RpcServer, d: ConsensusServiceDeps): void {
  rpc.addMethod(
    M.stream,
    async function* (requests, ctx) {
      const from = d.network.authenticate(ctx.peer, ctx.remoteAddress);
      let accepted = 0;
      let rejected = 0;
      const it = requests[Symbol.asyncIterator]();
      const closed = d.validator.closing.then(() => null);
      for (;;) {
        const next = await Promise.race([it.next(), closed]);
        if (next === null || next.done) break;
        const env = next.value;
        let ok = true;
        if (env.message && env.message.byteLength > 0) ok = d.validator.onPeerMessage(from, env.message) && ok;
        if (env.forwardedOperation && env.forwardedOperation.byteLength > 0) ok = d.validator.onForwardedOperation(from, env.forwardedOperation) && ok;
        if (ok) accepted++;
        else rejected++;
      }
      yield { accepted, rejected };
    },
    { authorize: ['hypermesh'] },
  );

  rpc.addMethod(
    M.submit,
    async (req, ctx) => {
      const operationId = req.operationId ?? '';
      const problem = operationIdProblem(operationId);
      if (problem) throw new RpcError(Status.INVALID_ARGUMENT, problem);
      const payload = req.payload ?? new Uint8Array(0);
      if (payload.byteLength > MAX_PAYLOAD_BYTES) throw new RpcError(Status.INVALID_ARGUMENT, `payload of ${payload.byteLength} bytes is larger than ${MAX_PAYLOAD_BYTES}`);
      if (d.validator.stopped) throw new RpcError(Status.UNAVAILABLE, 'the validator is stopping');
      const out = committedOrThrow(await d.validator.submit(operationId, payload, ctx.signal));
      return { height: out.height, blockHash: out.blockHash, qc: qcMessage(out.qc), duplicate: out.duplicate };
    },
    { authorize: 'any-authenticated' },
  );

  rpc.addMethod(
    M.status,
    () => {
      const s = d.validator.status();
      const leader = d.genesis.validators[s.leader]!;
      return {
        chainId: d.genesis.chainId,
        self: s.self,
        instance: d.instance,
        view: s.view,
        leader: s.leader,
        leaderInstance: leader.instance,
        // The store's tip, not the replica's: a block the replica committed is readable through
        // consensus/block only once its commit effect ran (it may wait behind a WAL sync).
        committedHeight: d.store.committedHeight,
        committedHash: d.store.committedHash,
        highQcView: s.highQcView,
        lockedQcView: s.lockedQcView,
        lastVotedView: s.lastVotedView,
        mempoolSize: s.mempoolSize,
        validators: d.genesis.validators.map((v) => ({ id: v.id, instance: v.instance, falconPublicKey: v.falconPublicKey, weight: v.weight, connected: d.network.isConnected(v.id) })),
      };
    },
    { authorize: 'any-authenticated' },
  );

  rpc.addMethod(
    M.block,
    (req) => {
      const h = height(req.height);
      if (!Number.isSafeInteger(h) || h < 1) throw new RpcError(Status.INVALID_ARGUMENT, 'height must be 1 or more');
      const c = d.store.block(h);
      if (!c) throw new RpcError(Status.NOT_FOUND, `no committed block at height ${h} (committed height ${d.store.committedHeight})`);
      return blockMessage(c);
    },
    { authorize: 'any-authenticated' },
  );

  rpc.addMethod(
    M.snapshot,
    (req, ctx) => {
      d.network.validatorOf(ctx.peer); // the consensus stream, not these calls, tells where a validator is
      const h = height(req.height);
      const info = h === 0 ? d.store.latestSnapshot() : d.store.snapshotAt(h);
      if (!info) return { height: 0, blockHash: '', digest: '', size: 0, chunkSize: 0, validator: d.signer.validator, signature: new Uint8Array(0) };
      return manifestMessage(d, info);
    },
    { authorize: ['hypermesh'] },
  );

  rpc.addMethod(
    M.snapshotChunk,
    (req, ctx) => {
      d.network.validatorOf(ctx.peer); // the consensus stream, not these calls, tells where a validator is
      const h = height(req.height);
      const index = req.index ?? 0;
      const info = d.store.snapshotAt(h);
      if (!info) throw new RpcError(Status.NOT_FOUND, `no snapshot at height ${h} (this validator keeps ${d.store.latestSnapshot()?.height ?? 'none'} and the one before it)`);
      const offset = index * SNAPSHOT_CHUNK_BYTES;
      if (offset >= info.size) throw new RpcError(Status.OUT_OF_RANGE, `chunk ${index} starts at byte ${offset}; the snapshot has ${info.size} bytes`);
      return { data: d.store.snapshotBytes(h, offset, SNAPSHOT_CHUNK_BYTES) ?? new Uint8Array(0) };
    },
    { authorize: ['hypermesh'] },
  );

  rpc.addMethod(
    M.watch,
    (req, ctx) => watchBlocks(d, Math.max(height(req.fromHeight), d.store.oldestHeight, 1), ctx.signal),
    { authorize: 'any-authenticated' },
  );
}

function manifestMessage(d: ConsensusServiceDeps, info: SnapshotInfo): proto.SnapshotManifest {
  const signature = d.signer.sign(manifestSigningBytes(d.genesis.validatorSet.chainTag, info));
  return { height: info.height, blockHash: info.blockHash, digest: info.digest, size: info.size, chunkSize: SNAPSHOT_CHUNK_BYTES, validator: d.signer.validator, signature };
}

/** Committed blocks from `from` on, read from the block log; waits for new commits at the tip. */
async function* watchBlocks(d: ConsensusServiceDeps, from: number, signal: AbortSignal): AsyncGenerator<proto.CommittedBlock> {
  let next = from;
  const ended = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    void d.validator.closing.then(() => resolve());
  });
  while (!signal.aborted && !d.validator.stopped) {
    if (next <= d.store.committedHeight) {
      const c = d.store.block(next);
      if (!c) throw new RpcError(Status.NOT_FOUND, `block ${next} is not kept`);
      next++;
      yield blockMessage(c);
      continue;
    }
    let off: (() => void) | null = null;
    await Promise.race([new Promise<void>((r) => (off = d.validator.onCommit(() => r()))), ended]);
    (off as (() => void) | null)?.();
  }
}
