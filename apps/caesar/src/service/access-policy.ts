// Who may move money (docs/caesar-api.md, "Authorization"). Identities are the service names in
// callers' certificates (TrustChain-issued, checked by STOQ before any call runs):
//
//   owner     every account carries its creator's OWNER TAG in user_data_128 (ownerTag(service):
//             first 16 bytes of SHA-256("caesar owner v1\0" || service), bit 127 clear). A caller
//             may debit only accounts whose tag is its own, and post or void only pending
//             transfers whose CREDIT account is its own (the payee settles; the payer's consent is
//             the pending transfer, bounded by its amount and timeout).
//   operator  services named with --operator (e.g. catalog, which reserves fees from users'
//             accounts) may debit any ordinary account and post/void any ordinary pending transfer.
//   admin     services named with --admin (default TrustChain's `admin`) may do what operators do,
//             create mint and burn accounts, and debit mint / credit burn accounts directly
//             (genesis allocations and treasury burns; every such transfer is logged).
//
// Nobody moves money through create_transfers into or out of stake accounts (bit 127 ids:
// stake, unstake, withdraw and slash build those), nor with a reserved transfer id (bit 127:
// reward and slash ids). reward_block (only `hypermesh`) and slash (anyone, with evidence that
// verifies) mint and burn without an owner: what authorizes them is the proof they carry.
//
// The checks that read accounts run as the store's admission check: in the same synchronous step
// that applies the batch, so no batch queued before can change an account's owner under them.
import { createHash } from 'node:crypto';
import type { PeerIdentity } from '@stoq/core';
import { RpcError, Status } from '@stoq/rpc';
import { LedgerError } from '../errors';
import { isReservedTransferId } from '../core/derived-ids';
import { isReservedAccountId } from '../core/staking';
import { AccountFlags, TransferFlags, type AccountInput, type TransferInput } from '../core/types';
import type { AdmissionCheck, LedgerReader } from '../store/durable-ledger';

export type Role = 'admin' | 'operator' | 'owner';

export interface AccessConfig {
  /** Services that may do everything, including minting and burning directly. */
  readonly admins: readonly string[];
  /** Services that may debit any ordinary account (e.g. catalog). */
  readonly operators: readonly string[];
}

const OWNER_CONTEXT = Buffer.from('caesar owner v1\0', 'latin1');
const BIT_127 = 1n << 127n;

/** The owner tag of a service: what its accounts carry in user_data_128. */
export function ownerTag(service: string): bigint {
  const h = createHash('sha256').update(OWNER_CONTEXT).update(service, 'utf8').digest();
  const tag = ((h.readBigUInt64BE(0) << 64n) | h.readBigUInt64BE(8)) & ~BIT_127;
  return tag === 0n ? 1n : tag;
}

export interface Caller {
  readonly service: string;
  readonly instance: string;
  readonly role: Role;
  readonly tag: bigint;
}

export class AccessPolicy {
  constructor(private readonly config: AccessConfig) {}

  caller(peer: PeerIdentity | null): Caller {
    if (peer === null) throw new RpcError(Status.UNAUTHENTICATED, 'Caesar answers authenticated callers only');
    const role: Role = this.config.admins.includes(peer.service) ? 'admin' : this.config.operators.includes(peer.service) ? 'operator' : 'owner';
    return { service: peer.service, instance: peer.instance, role, tag: ownerTag(peer.service) };
  }

  /** New accounts carry the caller's tag; reserved ids and (for non-admins) supply accounts are refused. */
  prepareAccounts(events: readonly AccountInput[], caller: Caller): AccountInput[] {
    return events.map((a, i) => {
      if (isReservedAccountId(a.id)) {
        throw new RpcError(Status.INVALID_ARGUMENT, `accounts[${i}].id: ids with bit 127 set are Caesar's (stake accounts); choose an id below 2^127`);
      }
      const flags = a.flags ?? 0;
      if ((flags & (AccountFlags.mint | AccountFlags.burn)) !== 0 && caller.role !== 'admin') {
        throw new RpcError(Status.PERMISSION_DENIED, `accounts[${i}].flags: only an admin may create mint or burn accounts; ${caller.service} is not one`);
      }
      const given = a.userData128 ?? 0n;
      if (given !== 0n && given !== caller.tag) {
        throw new RpcError(Status.PERMISSION_DENIED, `accounts[${i}].user_data_128: is the owner tag; ${caller.service}'s is ${caller.tag} (leave it empty)`);
      }
      return { ...a, userData128: caller.tag };
    });
  }

