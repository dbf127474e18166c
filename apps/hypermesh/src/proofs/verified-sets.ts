// The four-proof sets this validator has verified, so that the same bytes are not verified again
// on receipt, as leader and as voter (about 1.5 ms each: decoding, the FALCON stake signature, the
// VDF, PoSpace). Only what a set's bytes decide is remembered: the key is a hash of exactly the
// inputs of those checks (the binding to the request and the set's encoding), under one
// verifier's rules. What depends on when and where a set is checked (the clock: PoStake's window,
// PoTime's timestamp; the chain: the node's last sequence, the anchor) is not remembered but kept
// as facts that proof-verifier.ts checks again on every use, with the library's rules.
//
// Only sets that verified are remembered. A refusal can depend on the moment (an anchor not yet
// committed here, a timestamp still ahead of this clock) and must be decidable again later; a set
// that can never verify is dropped by every honest leader, so only a faulty one makes this
// validator verify it again (once per proposal).
import { createHash } from 'node:crypto';
import type { BlockAnchor } from '@stoq/four-proof';

/** The facts of a verified set that the moment-dependent rules read. */
export interface VerifiedSet {
  proofHash: Uint8Array;
  nodeId: Uint8Array;
  sequence: bigint;
  timestampMs: number;
  stakeIssuedAtMs: number;
  stakeExpiresAtMs: number;
  anchor: BlockAnchor | undefined;
}

/** What a set was verified for: a certificate request's key binding, or an operation on an asset. */
export type SetBinding = { kind: 'certificate'; keyBinding: Uint8Array } | { kind: 'operation'; operation: string; assetId: string; nodeId: Uint8Array };

/** SHA-256 over the binding and the set's bytes, each length-prefixed (no two inputs share a key). */
export function verifiedSetKey(binding: SetBinding, proofSet: Uint8Array): string {
  const h = createHash('sha256');
  const part = (b: Uint8Array | string): void => {
    const bytes = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  };
  if (binding.kind === 'certificate') {
    part('certificate');
    part(binding.keyBinding);
  } else {
    part('operation');
    part(binding.operation);
    part(binding.assetId);
    part(binding.nodeId);
  }
  part(proofSet);
  return h.digest('hex');
}

export const DEFAULT_VERIFIED_SETS = 16_384;

/** A bounded map from key to facts; the least recently used entry goes first when it is full. */
export class VerifiedSets {
  private readonly entries = new Map<string, VerifiedSet>();

  constructor(readonly capacity: number = DEFAULT_VERIFIED_SETS) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): VerifiedSet | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      // Map order is insertion order: re-inserting makes it the most recently used.
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  add(key: string, v: VerifiedSet): void {
    this.entries.delete(key);
    this.entries.set(key, v);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }
}
