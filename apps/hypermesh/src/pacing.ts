// When an empty proposal may wait the pacing delay (effect-runner.ts): only when nothing that
// waits for it would be held back. Pure, so the rule is tested on its own (pacing.test.ts).
import type { Block, BlockHash } from '@stoq/consensus';

export interface PacingView {
  /** Operations in this validator's mempool. */
  mempoolSize: number;
  /** Height of this validator's committed tip. */
  committedHeight: number;
  /** A block this validator holds, by hash. */
  block(hash: BlockHash): Block | undefined;
}

/**
 * True if `proposal` (an empty block this validator is about to broadcast) may be paced: no
 * operation waits in the mempool, none sits in an uncommitted ancestor (the next blocks certify
 * and commit those), and none in the block committed last. The others commit that one only when
 * this proposal brings them the QC of its child, and its submitters may be waiting on them:
 * pacing it held a lone operation's answer back by the whole delay.
 */
export function mayPace(proposal: Block, v: PacingView): boolean {
  if (v.mempoolSize > 0) return false;
  for (let b = v.block(proposal.parentHash); b && b.height >= v.committedHeight && b.height > 0; b = v.block(b.parentHash)) {
    if (b.payload.length > 0) return false;
  }
  return true;
}
