// State sync: before its replica starts, a validator whose committed height is far below what
// the others have snapshotted installs a snapshot instead of replaying blocks (which the others
// may have pruned, and which a replica could only fetch 64 at a time into memory). The choice is
// sync/snapshot-choice.ts; the bytes must hash to the vouched digest, and the snapshot's block
// must come with a QC of this chain. The replica then catches up from the snapshot's height with
// ordinary block requests.
import { verifyCommittedBlock, type CommittedBlock, type SignatureVerifier, type ValidatorSet } from '@stoq/consensus';
import type { Logger } from 'pino';
import type { SnapshotInfo, ValidatorStore } from '../store/validator-store';
import { MAX_SNAPSHOT_BYTES, snapshotDigest } from '../store/snapshot-format';
import { chooseSnapshot, type SignedManifest, type SnapshotChoice } from './snapshot-choice';

/** One other validator, as the sync sees it (over STOQ in production: sync/rpc-sources.ts). */
export interface SnapshotSource {
  readonly validator: number;
  /** Its signed manifest of the snapshot at `height` (0: its newest). */
  manifest(height: number): Promise<SignedManifest>;
  chunk(height: number, index: number): Promise<Uint8Array>;
  /** encodeCommittedBlock of its committed block at `height`. */
  block(height: number): Promise<Uint8Array>;
}

export interface StateSyncOptions {
  store: ValidatorStore;
  set: ValidatorSet;
  verifier: SignatureVerifier;
  sources: readonly SnapshotSource[];
  /** Install only a snapshot at least this far above the committed height. */
  minGap: number;
  logger: Logger;
}

export type StateSyncResult =
  | { installed: SnapshotInfo; from: number }
  /** Nothing installed, and why (no vouched snapshot far enough ahead, or every download failed). */
  | { installed: null; reason: string };

/** Most chunk calls one download may take (512 at the 1 MiB chunks validators serve, for the largest snapshot). */
const MAX_CHUNKS = 8192;

const settledValues = async <T>(ps: Promise<T>[]): Promise<T[]> => (await Promise.allSettled(ps)).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));

/** A snapshot downloaded and checked (bytes against the vouched digest, block against its QC), not yet installed. */
export interface FetchedSnapshot {
  data: Buffer;
  committed: CommittedBlock;
  from: number;
}

/** Finds the snapshot to trust and downloads it; installs nothing. */
export async function fetchSnapshot(o: Omit<StateSyncOptions, 'store'> & { committedHeight: number }): Promise<FetchedSnapshot | { reason: string }> {
  const own = o.committedHeight;
  const newest = await settledValues(o.sources.map((s) => s.manifest(0)));
  let choice = chooseSnapshot(newest, o.set, o.verifier, own, o.minGap);
  if (choice === null) {
    // Peers at different newest snapshots (one just passed an interval): each keeps its previous
    // one too, so ask everyone for each height some peer named, highest first.
    const heights = [...new Set(newest.map((m) => m.height))].filter((h) => h >= own + o.minGap).sort((a, b) => b - a);
    for (const h of heights) {
      choice = chooseSnapshot(await settledValues(o.sources.map((s) => s.manifest(h))), o.set, o.verifier, own, o.minGap);
      if (choice) break;
    }
  }
  if (choice === null) return { reason: `no snapshot at least ${o.minGap} blocks above height ${own} is vouched for by validators of more than the faulty weight (${newest.length} of ${o.sources.length} peers answered)` };
  o.logger.info({ height: choice.height, blockHash: choice.blockHash, digest: choice.digest, size: choice.size, vouchers: choice.vouchers, committedHeight: own }, 'state sync: downloading a snapshot');
  const failures: string[] = [];
  for (const v of choice.vouchers) {
    const source = o.sources.find((s) => s.validator === v);
    if (!source) continue;
    try {
      const data = await download(source, choice, choice.chunkSizes.get(v)!);
      const proof = verifyCommittedBlock(await source.block(choice.height), o.set, o.verifier);
      if (!proof.ok) throw new Error(`its block ${choice.height}: ${proof.rejection.detail}`);
      if (proof.committed.hash !== choice.blockHash) throw new Error(`its block ${choice.height} is ${proof.committed.hash.slice(0, 16)}, the vouched one is ${choice.blockHash.slice(0, 16)}`);
      return { data, committed: proof.committed, from: v };
    } catch (err) {
      failures.push(`validator ${v}: ${(err as Error).message}`);
      o.logger.warn({ from: v, err: (err as Error).message }, 'state sync: download from this validator failed');
    }
  }
  return { reason: `every download of the snapshot at ${choice.height} failed: ${failures.join('; ')}` };
}

/** Before the replica starts: fetch and install (what serve does at startup). */
export async function stateSync(o: StateSyncOptions): Promise<StateSyncResult> {
  const fetched = await fetchSnapshot({ ...o, committedHeight: o.store.committedHeight });
  if ('reason' in fetched) return { installed: null, reason: fetched.reason };
  const installed = o.store.installSnapshot(fetched.data, fetched.committed);
  await o.store.sync();
  o.logger.info({ height: installed.height, digest: installed.digest, from: fetched.from, bytes: installed.size }, 'state sync: snapshot installed');
  return { installed, from: fetched.from };
}

async function download(source: SnapshotSource, c: SnapshotChoice, chunkSize: number): Promise<Buffer> {
  if (c.size > MAX_SNAPSHOT_BYTES) throw new Error(`the snapshot is ${c.size} bytes, more than ${MAX_SNAPSHOT_BYTES}`);
  // The chunk size is the source's own (not vouched for): a tiny one would make it a call per byte.
  if (Math.ceil(c.size / chunkSize) > MAX_CHUNKS) throw new Error(`its chunk size of ${chunkSize} bytes would take more than ${MAX_CHUNKS} calls`);
  const parts: Buffer[] = [];
  let got = 0;
  for (let i = 0; got < c.size; i++) {
    const data = await source.chunk(c.height, i);
    const expected = Math.min(chunkSize, c.size - got);
    if (data.byteLength !== expected) throw new Error(`chunk ${i} is ${data.byteLength} bytes, expected ${expected}`);
    parts.push(Buffer.from(data));
    got += data.byteLength;
  }
  const bytes = Buffer.concat(parts, got);
  const digest = snapshotDigest(bytes);
  if (digest !== c.digest) throw new Error(`the bytes hash to ${digest.slice(0, 16)}, the vouched digest is ${c.digest.slice(0, 16)}`);
  return bytes;
}
