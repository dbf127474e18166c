import { lp } from './bytes';
import { fail, type FourProofErrorCode } from './errors';
import { DOMAIN, sha256 } from './hash';
import { LIMITS } from './params';
import type { OperationContext } from './types';

/**
 * The operation hash every proof binds to:
 * SHA-256(tag ‖ lp(utf8 operation) ‖ lp(utf8 assetId) ‖ lp(nodeId)), lp = u16 length prefix.
 */
export function operationHash(context: OperationContext): Uint8Array {
  checkContext(context, 'context', 'INVALID_ARGUMENT');
  return sha256(
    DOMAIN.operation,
    lp(Buffer.from(context.operation, 'utf8')),
    lp(Buffer.from(context.assetId, 'utf8')),
    lp(context.nodeId),
  );
}

export function checkContext(context: OperationContext | undefined | null, field: string, code: FourProofErrorCode): void {
  if (context === undefined || context === null) fail('PROOF_MISSING', field, 'operation context is absent');
  checkUtf8(context.operation, `${field}.operation`, 1, LIMITS.maxOperationBytes, code);
  checkUtf8(context.assetId, `${field}.assetId`, 0, LIMITS.maxAssetIdBytes, code);
  checkBytes(context.nodeId, `${field}.nodeId`, 1, LIMITS.maxNodeIdBytes, code);
}

export function checkUtf8(value: unknown, field: string, min: number, max: number, code: FourProofErrorCode): void {
  if (typeof value !== 'string') fail(code, field, 'must be a string');
  const n = Buffer.byteLength(value, 'utf8');
  if (n < min || n > max) fail(code, field, `must be ${min}..${max} UTF-8 bytes, got ${n}`);
  if (/\p{Surrogate}/u.test(value)) fail(code, field, 'contains a lone surrogate (not valid UTF-8)');
}

export function checkBytes(value: unknown, field: string, min: number, max: number, code: FourProofErrorCode): void {
  if (!(value instanceof Uint8Array)) fail(code, field, 'must be a Uint8Array');
  if (value.length < min || value.length > max) {
    fail(code, field, min === max ? `must be ${min} bytes, got ${value.length}` : `must be ${min}..${max} bytes, got ${value.length}`);
  }
}
