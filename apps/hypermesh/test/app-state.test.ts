// The application state: applyOperation (pure, deterministic) and the registry tables written in
// the block's own transaction (durable with the block log, applied once per operation id).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeBlockHash, type Block, type CommittedBlock } from '@stoq/consensus';
import { nativeFalcon } from '@stoq/core';
import { createPlot, encodeFourProofSet, generateFourProofSet, signStakeAttestationWith } from '@stoq/four-proof';
import { applyOperation, type AppState, type AssetRecord } from '../src/app/apply';
import { encodeOperation, type Operation } from '../src/operations';
import { ValidatorStore } from '../src/store/validator-store';
import { identityOf, validatorSet } from './cluster';

class MemoryState implements AppState {
  readonly assets = new Map<string, AssetRecord>();
  readonly sequences = new Map<string, bigint>();
  lastSequence(nodeId: Uint8Array): bigint | undefined {
    return this.sequences.get(Buffer.from(nodeId).toString('hex'));
  }
  putSequence(nodeId: Uint8Array, s: bigint): void {
    this.sequences.set(Buffer.from(nodeId).toString('hex'), s);
  }
  getAsset(id: string): AssetRecord | undefined {
    return this.assets.get(id);
  }
  putAsset(a: AssetRecord): void {
    this.assets.set(a.assetId, a);
  }
}

const reg = (id: string, assetId: string, owner: string): Operation => ({ operationId: id, body: { kind: 'asset.register', assetId, assetKind: 'node', owner, attributes: { a: '1' } } });
const xfer = (id: string, assetId: string, caller: string, newOwner: string): Operation => ({ operationId: id, body: { kind: 'asset.transfer', assetId, caller, newOwner } });

test('applyOperation: register once, transfer by the owner only, the same sequence gives the same state', () => {
  const run = (): MemoryState => {
    const s = new MemoryState();
    expect(applyOperation(s, reg('1', 'n', 'svc/a'), 5)).toMatchObject({ outcome: 'applied' });
    expect(applyOperation(s, reg('2', 'n', 'svc/b'), 6)).toMatchObject({ outcome: 'refused', code: 'ALREADY_EXISTS' });
    expect(applyOperation(s, xfer('3', 'n', 'svc/b', 'svc/b'), 7)).toMatchObject({ outcome: 'refused', code: 'PERMISSION_DENIED' });
    expect(applyOperation(s, xfer('4', 'm', 'svc/a', 'svc/b'), 7)).toMatchObject({ outcome: 'refused', code: 'NOT_FOUND' });
    expect(applyOperation(s, xfer('5', 'n', 'svc/a', 'svc/c'), 8)).toMatchObject({ outcome: 'applied', asset: { owner: 'svc/c', createdHeight: 5, updatedHeight: 8 } });
    return s;
  };
  expect([...run().assets]).toEqual([...run().assets]);
});

test('a validation applies once per node sequence: a replayed or older sequence is refused (STALE), in commit order', () => {
  const nodeId = new Uint8Array(32).fill(9);
  const plot = createPlot(nodeId);
  const ledger = nativeFalcon.keypair();
  const set = (sequence: bigint): Uint8Array => {
    const now = Date.now();
    const stake = signStakeAttestationWith({ account: '1', amount: 10n, nodeId, issuedAtMs: now - 1000, expiresAtMs: now + 60_000 }, (m) => nativeFalcon.sign(ledger.secretKey, m));
    return encodeFourProofSet(generateFourProofSet({ context: { operation: 'x/y', assetId: 'a', nodeId }, plot, ipv6Address: '2001:db8::1', stake, now, sequence }));
  };
  const v = (id: string, proofSet: Uint8Array): Operation => ({ operationId: id, body: { kind: 'proofs.validate', operation: 'x/y', assetId: 'a', nodeId, proofHash: new Uint8Array(32), proofSet } });
  const s = new MemoryState();
  const five = set(5n);
  expect(applyOperation(s, v('1', five), 1)).toEqual({ outcome: 'applied', asset: null });
  expect(applyOperation(s, v('2', five), 1)).toMatchObject({ outcome: 'refused', code: 'STALE', field: 'time.sequence' });
  expect(applyOperation(s, v('3', set(4n)), 2)).toMatchObject({ outcome: 'refused', code: 'STALE' });
  expect(applyOperation(s, v('4', set(6n)), 2)).toMatchObject({ outcome: 'applied' });
  expect(s.lastSequence(nodeId)).toBe(6n);
});

/** A chain of blocks with QCs that name them (the store checks hashes and chaining, not signatures). */
function chain(payloads: Operation[][]): CommittedBlock[] {
  const set = validatorSet();
  let parent = set.genesisBlockHash;
  let justify = set.genesisQc;
  return payloads.map((ops, i) => {
    const block: Block = { height: i + 1, view: i + 1, proposer: (i + 1) % 4, parentHash: parent, justify, payload: ops.map((o) => encodeOperation(o)) };
    const hash = computeBlockHash(set.chainTag, block);
    const qc = { view: i + 1, height: i + 1, blockHash: hash, signatures: [] };
    parent = hash;
    justify = qc;
    return { block, hash, qc };
  });
}

test('the registry is written with the block: reopened, it holds what the log committed; an id applies once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-app-'));
  try {
    const set = validatorSet();
    const ops = [[reg('r1', 'node:1', 'svc/a'), reg('r2', 'node:2', 'svc/a')], [xfer('t1', 'node:1', 'svc/a', 'svc/b')], [xfer('t1', 'node:1', 'svc/b', 'svc/c') /* same id again: not applied */, reg('r3', 'node:1', 'svc/z')]];
    const blocks = chain(ops);
    let { store } = ValidatorStore.open(dir, set, identityOf(0));
    store.persist({ lastVotedView: 3, lastProposedView: 0, lockedQc: blocks[2]!.qc, highTc: null }, []);
    for (let i = 0; i < 2; i++) store.appendCommitted(blocks[i]!, ops[i]!);
    // A commit that does not extend the log is refused, and changes nothing.
    expect(() => store.appendCommitted(blocks[0]!, ops[0]!)).toThrow(/does not extend/);
    expect(store.appendCommitted(blocks[2]!, ops[2]!)).toEqual(['r3']);
    store.close();
    ({ store } = ValidatorStore.open(dir, set, identityOf(0)));
    expect(store.committedHeight).toBe(3);
    expect(store.asset('node:1')).toEqual({ assetId: 'node:1', kind: 'node', owner: 'svc/b', attributes: { a: '1' }, createdHeight: 1, updatedHeight: 2 });
    expect(store.asset('node:2')!.owner).toBe('svc/a');
    expect(store.operationResult('r3')).toMatchObject({ outcome: 'refused', code: 'ALREADY_EXISTS' });
    expect(store.operationResult('t1')).toMatchObject({ outcome: 'applied', asset: { owner: 'svc/b' } });
    expect(store.assets({ owner: 'svc/a', limit: 10 }).map((a) => a.assetId)).toEqual(['node:2']);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
