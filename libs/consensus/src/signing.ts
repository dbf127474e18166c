// The exact bytes each signature covers and the block hash. Every signed string starts with a
// domain label (so a vote can never be replayed as a proposal or a timeout) and the chain tag
// (so it can never be replayed on another chain).
import { createHash } from 'node:crypto';
import { Writer } from './codec';
import type { Block, BlockHash } from './types';

const enc = new TextEncoder();
const BLOCK = enc.encode('stoq-consensus/block/v1');
const VOTE = enc.encode('stoq-consensus/vote/v1');
const PROPOSAL = enc.encode('stoq-consensus/proposal/v1');
const TIMEOUT = enc.encode('stoq-consensus/timeout/v1');

/**
 * SHA-256 over the block's canonical fields. The justify QC enters as (view, height, hash) only:
 * which 2f+1 signatures certify the parent does not change the block's identity.
 */
const scratch = new Writer(256);

export function computeBlockHash(chainTag: Uint8Array, b: Block): BlockHash {
  const w = scratch.reset();
  w.raw(BLOCK).raw(chainTag).u64(b.height).u64(b.view).u16(b.proposer).hash(b.parentHash);
  w.u64(b.justify.view).u64(b.justify.height).hash(b.justify.blockHash).u32(b.payload.length);
  // Small payloads go in one update; large ones are streamed without copying.
  let inline = 0;
  for (const op of b.payload) {
    inline += op.byteLength + 4;
    if (inline > 4096) break;
  }
  if (inline <= 4096) {
    for (const op of b.payload) w.u32(op.byteLength).raw(op);
    return createHash('sha256').update(w.view()).digest('hex');
  }
  const h = createHash('sha256').update(w.view());
  for (const op of b.payload) h.update(w.reset().u32(op.byteLength).view()).update(op);
  return h.digest('hex');
}

// The signing strings are copied out of a shared scratch writer (callers may keep them, e.g. in
// a batch verification).
export function voteSigningBytes(chainTag: Uint8Array, view: number, height: number, blockHash: BlockHash): Uint8Array {
  return scratch.reset().raw(VOTE).raw(chainTag).u64(height).u64(view).hash(blockHash).finish();
}

export function proposalSigningBytes(chainTag: Uint8Array, view: number, height: number, blockHash: BlockHash): Uint8Array {
  return scratch.reset().raw(PROPOSAL).raw(chainTag).u64(height).u64(view).hash(blockHash).finish();
}

export function timeoutSigningBytes(chainTag: Uint8Array, view: number, highQcView: number): Uint8Array {
  return scratch.reset().raw(TIMEOUT).raw(chainTag).u64(view).u64(highQcView).finish();
}
