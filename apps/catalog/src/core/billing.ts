// Billing as Caesar transfers (pure): the pending transfer that reserves fuel_limit × price from
// the payer, and the post (fee = fuel_used × price; Caesar releases the rest of the reservation)
// or void (fee 0, or the run never started) that settles it. TigerBeetle semantics: posting less
// than the pending amount posts that much and releases the remainder in the same transfer.
import { caesar } from '@stoq/protos';
import { CatalogError } from '../errors';
import { U128_MAX } from './u128';

/** Caesar transfer flags (docs/caesar-api.md, "Flags"). */
export const PENDING = 2;
export const POST_PENDING = 4;
export const VOID_PENDING = 8;

export interface BillingConfig {
  /** Caesar ledger of payers and of the fee account. */
  readonly ledger: number;
  /** Transfer code of Catalog's fees. */
  readonly code: number;
  /** The account fees are paid into (Catalog's own). */
  readonly feeAccountId: bigint;
  /** Base units per fuel unit. */
  readonly pricePerFuel: bigint;
  /** A reservation Catalog never settles (a crash mid-run) is released by Caesar after this. */
  readonly reservationTimeoutSeconds: number;
}

export function maxFee(fuelLimit: bigint, cfg: BillingConfig): bigint {
  const amount = fuelLimit * cfg.pricePerFuel;
  if (amount > U128_MAX) throw new CatalogError('INVALID_ARGUMENT', `fuel_limit × price (${amount}) does not fit in a u128`);
  return amount;
}

export function reservationTransfer(id: bigint, payer: bigint, fuelLimit: bigint, cfg: BillingConfig): caesar.NewTransfer {
  return {
    id: String(id),
    debitAccountId: String(payer),
    creditAccountId: String(cfg.feeAccountId),
    amount: String(maxFee(fuelLimit, cfg)),
    ledger: cfg.ledger,
    code: cfg.code,
    flags: PENDING,
    timeout: cfg.reservationTimeoutSeconds,
  };
}

/** Post the fee or, when it is 0, void the whole reservation (a post of 0 would post all of it). */
export function settlementTransfer(id: bigint, pendingId: bigint, fee: bigint): caesar.NewTransfer {
  return fee === 0n ? { id: String(id), pendingId: String(pendingId), flags: VOID_PENDING } : { id: String(id), pendingId: String(pendingId), amount: String(fee), flags: POST_PENDING };
}

export function voidTransfer(id: bigint, pendingId: bigint): caesar.NewTransfer {
  return { id: String(id), pendingId: String(pendingId), flags: VOID_PENDING };
}

/** A fresh client-chosen transfer id: 126 random bits (bit 127 is Caesar's, 0 is refused). */
export function transferIdFrom(random16: Uint8Array): bigint {
  const b = Buffer.from(random16);
  const v = ((b.readBigUInt64BE(0) << 64n) | b.readBigUInt64BE(8)) >> 2n;
  return v === 0n ? 1n : v;
}
