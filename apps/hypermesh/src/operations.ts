// The bytes consensus orders: one protobuf `Operation { operation_id, payload }` per submitted
// operation. Ids make submission idempotent: the first block that commits an id applies it; a
// later block carrying the same id (submitted twice, to two validators) changes nothing.
import { hypermesh as proto } from '@stoq/protos';

export const MAX_OPERATION_ID_LENGTH = 128;
const OPERATION_ID_RE = /^[\x21-\x7e]+$/;

export interface Operation {
  operationId: string;
  payload: Uint8Array;
  /** Re-submission counter (0 first); not part of the operation's meaning. */
  attempt?: number;
}

/** Why an operation id is not acceptable, or null. */
export function operationIdProblem(id: string): string | null {
  if (id.length === 0) return 'operation_id is required (a client-chosen unique id, e.g. a UUID)';
  if (id.length > MAX_OPERATION_ID_LENGTH) return `operation_id is longer than ${MAX_OPERATION_ID_LENGTH} characters`;
  if (!OPERATION_ID_RE.test(id)) return 'operation_id must be printable ASCII without spaces';
  return null;
}

export function encodeOperation(op: Operation): Uint8Array {
  return proto.OperationType.encode(proto.OperationType.create({ operationId: op.operationId, payload: op.payload, attempt: op.attempt ?? 0 })).finish();
}

/** A block's operation bytes, or null when they are not an Operation (a faulty proposer's garbage). */
export function decodeOperation(bytes: Uint8Array): Operation | null {
  try {
    const m = proto.OperationType.decode(bytes) as unknown as proto.Operation;
    const operationId = m.operationId ?? '';
    if (operationIdProblem(operationId) !== null) return null;
    return { operationId, payload: m.payload ?? new Uint8Array(0), attempt: m.attempt ?? 0 };
  } catch {
    return null;
  }
}
