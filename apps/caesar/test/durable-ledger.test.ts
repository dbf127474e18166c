// The durable store: reopen restores exactly the committed state; group commit answers every
// caller with the results a sequential core gives; foreign, damaged, locked and other ledgers'
// databases are refused with typed errors and left unchanged; queries page and filter. The
// behaviour every store must share runs against SQLite and PostgreSQL (describe.each at the end;
// PostgreSQL when installed, see helpers/postgres-server.ts); file-format cases are SQLite's.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AccountFlags, type AccountBalance, DurableLedger, Ledger, type LedgerClock, LedgerError, SCHEMA_VERSION, type Transfer, TransferFlags, type TransferInput, U128_MAX, U64_MAX } from '../src';
import { SUPPLY_ACCOUNTS, workload } from './helpers/arbitraries';
import { ledgerBackends } from './helpers/ledger-backends';

const backends = ledgerBackends();

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'caesar-store-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const freshPath = (): string => join(dir, `ledger-${n++}.db`);

/** A clock the test moves by hand; timers fire when it passes their deadline. */
class ManualClock implements LedgerClock {
  private t = 1_700_000_000_000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }
  get armed(): number {
    return this.timers.length;
  }
}

async function expectLedgerError(p: Promise<unknown> | (() => unknown), code: string): Promise<LedgerError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LedgerError);
  expect((err as LedgerError).code).toBe(code);
  return err as LedgerError;
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');







