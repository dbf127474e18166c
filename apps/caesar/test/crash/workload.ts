// The crash test's workload, generated identically by the driver (child process) and the test:
// batch (round, worker, seq) is a pure function of the seed, so the test knows every event of
// every batch the child submitted from the `send`/`ack` lines alone. Ids are unique per event
// ((round, worker, seq, index) packed into the id), so an id is present iff that event succeeded.
import { AccountFlags, type AccountInput, TransferFlags, type TransferInput } from '../../src';

export const MINT = 100n;
export const BURN = 101n;
const USERS = 8;

export const CRASH_ACCOUNTS: AccountInput[] = [
  { id: MINT, ledger: 1, code: 1, flags: AccountFlags.mint },
  { id: BURN, ledger: 1, code: 1, flags: AccountFlags.burn | AccountFlags.history },
  ...Array.from({ length: USERS }, (_, i) => ({
    id: BigInt(i + 1),
    ledger: 1,
    code: 1,
    flags: AccountFlags.debitsMustNotExceedCredits | (i < 2 ? AccountFlags.history : 0),
  })),
];

/** mulberry32: a small seeded PRNG (the tests must not use Math.random). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function transferId(round: number, worker: number, seq: number, index: number): bigint {
  return (BigInt(round) << 64n) | (BigInt(worker) << 48n) | (BigInt(seq) << 16n) | BigInt(index + 1);
}

export function crashBatch(seed: number, round: number, worker: number, seq: number): TransferInput[] {
  const rnd = prng((seed ^ Math.imul(round + 1, 0x9e3779b1) ^ Math.imul(worker + 1, 0x85ebca6b) ^ Math.imul(seq + 1, 0xc2b2ae35)) >>> 0);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const user = (): bigint => BigInt(int(1, USERS));
  const size = int(1, 120);
  const events: TransferInput[] = [];
  const pendings: bigint[] = [];
  for (let i = 0; i < size; i++) {
    const id = transferId(round, worker, seq, i);
    const k = rnd();
    let e: TransferInput;
    if (k < 0.2) e = { id, debitAccountId: MINT, creditAccountId: user(), amount: BigInt(int(1, 1000)), ledger: 1, code: 1 };
    else if (k < 0.55) e = { id, debitAccountId: user(), creditAccountId: user(), amount: BigInt(int(1, 300)), ledger: 1, code: 2 };
    else if (k < 0.65) e = { id, debitAccountId: user(), creditAccountId: BURN, amount: BigInt(int(1, 50)), ledger: 1, code: 3 };
    else if (k < 0.78) {
      e = { id, debitAccountId: user(), creditAccountId: user(), amount: BigInt(int(1, 200)), ledger: 1, code: 4, flags: TransferFlags.pending, timeout: int(0, 2) };
      pendings.push(id);
    } else if (k < 0.9 && pendings.length > 0) {
      const pendingId = pendings[int(0, pendings.length - 1)]!;
      e = { id, pendingId, amount: rnd() < 0.5 ? 0n : BigInt(int(1, 200)), flags: rnd() < 0.7 ? TransferFlags.postPendingTransfer : TransferFlags.voidPendingTransfer };
    } else {
      // Invalid: same accounts, an unknown account, a zero amount, or crediting the mint.
      const bad = int(0, 3);
      const a = user();
      e =
        bad === 0
          ? { id, debitAccountId: a, creditAccountId: a, amount: 5n, ledger: 1, code: 9 }
          : bad === 1
            ? { id, debitAccountId: a, creditAccountId: 999n, amount: 5n, ledger: 1, code: 9 }
            : bad === 2
              ? { id, debitAccountId: MINT, creditAccountId: a, amount: 0n, ledger: 1, code: 9 }
              : { id, debitAccountId: a, creditAccountId: MINT, amount: 5n, ledger: 1, code: 9 };
    }
    // About a quarter of events link to the next one; the last event's link is usually dropped.
    const linked = rnd() < 0.25 && (i < size - 1 || rnd() < 0.2);
    events.push(linked ? { ...e, flags: (e.flags ?? 0) | TransferFlags.linked } : e);
  }
  return events;
}

/** The linked chains of a batch, as index ranges [start, end] (single events are not chains). */
export function chainsOf(events: readonly TransferInput[]): Array<[number, number]> {
  const chains: Array<[number, number]> = [];
  let start = -1;
  events.forEach((e, i) => {
    const linked = ((e.flags ?? 0) & TransferFlags.linked) !== 0;
    if (linked && start < 0) start = i;
    if (start >= 0 && (!linked || i === events.length - 1)) {
      chains.push([start, i]);
      start = -1;
    }
  });
  return chains;
}
