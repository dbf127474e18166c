// Transfer ids Caesar derives itself, so an operation keyed by an outside fact happens at most once:
// the reward of a block (keyed by the block's digest) and the slash of an offence (keyed by the
// evidence digest). Resubmitting the same fact yields the same ids, and the ledger's idempotency
// answers `exists` instead of paying or burning twice.
//
//   id = first 16 bytes of SHA-256("caesar <purpose> v1\0" || digest || u32 index), bit 127 set
//
// Derived ids have bit 127 set; the service must refuse client transfers with such ids
// (isReservedTransferId), as it refuses client accounts in the stake-account range.
import { createHash } from 'node:crypto';
import { LedgerError } from '../errors';
import { U128_MAX } from './integers';

const RESERVED_BIT = 1n << 127n;

export type DerivedIdPurpose = 'reward' | 'slash';

export function derivedTransferId(purpose: DerivedIdPurpose, digest: Uint8Array, index: number): bigint {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) throw new LedgerError('INVALID_ARGUMENT', 'a digest is 32 bytes');
  if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) throw new LedgerError('INVALID_ARGUMENT', 'index must be a u32');
  const i = Buffer.alloc(4);
  i.writeUInt32BE(index);
  const h = createHash('sha256').update(`caesar ${purpose} v1\0`).update(digest).update(i).digest();
  const id = ((h.readBigUInt64BE(0) << 64n) | h.readBigUInt64BE(8)) | RESERVED_BIT;
  return id === U128_MAX ? id - 1n : id;
}

export function isReservedTransferId(id: bigint): boolean {
  return (id & RESERVED_BIT) !== 0n;
}

/** How a chain of derived-id events fared: applied now, applied before (same fact), or failed. */
export type DerivedChainOutcome = 'applied' | 'already_applied' | 'failed';

export function derivedChainOutcome(results: readonly string[]): DerivedChainOutcome {
  if (results.length > 0 && results.every((r) => r === 'ok')) return 'applied';
  // The first event's id is stored: the chain was applied by an earlier submission of this fact.
  if (results.length > 0 && results[0]!.startsWith('exists')) return 'already_applied';
  return 'failed';
}
