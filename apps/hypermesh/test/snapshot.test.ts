// Snapshots, pruning and state sync: the snapshot bytes are canonical (every validator writes the
// same digest at a height), the block log stays bounded but keeps what audit and the reward
// reporter need, and a validator that was down while the others pruned comes back through a
// snapshot vouched for by f+1 validators, then holds exactly the others' state.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeBlockHash, initialSafetyState, type Block, type CommittedBlock, type QuorumCertificate } from '@stoq/consensus';
import { nativeFalcon } from '@stoq/core';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import pino from 'pino';
import { isHyperMeshError } from '../src/errors';
import { falconSigner } from '../src/falcon-signatures';
import { encodeOperation, type Operation } from '../src/operations';
import { decodeSnapshot, encodeSnapshot, SnapshotFormatError } from '../src/store/snapshot-format';
import { ValidatorStore } from '../src/store/validator-store';
import { chooseSnapshot, manifestSigningBytes, type SignedManifest } from '../src/sync/snapshot-choice';
import { fetchSnapshot, stateSync, type SnapshotSource } from '../src/sync/state-sync';
import { falconKeys, identityOf, N, TestCluster, validatorSet } from './cluster';

jest.setTimeout(120_000);
const logger = pino({ level: 'silent' });
const verifier = falconSignatureVerifier(nativeFalcon);

describe('snapshot format', () => {
  const header = { chainTag: 'ab'.repeat(32), height: 10, blockHash: 'cd'.repeat(32) };
  const rows = {
    operations: [['op-a', 3], ['op-b', 10]] as const,
    assets: [['asset-1', 'node', 'alice', '{"k":"v"}', 3, 10]] as const,
    results: [['op-a', '{"outcome":"applied","asset":null}']] as const,
    sequences: [['0a0b', '7']] as const,
    blockHashes: [[8, '11'.repeat(32)], [9, '22'.repeat(32)]] as const,
  };

  test('reads a format 1 snapshot (no block hash rows)', () => {
    const v2 = encodeSnapshot(header, { ...rows, blockHashes: [] });
    const d = decodeSnapshot(Buffer.from(v2.toString('utf8').replace('hypermesh-snapshot/2', 'hypermesh-snapshot/1')));
    expect(d.header.format).toBe('hypermesh-snapshot/1');
    expect(d.blockHashes).toEqual([]);
    expect(d.sequences).toEqual(rows.sequences);
  });

  test('decodes what it encodes, byte for byte the same on a second encoding', () => {
    const bytes = encodeSnapshot(header, rows);
    const d = decodeSnapshot(bytes);
    expect(d.header).toEqual({ format: 'hypermesh-snapshot/2', ...header });
    expect(d.operations).toEqual(rows.operations);
    expect(d.assets).toEqual(rows.assets);
    expect(d.blockHashes).toEqual(rows.blockHashes);
    expect(encodeSnapshot(d.header, d).equals(bytes)).toBe(true);
  });

  test.each([
    ['a truncated snapshot', (b: Buffer) => b.subarray(0, b.byteLength - 5), /newline/],
    ['rows out of key order', () => encodeSnapshot(header, { ...rows, operations: [['op-b', 3], ['op-a', 3]] }), /ascending/],
    ['a duplicate key', () => encodeSnapshot(header, { ...rows, operations: [['op-a', 3], ['op-a', 3]] }), /ascending/],
    ['an operation above the snapshot height', () => encodeSnapshot(header, { ...rows, operations: [['op-a', 11]] }), /height ≤ 10/],
    ['a section out of order', (b: Buffer) => Buffer.concat([b, Buffer.from('["o","zz",1]\n')]), /after a later section/],
    ['garbage', () => Buffer.from('{"format":"hypermesh-snapshot/1","chainTag":"x","height":1,"blockHash":"y"}\nnot json\n'), /line 2 is not JSON/],
    ['another format', () => Buffer.from('{"format":"other"}\n'), /header/],
    ['a block hash at or above the snapshot height', () => encodeSnapshot(header, { ...rows, blockHashes: [[10, '11'.repeat(32)]] }), /block hash row/],
    ['block hashes out of height order', () => encodeSnapshot(header, { ...rows, blockHashes: [[9, '11'.repeat(32)], [8, '22'.repeat(32)]] }), /ascending/],
    ['a block hash that is not 64 hex digits', () => encodeSnapshot(header, { ...rows, blockHashes: [[9, 'xyz']] }), /block hash row/],
    ['block hash rows in a format 1 snapshot', (b: Buffer) => Buffer.from(b.toString('utf8').replace('hypermesh-snapshot/2', 'hypermesh-snapshot/1')), /format hypermesh-snapshot\/2 only/],
  ])('refuses %s, naming what is wrong', (_what, make, message) => {
    const bytes = make(encodeSnapshot(header, rows));
    expect(() => decodeSnapshot(bytes)).toThrow(SnapshotFormatError);
    expect(() => decodeSnapshot(bytes)).toThrow(message);
  });
});

