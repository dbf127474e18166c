// Billing through Caesar over STOQ (docs/catalog-api.md, "Billing"). Catalog is a Caesar
// operator (caesar serve --operator catalog): it may debit any ordinary account and settle any
// pending transfer, so it checks itself that a payer belongs to the caller (the owner tag).
import { randomBytes } from 'node:crypto';
import { caesar } from '@stoq/protos';
import { RpcError, Status, type RpcClient } from '@stoq/rpc';
import { CatalogError } from '../errors';
import { reservationTransfer, settlementTransfer, transferIdFrom, voidTransfer, type BillingConfig } from '../core/billing';
import { closedAttempt, type RunTransferIds } from '../core/request-attempts';
import { ownerTag } from '../core/owner-tag';
import { TransferBatcher } from './transfer-batcher';

const M = caesar.CaesarMethods;
const R = caesar.CreateTransferResult;

export interface Billing {
  readonly config: BillingConfig;
  /** Creates (or finds) Catalog's fee account; once per instance unless it fails. */
  ensureFeeAccount(): Promise<void>;
  /** The payer exists on the billing ledger and is owned by `callerService`. */
  checkPayer(payer: bigint, callerService: string, deadline: number | undefined): Promise<void>;
  /** Reserves fuel_limit × price; returns the pending transfer's id. */
  reserve(payer: bigint, fuelLimit: bigint, id?: bigint): Promise<bigint>;
  /** Posts `fee` (voids when 0); returns the settling transfer's id. */
  settle(pendingId: bigint, fee: bigint, id?: bigint): Promise<bigint>;
  /** Voids the whole reservation (the run never started). */
  release(pendingId: bigint, id?: bigint): Promise<void>;
  /** Ends an earlier attempt of an idempotent run that left no answer (core/request-attempts.ts):
   *  resolves when nothing of it is or will be charged; REQUEST_IN_DOUBT when it was. */
  /** Voids an earlier attempt's reservation; says whether it ever reserved. Throws REQUEST_IN_DOUBT when it was charged. */
  closeAttempt(ids: RunTransferIds): Promise<'unused' | 'uncharged'>;
}

