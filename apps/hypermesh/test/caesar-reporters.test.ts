// The reward and evidence reporters (shells) against a scripted Caesar, a ManualClock and the
// reporting tables of a real validator store file: what is sent, what is retried, what survives
// a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EquivocationEvidence } from '@stoq/consensus';
import { ManualClock } from '@stoq/core';
import { caesar } from '@stoq/protos';
import { RpcError, Status } from '@stoq/rpc';
import pino from 'pino';
import type { CaesarReports } from '../src/caesar/caesar-reports';
import { EvidenceReporter } from '../src/caesar/evidence-reporter';
import { RewardReporter } from '../src/caesar/reward-reporter';
import { ReportingTables } from '../src/store/reporting-tables';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'hypermesh-reporters-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tables(): { reporting: ReportingTables; db: Database.Database } {
  const db = new Database(join(dir, 'r.sqlite'));
  db.pragma('journal_mode = WAL');
  ReportingTables.ensure(db);
  return { reporting: new ReportingTables(db), db };
}

/** A Caesar whose answers the test decides; calls wait until answered. */
class ScriptedCaesar implements CaesarReports {
  readonly rewards: Array<{ height: number; answer(r: caesar.RewardBlockResponse | Error): void }> = [];
  readonly slashes: Array<{ evidence: caesar.EquivocationEvidence; answer(r: caesar.SlashResponse | Error): void }> = [];
  rewardBlock(committedBlock: Uint8Array): Promise<caesar.RewardBlockResponse> {
    return new Promise((resolve, reject) => this.rewards.push({ height: committedBlock[0]!, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) }));
  }
  slash(evidence: caesar.EquivocationEvidence): Promise<caesar.SlashResponse> {
    return new Promise((resolve, reject) => this.slashes.push({ evidence, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) }));
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const applied = { outcome: caesar.RewardOutcome.REWARD_APPLIED };
const already = { outcome: caesar.RewardOutcome.REWARD_ALREADY_APPLIED };

test('rewards: heights in order, Caesar down → one probe per backoff and the tip keeps moving, answers again → catches up; the cursor is durable', async () => {
  const { reporting, db } = tables();
  const clock = new ManualClock(0);
  const fake = new ScriptedCaesar();
  let tip = 0;
  const store = { get committedHeight() { return tip; }, blockRecord: (h: number) => Uint8Array.of(h), reporting };
  const make = (): RewardReporter => new RewardReporter({ self: 0, validators: 4, reporters: 4, graceMs: 0, maxInFlight: 2, store, caesar: fake, clock, logger: pino({ enabled: false }) });
  const r = make();
  r.start();
  for (tip = 1; tip <= 6; tip++) r.onCommitted(tip);
  tip = 6;
  expect(fake.rewards.map((c) => c.height)).toEqual([1, 2]);
  fake.rewards.shift()!.answer(applied);
  fake.rewards.shift()!.answer(new RpcError(Status.UNAVAILABLE, 'no caesar in DNS'));
  await settle();
  expect(fake.rewards.map((c) => c.height)).toEqual([3]); // sent when 1 settled, before 2 failed
  fake.rewards.shift()!.answer(new RpcError(Status.FAILED_PRECONDITION, 'Caesar has no HyperMesh genesis'));
  await settle();
  expect(fake.rewards).toEqual([]); // paused
  clock.advance(999);
  expect(fake.rewards).toEqual([]);
  clock.advance(1);
  expect(fake.rewards.map((c) => c.height)).toEqual([2]); // one probe
  fake.rewards.shift()!.answer(new RpcError(Status.DEADLINE_EXCEEDED, 'timeout'));
  await settle();
  clock.advance(2000);
  expect(fake.rewards.map((c) => c.height)).toEqual([2]);
  fake.rewards.shift()!.answer(already);
  await settle();
  expect(fake.rewards.map((c) => c.height)).toEqual([3, 4]);
  expect(r.cursor).toBe(2);
  expect(reporting.rewardCursor()).toBe(2);
  expect(r.counters).toMatchObject({ applied: 1, alreadyApplied: 1, retries: 3 });
  // Crash: the new reporter resumes after the stored cursor.
  r.close();
  const again = make();
  fake.rewards.length = 0;
  again.start();
  expect(fake.rewards.map((c) => c.height)).toEqual([3, 4]);
  fake.rewards.shift()!.answer(applied);
  fake.rewards.shift()!.answer(new RpcError(Status.INVALID_ARGUMENT, 'committed_block: QC does not verify')); // final
  await settle();
  expect(again.counters.refused).toBe(1);
  expect(again.cursor).toBe(4);
  again.close();
  db.close();
});