test('refuses a missing, foreign, other-version, other-ledger, tampered or locked database, changing nothing', async () => {
  await expectLedgerError(() => DurableLedger.open(join(dir, 'missing.db')), 'STORE_NOT_FOUND');

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'this is not a database, it is a shopping list\n'.repeat(200));
  const textHash = sha(text);
  await expectLedgerError(() => DurableLedger.open(text, { create: true }), 'STORE_FOREIGN');
  expect(sha(text)).toBe(textHash);

  const other = join(dir, 'other.db');
  const raw = new Database(other);
  raw.exec('CREATE TABLE people (name TEXT)');
  raw.close();
  const otherHash = sha(other);
  await expectLedgerError(() => DurableLedger.open(other, { create: true }), 'STORE_FOREIGN');
  expect(sha(other)).toBe(otherHash);

  // A real ledger, then: another ledger id expected, another schema version, tampered balances.
  const path = freshPath();
  const ledger = DurableLedger.open(path, { create: true });
  await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
  await ledger.createTransfers([{ id: 1n, debitAccountId: 100n, creditAccountId: 1n, amount: 40n, ledger: 1, code: 1 }]);
  // While it is open, a second opener is refused.
  await expectLedgerError(() => DurableLedger.open(path), 'STORE_LOCKED');
  await ledger.close();

  await expectLedgerError(() => DurableLedger.open(path, { expectedLedgerId: '00000000-0000-4000-8000-000000000000' }), 'STORE_FOREIGN');
  // create: true on an existing ledger opens it, never replaces it.
  const reopened = DurableLedger.open(path, { create: true });
  expect(reopened.ledgerId).toBe(ledger.ledgerId);
  expect((await reopened.lookupTransfers([1n]))).toHaveLength(1);
  await reopened.close();

  const tamper = (sql: string): void => {
    const db = new Database(path);
    db.exec(sql);
    db.close();
  };
  tamper("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  await expectLedgerError(() => DurableLedger.open(path), 'STORE_VERSION');
  // A version-2 ledger labelled version 1: the migration finds no version-1 tables and the
  // file is left as it was (its transaction rolls back).
  tamper("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  const labelledHash = sha(path);
  await expectLedgerError(() => DurableLedger.open(path), 'STORE_DAMAGED');
  expect(sha(path)).toBe(labelledHash);
  tamper(`UPDATE meta SET value = '${SCHEMA_VERSION}' WHERE key = 'schema_version'`);
  // Credit account 1 with money no transfer put there.
  tamper(`UPDATE accounts SET credits_posted = x'00000000000000000000000000000fff' WHERE id = x'00000000000000000000000000000001'`);
  const err = await expectLedgerError(() => DurableLedger.open(path), 'STORE_DAMAGED');
  expect(err.message).toMatch(/balances_match_transfers/);
  // Put it back (and balance the books some other wrong way): the invariant check catches it.
  tamper(`UPDATE accounts SET credits_posted = x'00000000000000000000000000000028' WHERE id = x'00000000000000000000000000000001'`);
  // Transfer 1's amount (40) raised to 41 in its 128-byte record (amount at offset 48, little-endian).
  tamper(`UPDATE transfer_log SET records = CAST(substr(records, 1, 48) || x'29000000000000000000000000000000' || substr(records, 65) AS BLOB)`);
  await expectLedgerError(() => DurableLedger.open(path), 'STORE_DAMAGED');
});

test('refuses a transfer log with duplicate ids, records out of order, torn records or foreign resolutions', async () => {
  const path = freshPath();
  const ledger = DurableLedger.open(path, { create: true });
  await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
  await ledger.createTransfers([{ id: 1n, debitAccountId: 100n, creditAccountId: 1n, amount: 40n, ledger: 1, code: 1 }]);
  await ledger.createTransfers([{ id: 2n, debitAccountId: 100n, creditAccountId: 1n, amount: 2n, ledger: 1, code: 1, flags: TransferFlags.pending }]);
  await ledger.close();
  const pristine = readFileSync(path);
  const damaged = async (sql: string, pattern: RegExp): Promise<void> => {
    writeFileSync(path, pristine);
    const db = new Database(path);
    db.exec(sql);
    db.close();
    const err = await expectLedgerError(() => DurableLedger.open(path), 'STORE_DAMAGED');
    expect(err.message).toMatch(pattern);
  };
  // The second row's record given transfer 1's id.
  await damaged(`UPDATE transfer_log SET records = CAST((SELECT substr(records, 1, 16) FROM transfer_log ORDER BY first_timestamp LIMIT 1) || substr(records, 17) AS BLOB)
    WHERE first_timestamp = (SELECT max(first_timestamp) FROM transfer_log)`, /duplicate transfer ids/);
  // The rows' timestamp keys swapped: the log no longer runs in timestamp order.
  await damaged(`UPDATE transfer_log SET first_timestamp = -first_timestamp; UPDATE transfer_log SET first_timestamp = (SELECT max(-first_timestamp) FROM transfer_log) + (SELECT min(-first_timestamp) FROM transfer_log) + first_timestamp`, /out of timestamp order/);
  await damaged(`UPDATE transfer_log SET last_timestamp = last_timestamp + 1`, /last transfer is at/);
  await damaged(`PRAGMA ignore_check_constraints = 1; UPDATE transfer_log SET records = substr(records, 1, 100)`, /128-byte transfer records|quick_check/);
  await damaged(`INSERT INTO pending_resolutions VALUES (x'00000000000000000000000000000001', 2, NULL)`, /not pending transfers/);
  await damaged(`INSERT INTO pending_resolutions VALUES (x'00000000000000000000000000000002', 3, NULL), (x'00000000000000000000000000000002', 2, NULL)`, /resolved twice/);
  writeFileSync(path, pristine);
  const reopened = DurableLedger.open(path);
  expect((await reopened.pendingStatuses([1n, 2n]))).toEqual(new Map([[2n, 'pending']]));
  await reopened.close();
});

test('opens a version-1 ledger by migrating it to version 2 in one transaction, with every answer unchanged', async () => {
  // Written by the version-1 store (test/fixtures/make-ledger-v1.cjs).
  const fixtures = join(__dirname, 'fixtures');
  const expected = JSON.parse(readFileSync(join(fixtures, 'ledger-v1.expected.json'), 'utf8'), (_k, v: unknown) =>
    typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
  ) as Record<string, unknown> & { accountTransfers: Record<string, unknown>; accountBalances: Record<string, unknown> };
  const path = freshPath();
  writeFileSync(path, readFileSync(join(fixtures, 'ledger-v1.sqlite')));
  const before = new Database(path, { readonly: true });
  expect(before.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe('1');
  before.close();
  // A version-1 file that fails verification is refused and left version 1, byte for byte.
  const tampered = freshPath();
  writeFileSync(tampered, readFileSync(join(fixtures, 'ledger-v1.sqlite')));
  const raw = new Database(tampered);
  raw.exec(`UPDATE transfers SET amount = x'000000000000000000000000000003e9' WHERE id = x'0000000000000000000000000000000a'`);
  raw.close();
  const tamperedHash = sha(tampered);
  const refused = await expectLedgerError(() => DurableLedger.open(tampered), 'STORE_DAMAGED');
  expect(refused.message).toMatch(/balances_match_transfers|debits_equal_credits|balance_limit/);
  expect(sha(tampered)).toBe(tamperedHash);
  // A resolved pending transfer whose status is gone (version 1 refused that; version 2 would
  // take it for pending), or a status on a transfer that is not pending: refused, unchanged.
  for (const sql of [
    'UPDATE transfers SET pending_status = NULL WHERE id = (SELECT id FROM transfers WHERE (flags & 2) != 0 AND pending_status BETWEEN 2 AND 4 ORDER BY timestamp LIMIT 1)',
    'UPDATE transfers SET pending_status = 2 WHERE id = (SELECT id FROM transfers WHERE (flags & 2) = 0 ORDER BY timestamp LIMIT 1)',
  ]) {
    const bad = freshPath();
    writeFileSync(bad, readFileSync(join(fixtures, 'ledger-v1.sqlite')));
    const db = new Database(bad);
    expect(db.prepare(sql).run().changes).toBe(1);
    db.close();
    const badHash = sha(bad);
    const e = await expectLedgerError(() => DurableLedger.open(bad), 'STORE_DAMAGED');
    expect(e.message).toMatch(/1 transfer\(s\) of this version-1 ledger have a pending status that contradicts their flags/);
    expect(sha(bad)).toBe(badHash);
  }

  const ids = [10n, 11n, 12n, 13n, 14n, 15n, 16n, 20n, 21n, 22n, 23n];
  const accounts = [1n, 2n, 3n, 100n];
  for (let round = 0; round < 2; round++) {
    // Round 0 migrates; round 1 opens the migrated file as version 2.
    const ledger = DurableLedger.open(path, { expiryTimer: false });
    expect(ledger.ledgerId).toBe(expected.ledgerId);
    expect(ledger.lastTimestamp).toBe(expected.lastTimestamp);
    expect((await ledger.lookupAccounts(accounts))).toEqual(expected.accounts);
    expect((await ledger.lookupTransfers(ids))).toEqual(expected.transfers);
    expect([...(await ledger.pendingStatuses(ids))]).toEqual(expected.pendingStatuses);
    for (const id of accounts) {
      expect((await ledger.getAccountTransfers({ accountId: id, limit: 100 }))).toEqual(expected.accountTransfers[String(id)]);
      expect((await ledger.getAccountBalances({ accountId: id, limit: 100 }))).toEqual(expected.accountBalances[String(id)]);
    }
    if (round === 0) {
      expect(await ledger.createTransfers([{ id: 30n, debitAccountId: 100n, creditAccountId: 2n, amount: 1n, ledger: 1, code: 1 }])).toEqual(['ok']);
      expected.lastTimestamp = ledger.lastTimestamp;
    }
    await ledger.close();
    if (round === 0) {
      const after = new Database(path, { readonly: true });
      expect(after.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      expect(after.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'transfers'").pluck().get()).toBe(0);
      after.close();
      (expected.transfers as unknown[]).push(expect.objectContaining({ id: 30n }));
      (expected.accountTransfers['2'] as unknown[]).push(expect.objectContaining({ id: 30n }));
      (expected.accountTransfers['100'] as unknown[]).push(expect.objectContaining({ id: 30n }));
      ids.push(30n);
      (expected.accounts as Array<{ id: bigint; creditsPosted: bigint; debitsPosted: bigint }>).find((a) => a.id === 2n)!.creditsPosted += 1n;
      (expected.accounts as Array<{ id: bigint; creditsPosted: bigint; debitsPosted: bigint }>).find((a) => a.id === 100n)!.debitsPosted += 1n;
    }
  }
});

test('migrates a version-1 ledger of more than one page (8,190 transfers), with pending transfers resolved on both sides of a page boundary', async () => {
  // A version-1 file with the version-1 schema (the fixture's tables, emptied) holding what the
  // core computed for 20,000 transfers: 3 migration pages (8,190 + 8,190 + 3,620 records).
  const PAGE = 8190;
  const N = 20_000;
  const core = new Ledger();
  let now = 1_700_000_000_000_000_000n;
  const second = 1_000_000_000n;
  const L = { ledger: 1, code: 1 };
  expect(core.createAccounts([{ id: 100n, ...L, flags: AccountFlags.mint }, { id: 1n, ...L, flags: AccountFlags.debitsMustNotExceedCredits }, { id: 2n, ...L }], now).results).toEqual(['ok', 'ok', 'ok']);
  // Row positions (timestamp order) of the two-phase transfers around the page boundaries.
  const pending = (id: bigint, timeout = 0): TransferInput => ({ id, debitAccountId: 1n, creditAccountId: 2n, amount: 10n, ...L, flags: TransferFlags.pending, timeout });
  const post = (id: bigint, pendingId: bigint, amount = 0n): TransferInput => ({ id, pendingId, amount, flags: TransferFlags.postPendingTransfer });
  const voidOf = (id: bigint, pendingId: bigint): TransferInput => ({ id, pendingId, flags: TransferFlags.voidPendingTransfer });
  const special = new Map<number, TransferInput>([
    [PAGE - 10, pending(1_000_001n)], // A: pending and posted on page 1
    [PAGE - 4, post(1_000_002n, 1_000_001n)],
    [PAGE - 5, pending(1_000_003n)], // B: pending on page 1, posted in part on page 2
    [PAGE + 2, post(1_000_004n, 1_000_003n, 4n)],
    [PAGE - 3, pending(1_000_005n)], // C: pending on page 1, voided on page 2
    [PAGE + 5, voidOf(1_000_006n, 1_000_005n)],
    [PAGE - 1, pending(1_000_007n, 1)], // D: last record of page 1, expires during page 2
    [PAGE + 1, pending(1_000_009n)], // E: pending and voided on page 2
    [PAGE + 7, voidOf(1_000_010n, 1_000_009n)],
    [2 * PAGE - 1, pending(1_000_011n)], // F: last record of page 2, posted by the first of page 3
    [2 * PAGE, post(1_000_012n, 1_000_011n)],
    [PAGE - 2, pending(1_000_013n)], // G: still pending
  ]);
  const statuses = new Map<bigint, { status: string; resolvedAt: bigint }>();
  const events: TransferInput[] = [];
  for (let i = 0; i < N; i++) events.push(special.get(i) ?? { id: BigInt(i + 1), debitAccountId: 100n, creditAccountId: 1n, amount: 1n, ...L });
  for (let i = 0; i < N; i += 1000) {
    now += 2n * second; // D (timeout 1 s) expires at the start of the batch after its own
    const { results, changes } = core.createTransfers(events.slice(i, i + 1000), now);
    expect(results.every((r) => r === 'ok')).toBe(true);
    for (const c of changes.pendingStatuses) statuses.set(c.id, { status: c.status, resolvedAt: c.resolvedAt });
  }
  expect(Object.fromEntries([...[1_000_001n, 1_000_003n, 1_000_005n, 1_000_007n, 1_000_009n, 1_000_011n, 1_000_013n]].map((id) => [String(id), core.pendingStatus(id)]))).toEqual({
    '1000001': 'posted', '1000003': 'posted', '1000005': 'voided', '1000007': 'expired', '1000009': 'voided', '1000011': 'posted', '1000013': 'pending',
  });
  const all = [...core.transfersInOrder()];
  expect(all).toHaveLength(N);
  // The boundary cases sit where they should: resolutions after the page that holds the pending transfer.
  const position = new Map(all.map((t, i) => [t.id, i]));
  expect(position.get(1_000_007n)).toBe(PAGE - 1);
  expect(statuses.get(1_000_007n)!.resolvedAt).toBeGreaterThan(all[PAGE]!.timestamp);
  expect(position.get(1_000_011n)).toBe(2 * PAGE - 1);
  expect(position.get(1_000_012n)).toBe(2 * PAGE);

  const path = freshPath();
  writeFileSync(path, readFileSync(join(__dirname, 'fixtures', 'ledger-v1.sqlite')));
  const v1 = new Database(path);
  v1.exec('DELETE FROM transfers; DELETE FROM accounts; DELETE FROM account_balances');
  const u128 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(32, '0'), 'hex');
  const u64 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(16, '0'), 'hex');
  const insertAccount = v1.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (const a of core.allAccounts()) insertAccount.run(u128(a.id), u128(a.debitsPending), u128(a.debitsPosted), u128(a.creditsPending), u128(a.creditsPosted), u128(a.userData128), u64(a.userData64), a.userData32, a.ledger, a.code, a.flags, a.timestamp);
  const code = { pending: 1, posted: 2, voided: 3, expired: 4 } as Record<string, number>;
  const insertTransfer = v1.prepare('INSERT INTO transfers (timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, pending_status, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  v1.transaction(() => {
    for (const t of all) {
      const st = statuses.get(t.id);
      insertTransfer.run(t.timestamp, u128(t.id), u128(t.debitAccountId), u128(t.creditAccountId), u128(t.amount), u128(t.pendingId), u128(t.userData128), u64(t.userData64), t.userData32, t.timeout, t.ledger, t.code, t.flags, st ? code[st.status]! : null, st && st.status !== 'pending' ? st.resolvedAt : null);
    }
  })();
  v1.prepare("UPDATE meta SET value = ? WHERE key IN ('last_timestamp', 'balances_as_of')").run(String(core.lastTimestamp));
  v1.close();

  const ids = all.map((t) => t.id);
  const pendingIds = [...statuses.keys()];
  const expectedTransfers = new Map(all.map((t) => [t.id, t]));
  let expectedAccounts = [100n, 1n, 2n].map((id) => core.lookupAccount(id)!);
  for (let round = 0; round < 2; round++) {
    // Round 0 migrates; round 1 reopens the migrated file (plus one commit) as version 2.
    const ledger = DurableLedger.open(path, { expiryTimer: false });
    if (round === 0) expect(ledger.lastTimestamp).toBe(core.lastTimestamp);
    for (let i = 0; i < ids.length; i += PAGE) expect(await ledger.lookupTransfers(ids.slice(i, i + PAGE))).toEqual(ids.slice(i, i + PAGE).map((id) => expectedTransfers.get(id)));
    expect(new Map(await ledger.pendingStatuses(pendingIds))).toEqual(new Map(pendingIds.map((id) => [id, core.pendingStatus(id)])));
    expect(await ledger.lookupAccounts([100n, 1n, 2n])).toEqual(expectedAccounts);
    for (const account of [1n, 2n]) {
      const expected = all.filter((t) => t.debitAccountId === account || t.creditAccountId === account).map((t) => t.id);
      const got: bigint[] = [];
      for (let min = 0n; ; ) {
        const page = await ledger.getAccountTransfers({ accountId: account, timestampMin: min, limit: PAGE });
        got.push(...page.map((t) => t.id));
        if (page.length < PAGE) break;
        min = page[page.length - 1]!.timestamp + 1n;
      }
      expect(got).toEqual(expected);
    }
    if (round === 0) {
      // Resolved on either side of a boundary stays resolved; G is still pending; the ledger continues.
      expect(await ledger.createTransfers([post(2_000_001n, 1_000_003n), voidOf(2_000_002n, 1_000_005n), post(2_000_003n, 1_000_007n), { id: 2_000_004n, debitAccountId: 1n, creditAccountId: 2n, amount: 1n, ...L }])).toEqual([
        'pending_transfer_already_posted', 'pending_transfer_already_voided', 'pending_transfer_expired', 'ok',
      ]);
      const [added] = await ledger.lookupTransfers([2_000_004n]);
      all.push(added!);
      ids.push(added!.id);
      expectedTransfers.set(added!.id, added!);
      expectedAccounts = await ledger.lookupAccounts([100n, 1n, 2n]);
      expect(expectedAccounts[1]!.debitsPosted).toBe(core.lookupAccount(1n)!.debitsPosted + 1n);
    }
    await ledger.close();
    if (round === 0) {
      const after = new Database(path, { readonly: true });
      expect(after.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      const rows = after.prepare('SELECT first_timestamp, last_timestamp, length(records) AS bytes FROM transfer_log ORDER BY first_timestamp').safeIntegers().all() as Array<{ first_timestamp: bigint; last_timestamp: bigint; bytes: bigint }>;
      expect(rows.map((r) => Number(r.bytes) / 128)).toEqual([PAGE, PAGE, N - 2 * PAGE, 1]);
      expect(rows.slice(0, 3).map((r) => [BigInt(r.first_timestamp), BigInt(r.last_timestamp)])).toEqual([
        [all[0]!.timestamp, all[PAGE - 1]!.timestamp],
        [all[PAGE]!.timestamp, all[2 * PAGE - 1]!.timestamp],
        [all[2 * PAGE]!.timestamp, all[N - 1]!.timestamp],
      ]);
      // Every resolution migrated (G, still pending, has none).
      expect(after.prepare('SELECT count(*) FROM pending_resolutions').pluck().get()).toBe(pendingIds.length - 1);
      after.close();
    }
  }
}, 120_000);

test('lookups answer copies: a caller that mutates what it got changes nothing in the ledger', async () => {
  const ledger = DurableLedger.open(freshPath(), { create: true, expiryTimer: false });
  try {
    const L = { ledger: 1, code: 1 };
    await ledger.createAccounts([{ id: 100n, ...L, flags: AccountFlags.mint }, { id: 1n, ...L }]);
    const event = { id: 7n, debitAccountId: 100n, creditAccountId: 1n, amount: 5n, ...L, flags: TransferFlags.pending };
    expect(await ledger.createTransfers([event])).toEqual(['ok']);
    const got = [
      ...(await ledger.lookupTransfers([7n])),
      ...(await ledger.getAccountTransfers({ accountId: 1n, limit: 10 })),
      ...(await ledger.read((v) => [v.lookupTransfer(7n)!, ...v.lookupTransfers([7n]), ...v.getAccountTransfers({ accountId: 100n, limit: 10 })])),
    ];
    expect(got).toHaveLength(5);
    for (const t of got) Object.assign(t as { -readonly [K in keyof Transfer]: Transfer[K] }, { amount: 999n, flags: 0, debitAccountId: 1n });
    const [stored] = await ledger.lookupTransfers([7n]);
    expect(stored).toMatchObject({ amount: 5n, flags: TransferFlags.pending, debitAccountId: 100n });
    // Idempotency compares with the stored record, which no caller could reach.
    expect(await ledger.createTransfers([event])).toEqual(['exists']);
    expect(await ledger.createTransfers([{ id: 8n, pendingId: 7n, flags: TransferFlags.postPendingTransfer }])).toEqual(['ok']);
    expect((await ledger.lookupAccounts([1n]))[0]).toMatchObject({ creditsPosted: 5n, creditsPending: 0n });
  } finally {
    await ledger.close();
  }
});

describe.each(backends.all)('$name store', (backend) => {
  test('reopen restores exactly the committed state and the ledger continues from it', async () => {
    const path = backend.fresh();
    const ledger = await backend.open(path, { create: true });
    const id = ledger.ledgerId;
    expect(await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits | AccountFlags.history }, { id: 2n, ledger: 1, code: 1 }])).toEqual(['ok', 'ok', 'ok', 'ok']);
    const batch: TransferInput[] = [
      { id: 10n, debitAccountId: 100n, creditAccountId: 1n, amount: 500n, ledger: 1, code: 7 },
      { id: 11n, debitAccountId: 1n, creditAccountId: 2n, amount: 200n, ledger: 1, code: 1, flags: TransferFlags.pending | TransferFlags.linked },
      { id: 12n, debitAccountId: 1n, creditAccountId: 101n, amount: 50n, ledger: 1, code: 1 },
      { id: 13n, pendingId: 11n, amount: 150n, flags: TransferFlags.postPendingTransfer },
      { id: 14n, debitAccountId: 1n, creditAccountId: 2n, amount: 10_000n, ledger: 1, code: 1 },
    ];
    expect(await ledger.createTransfers(batch)).toEqual(['ok', 'ok', 'ok', 'ok', 'exceeds_credits']);
    const before = { accounts: (await ledger.lookupAccounts([100n, 101n, 1n, 2n])), transfers: (await ledger.lookupTransfers([10n, 11n, 12n, 13n, 14n])) };
    expect(before.transfers).toHaveLength(4);
    expect((await ledger.pendingStatuses([11n, 10n]))).toEqual(new Map([[11n, 'posted']]));
    await ledger.close();
    await expectLedgerError(ledger.createTransfers([]), 'UNAVAILABLE');

    const again = await backend.open(path, { expectedLedgerId: id });
    expect((await again.lookupAccounts([100n, 101n, 1n, 2n]))).toEqual(before.accounts);
    expect((await again.lookupTransfers([10n, 11n, 12n, 13n, 14n]))).toEqual(before.transfers);
    const one = before.accounts.find((a) => a.id === 1n)!;
    expect(one).toMatchObject({ debitsPosted: 200n, creditsPosted: 500n, debitsPending: 0n });
    // Idempotency survives the reopen; new work continues.
    expect(await again.createTransfers(batch.slice(0, 1))).toEqual(['exists']);
    expect(await again.createTransfers([{ ...batch[0]!, amount: 1n }])).toEqual(['exists_with_different_amount']);
    expect(await again.createTransfers([{ id: 15n, debitAccountId: 1n, creditAccountId: 2n, amount: 300n, ledger: 1, code: 1 }])).toEqual(['ok']);
    expect(await again.createTransfers([{ id: 16n, debitAccountId: 1n, creditAccountId: 2n, amount: 1n, ledger: 1, code: 1 }])).toEqual(['exceeds_credits']);
    await again.close();
  });

  test('group commit: concurrent batches share transactions and get the results of a sequential core', async () => {
    const [{ accounts, steps }] = fc.sample(workload, { numRuns: 1, seed: 42 });
    const path = backend.fresh();
    const ledger = await backend.open(path, { create: true });
    const reference = new Ledger();
    const now = 1n;
    expect(await ledger.createAccounts([...SUPPLY_ACCOUNTS, ...accounts!])).toEqual(reference.createAccounts([...SUPPLY_ACCOUNTS, ...accounts!], now).results);
    // Timeouts depend on the clock; this test is about grouping, so drop pending timeouts.
    const batches = Array.from({ length: 40 }, (_, i) => steps![i % steps!.length]!).map((s) =>
      s.kind === 'accounts' ? s : { ...s, events: s.events.map((e) => ({ ...e, timeout: 0 })) },
    );
    const submitted = batches.map((s) => (s.kind === 'accounts' ? ledger.createAccounts(s.events) : ledger.createTransfers(s.events)));
    const results = await Promise.all(submitted);
    const expected = batches.map((s) => (s.kind === 'accounts' ? reference.createAccounts(s.events, now).results : reference.createTransfers(s.events, now).results));
    expect(results).toEqual(expected);
    const stats = ledger.groupCommitStats;
    expect(stats.batches).toBe(41);
    expect(stats.commits).toBeLessThan(stats.batches); // the 40 concurrent batches shared commits
    expect(stats.largestGroup).toBeGreaterThan(1);
    await ledger.close();
    const reopened = await backend.open(path);
    const ids = reference.allAccounts().map((a) => a.id);
    expect((await reopened.lookupAccounts(ids)).map((a) => ({ ...a, timestamp: 0n }))).toEqual(reference.allAccounts().map((a) => ({ ...a, timestamp: 0n })));
    await reopened.close();
  });

  test('random workloads read back identically after reopen (every field, status and history row)', async () => {
    await fc.assert(
      fc.asyncProperty(workload, fc.integer({ min: 1, max: 60 }), async ({ accounts, steps }, checkpointEvery) => {
        const clock = new ManualClock();
        const path = backend.fresh();
        const durable = await backend.open(path, { create: true, clock, expiryTimer: false, checkpointEvery });
        const core = new Ledger();
        const nowNs = (): bigint => BigInt(clock.now()) * 1_000_000n;
        const setup = [...SUPPLY_ACCOUNTS, ...accounts];
        expect(await durable.createAccounts(setup)).toEqual(core.createAccounts(setup, nowNs()).results);
        const history = new Map<bigint, AccountBalance[]>();
        const transferIds = new Set<bigint>();
        const committed: Transfer[] = [];
        for (const s of steps) {
          clock.advance(Number(s.advance / 1_000_000n));
          const got = s.kind === 'accounts' ? await durable.createAccounts(s.events) : await durable.createTransfers(s.events);
          const outcome = s.kind === 'accounts' ? core.createAccounts(s.events, nowNs()) : core.createTransfers(s.events, nowNs());
          expect(got).toEqual(outcome.results);
          for (const t of outcome.changes.transfers) {
            transferIds.add(t.id);
            committed.push(t);
          }
          for (const b of outcome.changes.balances) history.set(b.accountId, [...(history.get(b.accountId) ?? []), b]);
        }
        // Account transfers as a plain scan of every committed transfer gives them, live and after reopen.
        const checkAccountTransfers = async (l: DurableLedger): Promise<void> => {
          for (const a of core.allAccounts()) {
            const mine = committed.filter((t) => t.debitAccountId === a.id || t.creditAccountId === a.id);
            expect((await l.getAccountTransfers({ accountId: a.id, limit: 8190 }))).toEqual(mine);
            expect((await l.getAccountTransfers({ accountId: a.id, limit: 3, reversed: true, debits: false }))).toEqual(mine.filter((t) => t.creditAccountId === a.id).reverse().slice(0, 3));
            const code2 = mine.filter((t) => t.code === 2);
            expect((await l.getAccountTransfers({ accountId: a.id, limit: 2, code: 2, timestampMin: code2[1]?.timestamp ?? 0n }))).toEqual(code2.slice(code2.length > 1 ? 1 : 0, 3));
          }
        };
        await checkAccountTransfers(durable);
        await durable.close();
        const reopened = await backend.open(path, { clock, expiryTimer: false });
        try {
          const accountsNow = core.allAccounts();
          expect((await reopened.lookupAccounts(accountsNow.map((a) => a.id)))).toEqual(accountsNow);
          const ids = [...transferIds];
          expect((await reopened.lookupTransfers(ids))).toEqual(ids.map((id) => core.lookupTransfer(id)));
          const statuses = (await reopened.pendingStatuses(ids));
          for (const id of ids) expect(statuses.get(id)).toBe(core.pendingStatus(id));
          for (const a of accountsNow) expect((await reopened.getAccountBalances({ accountId: a.id, limit: 8190 }))).toEqual(history.get(a.id) ?? []);
          await checkAccountTransfers(reopened);
          // The reopened ledger continues where the core is: resubmitting everything is idempotent.
          for (const s of steps.slice(-2)) {
            const again = s.kind === 'accounts' ? await reopened.createAccounts(s.events) : await reopened.createTransfers(s.events);
            const expected = s.kind === 'accounts' ? core.createAccounts(s.events, nowNs()).results : core.createTransfers(s.events, nowNs()).results;
            expect(again).toEqual(expected);
          }
        } finally {
          await reopened.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  test('extreme field values survive the round trip through the store', async () => {
    const path = backend.fresh();
    const ledger = await backend.open(path, { create: true });
    const max = { userData128: U128_MAX, userData64: U64_MAX, userData32: 0xffff_ffff, ledger: 0xffff_ffff, code: 0xffff };
    expect(await ledger.createAccounts([{ id: U128_MAX - 1n, ...max, flags: AccountFlags.mint }, { id: 1n << 127n, ...max, flags: AccountFlags.history }])).toEqual(['ok', 'ok']);
    const t = { id: U128_MAX - 1n, debitAccountId: U128_MAX - 1n, creditAccountId: 1n << 127n, amount: U128_MAX, ...max };
    expect(await ledger.createTransfers([t])).toEqual(['ok']);
    await ledger.close();
    const reopened = await backend.open(path);
    expect((await reopened.lookupTransfers([t.id]))[0]).toMatchObject({ ...t, pendingId: 0n, timeout: 0, flags: 0 });
    expect((await reopened.lookupAccounts([1n << 127n]))[0]).toMatchObject({ ...max, creditsPosted: U128_MAX, debitsPosted: 0n });
    expect((await reopened.getAccountBalances({ accountId: 1n << 127n, limit: 1 }))[0]!.creditsPosted).toBe(U128_MAX);
    await reopened.close();
  });

  test('group commit under random interleavings: every caller gets what a sequential core gives; malformed batches are refused alone', async () => {
    await fc.assert(
      fc.asyncProperty(workload, fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 40 }), async ({ accounts, steps }, waves, maxGroupEvents) => {
        if (steps.length === 0) return;
        const ledger = await backend.open(backend.fresh(), { create: true, expiryTimer: false, maxGroupEvents });
        const core = new Ledger();
        await ledger.createAccounts([...SUPPLY_ACCOUNTS, ...accounts]);
        core.createAccounts([...SUPPLY_ACCOUNTS, ...accounts], 1n);
        // Submit in waves of concurrent batches; some batches are made malformed.
        let k = 0;
        for (const size of waves) {
          const wave = Array.from({ length: size + 1 }, () => {
            const s = steps[k++ % steps.length]!;
            const malformed = k % 7 === 3;
            const events = s.kind === 'transfers' ? s.events.map((e) => ({ ...e, timeout: 0 })) : s.events;
            return { s: { ...s, events } as typeof s, malformed };
          });
          const settled = await Promise.allSettled(
            wave.map(({ s, malformed }) =>
              malformed ? ledger.createTransfers([{ id: 1n, amount: -1n }]) : s.kind === 'accounts' ? ledger.createAccounts(s.events) : ledger.createTransfers(s.events),
            ),
          );
          wave.forEach(({ s, malformed }, i) => {
            const r = settled[i]!;
            if (malformed) {
              expect(r.status).toBe('rejected');
              expect(((r as PromiseRejectedResult).reason as LedgerError).code).toBe('INVALID_ARGUMENT');
              return;
            }
            const expected = s.kind === 'accounts' ? core.createAccounts(s.events, 1n).results : core.createTransfers(s.events, 1n).results;
            expect(r).toEqual({ status: 'fulfilled', value: expected });
          });
        }
        expect((await ledger.lookupAccounts(core.allAccounts().map((a) => a.id))).map((a) => ({ ...a, timestamp: 0n }))).toEqual(core.allAccounts().map((a) => ({ ...a, timestamp: 0n })));
        await ledger.close();
      }),
      { numRuns: 25 },
    );
  });

  test('a malformed batch is refused alone; the rest of its group commits', async () => {
    const ledger = await backend.open(backend.fresh(), { create: true });
    await ledger.createAccounts(SUPPLY_ACCOUNTS);
    const [good, negative, fractional, tooWide, oversized, after] = await Promise.allSettled([
      ledger.createTransfers([{ id: 1n, debitAccountId: 100n, creditAccountId: 101n, amount: 5n, ledger: 1, code: 1 }]),
      ledger.createTransfers([{ id: 2n, debitAccountId: 100n, creditAccountId: 101n, amount: -5n, ledger: 1, code: 1 }]),
      ledger.createAccounts([{ id: 3n, ledger: 1.5, code: 1 }]),
      ledger.createTransfers([{ id: 4n, debitAccountId: 100n, creditAccountId: 101n, amount: 1n << 128n, ledger: 1, code: 1 }]),
      ledger.createTransfers(Array.from({ length: 8191 }, (_, i) => ({ id: BigInt(i + 10), amount: 1n }))),
      ledger.createTransfers([{ id: 5n, debitAccountId: 100n, creditAccountId: 101n, amount: 7n, ledger: 1, code: 1 }]),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: ['ok'] });
    expect(after).toEqual({ status: 'fulfilled', value: ['ok'] });
    const reason = (r: PromiseSettledResult<unknown>): LedgerError => (r as PromiseRejectedResult).reason as LedgerError;
    expect(reason(negative)).toBeInstanceOf(LedgerError);
    expect(reason(negative).code).toBe('INVALID_ARGUMENT');
    expect(reason(negative).message).toMatch(/transfers\[0\]\.amount/);
    expect(reason(fractional).code).toBe('INVALID_ARGUMENT');
    expect(reason(tooWide).code).toBe('INVALID_ARGUMENT');
    expect(reason(oversized).code).toBe('BATCH_TOO_LARGE');
    expect((await ledger.lookupTransfers([1n, 2n, 4n, 5n])).map((t) => t.id)).toEqual([1n, 5n]);
    expect((await ledger.lookupAccounts([101n]))[0]!.creditsPosted).toBe(12n);
    expect(ledger.status).toBe('open');
    await ledger.close();
  });

  test('getAccountTransfers and getAccountBalances page by timestamp and filter by code and direction', async () => {
    const ledger = await backend.open(backend.fresh(), { create: true });
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1, flags: AccountFlags.history }, { id: 2n, ledger: 1, code: 1 }]);
    const transfers: TransferInput[] = [];
    for (let i = 1; i <= 30; i++) {
      transfers.push(
        i % 3 === 0
          ? { id: BigInt(i), debitAccountId: 1n, creditAccountId: 2n, amount: BigInt(i), ledger: 1, code: 2, userData64: 7n }
          : { id: BigInt(i), debitAccountId: 100n, creditAccountId: 1n, amount: BigInt(i), ledger: 1, code: 1, userData128: BigInt(i % 2), userData32: 5 },
      );
    }
    expect(new Set(await ledger.createTransfers(transfers))).toEqual(new Set(['ok']));
    const all = (await ledger.getAccountTransfers({ accountId: 1n, limit: 100 }));
    expect(all.map((t) => t.id)).toEqual(transfers.map((t) => t.id));
    // Paging: 7 at a time, the next page starts after the last timestamp seen.
    const paged: bigint[] = [];
    let min = 0n;
    for (;;) {
      const page = (await ledger.getAccountTransfers({ accountId: 1n, limit: 7, timestampMin: min }));
      paged.push(...page.map((t) => t.id));
      if (page.length < 7) break;
      min = page[page.length - 1]!.timestamp + 1n;
    }
    expect(paged).toEqual(all.map((t) => t.id));
    expect((await ledger.getAccountTransfers({ accountId: 1n, limit: 100, code: 2 })).map((t) => t.id)).toEqual([3n, 6n, 9n, 12n, 15n, 18n, 21n, 24n, 27n, 30n]);
    expect((await ledger.getAccountTransfers({ accountId: 1n, limit: 100, credits: false })).every((t) => t.debitAccountId === 1n)).toBe(true);
    expect((await ledger.getAccountTransfers({ accountId: 1n, limit: 3, reversed: true })).map((t) => t.id)).toEqual([30n, 29n, 28n]);
    const window = (await ledger.getAccountTransfers({ accountId: 1n, limit: 100, timestampMin: all[4]!.timestamp, timestampMax: all[9]!.timestamp }));
    expect(window.map((t) => t.id)).toEqual([5n, 6n, 7n, 8n, 9n, 10n]);
    expect((await ledger.getAccountTransfers({ accountId: 2n, limit: 100 }))).toHaveLength(10);
    expect((await ledger.getAccountTransfers({ accountId: 1n, limit: 100, userData64: 7n })).map((t) => t.id)).toEqual([3n, 6n, 9n, 12n, 15n, 18n, 21n, 24n, 27n, 30n]);
    expect((await ledger.getAccountTransfers({ accountId: 1n, limit: 100, userData128: 1n })).map((t) => t.id)).toEqual([1n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 25n, 29n]);
    expect((await ledger.getAccountTransfers({ accountId: 1n, limit: 100, userData32: 5 }))).toHaveLength(20);

    const history = (await ledger.getAccountBalances({ accountId: 1n, limit: 100 }));
    expect(history).toHaveLength(30);
    const last = history[history.length - 1]!;
    expect((await ledger.lookupAccounts([1n]))[0]).toMatchObject({ debitsPosted: last.debitsPosted, creditsPosted: last.creditsPosted });
    expect((await ledger.getAccountBalances({ accountId: 1n, limit: 100, code: 2 }))).toHaveLength(10);
    // A filtered history pages like an unfiltered one: full pages until the last.
    expect((await ledger.getAccountBalances({ accountId: 1n, limit: 4, code: 2 }))).toHaveLength(4);
    expect((await ledger.getAccountBalances({ accountId: 1n, limit: 4, credits: false })).map((b) => b.timestamp)).toEqual(all.filter((t) => t.code === 2).slice(0, 4).map((t) => t.timestamp));
    expect((await ledger.getAccountBalances({ accountId: 1n, limit: 100, reversed: true, debits: false }))).toHaveLength(20);
    expect((await ledger.getAccountBalances({ accountId: 2n, limit: 100 }))).toHaveLength(0); // no history flag
    await expectLedgerError(() => ledger.getAccountTransfers({ accountId: 1n, limit: 0 }), 'INVALID_ARGUMENT');
    await expectLedgerError(() => ledger.getAccountTransfers({ accountId: 1n, limit: 8191 }), 'INVALID_ARGUMENT');
    await expectLedgerError(() => ledger.lookupAccounts(Array.from({ length: 8191 }, () => 1n)), 'BATCH_TOO_LARGE');
    await ledger.close();
  });

  test('pending transfers expire on their timer and the expiry is committed', async () => {
    const clock = new ManualClock();
    const path = backend.fresh();
    const ledger = await backend.open(path, { create: true, clock });
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1, flags: AccountFlags.history }]);
    expect(await ledger.createTransfers([{ id: 1n, debitAccountId: 100n, creditAccountId: 1n, amount: 9n, ledger: 1, code: 1, timeout: 2, flags: TransferFlags.pending }])).toEqual(['ok']);
    expect((await ledger.lookupAccounts([1n]))[0]!.creditsPending).toBe(9n);
    expect(clock.armed).toBe(1);
    clock.advance(1_000);
    expect((await ledger.pendingStatuses([1n])).get(1n)).toBe('pending');
    clock.advance(1_500); // the timer fires and queues the expiry batch
    await ledger.createTransfers([]); // committed in order after it
    expect((await ledger.pendingStatuses([1n])).get(1n)).toBe('expired');
    expect((await ledger.lookupAccounts([1n]))[0]!.creditsPending).toBe(0n);
    expect(await ledger.createTransfers([{ id: 2n, pendingId: 1n, flags: TransferFlags.postPendingTransfer }])).toEqual(['pending_transfer_expired']);
    expect((await ledger.getAccountBalances({ accountId: 1n, limit: 10 })).map((b) => b.creditsPending)).toEqual([9n, 0n]);
    // A pending transfer outliving a close: the reopened ledger arms its timer and expires it.
    expect(await ledger.createTransfers([{ id: 3n, debitAccountId: 100n, creditAccountId: 1n, amount: 4n, ledger: 1, code: 1, timeout: 5, flags: TransferFlags.pending }])).toEqual(['ok']);
    await ledger.close();
    const reopened = await backend.open(path, { clock });
    expect((await reopened.pendingStatuses([1n])).get(1n)).toBe('expired');
    expect((await reopened.lookupAccounts([1n]))[0]!.creditsPending).toBe(4n);
    expect(clock.armed).toBe(1);
    clock.advance(4_999);
    await reopened.createTransfers([]);
    expect((await reopened.pendingStatuses([3n])).get(3n)).toBe('pending');
    clock.advance(2); // past the deadline (its timestamp is a few ns after the clock reading)
    await reopened.createTransfers([]);
    expect((await reopened.pendingStatuses([3n])).get(3n)).toBe('expired');
    expect((await reopened.lookupAccounts([1n]))[0]!.creditsPending).toBe(0n);
    await reopened.close();
  });

  test('a failed commit stops the ledger without acknowledging anything; reopen restores the committed state', async () => {
    const clock = new ManualClock();
    const path = backend.fresh();
    const ledger = await backend.open(path, { create: true, clock });
    await ledger.createAccounts(SUPPLY_ACCOUNTS);
    expect(await ledger.createTransfers([{ id: 1n, debitAccountId: 100n, creditAccountId: 101n, amount: 1n, ledger: 1, code: 1 }])).toEqual(['ok']);
    // A clock far in the future: its timestamps no longer fit SQLite's INTEGER, so the write fails.
    clock.advance(2 ** 63 / 1e6);
    const a = ledger.createTransfers([{ id: 2n, debitAccountId: 100n, creditAccountId: 101n, amount: 1n, ledger: 1, code: 1 }]);
    const b = ledger.createTransfers([{ id: 3n, debitAccountId: 100n, creditAccountId: 101n, amount: 1n, ledger: 1, code: 1 }]);
    await expectLedgerError(a, 'UNAVAILABLE');
    await expectLedgerError(b, 'UNAVAILABLE');
    await expectLedgerError(ledger.createTransfers([]), 'UNAVAILABLE');
    expect(ledger.status).toBe('failed');
    await ledger.close();
    const reopened = await backend.open(path);
    expect((await reopened.lookupTransfers([1n, 2n, 3n])).map((t) => t.id)).toEqual([1n]);
    expect((await reopened.lookupAccounts([101n]))[0]!.creditsPosted).toBe(1n);
    await reopened.close();
  });
});
