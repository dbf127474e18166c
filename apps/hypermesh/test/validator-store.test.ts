// The validator's durable state: what a replica persisted is on disk before anything it allows
// is sent; a restarted replica continues from disk; damaged or foreign state is refused.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetyState, type Message } from '@stoq/consensus';
import { isHyperMeshError } from '../src/errors';
import { STORE_FILE, ValidatorStore } from '../src/store/validator-store';
import { identityOf, TestCluster, validatorSet } from './cluster';

jest.setTimeout(60_000);

const minHeight = (c: TestCluster, h: number) => () => c.nodes.every((n) => n === null || n.store.committedHeight >= h);

test('every vote, timeout and proposal leaves only after the safety state allowing it is on disk', async () => {
  const c = new TestCluster();
  // A second connection to each store file sees only what is committed; the runner sends only after
  // the persist's WAL sync resolved.
  const readers = c.nodes.map((n) => new Database(join(n!.dir, STORE_FILE), { readonly: true }));
  const onDisk = (id: number) => decodeSafetyState(new Uint8Array((readers[id]!.prepare('SELECT state FROM safety WHERE id = 1').get() as { state: Buffer }).state));
  let checked = 0;
  c.onSend = (from: number, m: Message) => {
    if (m.type === 'vote') {
      expect(onDisk(from).lastVotedView).toBeGreaterThanOrEqual(m.view);
      checked++;
    } else if (m.type === 'proposal' && m.block.proposer === from) {
      expect(onDisk(from).lastProposedView).toBeGreaterThanOrEqual(m.block.view);
      checked++;
    } else if (m.type === 'timeout' && m.voter === from) {
      expect(onDisk(from).lastVotedView).toBeGreaterThanOrEqual(m.view);
      checked++;
    }
  };
  await c.run(minHeight(c, 10));
  expect(checked).toBeGreaterThan(30);
  for (const r of readers) r.close();
  c.close();
});

test('a restarted validator continues from its disk: same committed chain, never votes twice, keeps committing', async () => {
  const c = new TestCluster();
  await c.run(minHeight(c, 6));
  const before = c.nodes[2]!.replica.status();
  const chain = c.nodes[2]!.commits.map((x) => x.hash);
  c.crash(2);
  await c.run(() => c.nodes[0]!.store.committedHeight >= before.committedHeight + 4);
  const back = c.restart(2);
  const s = back.replica.status();
  expect(s.committedHeight).toBe(before.committedHeight);
  expect(s.committedHash).toBe(chain[chain.length - 1]);
  expect(s.lastVotedView).toBeGreaterThanOrEqual(before.lastVotedView);
  await c.run(() => back.store.committedHeight >= c.nodes[0]!.store.committedHeight && back.store.committedHeight > before.committedHeight + 4);
  const common = Math.min(back.store.committedHeight, c.nodes[0]!.store.committedHeight);
  expect(common).toBeGreaterThan(before.committedHeight + 4);
  for (let h = 1; h <= common; h++) expect(back.store.block(h)!.hash).toBe(c.nodes[0]!.store.block(h)!.hash);
  expect(c.nodes.flatMap((n) => n!.fatal)).toEqual([]);
  c.close();
});

describe('damaged or foreign state is refused, never reset', () => {
  let c: TestCluster;
  let dir: string;
  let file: string;
  let root: string;
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'hypermesh-damage-'));
    c = new TestCluster(root);
    await c.run(minHeight(c, 5));
    dir = c.nodes[1]!.dir;
    file = join(dir, STORE_FILE);
    c.close();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const reopen = () => ValidatorStore.open(dir, validatorSet(), identityOf(1));
  const expectRefused = (code: 'STATE_DAMAGED' | 'STATE_MISMATCH', pattern: RegExp) => {
    const before = readFileSync(file);
    let err: unknown = null;
    try {
      reopen().store.close();
    } catch (e) {
      err = e;
    }
    expect(isHyperMeshError(err, code)).toBe(true);
    expect((err as Error).message).toMatch(pattern);
    expect(readFileSync(file).equals(before)).toBe(true);
  };
  const edit = (sql: string, ...args: unknown[]) => {
    const db = new Database(file);
    db.prepare(sql).run(...args);
    db.close();
  };

  test('intact: it opens and restores', () => {
    const { store, restored } = reopen();
    expect(store.committedHeight).toBeGreaterThanOrEqual(5);
    expect(restored!.committed.length).toBe(store.committedHeight);
    store.close();
  });

  test('a file that is not SQLite', () => {
    const b = readFileSync(file);
    b.write('garbage, not a database header', 0);
    writeFileSync(file, b);
    expectRefused('STATE_DAMAGED', /cannot open the store|not a database|quick_check/);
  });

  test('a block whose content no longer hashes to its hash', () => {
    const row = new Database(file, { readonly: true }).prepare('SELECT record FROM blocks WHERE height = 3').get() as { record: Buffer };
    const rec = Buffer.from(row.record);
    rec[20] ^= 0xff;
    edit('UPDATE blocks SET record = ? WHERE height = 3', rec);
    expectRefused('STATE_DAMAGED', /block 3/);
  });

  test('a gap in the block log', () => {
    edit('DELETE FROM blocks WHERE height = 2');
    expectRefused('STATE_DAMAGED', /gap/);
  });

  test('a torn safety state', () => {
    edit('UPDATE safety SET state = substr(state, 1, 10) WHERE id = 1');
    expectRefused('STATE_DAMAGED', /safety state/);
  });

  test('committed blocks without a safety state', () => {
    edit('DELETE FROM safety');
    expectRefused('STATE_DAMAGED', /no safety state/);
  });

  test("another validator's or another genesis' store", () => {
    let err: unknown = null;
    try {
      ValidatorStore.open(dir, validatorSet(), identityOf(2));
    } catch (e) {
      err = e;
    }
    expect(isHyperMeshError(err, 'STATE_MISMATCH')).toBe(true);
    expect((err as Error).message).toMatch(/validator_id/);
    expect(() => ValidatorStore.open(dir, validatorSet(), { ...identityOf(1), genesisSha256: 'b'.repeat(64) })).toThrow(/genesis_sha256/);
  });
});