  /** Checks that need no ledger state: reserved transfer ids and stake accounts. */
  checkTransfersStatically(events: readonly TransferInput[]): void {
    events.forEach((t, i) => {
      if (isReservedTransferId(t.id)) throw new RpcError(Status.INVALID_ARGUMENT, `transfers[${i}].id: ids with bit 127 set are Caesar's (rewards, slashes); choose an id below 2^127`);
      for (const [field, id] of [['debit_account_id', t.debitAccountId], ['credit_account_id', t.creditAccountId]] as const) {
        if (id !== undefined && isReservedAccountId(id)) {
          throw new RpcError(Status.PERMISSION_DENIED, `transfers[${i}].${field}: ${id} is a stake account; stake moves only through caesar/stake, unstake, withdraw and slash`);
        }
      }
    });
  }

  /**
   * The admission check of a client batch: every event that could move money out of an account
   * must be the caller's to move. Events whose accounts or pending transfer do not exist are let
   * through: the ledger answers them with a not-found result and moves nothing.
   */
  admitTransfers(events: readonly TransferInput[], caller: Caller, onSupplyMove: (i: number) => void): AdmissionCheck {
    return (ledger: LedgerReader) => {
      const inBatch = new Map<bigint, TransferInput>();
      events.forEach((t, i) => {
        const flags = t.flags ?? 0;
        const settles = (flags & (TransferFlags.postPendingTransfer | TransferFlags.voidPendingTransfer)) !== 0;
        if (settles) this.admitSettlement(t, i, caller, ledger, inBatch);
        else this.admitMove(t.debitAccountId ?? 0n, t.creditAccountId ?? 0n, i, caller, ledger, onSupplyMove, 'debit');
        inBatch.set(t.id, t);
      });
    };
  }

  private admitMove(debitId: bigint, creditId: bigint, i: number, caller: Caller, ledger: LedgerReader, onSupplyMove: (i: number) => void, who: 'debit' | 'credit'): void {
    const debit = ledger.lookupAccount(debitId);
    const credit = ledger.lookupAccount(creditId);
    const supply = ((debit?.flags ?? 0) & AccountFlags.mint) !== 0 || ((credit?.flags ?? 0) & AccountFlags.burn) !== 0;
    if (supply) {
      if (caller.role !== 'admin') deny(`transfers[${i}]: only an admin moves money out of a mint or into a burn account directly (rewards come from caesar/reward_block, burns from caesar/slash); ${caller.service} is not one`);
      onSupplyMove(i);
      return;
    }
    if (caller.role !== 'owner') return;
    const account = who === 'debit' ? debit : credit;
    if (account === undefined) return; // not found: the ledger refuses the event
    if (isReservedAccountId(account.id)) deny(`transfers[${i}]: ${account.id} is a stake account`);
    if (account.userData128 !== caller.tag) {
      deny(
        who === 'debit'
          ? `transfers[${i}].debit_account_id: account ${account.id} is not ${caller.service}'s; only its owner (or an operator) may debit it`
          : `transfers[${i}]: pending transfer's credit account ${account.id} is not ${caller.service}'s; only the payee (or an operator) may post or void it`,
      );
    }
  }

  private admitSettlement(t: TransferInput, i: number, caller: Caller, ledger: LedgerReader, inBatch: ReadonlyMap<bigint, TransferInput>): void {
    const pendingId = t.pendingId ?? 0n;
    const stored = ledger.lookupTransfer(pendingId);
    const pending = stored ?? inBatch.get(pendingId);
    if (pending === undefined) return; // pending_transfer_not_found
    const debitId = pending.debitAccountId ?? 0n;
    const creditId = pending.creditAccountId ?? 0n;
    if (isReservedAccountId(debitId) || isReservedAccountId(creditId)) deny(`transfers[${i}].pending_id: ${pendingId} is an unbonding transfer; use caesar/withdraw`);
    this.admitMove(debitId, creditId, i, caller, ledger, () => undefined, 'credit');
  }
}

function deny(message: string): never {
  throw new LedgerError('PERMISSION_DENIED', message);
}
