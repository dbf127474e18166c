// The bytes consensus orders: one protobuf `Operation` per submitted operation, typed by the
// body it carries (an opaque client payload, a four-proof validation, an asset change). Ids make
// submission idempotent: the first block that commits an id applies it; a later block carrying
// the same id (submitted twice, to two validators) changes nothing.
//
// Decoding is strict (exactly one body, every field within its limit): whatever decodes here is
// what every validator's validity check and the application see, and anything else is refused
// before a vote (see app/validity.ts).
import { hypermesh as proto } from '@stoq/protos';

export const MAX_OPERATION_ID_LENGTH = 128;
const PRINTABLE_ID_RE = /^[\x21-\x7e]+$/;

/** Size limits of operation bodies (an encoded operation must also fit the core's 64 KiB). */
export const OPERATION_LIMITS = Object.freeze({
  payloadBytes: 64 * 1024,
  proofSetBytes: 56 * 1024,
  hashBytes: 32,
  proofOperationBytes: 256,
  proofAssetIdBytes: 256,
  nodeIdBytes: 64,
  assetIdLength: 128,
  ownerLength: 256,
  attributes: 64,
  attributeKeyBytes: 64,
  attributeValueBytes: 1024,
});

export const ASSET_KINDS = ['node', 'compute', 'storage', 'program'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export interface CertificateValidationBody {
  kind: 'certificate.validate';
  csrHash: Uint8Array;
  keyBinding: Uint8Array;
  proofHash: Uint8Array;
  proofSet: Uint8Array;
}

export interface ProofsValidationBody {
  kind: 'proofs.validate';
  operation: string;
  assetId: string;
  nodeId: Uint8Array;
  proofHash: Uint8Array;
  proofSet: Uint8Array;
}

export interface AssetRegistrationBody {
  kind: 'asset.register';
  assetId: string;
  assetKind: AssetKind;
  /** "<service>/<instance>" of the caller, as the validator that took the request saw it. */
  owner: string;
  attributes: Readonly<Record<string, string>>;
}

export interface AssetTransferBody {
  kind: 'asset.transfer';
  assetId: string;
  /** Must be the owner when the transfer is applied. */
  caller: string;
  newOwner: string;
}

export type OperationBody = { kind: 'opaque'; payload: Uint8Array } | CertificateValidationBody | ProofsValidationBody | AssetRegistrationBody | AssetTransferBody;

export interface Operation {
  operationId: string;
  body: OperationBody;
  /** Re-submission counter (0 first); not part of the operation's meaning. */
  attempt?: number;
}

/** Why an operation id (or request id) is not acceptable, or null. */
export function operationIdProblem(id: string, name = 'operation_id'): string | null {
  if (id.length === 0) return `${name} is required (a client-chosen unique id, e.g. a UUID)`;
  if (id.length > MAX_OPERATION_ID_LENGTH) return `${name} is longer than ${MAX_OPERATION_ID_LENGTH} characters`;
  if (!PRINTABLE_ID_RE.test(id)) return `${name} must be printable ASCII without spaces`;
  return null;
}

/** Why an asset id or owner is not acceptable, or null. */
export function assetIdProblem(id: string): string | null {
  if (id.length === 0 || id.length > OPERATION_LIMITS.assetIdLength || !PRINTABLE_ID_RE.test(id)) return `asset_id must be 1-${OPERATION_LIMITS.assetIdLength} printable ASCII characters without spaces`;
  return null;
}

export function ownerProblem(owner: string): string | null {
  if (owner.length === 0 || owner.length > OPERATION_LIMITS.ownerLength || !PRINTABLE_ID_RE.test(owner)) return `owner must be 1-${OPERATION_LIMITS.ownerLength} printable ASCII characters without spaces ("<service>/<instance>")`;
  return null;
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Why a body is not acceptable (sizes, shapes), or null. The same rules for every validator. */
export function bodyProblem(b: OperationBody): string | null {
  const L = OPERATION_LIMITS;
  switch (b.kind) {
    case 'opaque':
      return b.payload.byteLength > L.payloadBytes ? `payload of ${b.payload.byteLength} bytes is larger than ${L.payloadBytes}` : null;
    case 'certificate.validate':
      if (b.csrHash.byteLength !== L.hashBytes) return 'csr_hash must be 32 bytes (SHA-256 of the CSR DER)';
      if (b.keyBinding.byteLength !== L.hashBytes) return 'key_binding must be 32 bytes';
      if (b.proofHash.byteLength !== L.hashBytes) return 'proof_hash must be 32 bytes';
      if (b.proofSet.byteLength === 0 || b.proofSet.byteLength > L.proofSetBytes) return `proof_set must be 1-${L.proofSetBytes} bytes`;
      return null;
    case 'proofs.validate':
      if (utf8Bytes(b.operation) < 1 || utf8Bytes(b.operation) > L.proofOperationBytes) return `operation must be 1-${L.proofOperationBytes} UTF-8 bytes`;
      if (utf8Bytes(b.assetId) > L.proofAssetIdBytes) return `asset_id must be at most ${L.proofAssetIdBytes} UTF-8 bytes`;
      if (b.nodeId.byteLength < 1 || b.nodeId.byteLength > L.nodeIdBytes) return `node_id must be 1-${L.nodeIdBytes} bytes`;
      if (b.proofHash.byteLength !== L.hashBytes) return 'proof_hash must be 32 bytes';
      if (b.proofSet.byteLength === 0 || b.proofSet.byteLength > L.proofSetBytes) return `proof_set must be 1-${L.proofSetBytes} bytes`;
      return null;
    case 'asset.register': {
      const p = assetIdProblem(b.assetId) ?? ownerProblem(b.owner);
      if (p) return p;
      if (!(ASSET_KINDS as readonly string[]).includes(b.assetKind)) return `kind must be one of ${ASSET_KINDS.join(', ')}`;
      const keys = Object.keys(b.attributes);
      if (keys.length > L.attributes) return `at most ${L.attributes} attributes`;
      for (const k of keys) {
        if (utf8Bytes(k) < 1 || utf8Bytes(k) > L.attributeKeyBytes) return `attribute keys must be 1-${L.attributeKeyBytes} UTF-8 bytes`;
        if (utf8Bytes(b.attributes[k]!) > L.attributeValueBytes) return `attribute "${k}" is longer than ${L.attributeValueBytes} UTF-8 bytes`;
      }
      return null;
    }
    case 'asset.transfer':
      return assetIdProblem(b.assetId) ?? ownerProblem(b.caller) ?? ownerProblem(b.newOwner);
  }
}

/** Attributes with their keys sorted: one encoding per meaning (mempool keys, payload comparison). */
function sortedAttributes(a: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(a).sort()) out[k] = a[k]!;
  return out;
}

function toMessage(op: Operation): proto.Operation {
  const m: proto.Operation = { operationId: op.operationId, attempt: op.attempt ?? 0 };
  const b = op.body;
  switch (b.kind) {
    case 'opaque':
      m.payload = b.payload;
      break;
    case 'certificate.validate':
      m.certificateValidation = { csrHash: b.csrHash, keyBinding: b.keyBinding, proofHash: b.proofHash, proofSet: b.proofSet };
      break;
    case 'proofs.validate':
      m.proofsValidation = { operation: b.operation, assetId: b.assetId, nodeId: b.nodeId, proofHash: b.proofHash, proofSet: b.proofSet };
      break;
    case 'asset.register':
      m.assetRegistration = { assetId: b.assetId, kind: b.assetKind, owner: b.owner, attributes: sortedAttributes(b.attributes) };
      break;
    case 'asset.transfer':
      m.assetTransfer = { assetId: b.assetId, caller: b.caller, newOwner: b.newOwner };
      break;
  }
  return m;
}

export function encodeOperation(op: Operation): Uint8Array {
  return proto.OperationType.encode(proto.OperationType.create(toMessage(op))).finish();
}

/** The operation's meaning as bytes (attempt 0): equal for two submissions of the same operation. */
export function operationContent(op: Operation): Buffer {
  return Buffer.from(encodeOperation({ operationId: op.operationId, body: op.body }));
}

const bytesOf = (b: Uint8Array | null | undefined): Uint8Array => (b ? new Uint8Array(b) : new Uint8Array(0));

function bodyOf(m: proto.Operation): OperationBody | string {
  const typed = [m.certificateValidation, m.proofsValidation, m.assetRegistration, m.assetTransfer].filter((x) => x !== null && x !== undefined);
  if (typed.length > 1) return 'more than one operation body';
  const payload = bytesOf(m.payload);
  if (typed.length === 0) return { kind: 'opaque', payload };
  if (payload.byteLength > 0) return 'a typed operation carries no payload';
  if (m.certificateValidation) {
    const c = m.certificateValidation;
    return { kind: 'certificate.validate', csrHash: bytesOf(c.csrHash), keyBinding: bytesOf(c.keyBinding), proofHash: bytesOf(c.proofHash), proofSet: bytesOf(c.proofSet) };
  }
  if (m.proofsValidation) {
    const p = m.proofsValidation;
    return { kind: 'proofs.validate', operation: p.operation ?? '', assetId: p.assetId ?? '', nodeId: bytesOf(p.nodeId), proofHash: bytesOf(p.proofHash), proofSet: bytesOf(p.proofSet) };
  }
  if (m.assetRegistration) {
    const r = m.assetRegistration;
    return { kind: 'asset.register', assetId: r.assetId ?? '', assetKind: (r.kind ?? '') as AssetKind, owner: r.owner ?? '', attributes: sortedAttributes(r.attributes ?? {}) };
  }
  const t = m.assetTransfer!;
  return { kind: 'asset.transfer', assetId: t.assetId ?? '', caller: t.caller ?? '', newOwner: t.newOwner ?? '' };
}

/** An operation, or why the bytes are not one (a faulty proposer's garbage, an oversized body). */
export function parseOperation(bytes: Uint8Array): Operation | { problem: string } {
  let m: proto.Operation;
  try {
    m = proto.OperationType.decode(bytes) as unknown as proto.Operation;
  } catch (err) {
    return { problem: `not an Operation: ${(err as Error).message}` };
  }
  const operationId = m.operationId ?? '';
  const idProblem = operationIdProblem(operationId);
  if (idProblem !== null) return { problem: idProblem };
  const body = bodyOf(m);
  if (typeof body === 'string') return { problem: body };
  const problem = bodyProblem(body);
  if (problem !== null) return { problem };
  return { operationId, body, attempt: m.attempt ?? 0 };
}

/** A block's operation bytes, or null when they are not a valid Operation. */
export function decodeOperation(bytes: Uint8Array): Operation | null {
  const r = parseOperation(bytes);
  return 'problem' in r ? null : r;
}
