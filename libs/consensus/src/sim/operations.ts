// The simulator's application: which operations are valid. Workload operations are 16 bytes
// (seed, counter, marker, 0); a marker of INVALID_MARKER makes one invalid. Other bytes (e.g. the
// random payloads Byzantine proposers add) are valid, so the check changes nothing else.
import type { OperationCheck } from '../replica-options';

const INVALID_MARKER = 0xdeadbeef;
export const SIM_OPERATION_BYTES = 16;

export function simOperation(seed: number, counter: number, invalid: boolean): Uint8Array {
  const op = new Uint8Array(SIM_OPERATION_BYTES);
  const v = new DataView(op.buffer);
  v.setUint32(0, seed >>> 0);
  v.setUint32(4, counter >>> 0);
  if (invalid) v.setUint32(8, INVALID_MARKER);
  return op;
}

/** The check every simulated replica runs before voting (and the checker runs on every commit). */
export const simOperationCheck: OperationCheck = (op) => {
  if (op.byteLength !== SIM_OPERATION_BYTES) return null;
  const v = new DataView(op.buffer, op.byteOffset, op.byteLength);
  return v.getUint32(8) === INVALID_MARKER ? { detail: `operation ${v.getUint32(4)} is marked invalid` } : null;
};
