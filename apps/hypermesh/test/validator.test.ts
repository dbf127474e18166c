// The Validator around a replica: submissions answer with their commit (height, hash, QC),
// idempotently by operation id; a full mempool is refused; another payload under a known id is
// a conflict; submissions are forwarded to the other validators. One validator under test plus
// three plain replicas, messages delivered in-process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, Replica, type CommittedBlock, type OperationCheck, type ValidatorId } from '@stoq/consensus';
import { ManualClock, nativeFalcon } from '@stoq/core';
import pino from 'pino';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { falconSigner } from '../src/falcon-signatures';
import { parseGenesis, genesisToJson } from '../src/genesis';
import { decodeOperation, type Operation } from '../src/operations';
import { ValidatorStore } from '../src/store/validator-store';
import { Validator, type SubmitOutcome } from '../src/validator';
import { falconKeys, N } from './cluster';

jest.setTimeout(60_000);

function setup(mempoolMaxOps?: number, maxWaiting?: number, extra: { emptyBlockDelayMs?: number; validateOperation?: OperationCheck } = {}) {
  const genesis = parseGenesis(JSON.parse(genesisToJson({ chainId: 'unit', validators: falconKeys().map((k, id) => ({ id, instance: `hypermesh-${id + 1}`, falconPublicKey: k.publicKey, weight: 1, address: null })) })));
  const clock = new ManualClock();
  const queue: Array<{ from: ValidatorId; to: ValidatorId; bytes: Uint8Array }> = [];
  const forwarded: Uint8Array[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-validator-'));
  const { store, restored } = ValidatorStore.open(dir, genesis.validatorSet, { chainId: 'unit', genesisSha256: genesis.sha256, validatorId: 0 });
  const fatal: unknown[] = [];
  // Persists whose WAL sync is in flight: the validator's runner waits for them.
  const syncing = new Set<Promise<void>>();
  const persist = store.persist.bind(store);
  store.persist = (state, blocks) => {
    const durable = persist(state, blocks);
    syncing.add(durable);
    const done = (): void => void syncing.delete(durable);
    void durable.then(done, done);
    return durable;
  };
  const v = new Validator({
    genesis,
    self: genesis.validators[0]!,
    falconSecretKey: falconKeys()[0]!.secretKey,
    store,
    restored,
    clock,
    logger: pino({ enabled: false }),
    emptyBlockDelayMs: extra.emptyBlockDelayMs ?? 0,
    ...(extra.validateOperation ? { validateOperation: extra.validateOperation } : {}),
    mempoolMaxOps,
    maxWaiting,
    outbox: {
      send: (to, bytes) => queue.push({ from: 0, to, bytes }),
      broadcast: (bytes) => {
        for (let to = 1; to < N; to++) queue.push({ from: 0, to, bytes });
      },
      forward: (op) => forwarded.push(op),
    },
    onFatal: (err) => fatal.push(err),
  });
  const others = [1, 2, 3].map((id) => new Replica({ genesis: genesis.validatorSet, self: id, signer: falconSigner(nativeFalcon, id, falconKeys()[id]!.secretKey), verifier: falconSignatureVerifier(nativeFalcon) }));
  // A partitioned validator's messages, both ways, are lost; onCommit sees the others' commits.
  const partitioned = new Set<ValidatorId>();
  const commitHooks: Array<(from: ValidatorId, c: CommittedBlock) => void> = [];
  const deliverAll = (effects: ReturnType<Replica['start']>, from: ValidatorId) => {
    for (const e of effects) {
      if (e.type === 'commit') for (const h of commitHooks) h(from, e.committed);
      if (e.type === 'send') queue.push({ from, to: e.to, bytes: encodeMessage(e.message) });
      if (e.type === 'broadcast') for (let to = 0; to < N; to++) if (to !== from) queue.push({ from, to, bytes: encodeMessage(e.message) });
    }
  };
  for (const r of others) deliverAll(r.start(clock.now()), r.self);
  v.start();
  const pump = async (until: () => boolean) => {
    for (let i = 0; i < 20_000 && !until(); i++) {
      if (queue.length === 0 && syncing.size > 0) {
        await Promise.allSettled([...syncing]);
        await Promise.resolve();
        continue;
      }
      const m = queue.shift();
      if (m && (partitioned.has(m.from) || partitioned.has(m.to))) continue;
      if (!m) {
        clock.advance(1000);
        for (const r of others) deliverAll(r.onTimeout(clock.now()), r.self);
        await Promise.resolve();
        continue;
      }
      if (m.to === 0) v.onPeerMessage(m.from, m.bytes);
      else deliverAll(others[m.to - 1]!.onMessageBytes(m.from, m.bytes, clock.now()).effects, m.to);
      if (i % 50 === 0) await Promise.resolve();
    }
    if (!until()) throw new Error('condition not reached');
  };
  const settle = async (): Promise<void> => {
    while (syncing.size > 0) await Promise.allSettled([...syncing]);
  };
  return {
    v,
    store,
    genesis,
    others,
    pump,
    settle,
    forwarded,
    fatal,
    clock,
    partitioned,
    onCommit: (h: (from: ValidatorId, c: CommittedBlock) => void) => commitHooks.push(h),
    close: () => (v.close(), store.close(), rmSync(dir, { recursive: true, force: true })),
  };
}

test('a submission answers with its commit; the same id again answers with the first commit; another payload is a conflict', async () => {
  const t = setup();
  let out: SubmitOutcome | null = null;
  void t.v.submit('op-1', Buffer.from('hello')).then((o) => (out = o));
  expect(t.forwarded.map((b) => decodeOperation(b)?.operationId)).toEqual(['op-1']);
  await t.pump(() => out !== null);
  const first = out! as Extract<SubmitOutcome, { kind: 'committed' }>;
  expect(first.kind).toBe('committed');
  expect(first.duplicate).toBe(false);
  const block = t.store.block(first.height)!;
  expect(block.hash).toBe(first.blockHash);
  expect(first.qc.blockHash).toBe(first.blockHash);
  expect(block.block.payload.map((p) => decodeOperation(p)?.operationId)).toContain('op-1');
  expect(await t.v.submit('op-1', Buffer.from('hello'))).toEqual({ ...first, duplicate: true });
  expect((await t.v.submit('op-1', Buffer.from('other'))).kind).toBe('conflict');
  expect(t.fatal).toEqual([]);
  t.close();
});

test('a full mempool is refused (RESOURCE_EXHAUSTED at the RPC)', async () => {
  const t = setup(2);
  void t.v.submit('a', Buffer.from('1'));
  void t.v.submit('b', Buffer.from('2'));
  expect(await t.v.submit('c', Buffer.from('3'))).toEqual({ kind: 'full' });
  t.close();
});

test('too many submissions waiting for their commit are refused like a full mempool', async () => {
  const t = setup(undefined, 2);
  void t.v.submit('a', Buffer.from('1'));
  void t.v.submit('b', Buffer.from('2'));
  expect(await t.v.submit('c', Buffer.from('3'))).toEqual({ kind: 'full' });
  t.close();
});

test('a submission not committed in time is submitted again as new bytes (next attempt), same id', async () => {
  const t = setup();
  let out: SubmitOutcome | null = null;
  void t.v.submit('slow', Buffer.from('x')).then((o) => (out = o));
  expect(t.forwarded).toHaveLength(1);
  t.clock.advance(3000); // 3 x the base timeout, nothing delivered meanwhile
  expect(t.forwarded.map((b) => decodeOperation(b))).toEqual([
    { operationId: 'slow', body: { kind: 'opaque', payload: new Uint8Array(Buffer.from('x')) }, attempt: 0 },
    { operationId: 'slow', body: { kind: 'opaque', payload: new Uint8Array(Buffer.from('x')) }, attempt: 1 },
  ]);
  expect(Buffer.from(t.forwarded[1]!).equals(Buffer.from(t.forwarded[0]!))).toBe(false);
  await t.pump(() => out !== null);
  expect((out! as SubmitOutcome).kind).toBe('committed');
  t.close();
});

test('a validator that installs a snapshot in place answers the submissions the snapshot shows committed', async () => {
  const t = setup();
  // The others' state as a snapshot source: a store fed with validator 1's commits.
  const donorDir = mkdtempSync(join(tmpdir(), 'hypermesh-donor-'));
  const donor = ValidatorStore.open(donorDir, t.genesis.validatorSet, { chainId: 'unit', genesisSha256: t.genesis.sha256, validatorId: 1 }, undefined, { snapshotEvery: 5, retainBlocks: 100, keepUnreported: false }).store;
  t.onCommit((from, c) => {
    if (from === 1) donor.appendCommitted(c, c.block.payload.map(decodeOperation).filter((o): o is Operation => o !== null));
  });
  // Validator 0 is cut off; its submission reaches the others (as forwarding would) and commits there.
  t.partitioned.add(0);
  let out: SubmitOutcome | null = null;
  void t.v.submit('while-away', Buffer.from('w')).then((o) => (out = o));
  for (const r of t.others) r.submit(t.forwarded[0]!);
  await t.pump(() => donor.committedHeight >= 10);
  await t.settle();
  expect(out).toBeNull();
  expect(t.store.committedHeight).toBe(0);
  const committedAt = donor.operationHeight('while-away')!;
  expect(committedAt).toBeGreaterThan(0);
  const snap = donor.latestSnapshot()!;
  expect(snap.height).toBeGreaterThanOrEqual(committedAt);
  expect(t.v.installSnapshot(donor.snapshotBytes(snap.height, 0, snap.size)!, donor.block(snap.height)!)).toBe('installed');
  expect(t.store.committedHeight).toBe(snap.height);
  // Answered at once, with where it committed (its block is below the snapshot, so not here).
  await Promise.resolve();
  expect(out).toEqual(committedAt === snap.height ? expect.objectContaining({ kind: 'committed', height: committedAt, duplicate: true }) : { kind: 'pruned', height: committedAt, oldestKept: snap.height });
  // A second submission of the id gets the same answer.
  expect(await t.v.submit('while-away', Buffer.from('w'))).toEqual(out);
  expect(t.fatal).toEqual([]);
  donor.close();
  rmSync(donorDir, { recursive: true, force: true });
  t.close();
});

test('a leader holding back its proposal (pacing) that drops a submitted operation its check refuses answers refused at once', async () => {
  // Validator 0 leads view 4; idle, it holds its proposal back. A submission then makes it
  // propose inside the submit call, where its check drops the operation: the submitter must be
  // waiting by then (found in review: it was registered after, and heard nothing).
  const t = setup(undefined, undefined, { emptyBlockDelayMs: 500, validateOperation: () => ({ detail: 'refused by this test' }) });
  try {
    await t.pump(() => t.v.status().view === 4 && t.v.status().leader === 0);
    await t.settle(); // the runner idle: the effects of the submit run inside it
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const answered = t.v.submit('doomed', Buffer.from('x'));
    let outcome: SubmitOutcome | null = null;
    void answered.then((o) => (outcome = o));
    // No message and no clock tick: only the WAL syncs in flight complete.
    await t.settle();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(outcome).toEqual({ kind: 'refused', detail: 'refused by this test' });
    expect(t.fatal).toEqual([]);
  } finally {
    t.close();
  }
});
