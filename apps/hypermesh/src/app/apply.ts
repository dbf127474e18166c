// The application state machine: what a committed operation does to the asset registry. Pure
// and deterministic (no clock, no randomness, only the operation, the block height and the
// state), so every validator applying the same blocks in height order holds the same registry.
// Validity was decided before the vote (app/validity.ts); here an operation can still be refused
// by the state (an asset id taken, a transfer by someone who is not the owner), and that outcome
// is itself part of the replicated state.
import { decodeFourProofSet, FourProofError } from '@stoq/four-proof';
import type { AssetKind, Operation, OperationBody } from '../operations';

export type ValidationBody = Extract<OperationBody, { kind: 'certificate.validate' | 'proofs.validate' }>;

/**
 * The node id and PoTime sequence of a validation's set if this validator already decoded it
 * (ProofVerifier.knownSet), else undefined. Only ever what decodeFourProofSet gives for the same
 * bytes, so applying stays a function of the block: it saves a decode, it decides nothing.
 */
export type KnownSet = (body: ValidationBody) => { nodeId: Uint8Array; sequence: bigint } | undefined;

export interface AssetRecord {
  assetId: string;
  kind: AssetKind;
  owner: string;
  attributes: Readonly<Record<string, string>>;
  createdHeight: number;
  updatedHeight: number;
}

export type OperationResult =
  | { outcome: 'applied'; asset: AssetRecord | null }
  | { outcome: 'refused'; code: 'ALREADY_EXISTS' | 'NOT_FOUND' | 'PERMISSION_DENIED'; detail: string }
  /** A validation whose PoTime sequence is not above the node's last validated one (a replay). */
  | { outcome: 'refused'; code: 'STALE'; field: string; detail: string };

/** The state an operation reads and writes (SQLite inside the commit transaction in production). */
export interface AppState {
  getAsset(assetId: string): AssetRecord | undefined;
  putAsset(asset: AssetRecord): void;
  /** The PoTime sequence of the node's last committed validation. */
  lastSequence(nodeId: Uint8Array): bigint | undefined;
  putSequence(nodeId: Uint8Array, sequence: bigint): void;
}

/**
 * A committed validation: its set's PoTime sequence must be above the node's last one (four-proof's
 * `lastSequence`), so one set is validated once. Validators already refuse a stale sequence
 * before voting; two validations of one node ordered before either was applied are settled here.
 */
function applyValidation(state: AppState, body: ValidationBody, known: KnownSet | undefined): OperationResult {
  let { nodeId, sequence } = known?.(body) ?? { nodeId: undefined, sequence: undefined };
  if (nodeId === undefined || sequence === undefined) {
    try {
      const set = decodeFourProofSet(body.proofSet);
      nodeId = set.context.nodeId;
      sequence = set.time.sequence;
    } catch (err) {
      // Not reached for a set that passed the validity check; deterministic either way.
      if (err instanceof FourProofError) return { outcome: 'refused', code: 'STALE', field: err.field, detail: err.message };
      throw err;
    }
  }
  const last = state.lastSequence(nodeId);
  if (last !== undefined && sequence <= last) return { outcome: 'refused', code: 'STALE', field: 'time.sequence', detail: `STALE at time.sequence: sequence ${sequence} is not above ${last}, the node's last validated sequence` };
  state.putSequence(nodeId, sequence);
  return { outcome: 'applied', asset: null };
}

/** Applies one committed operation (the first commit of its id) at `height`. */
export function applyOperation(state: AppState, op: Operation, height: number, known?: KnownSet): OperationResult {
  const b = op.body;
  switch (b.kind) {
    case 'opaque':
      return { outcome: 'applied', asset: null };
    case 'certificate.validate':
    case 'proofs.validate':
      // The verdict is the block and its QC; the state only remembers the node's sequence.
      return applyValidation(state, b, known);
    case 'asset.register': {
      const existing = state.getAsset(b.assetId);
      if (existing) return { outcome: 'refused', code: 'ALREADY_EXISTS', detail: `asset ${b.assetId} was registered at height ${existing.createdHeight} (owner ${existing.owner})` };
      const asset: AssetRecord = { assetId: b.assetId, kind: b.assetKind, owner: b.owner, attributes: b.attributes, createdHeight: height, updatedHeight: height };
      state.putAsset(asset);
      return { outcome: 'applied', asset };
    }
    case 'asset.transfer': {
      const existing = state.getAsset(b.assetId);
      if (!existing) return { outcome: 'refused', code: 'NOT_FOUND', detail: `no asset ${b.assetId}` };
      if (existing.owner !== b.caller) return { outcome: 'refused', code: 'PERMISSION_DENIED', detail: `asset ${b.assetId} is owned by ${existing.owner}, not ${b.caller}` };
      const asset: AssetRecord = { ...existing, owner: b.newOwner, updatedHeight: height };
      state.putAsset(asset);
      return { outcome: 'applied', asset };
    }
  }
}
