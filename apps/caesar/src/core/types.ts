// The ledger's records, after TigerBeetle's data model (docs.tigerbeetle.com, "Data Modeling"):
// accounts carry four balances (debits/credits, each pending and posted) and are never deleted;
// transfers are immutable, identified by a client-chosen 128-bit id, and move `amount` from the
// debit account to the credit account. Field names are TigerBeetle's in camelCase.
//
// Timestamps are u64 nanoseconds since the Unix epoch, assigned by the ledger (strictly increasing,
// one per event); the caller passes `now` in, the core never reads a clock.

/** Account flags (a u16 bit set). Bits 0–3 are TigerBeetle's; 14 and 15 are Caesar's supply accounts. */
export const AccountFlags = {
  /** This event and the next one succeed or fail together (a linked chain). */
  linked: 1 << 0,
  /** debits_pending + debits_posted must never exceed credits_posted (no overdraft). */
  debitsMustNotExceedCredits: 1 << 1,
  /** credits_pending + credits_posted must never exceed debits_posted. */
  creditsMustNotExceedDebits: 1 << 2,
  /** Record the account's balances after every change (getAccountBalances). */
  history: 1 << 3,
  /**
   * A supply source: may only be debited. Debiting it creates money (rewards); its net debit is
   * the total ever minted on its ledger.
   */
  mint: 1 << 14,
  /** A supply sink: may only be credited. Crediting it destroys money (slashing, fees burnt). */
  burn: 1 << 15,
} as const;

export const ACCOUNT_FLAGS_KNOWN = Object.values(AccountFlags).reduce((a, b) => a | b, 0);

/** Transfer flags (a u16 bit set), TigerBeetle's bits. */
export const TransferFlags = {
  linked: 1 << 0,
  /** Reserve the amount (debits_pending / credits_pending) until posted, voided or timed out. */
  pending: 1 << 1,
  /** Post (part of) the pending transfer `pendingId`. */
  postPendingTransfer: 1 << 2,
  /** Release the pending transfer `pendingId`. */
  voidPendingTransfer: 1 << 3,
  /** Transfer at most `amount`: as much as keeps debits ≤ credits_posted on the debit account. */
  balancingDebit: 1 << 4,
  /** Transfer at most `amount`: as much as keeps credits ≤ debits_posted on the credit account. */
  balancingCredit: 1 << 5,
} as const;

export const TRANSFER_FLAGS_KNOWN = Object.values(TransferFlags).reduce((a, b) => a | b, 0);

export interface Account {
  readonly id: bigint;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  readonly ledger: number;
  readonly code: number;
  readonly flags: number;
  /** When the account was created (ns). */
  readonly timestamp: bigint;
}

/** What a client sends to create an account; omitted fields are 0. Balances start at 0. */
export interface AccountInput {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags?: number;
  readonly userData128?: bigint;
  readonly userData64?: bigint;
  readonly userData32?: number;
}

export interface Transfer {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  /** The amount moved (for balancing and post transfers: the amount actually moved). */
  readonly amount: bigint;
  /** The pending transfer a post/void refers to; 0 otherwise. */
  readonly pendingId: bigint;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  /** Seconds after `timestamp` at which a pending transfer expires; 0 = never. */
  readonly timeout: number;
  readonly ledger: number;
  readonly code: number;
  readonly flags: number;
  readonly timestamp: bigint;
}

/** What a client sends to create a transfer; omitted fields are 0. */
export interface TransferInput {
  readonly id: bigint;
  readonly debitAccountId?: bigint;
  readonly creditAccountId?: bigint;
  /**
   * u128, > 0. For balancing transfers the most to move. For a post: 0 = the full pending amount,
   * else at most the pending amount (the rest is released). For a void: 0 or the pending amount.
   */
  readonly amount?: bigint;
  readonly pendingId?: bigint;
  readonly userData128?: bigint;
  readonly userData64?: bigint;
  readonly userData32?: number;
  readonly timeout?: number;
  readonly ledger?: number;
  readonly code?: number;
  readonly flags?: number;
}

/** Where a pending transfer stands. */
export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

/** An account's balances at one instant (kept for accounts with the `history` flag). */
export interface AccountBalance {
  readonly accountId: bigint;
  readonly timestamp: bigint;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
}

/** A pending transfer's status change: `resolvedAt` is the timestamp of the post, void or expiry (0 while pending). */
export interface PendingStatusChange {
  readonly id: bigint;
  readonly status: PendingStatus;
  readonly resolvedAt: bigint;
}

/**
 * What one batch changed, for a durable store to write in one transaction: the accounts it
 * created (with zero balances, as of their creation), the final state of every account created or
 * changed, every transfer created, the final status of every pending transfer created or
 * resolved, history rows, and the ledger clock after the batch.
 */
export interface LedgerChanges {
  readonly accountsCreated: readonly Account[];
  readonly accounts: readonly Account[];
  readonly transfers: readonly Transfer[];
  readonly pendingStatuses: readonly PendingStatusChange[];
  readonly balances: readonly AccountBalance[];
  readonly lastTimestamp: bigint;
}

/** A whole ledger state, as a store hands it back on open (Ledger.restore verifies it). */
export interface LedgerSnapshot {
  /** Every account, with its balances as of `balancesAsOf`. */
  readonly accounts: Iterable<Account>;
  readonly transfers: Iterable<Transfer>;
  /** Status of every transfer with the `pending` flag (read after the transfer is yielded). */
  readonly pendingStatuses: ReadonlyMap<bigint, PendingStatus>;
  /** When each resolved pending transfer was resolved; missing = at or before balancesAsOf. */
  readonly resolvedAt?: ReadonlyMap<bigint, bigint>;
  readonly lastTimestamp: bigint;
  /** The instant the accounts' balances are from (default lastTimestamp). */
  readonly balancesAsOf?: bigint;
}
