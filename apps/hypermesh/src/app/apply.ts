// The application state machine: what a committed operation does to the asset registry. Pure
// and deterministic (no clock, no randomness, only the operation, the block height and the
// state), so every validator applying the same blocks in height order holds the same registry.
// Validity was decided before the vote (app/validity.ts); here an operation can still be refused
// by the state (an asset id taken, a transfer by someone who is not the owner), and that outcome
// is itself part of the replicated state.
import type { AssetKind, Operation } from '../operations';

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
  | { outcome: 'refused'; code: 'ALREADY_EXISTS' | 'NOT_FOUND' | 'PERMISSION_DENIED'; detail: string };

/** The state an operation reads and writes (SQLite inside the commit transaction in production). */
export interface AssetState {
  getAsset(assetId: string): AssetRecord | undefined;
  putAsset(asset: AssetRecord): void;
}

/** Applies one committed operation (the first commit of its id) at `height`. */
export function applyOperation(state: AssetState, op: Operation, height: number): OperationResult {
  const b = op.body;
  switch (b.kind) {
    case 'opaque':
    case 'certificate.validate':
    case 'proofs.validate':
      // Ordered and committed is the whole effect: the verdict is the block and its QC.
      return { outcome: 'applied', asset: null };
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