describe('store: snapshots and pruning', () => {
  const set = validatorSet();
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'hypermesh-snap-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A chain of committed blocks (QCs unsigned: the store checks the chain, not signatures). */
  function chain(n: number, ops: (height: number) => Operation[]): CommittedBlock[] {
    const out: CommittedBlock[] = [];
    let parent = set.genesisBlockHash;
    let justify: QuorumCertificate = set.genesisQc;
    for (let h = 1; h <= n; h++) {
      const block: Block = { height: h, view: h, proposer: h % N, parentHash: parent, justify, payload: ops(h).map(encodeOperation) };
      const hash = computeBlockHash(set.chainTag, block);
      const qc = { view: h, height: h, blockHash: hash, signatures: [] };
      out.push({ block, hash, qc });
      parent = hash;
      justify = qc;
    }
    return out;
  }
  const register = (h: number): Operation => ({ operationId: `reg-${h}`, body: { kind: 'asset.register', assetId: `asset-${h}`, assetKind: 'node', owner: `owner-${h % 3}`, attributes: { h: String(h) } } });
  const validation = (h: number): Operation => ({ operationId: `val-${h}`, body: { kind: 'certificate.validate', csrHash: new Uint8Array(32).fill(h), keyBinding: new Uint8Array(32), proofHash: new Uint8Array(32), proofSet: new Uint8Array([1, 2, 3]) } });

  test('keeps the newest blocks, the snapshot base and validation blocks; answers pruned ids by height', async () => {
    const { store } = ValidatorStore.open(dir, set, identityOf(0), undefined, { snapshotEvery: 10, retainBlocks: 15, keepUnreported: false });
    await store.persist(initialSafetyState(set.genesisQc), []); // a validator persists before anything commits
    const blocks = chain(200, (h) => (h === 7 ? [validation(h)] : h % 4 === 0 ? [register(h)] : []));
    for (const c of blocks) store.appendCommitted(c, c.block.payload.length ? [h2op(c.block.height)] : []);
    function h2op(h: number): Operation {
      return h === 7 ? validation(h) : register(h);
    }
    expect(store.latestSnapshot()?.height).toBe(200);
    expect(store.snapshotAt(190)).not.toBeNull();
    expect(store.snapshotAt(180)).toBeNull(); // the newest two are kept
    // Pruned a few per commit until only the newest 15 remain below the tip.
    expect(store.oldestHeight).toBe(186);
    expect(store.block(185)).toBeNull();
    expect(store.block(186)?.hash).toBe(blocks[185]!.hash);
    expect(store.block(7)?.hash).toBe(blocks[6]!.hash); // carries a certificate validation: kept for audit
    expect(store.operationHeight('reg-8')).toBe(8); // idempotency survives pruning
    expect(store.asset('asset-8')?.owner).toBe('owner-2');
    store.close();
    // Reopened: the log starts at 186 and still chains.
    const again = ValidatorStore.open(dir, set, identityOf(0), undefined, { snapshotEvery: 10, retainBlocks: 15, keepUnreported: false });
    expect(again.store.oldestHeight).toBe(186);
    expect(again.store.committedHeight).toBe(200);
    again.store.close();
  });

  test('does not prune what the reward reporter has not settled', () => {
    const { store } = ValidatorStore.open(dir, set, identityOf(0), undefined, { snapshotEvery: 10, retainBlocks: 5, keepUnreported: true });
    store.reporting.setRewardCursor(40);
    for (const c of chain(100, () => [])) store.appendCommitted(c, []);
    expect(store.oldestHeight).toBe(41);
    store.close();
  });

  test('two stores that commit the same blocks write the same snapshot bytes', () => {
    const blocks = chain(30, (h) => (h % 3 === 0 ? [register(h)] : []));
    const digests = [0, 1].map((id) => {
      const { store } = ValidatorStore.open(join(dir, `v${id}`), set, identityOf(id), undefined, { snapshotEvery: 10, retainBlocks: 100, keepUnreported: false });
      for (const c of blocks) store.appendCommitted(c, c.block.height % 3 === 0 ? [register(c.block.height)] : []);
      const d = store.latestSnapshot()!.digest;
      store.close();
      return d;
    });
    expect(digests[0]).toBe(digests[1]);
  });

  test('refuses a snapshot that is not above its own committed height, or not of the block given', () => {
    const blocks = chain(30, (h) => [register(h)]);
    const src = ValidatorStore.open(join(dir, 'src'), set, identityOf(1), undefined, { snapshotEvery: 10, retainBlocks: 100, keepUnreported: false }).store;
    for (const c of blocks) src.appendCommitted(c, [register(c.block.height)]);
    const info = src.snapshotAt(20)!;
    const data = src.snapshotBytes(20, 0, info.size)!;
    const dst = ValidatorStore.open(join(dir, 'dst'), set, identityOf(0), undefined, { snapshotEvery: 10, retainBlocks: 100, keepUnreported: false }).store;
    for (const c of blocks.slice(0, 25)) dst.appendCommitted(c, [register(c.block.height)]);
    const refusal = (() => {
      try {
        dst.installSnapshot(data, blocks[19]!);
        return null;
      } catch (err) {
        return err;
      }
    })();
    expect(isHyperMeshError(refusal, 'SNAPSHOT_INVALID')).toBe(true);
    expect((refusal as Error).message).toMatch(/already committed height 25/);
    expect(dst.committedHeight).toBe(25);
    const fresh = ValidatorStore.open(join(dir, 'fresh'), set, identityOf(2), undefined, { snapshotEvery: 10, retainBlocks: 100, keepUnreported: false }).store;
    expect(() => fresh.installSnapshot(data, blocks[20]!)).toThrow(/does not name the block/);
    const installed = fresh.installSnapshot(data, blocks[19]!);
    expect(installed.digest).toBe(info.digest);
    expect(fresh.committedHeight).toBe(20);
    expect(fresh.asset('asset-20')?.createdHeight).toBe(20);
    expect(fresh.asset('asset-21')).toBeUndefined();
    expect(fresh.restoredState()?.committed.map((c) => c.block.height)).toEqual([20]);
    for (const s of [src, dst, fresh]) s.close();
  });
  test('a download refuses a source whose own chunk size would take more than 8,192 calls, before any call, and moves to the next voucher', async () => {
    const blocks = chain(100, (h) => [register(h)]);
    const src = ValidatorStore.open(join(dir, 'src'), set, identityOf(1), undefined, { snapshotEvery: 100, retainBlocks: 1000, keepUnreported: false }).store;
    for (const c of blocks) src.appendCommitted(c, [register(c.block.height)]);
    const info = src.snapshotAt(100)!;
    expect(info.size).toBeGreaterThan(8192); // so a 1-byte chunk size means more than 8,192 calls
    const keys = falconKeys();
    const calls: string[] = [];
    const source = (id: number, chunkSize: number): SnapshotSource => ({
      validator: id,
      async manifest() {
        const m = { height: info.height, blockHash: info.blockHash, digest: info.digest, size: info.size, chunkSize };
        return { ...m, validator: id, signature: nativeFalcon.sign(keys[id]!.secretKey, manifestSigningBytes(set.chainTag, m)) };
      },
      async chunk(height, index) {
        calls.push(`chunk ${id}`);
        return src.snapshotBytes(height, index * chunkSize, chunkSize)!;
      },
      async block(height) {
        calls.push(`block ${id}`);
        return src.blockRecord(height)!;
      },
    });
    const r = await fetchSnapshot({ set, verifier, sources: [source(1, 1), source(2, 4096)], minGap: 10, logger, committedHeight: 0 });
    // Validator 2's download completes; its block then fails the QC check (this chain's QCs are unsigned).
    expect(r).toEqual({ reason: expect.stringMatching(/validator 1: its chunk size of 1 bytes would take more than 8192 calls; validator 2: its block 100/) });
    expect(calls.filter((c) => c.endsWith(' 1'))).toEqual([]);
    expect(calls.filter((c) => c === 'chunk 2')).toHaveLength(Math.ceil(info.size / 4096));
    src.close();
  });
});