function unavailable(err: unknown, what: string): never {
  if (err instanceof RpcError && err.code === Status.PERMISSION_DENIED) {
    throw new CatalogError('BILLING_FAILED', `Caesar refused ${what}: ${err.message} (is catalog a Caesar operator? caesar serve --operator catalog)`, { cause: err });
  }
  throw new CatalogError('BILLING_UNAVAILABLE', `Caesar could not ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

const resultName = (r: number | undefined): string => caesar.CreateTransferResult[r ?? 0] ?? String(r);

/** Payers looked up before: an account's ledger and owner tag never change (Caesar accounts are immutable but for balances). */
const PAYER_CACHE_ENTRIES = 100_000;

export class CaesarBilling implements Billing {
  private feeAccount: Promise<void> | null = null;
  private readonly payers = new Map<bigint, { ledger: number; tag: bigint }>();
  readonly batcher: TransferBatcher;

  constructor(
    private readonly client: RpcClient,
    readonly config: BillingConfig,
    private readonly accountCode = 1,
  ) {
    this.batcher = new TransferBatcher(client);
  }

  ensureFeeAccount(): Promise<void> {
    this.feeAccount ??= this.createFeeAccount().catch((err: unknown) => {
      this.feeAccount = null;
      throw err;
    });
    return this.feeAccount;
  }

  private async createFeeAccount(): Promise<void> {
    let res: caesar.CreateAccountsResponse;
    try {
      res = await this.client.call(M.createAccounts, { accounts: [{ id: String(this.config.feeAccountId), ledger: this.config.ledger, code: this.accountCode }] }, { timeoutMs: 10_000 });
    } catch (err) {
      unavailable(err, 'create the fee account');
    }
    const r = res.results?.[0];
    if (r !== caesar.CreateAccountResult.CREATE_ACCOUNT_OK && r !== caesar.CreateAccountResult.CREATE_ACCOUNT_EXISTS) {
      throw new CatalogError('BILLING_FAILED', `fee account ${this.config.feeAccountId} cannot be Catalog's: ${caesar.CreateAccountResult[r ?? 0]} (choose another --fee-account)`);
    }
  }

  async checkPayer(payer: bigint, callerService: string, deadline: number | undefined): Promise<void> {
    let account = this.payers.get(payer);
    if (account === undefined) {
      let res: caesar.LookupAccountsResponse;
      try {
        res = await this.client.call(M.lookupAccounts, { ids: [String(payer)] }, deadline === undefined ? { timeoutMs: 10_000 } : { deadline });
      } catch (err) {
        unavailable(err, 'look up the payer');
      }
      const found = res.accounts?.[0];
      if (!found) throw new CatalogError('PAYER_NOT_FOUND', `payer account ${payer} does not exist in Caesar`);
      account = { ledger: found.ledger ?? 0, tag: BigInt(found.userData_128 || '0') };
      if (this.payers.size >= PAYER_CACHE_ENTRIES) this.payers.delete(this.payers.keys().next().value!);
      this.payers.set(payer, account);
    }
    if (account.ledger !== this.config.ledger) throw new CatalogError('PAYER_WRONG_LEDGER', `payer account ${payer} is on ledger ${account.ledger}; Catalog bills ledger ${this.config.ledger}`);
    if (account.tag !== ownerTag(callerService)) {
      throw new CatalogError('NOT_PAYERS_OWNER', `payer account ${payer} is not ${callerService}'s; a caller pays only from its own accounts`);
    }
  }

  async reserve(payer: bigint, fuelLimit: bigint, given?: bigint): Promise<bigint> {
    const id = given ?? transferIdFrom(randomBytes(16));
    const t = reservationTransfer(id, payer, fuelLimit, this.config);
    const r = await this.transfer(t, 'reserve the fee');
    if (r === R.CREATE_TRANSFER_OK) return id;
    // Only a request-derived id can exist already: an earlier attempt of this request reserved.
    if (given !== undefined && (r === R.CREATE_TRANSFER_EXISTS || (r >= R.CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS && r < R.CREATE_TRANSFER_EXISTS))) {
      throw new CatalogError('REQUEST_IN_DOUBT', `this request's fee was already reserved (transfer ${id}) by an attempt this Catalog instance has no record of (another instance, or longer ago than its answer window). No second charge is made; retry with a new request id`);
    }
    if (r === R.CREATE_TRANSFER_EXCEEDS_CREDITS) throw new CatalogError('INSUFFICIENT_FUNDS', `payer account ${payer} cannot cover the reservation of ${t.amount} (fuel_limit ${fuelLimit} × price ${this.config.pricePerFuel})`);
    if (r === R.CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND) throw new CatalogError('PAYER_NOT_FOUND', `payer account ${payer} does not exist in Caesar`);
    throw new CatalogError('BILLING_FAILED', `Caesar refused the reservation: ${resultName(r)}`);
  }

  async settle(pendingId: bigint, fee: bigint, given?: bigint): Promise<bigint> {
    const id = given ?? transferIdFrom(randomBytes(16));
    const r = await this.transfer(settlementTransfer(id, pendingId, fee), 'settle the fee');
    if (r !== R.CREATE_TRANSFER_OK) throw new CatalogError('BILLING_FAILED', `Caesar refused the settlement of ${pendingId}: ${resultName(r)}`);
    return id;
  }

  async release(pendingId: bigint, given?: bigint): Promise<void> {
    const r = await this.transfer(voidTransfer(given ?? transferIdFrom(randomBytes(16)), pendingId), 'void the reservation');
    if (r !== R.CREATE_TRANSFER_OK) throw new CatalogError('BILLING_FAILED', `Caesar refused to void ${pendingId}: ${resultName(r)}`);
  }

  async closeAttempt(ids: RunTransferIds): Promise<'unused' | 'uncharged'> {
    const r = await this.transfer(voidTransfer(ids.release, ids.reserve), 'close an earlier attempt');
    const verdict = closedAttempt(r);
    if (verdict === 'unused' || verdict === 'uncharged') return verdict;
    if (verdict === 'charged') {
      throw new CatalogError('REQUEST_IN_DOUBT', `an earlier attempt of this request ran and its fee was posted (transfer ${ids.reserve}), but its answer was never stored (Catalog stopped between billing and storing it). No second charge is made; retry with a new request id`);
    }
    throw new CatalogError('BILLING_FAILED', `Caesar refused to close an earlier attempt (void of ${ids.reserve}): ${resultName(r)}`);
  }

  private async transfer(t: caesar.NewTransfer, what: string): Promise<number> {
    try {
      return await this.batcher.submit(t);
    } catch (err) {
      unavailable(err, what);
    }
  }
}
