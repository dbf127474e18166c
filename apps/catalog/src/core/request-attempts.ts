// Attempts of one idempotent execute (pure). A request key may take several attempts: one refused
// before its run (a full pool after the reservation, say) must not block a retry with the same
// request id. Each attempt n has its own Caesar transfer ids, derived from (key, n), and n is
// recorded durably in the answer store before its reservation. A retry that finds attempt n
// recorded without an answer first closes it in Caesar (voids its reservation under n's release
// id). Caesar's answer to that void says what became of attempt n: it never reserved (its ids are
// unused: run as n again); it reserved and nothing was charged (voided, expired) — run as n + 1;
// or its fee was posted — it ran and was billed but its answer was never stored (Catalog died
// between the post and the answer's fsync), so running again would charge twice: in doubt.
//
// Why n is used again when it never reserved: the counter then moves only past attempts that
// hold a reservation in Caesar, so once any attempt was charged, attempt 1 holds one. A retry
// that has lost every record of the request (its answer window passed) starts at 1, finds that
// reservation (EXISTS) and is refused as in doubt — never charged a second time.
import { createHash } from 'node:crypto';
import { caesar } from '@stoq/protos';
import { transferIdFrom } from './billing';

const R = caesar.CreateTransferResult;

/** The transfer ids of one attempt of an idempotent run. */
export interface RunTransferIds {
  readonly reserve: bigint;
  readonly settle: bigint;
  readonly release: bigint;
}

/** Attempt 1 keeps the derivation of the single-attempt scheme, so a request reserved before
 *  attempts were numbered still finds its own reservation (and is refused, not charged twice). */
export function attemptTransferIds(requestKey: Uint8Array, attempt: number): RunTransferIds {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt: a positive integer, got ${attempt}`);
  const id = (label: string): bigint => {
    const h = createHash('sha256');
    if (attempt === 1) h.update(`catalog transfer v1\0${label}\0`);
    else h.update(`catalog transfer v2\0${label}\0${attempt}\0`);
    return transferIdFrom(h.update(requestKey).digest().subarray(0, 16));
  };
  return { reserve: id('reserve'), settle: id('settle'), release: id('release') };
}

/** What closing an earlier attempt (voiding its reservation under its release id) tells. */
export type ClosedAttempt =
  /** It never reserved: nothing in Caesar carries its ids; start it again (same number). */
  | 'unused'
  /** It reserved, and nothing of it is or will be charged: start the next attempt. */
  | 'uncharged'
  /** Its fee was posted: it ran and was billed, and its answer is lost. */
  | 'charged'
  /** Caesar refused for another reason (a bug, or the ids collide with foreign transfers). */
  | 'refused';

export function closedAttempt(voidResult: number): ClosedAttempt {
  switch (voidResult) {
    case R.CREATE_TRANSFER_OK: // voided now: it never settled
    case R.CREATE_TRANSFER_EXISTS: // our void of it was done before (it was refused before its run)
    case R.CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED: // settled with fee 0, or voided
    case R.CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED: // Caesar released it at its timeout
      return 'uncharged';
    case R.CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND: // it never reserved (refused, or died first)
      return 'unused';
    case R.CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED:
      return 'charged';
    default:
      return 'refused';
  }
}

/**
 * The attempt a request starts, given the last one recorded (0: none) and, when there was one,
 * what closing it told ('charged' and 'refused' never start anything: they are answered as errors).
 */
export function attemptToStart(lastRecorded: number, closed: 'unused' | 'uncharged' | null): number {
  if (lastRecorded === 0) return 1;
  if (closed === null) throw new RangeError(`attempt ${lastRecorded} must be closed before another starts`);
  return closed === 'unused' ? lastRecorded : lastRecorded + 1;
}
