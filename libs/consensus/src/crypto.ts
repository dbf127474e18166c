// Signatures are injected: apps/hypermesh plugs in FALCON-1024 from the native module, the
// simulator a keyed hash. The core only ever signs as itself and verifies through these.
import type { ValidatorId } from './types';

export interface Signer {
  /** The validator this signer signs for. */
  readonly validator: ValidatorId;
  sign(message: Uint8Array): Uint8Array;
}

export interface SignedItem {
  validator: ValidatorId;
  /** From the validator set (genesis); the verifier need not keep its own key table. */
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

export interface SignatureVerifier {
  verify(item: SignedItem): boolean;
  /**
   * Optional: verify many at once (where a batch pays, e.g. in native code). Returns one verdict
   * per item, in order. Used for certificates; without it the core calls verify() per item.
   */
  verifyBatch?(items: readonly SignedItem[]): boolean[];
}

export function verifyAll(verifier: SignatureVerifier, items: readonly SignedItem[]): boolean[] {
  if (verifier.verifyBatch && items.length > 1) {
    const out = verifier.verifyBatch(items);
    if (out.length !== items.length) throw new Error(`verifyBatch returned ${out.length} verdicts for ${items.length} items`);
    return out;
  }
  return items.map((i) => verifier.verify(i));
}