const statement = (b: number) => ({ height: 3, blockHash: b.toString(16).padStart(2, '0').repeat(32), signature: Uint8Array.of(b, 1, 2) });
const evidence = (view: number, validator = 3): EquivocationEvidence => ({ kind: 'vote', validator, view, first: statement(0xa), second: statement(0xb) });

test('evidence: stored once per offence, reported until a final answer, round-robin with backoff, resumed after a restart', async () => {
  const { reporting, db } = tables();
  const clock = new ManualClock(0);
  const fake = new ScriptedCaesar();
  const make = (): EvidenceReporter => new EvidenceReporter({ reporting, caesar: fake, clock, logger: pino({ enabled: false }), backoff: { initialMs: 100, maxMs: 1000 } });
  const r = make();
  r.start();
  r.record(evidence(5));
  r.record(evidence(5)); // the same offence again (e.g. seen after a restart): stored once
  r.record(evidence(6, 2));
  expect(reporting.evidenceCounts()).toEqual({ pending: 2, done: 0 });
  expect(fake.slashes).toHaveLength(1);
  expect(fake.slashes[0]!.evidence).toMatchObject({ kind: 'vote', validator: 3, view: 5, first: { height: 3, blockHash: '0a'.repeat(32) } });
  fake.slashes.shift()!.answer(new RpcError(Status.FAILED_PRECONDITION, 'validator 3 has no Caesar account'));
  await settle();
  expect(fake.slashes).toHaveLength(0);
  clock.advance(100);
  // The next pending offence, not the one that just failed.
  expect(fake.slashes.map((s) => s.evidence.view)).toEqual([6]);
  fake.slashes.shift()!.answer({ outcome: caesar.SlashOutcome.SLASH_APPLIED, burnt: '50' });
  await settle();
  expect(fake.slashes.map((s) => s.evidence.view)).toEqual([5]);
  r.close(); // crash before the answer
  fake.slashes.length = 0;
  expect(reporting.evidence('vote:3:5')).toMatchObject({ state: 'pending', attempts: 1 });
  expect(reporting.evidence('vote:2:6')).toMatchObject({ state: 'done', outcome: 'APPLIED' });
  const again = make();
  again.start();
  expect(fake.slashes.map((s) => s.evidence.view)).toEqual([5]);
  fake.slashes.shift()!.answer({ outcome: caesar.SlashOutcome.SLASH_ALREADY_APPLIED, burnt: '0' });
  await settle();
  expect(reporting.evidenceCounts()).toEqual({ pending: 0, done: 2 });
  expect(reporting.evidence('vote:3:5')).toMatchObject({ state: 'done', outcome: 'ALREADY_APPLIED', attempts: 2 });
  // A refusal (the evidence does not verify at Caesar) is final and says why.
  again.record(evidence(9));
  fake.slashes.shift()!.answer(new RpcError(Status.INVALID_ARGUMENT, 'evidence: BAD_SIGNATURE'));
  await settle();
  expect(reporting.evidence('vote:3:9')).toMatchObject({ state: 'done', outcome: expect.stringContaining('REFUSED INVALID_ARGUMENT') });
  expect(fake.slashes).toHaveLength(0);
  again.close();
  db.close();
});
