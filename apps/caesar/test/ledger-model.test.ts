// Property tests: random workloads (valid and invalid events, linked chains, two-phase transfers
// with timeouts, balancing, overflows) applied to the core Ledger and to the reference model in
// helpers/reference-model.ts. After every batch the result codes, every account, every transfer
// (with its pending status), the history rows and the ledger clock must be equal, and the
// invariants must hold. At the end, Ledger.restore of the state must verify and be equal.
import fc from 'fast-check';
import { type AccountBalance, Ledger, type PendingStatus, type Transfer } from '../src';
import { SUPPLY_ACCOUNTS, workload } from './helpers/arbitraries';
import { ReferenceLedger } from './helpers/reference-model';

const START = 1_700_000_000_000_000_000n;

function compare(ledger: Ledger, model: ReferenceLedger): void {
  expect(ledger.lastTimestamp).toBe(model.state.clock);
  expect(ledger.accountCount).toBe(model.state.accounts.length);
  expect(ledger.transferCount).toBe(model.state.transfers.length);
  for (const a of model.state.accounts) expect(ledger.lookupAccount(a.id)).toEqual(a);
  for (const { status, ...t } of model.state.transfers) {
    expect(ledger.lookupTransfer(t.id)).toEqual(t);
    expect(ledger.pendingStatus(t.id)).toBe(status ?? undefined);
  }
}

test('the ledger core agrees with the reference model after every batch, and its invariants hold', () => {
  fc.assert(
    fc.property(workload, ({ accounts, steps }) => {
      const ledger = new Ledger();
      const model = new ReferenceLedger();
      const history: AccountBalance[] = [];
      let now = START;
      const setup = [...SUPPLY_ACCOUNTS, ...accounts];
      const first = ledger.createAccounts(setup, now);
      expect(first.results).toEqual(model.createAccounts(setup, now));
      history.push(...first.changes.balances);
      for (const s of steps) {
        now += s.advance;
        const outcome = s.kind === 'accounts' ? ledger.createAccounts(s.events, now) : ledger.createTransfers(s.events, now);
        const expected = s.kind === 'accounts' ? model.createAccounts(s.events, now) : model.createTransfers(s.events, now);
        expect(outcome.results).toEqual(expected);
        history.push(...outcome.changes.balances);
        compare(ledger, model);
        expect(history).toEqual(model.state.history);
        ledger.verifyInvariants();
        // The change set names exactly what is new.
        expect(outcome.changes.lastTimestamp).toBe(ledger.lastTimestamp);
        for (const t of outcome.changes.transfers) expect(ledger.lookupTransfer(t.id)).toEqual(t);
        for (const a of outcome.changes.accounts) expect(ledger.lookupAccount(a.id)).toEqual(a);
        for (const p of outcome.changes.pendingStatuses) expect(ledger.pendingStatus(p.id)).toBe(p.status);
      }
      const supply = ledger.supply(1);
      expect(supply.circulating).toBe(supply.minted - supply.burnt);

      // What a store would hand back restores to an equal, verified ledger.
      const statuses = new Map<bigint, PendingStatus>();
      const transfers: Transfer[] = [];
      for (const { status, ...t } of model.state.transfers) {
        transfers.push(t);
        if (status) statuses.set(t.id, status);
      }
      const restored = Ledger.restore({ accounts: ledger.allAccounts(), transfers, pendingStatuses: statuses, lastTimestamp: ledger.lastTimestamp });
      compare(restored, model);
      expect(restored.nextExpiry()).toBe(ledger.nextExpiry());
    }),
    { numRuns: 400 },
  );
});

test('restore verifies balances stored as of an earlier instant against the transfers, and refuses altered ones', () => {
  fc.assert(
    fc.property(workload, fc.nat(), fc.nat(), ({ accounts, steps }, at, victim) => {
      const ledger = new Ledger();
      let now = START;
      ledger.createAccounts([...SUPPLY_ACCOUNTS, ...accounts], now);
      const transfers = new Map<bigint, Transfer>();
      const statuses = new Map<bigint, PendingStatus>();
      const resolvedAt = new Map<bigint, bigint>();
      const checkpointAfter = at % (steps.length + 1);
      let checkpoint = { accounts: ledger.allAccounts(), asOf: ledger.lastTimestamp };
      steps.forEach((s, i) => {
        now += s.advance;
        const { changes } = s.kind === 'accounts' ? ledger.createAccounts(s.events, now) : ledger.createTransfers(s.events, now);
        for (const t of changes.transfers) transfers.set(t.id, t);
        for (const p of changes.pendingStatuses) {
          statuses.set(p.id, p.status);
          if (p.status !== 'pending') resolvedAt.set(p.id, p.resolvedAt);
        }
        if (i + 1 === checkpointAfter) checkpoint = { accounts: ledger.allAccounts(), asOf: ledger.lastTimestamp };
      });
      // Accounts created after the checkpoint are stored with zero balances.
      const asOfIds = new Set(checkpoint.accounts.map((a) => a.id));
      const stored = [...checkpoint.accounts, ...ledger.allAccounts().filter((a) => !asOfIds.has(a.id)).map((a) => ({ ...a, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n }))];
      const snapshot = { accounts: stored, transfers: transfers.values(), pendingStatuses: statuses, resolvedAt, lastTimestamp: ledger.lastTimestamp, balancesAsOf: checkpoint.asOf };
      const restored = Ledger.restore(snapshot);
      expect(restored.allAccounts()).toEqual(ledger.allAccounts());
      // Any altered stored balance is caught.
      const i = victim % stored.length;
      const altered = stored.map((a, j) => (j === i ? { ...a, creditsPosted: a.creditsPosted + 1n } : a));
      expect(() => Ledger.restore({ ...snapshot, transfers: transfers.values(), accounts: altered })).toThrow(expect.objectContaining({ invariant: 'balances_match_transfers' }));
    }),
    { numRuns: 200 },
  );
});

test('restored ledgers continue exactly like the original', () => {
  fc.assert(
    fc.property(workload, workload, ({ accounts, steps }, more) => {
      const ledger = new Ledger();
      let now = START;
      ledger.createAccounts([...SUPPLY_ACCOUNTS, ...accounts], now);
      const statuses = new Map<bigint, PendingStatus>();
      const transfers = new Map<bigint, Transfer>();
      const apply = (l: Ledger, s: (typeof steps)[number], at: bigint): string[] => (s.kind === 'accounts' ? l.createAccounts(s.events, at).results : l.createTransfers(s.events, at).results);
      for (const s of steps) {
        now += s.advance;
        const { changes } = s.kind === 'accounts' ? ledger.createAccounts(s.events, now) : ledger.createTransfers(s.events, now);
        for (const t of changes.transfers) transfers.set(t.id, t);
        for (const p of changes.pendingStatuses) statuses.set(p.id, p.status);
      }
      const restored = Ledger.restore({ accounts: ledger.allAccounts(), transfers: transfers.values(), pendingStatuses: statuses, lastTimestamp: ledger.lastTimestamp });
      for (const s of more.steps) {
        now += s.advance;
        expect(apply(restored, s, now)).toEqual(apply(ledger, s, now));
      }
      expect(restored.allAccounts()).toEqual(ledger.allAccounts());
    }),
    { numRuns: 150 },
  );
});
