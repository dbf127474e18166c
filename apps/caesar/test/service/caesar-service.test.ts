// caesar/* over real STOQ connections: accounts, transfers (linked, two-phase), authorization by
// certificate identity (checked when the batch is applied), bad input answered with
// INVALID_ARGUMENT naming the field, lookups and history, watch, supply.
import { caesar as proto } from '@stoq/protos';
import { Status, type RpcClient } from '@stoq/rpc';
import { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS } from '../../src/core/results';
import { AccountFlags, TransferFlags } from '../../src/core/types';
import { ownerTag } from '../../src/service/access-policy';
import { parseU64, toU64 } from '../../src/service/wire-integers';
import { BURN, LEDGER, MINT, inStore, startHarness, type Harness } from './harness';
import { ledgerBackends } from '../helpers/ledger-backends';

const M = proto.CaesarMethods;
const NO_OVERDRAFT = AccountFlags.debitsMustNotExceedCredits;

const backends = ledgerBackends();

// Every method against each store (SQLite, and PostgreSQL when installed).
describe.each(backends.all)('$name store', (backend) => {
  let h: Harness;
  let admin: RpcClient;
  let alice: RpcClient;
  let bob: RpcClient;
  let catalog: RpcClient;

  const accountNames = (r: proto.CreateAccountsResponse): string[] => (r.results ?? []).map((n) => CREATE_ACCOUNT_RESULTS[n]!);
  const transferNames = (r: proto.CreateTransfersResponse): string[] => (r.results ?? []).map((n) => CREATE_TRANSFER_RESULTS[n]!);

  async function accounts(c: RpcClient, list: proto.NewAccount[]): Promise<string[]> {
    return accountNames(await c.call(M.createAccounts, { accounts: list }));
  }
  async function transfers(c: RpcClient, list: proto.NewTransfer[]): Promise<string[]> {
    return transferNames(await c.call(M.createTransfers, { transfers: list }));
  }
  const tr = (id: number | bigint, from: bigint | number, to: bigint | number, amount: number | bigint, more: Partial<proto.NewTransfer> = {}): proto.NewTransfer => ({
    id: String(id), debitAccountId: String(from), creditAccountId: String(to), amount: String(amount), ledger: LEDGER, code: 1, ...more,
  });
  async function balanceOf(c: RpcClient, id: number | bigint): Promise<bigint> {
    const [a] = (await c.call(M.lookupAccounts, { ids: [String(id)] })).accounts ?? [];
    return BigInt(a!.creditsPosted!) - BigInt(a!.debitsPosted!);
  }

  beforeAll(async () => {
    h = await startHarness(inStore(backend));
    [admin, alice, bob, catalog] = await Promise.all([h.client('admin'), h.client('alice'), h.client('bob'), h.client('catalog')]);
    // Supply accounts (admin only), alice's 10/11, bob's 20.
    expect(await accounts(admin, [{ id: String(MINT), ledger: LEDGER, code: 1, flags: AccountFlags.mint }, { id: String(BURN), ledger: LEDGER, code: 1, flags: AccountFlags.burn }])).toEqual(['ok', 'ok']);
    expect(await accounts(alice, [{ id: '10', ledger: LEDGER, code: 1, flags: NO_OVERDRAFT | AccountFlags.history }, { id: '11', ledger: LEDGER, code: 1, flags: NO_OVERDRAFT }])).toEqual(['ok', 'ok']);
    expect(await accounts(bob, [{ id: '20', ledger: LEDGER, code: 1, flags: NO_OVERDRAFT }])).toEqual(['ok']);
    expect(await transfers(admin, [tr(1, MINT, 10, 1000), tr(2, MINT, 20, 500)])).toEqual(['ok', 'ok']);
  });

  afterAll(async () => {
    await h.close();
  });

  test('accounts carry their creator\'s owner tag; another service cannot claim or forge one', async () => {
    const [a] = (await alice.call(M.lookupAccounts, { ids: ['10'] })).accounts!;
    expect(a!.userData_128).toBe(String(ownerTag('alice')));
    expect((await alice.call(M.whoAmI, {})).ownerTag).toBe(String(ownerTag('alice')));
    // bob resubmitting alice's account id is a different account (owner tag): refused by idempotency.
    expect(await accounts(bob, [{ id: '10', ledger: LEDGER, code: 1, flags: NO_OVERDRAFT | AccountFlags.history }])).toEqual(['exists_with_different_user_data_128']);
    await expect(bob.call(M.createAccounts, { accounts: [{ id: '30', ledger: LEDGER, code: 1, userData_128: String(ownerTag('alice')) }] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED, message: expect.stringContaining('accounts[0].user_data_128') });
    await expect(bob.call(M.createAccounts, { accounts: [{ id: '31', ledger: LEDGER, code: 1, flags: AccountFlags.mint }] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED, message: expect.stringContaining('accounts[0].flags') });
    await expect(bob.call(M.createAccounts, { accounts: [{ id: String((1n << 127n) | 5n), ledger: LEDGER, code: 1 }] })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('accounts[0].id') });
    expect((await bob.call(M.lookupAccounts, { ids: ['30', '31'] })).accounts).toEqual([]);
  });

  test('a transfer debits only the caller\'s own accounts; refused batches change nothing', async () => {
    expect(await transfers(alice, [tr(100, 10, 20, 50)])).toEqual(['ok']);
    // bob may not debit alice's account, nor mint; a batch with one such event is refused whole.
    await expect(bob.call(M.createTransfers, { transfers: [tr(101, 20, 11, 1), tr(102, 10, 20, 5)] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED, message: expect.stringContaining('transfers[1].debit_account_id') });
    await expect(bob.call(M.createTransfers, { transfers: [tr(103, MINT, 20, 5)] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    await expect(alice.call(M.createTransfers, { transfers: [tr(104, 10, BURN, 5)] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    expect((await bob.call(M.lookupTransfers, { ids: ['101', '102', '103', '104'] })).transfers).toEqual([]);
    // An operator may debit any ordinary account.
    expect(await transfers(catalog, [tr(105, 20, 11, 5)])).toEqual(['ok']);
    expect(await balanceOf(alice, 10)).toBe(950n);
    expect(await balanceOf(alice, 20)).toBe(545n);
    // Unknown accounts are the ledger's result code, not an authorization question.
    expect(await transfers(bob, [tr(106, 999, 20, 5)])).toEqual(['debit_account_not_found']);
  });

  test('ownership is checked when the batch is applied: an account created by a batch queued just before is not debitable by another', async () => {
    // Not awaited in between: both land in the same group commit, the account first.
    const create = bob.call(M.createAccounts, { accounts: [{ id: '40', ledger: LEDGER, code: 1 }] });
    const steal = alice.call(M.createTransfers, { transfers: [tr(107, 40, 11, 1)] }).then(transferNames, (e: { code: number }) => e.code);
    expect(accountNames(await create)).toEqual(['ok']);
    // Either refused (applied after the account existed) or not found (applied before): never ok.
    expect([Status.PERMISSION_DENIED, ['debit_account_not_found']]).toContainEqual(await steal);
  });

  test('linked chains apply all or nothing', async () => {
    const L = TransferFlags.linked;
    expect(await transfers(alice, [tr(200, 10, 11, 10, { flags: L }), tr(201, 11, 20, 10, { flags: L }), tr(202, 10, 20, 100_000)])).toEqual(['linked_event_failed', 'linked_event_failed', 'exceeds_credits']);
    expect((await alice.call(M.lookupTransfers, { ids: ['200', '201', '202'] })).transfers).toEqual([]);
    expect(await transfers(alice, [tr(203, 10, 11, 10, { flags: L }), tr(204, 11, 20, 10)])).toEqual(['ok', 'ok']);
    expect(await balanceOf(alice, 11)).toBe(5n);
  });

  test('two-phase: the payer reserves, the payee posts or voids; nobody else can', async () => {
    expect(await transfers(alice, [tr(300, 10, 20, 100, { flags: TransferFlags.pending, timeout: 3600 }), tr(301, 10, 20, 40, { flags: TransferFlags.pending })])).toEqual(['ok', 'ok']);
    // The payer may not post its own reservation to someone else (the payee settles).
    await expect(alice.call(M.createTransfers, { transfers: [{ id: '302', pendingId: '300', flags: TransferFlags.postPendingTransfer }] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED, message: expect.stringContaining('payee') });
    expect(await transfers(bob, [{ id: '303', pendingId: '300', amount: '60', flags: TransferFlags.postPendingTransfer }, { id: '304', pendingId: '301', flags: TransferFlags.voidPendingTransfer }])).toEqual(['ok', 'ok']);
    expect(await transfers(bob, [{ id: '305', pendingId: '300', flags: TransferFlags.voidPendingTransfer }])).toEqual(['pending_transfer_already_posted']);
    const [a] = (await alice.call(M.lookupAccounts, { ids: ['10'] })).accounts!;
    expect(a!.debitsPending).toBe('0');
    expect(await balanceOf(alice, 10)).toBe(950n - 10n - 60n);
  });

  test('bad input is INVALID_ARGUMENT naming the field, and the service keeps serving', async () => {
    const bad: Array<[proto.NewTransfer, string]> = [
      [tr(400, 10, 20, 0, { amount: '-5' }), 'transfers[0].amount'],
      [tr(400, 10, 20, 0, { amount: '1.5' }), 'transfers[0].amount'],
      [tr(400, 10, 20, 0, { amount: String(1n << 128n) }), 'transfers[0].amount'],
      [tr(400, 10, 20, 1, { debitAccountId: 'ten' }), 'transfers[0].debit_account_id'],
      [tr(400, 10, 20, 1, { code: 70_000 }), 'transfers[0].code'],
      [tr(String((1n << 127n) | 1n) as unknown as number, 10, 20, 1), 'transfers[0].id'],
    ];
    for (const [t, field] of bad) {
      await expect(alice.call(M.createTransfers, { transfers: [t] })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining(field) });
    }
    const tooMany = Array.from({ length: 8191 }, (_, i) => tr(500_000 + i, 10, 20, 1));
    await expect(alice.call(M.createTransfers, { transfers: tooMany })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('8190') });
    await expect(alice.call(M.getAccountTransfers, { accountId: '10', limit: 9000 })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('limit') });
    await expect(alice.call(M.lookupAccounts, { ids: ['0x10'] })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('ids[0]') });
    const watchBad = async () => {
      for await (const _ of alice.serverStream(M.watch, { accountIds: ['-1'] })) return;
    };
    await expect(watchBad()).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('account_ids[0]') });
    await expect(alice.call(M.stake, { ownerAccountId: '999', amount: '1', transferId: '77' })).rejects.toMatchObject({ code: Status.NOT_FOUND });
    await expect(bob.call(M.stake, { ownerAccountId: '10', amount: '1', transferId: '78' })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    expect((await alice.call(M.stakeOf, { ownerAccountId: '10' })).total).toBe('0');
    // Result codes for what is well-formed but wrong.
    expect(await transfers(alice, [tr(401, 10, 10, 1), tr(402, 10, 20, 0), tr(403, 10, 20, 1_000_000)])).toEqual(['accounts_must_be_different', 'amount_must_not_be_zero', 'exceeds_credits']);
    expect(await balanceOf(alice, 10)).toBe(880n);
  });

  test('history pages by timestamp; balances history for a history account; supply', async () => {
    const page1 = (await alice.call(M.getAccountTransfers, { accountId: '10', limit: 2 })).transfers!;
    expect(page1.map((t) => t.id)).toEqual(['1', '100']);
    const next = toU64(parseU64(page1[1]!.timestamp, 'timestamp') + 1n);
    const page2 = (await alice.call(M.getAccountTransfers, { accountId: '10', limit: 2, timestampMin: next })).transfers!;
    expect(page2.map((t) => t.id)).toEqual(['203', '300']);
    const debitsOnly = (await alice.call(M.getAccountTransfers, { accountId: '10', limit: 100, debits: true })).transfers!;
    expect(debitsOnly.every((t) => t.debitAccountId === '10')).toBe(true);
    const balances = (await alice.call(M.getAccountBalances, { accountId: '10', limit: 100 })).balances!;
    expect(balances.length).toBeGreaterThan(3);
    expect(await alice.call(M.supply, { ledger: LEDGER })).toMatchObject({ minted: '1500', burnt: '0', circulating: '1500' });
  });

  test('watch streams each durable commit touching the watched accounts', async () => {
    const ac = new AbortController();
    const seen: proto.LedgerChange[] = [];
    const stream = (async () => {
      for await (const c of bob.serverStream(M.watch, { accountIds: ['20'] }, { signal: ac.signal })) {
        seen.push(c);
        if (seen.length === 3) ac.abort();
      }
    })().catch(() => undefined);
    // The first message says the watch is live.
    while (seen.length === 0) await new Promise((r) => setImmediate(r));
    expect(seen[0]!.transfers).toEqual([]);
    expect(await transfers(alice, [tr(600, 11, 10, 1)])).toEqual(['ok']); // not bob's: not shown
    expect(await transfers(alice, [tr(601, 10, 20, 7)])).toEqual(['ok']);
    expect(await transfers(bob, [tr(602, 20, 10, 2)])).toEqual(['ok']);
    await stream;
    expect(seen.slice(1).map((c) => c.transfers!.map((t) => t.id))).toEqual([['601'], ['602']]);
    expect(seen[1]!.accounts!.map((a) => a.id)).toEqual(['20']);
  });

  test('unauthenticated callers are refused (an RpcServer without certificates is not reachable: STOQ authenticates every connection)', () => {
    // STOQ connections always carry a certificate; the policy still refuses a null peer.
    const { AccessPolicy } = jest.requireActual<typeof import('../../src/service/access-policy')>('../../src/service/access-policy');
    expect(() => new AccessPolicy({ admins: [], operators: [] }).caller(null)).toThrow(expect.objectContaining({ code: Status.UNAUTHENTICATED }));
  });

  test('a failed commit answers UNAVAILABLE to this and every later call and reports the stopped ledger once', async () => {
    let nowMs = Date.now();
    let failures = 0;
    const f = await startHarness({ ...inStore(backend), clock: { now: () => nowMs, setTimeout: () => null, clearTimeout: () => undefined }, onLedgerFailed: () => failures++ });
    try {
      const c = await f.client('alice');
      expect(await accounts(c, [{ id: '1', ledger: LEDGER, code: 1 }])).toEqual(['ok']);
      nowMs = 1e13; // timestamps beyond SQLite's INTEGER range: the write fails
      await expect(c.call(M.createAccounts, { accounts: [{ id: '2', ledger: LEDGER, code: 1 }] })).rejects.toMatchObject({ code: Status.UNAVAILABLE });
      await expect(c.call(M.lookupAccounts, { ids: ['1'] })).rejects.toMatchObject({ code: Status.UNAVAILABLE });
      expect(failures).toBe(1);
    } finally {
      await f.close();
    }
    // Reopening after a failed commit restores the committed state: the store's own tests.
  });
});
