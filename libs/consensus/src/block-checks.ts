// Checks on a block that need nothing but the block, the validator set and the limits: run on
// proposals and on blocks fetched during catch-up, before any signature work.
import type { ConsensusLimits } from './codec';
import { RejectCode, type Rejection } from './errors';
import type { Block } from './types';
import type { ValidatorSet } from './validators';

/** Proposer, view, height and parent consistent with each other and with the justify QC. */
export function checkBlockShape(set: ValidatorSet, b: Block): Rejection | null {
  if (!set.has(b.proposer)) return { code: RejectCode.NOT_VALIDATOR, detail: `proposer ${b.proposer} is not a validator` };
  if (b.view < 1 || b.height < 1) return { code: RejectCode.INVALID_BLOCK, detail: 'view and height start at 1' };
  if (set.leader(b.view) !== b.proposer) return { code: RejectCode.WRONG_PROPOSER, detail: `validator ${b.proposer} does not lead view ${b.view}` };
  if (b.height !== b.justify.height + 1 || b.parentHash !== b.justify.blockHash || b.view <= b.justify.view) {
    return { code: RejectCode.INVALID_BLOCK, detail: 'block does not match the QC it carries (height, parent or view)' };
  }
  return null;
}

/** Operation count and sizes within the limits (the decoder enforces these on bytes too). */
export function checkPayload(limits: ConsensusLimits, b: Block): Rejection | null {
  if (b.payload.length > limits.maxBlockOps) return { code: RejectCode.OVERSIZED, detail: `${b.payload.length} operations > ${limits.maxBlockOps}` };
  let bytes = 0;
  for (const op of b.payload) {
    if (op.byteLength > limits.maxOpBytes) return { code: RejectCode.OVERSIZED, detail: `operation of ${op.byteLength} bytes > ${limits.maxOpBytes}` };
    bytes += op.byteLength;
  }
  if (bytes > limits.maxBlockPayloadBytes) return { code: RejectCode.OVERSIZED, detail: `payload of ${bytes} bytes > ${limits.maxBlockPayloadBytes}` };
  return null;
}