describe('choosing a snapshot', () => {
  const set = validatorSet();
  const keys = falconKeys();
  const sign = (id: number, m: Omit<SignedManifest, 'signature' | 'validator'>): SignedManifest => ({ ...m, validator: id, signature: nativeFalcon.sign(keys[id]!.secretKey, manifestSigningBytes(set.chainTag, m)) });
  const at = (height: number, digest = 'd'.repeat(64)) => ({ height, blockHash: `h${height}`, digest, size: 100, chunkSize: 64 });

  test('needs validators of more than the faulty weight to sign the same snapshot', () => {
    expect(chooseSnapshot([sign(1, at(100))], set, verifier, 0, 10)).toBeNull();
    expect(chooseSnapshot([sign(1, at(100)), sign(2, at(100, 'e'.repeat(64)))], set, verifier, 0, 10)).toBeNull();
    const c = chooseSnapshot([sign(1, at(100)), sign(2, at(100)), sign(3, at(100, 'e'.repeat(64)))], set, verifier, 0, 10);
    expect(c).toMatchObject({ height: 100, vouchers: [1, 2] });
  });

  test('ignores forged and repeated manifests, and snapshots too close to its own height', () => {
    const forged = { ...sign(2, at(100)), validator: 3 };
    expect(chooseSnapshot([sign(1, at(100)), forged], set, verifier, 0, 10)).toBeNull();
    expect(chooseSnapshot([sign(1, at(100)), sign(1, at(100))], set, verifier, 0, 10)).toBeNull();
    expect(chooseSnapshot([sign(1, at(100)), sign(2, at(100))], set, verifier, 95, 10)).toBeNull();
    expect(chooseSnapshot([sign(1, at(200)), sign(2, at(200)), sign(3, at(100)), sign(0, at(100))], set, verifier, 0, 10)?.height).toBe(200);
  });
});

