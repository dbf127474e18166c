// Errors a caller can tell apart by `code`. Per-event outcomes (a transfer to an unknown account,
// posting more than is pending, ...) are NOT errors: they are result codes (core/results.ts).
// These are for what cannot be answered event by event: a malformed or oversized batch, a broken
// invariant, a database that is not ours or is damaged, a ledger that stopped after a failed write.

export type LedgerErrorCode =
  | 'INVALID_ARGUMENT' // a batch or event that is not well-formed (wrong type, out of its integer range)
  | 'BATCH_TOO_LARGE' // more events than one batch may carry (8,190)
  | 'INVARIANT_VIOLATED' // the ledger's state broke an invariant; nothing after it is trusted
  | 'STORE_FOREIGN' // the file exists but is not a Caesar ledger (or another ledger than expected)
  | 'STORE_VERSION' // a Caesar ledger of a schema version this code does not read
  | 'STORE_DAMAGED' // the database failed an integrity check or its contents contradict each other
  | 'STORE_NOT_FOUND' // no database at the path and creation was not requested
  | 'STORE_LOCKED' // another process has the ledger open
  | 'STORE_NOT_DURABLE' // the database server would acknowledge commits a crash can lose (PostgreSQL synchronous_commit or fsync off)
  | 'PERMISSION_DENIED' // a batch's admission check (DurableLedger createTransfers `admit`) refused it
  | 'UNAVAILABLE'; // the ledger is closed, or a commit failed and it stopped accepting batches

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LedgerError';
  }
}

/** An invariant failed after a batch (or on open). Names the invariant and the ledger / account. */
export class InvariantViolationError extends LedgerError {
  constructor(
    readonly invariant: InvariantName,
    detail: string,
  ) {
    super('INVARIANT_VIOLATED', `ledger invariant ${invariant} violated: ${detail}`);
    this.name = 'InvariantViolationError';
  }
}

export type InvariantName =
  | 'debits_equal_credits' // per ledger: sum of debits = sum of credits, pending and posted separately
  | 'balance_limit' // an account with debits_must_not_exceed_credits / credits_must_not_exceed_debits crossed it
  | 'supply_only_through_mint_and_burn' // a mint account was credited or a burn account debited
  | 'balances_match_transfers' // on open: an account's stored balances differ from the sum of its transfers
  | 'timestamps_not_after_clock'; // on open: a record's timestamp is past the ledger clock