describe('state sync in a cluster', () => {
  test('a validator down while the others pruned installs their snapshot and then holds their state', async () => {
    const policy = { snapshotEvery: 10, retainBlocks: 8, keepUnreported: false };
    const c = new TestCluster(undefined, policy);
    try {
      c.crash(3);
      let k = 0;
      const submit = (): void => {
        const op = encodeOperation({ operationId: `reg-${k}`, body: { kind: 'asset.register', assetId: `asset-${k}`, assetKind: 'compute', owner: `o${k % 2}`, attributes: { n: String(k) } } });
        k++;
        for (const n of c.nodes) n?.replica.submit(op);
      };
      for (let i = 0; i < 20; i++) submit();
      await c.run(() => c.nodes.every((n) => n === null || n.store.committedHeight >= 45));
      const live = [0, 1, 2].map((id) => c.nodes[id]!);
      expect(live.every((n) => n.store.oldestHeight > 1)).toBe(true); // pruned: block catch-up from height 0 is impossible
      // One source lies about the bytes: the digest check sends the sync to the next voucher.
      const sources: SnapshotSource[] = live.map((n) => ({
        validator: n.id,
        async manifest(height) {
          const info = height === 0 ? n.store.latestSnapshot() : n.store.snapshotAt(height);
          const m = info ? { height: info.height, blockHash: info.blockHash, digest: info.digest, size: info.size, chunkSize: 100 } : { height: 0, blockHash: '', digest: '', size: 0, chunkSize: 0 };
          return { ...m, validator: n.id, signature: falconSigner(nativeFalcon, n.id, falconKeys()[n.id]!.secretKey).sign(manifestSigningBytes(c.set.chainTag, m)) };
        },
        async chunk(height, index) {
          const part = Buffer.from(n.store.snapshotBytes(height, index * 100, 100)!);
          if (n.id === 0 && index === 0) part[0] ^= 1;
          return part;
        },
        async block(height) {
          return n.store.blockRecord(height)!;
        },
      }));
      let synced: Awaited<ReturnType<typeof stateSync>> | null = null;
      const n3 = await c.restartAfter(3, async (store) => {
        synced = await stateSync({ store, set: c.set, verifier, sources, minGap: policy.snapshotEvery, logger });
        return store.restoredState();
      });
      expect(synced).toMatchObject({ installed: { height: expect.any(Number) } });
      const base = (synced as unknown as { installed: { height: number }; from: number }).installed.height;
      expect(base).toBeGreaterThanOrEqual(40);
      expect((synced as unknown as { from: number }).from).not.toBe(0);
      expect(n3.store.committedHeight).toBe(base);
      // The snapshot brought the hashes of the blocks below it (PoTime anchors), which the
      // synced validator never held: its replica does not know them, its store does.
      for (const h of [1, base - 5, base - 1, base]) expect(n3.store.blockHashAt(h)).toBe(c.nodes[0]!.store.blockHashAt(h));
      expect(n3.store.blockHashAt(base - 5)).toMatch(/^[0-9a-f]{64}$/);
      expect(n3.replica.committedHash(base - 5)).toBeUndefined();
      for (let i = 0; i < 5; i++) submit();
      // It follows from there with ordinary blocks, and its next snapshots are the others'.
      const target = base + 2 * policy.snapshotEvery;
      await c.run(() => c.nodes.every((n) => n!.store.committedHeight >= target));
      const digests = c.nodes.map((n) => n!.store.snapshotAt(target - (target % policy.snapshotEvery))!.digest);
      expect(new Set(digests).size).toBe(1);
      expect(n3.store.assets({ limit: 100 })).toEqual(c.nodes[0]!.store.assets({ limit: 100 }));
      expect(n3.store.assets({ limit: 100 }).length).toBe(25);
      for (const n of c.nodes) expect(n!.fatal).toEqual([]);
    } finally {
      c.close();
    }
  });

  test('nothing to install: peers without snapshots, or not far enough ahead', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypermesh-nosync-'));
    const set = validatorSet();
    const { store } = ValidatorStore.open(dir, set, identityOf(0));
    const none: SnapshotSource = { validator: 1, manifest: async () => ({ height: 0, blockHash: '', digest: '', size: 0, chunkSize: 0, validator: 1, signature: new Uint8Array(0) }), chunk: async () => new Uint8Array(0), block: async () => new Uint8Array(0) };
    const down: SnapshotSource = { ...none, validator: 2, manifest: async () => Promise.reject(new Error('unreachable')) };
    const r = await stateSync({ store, set, verifier, sources: [none, down], minGap: 10, logger });
    expect(r).toEqual({ installed: null, reason: expect.stringMatching(/no snapshot at least 10 blocks above height 0 .*1 of 2 peers answered/) });
    expect(store.committedHeight).toBe(0);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
