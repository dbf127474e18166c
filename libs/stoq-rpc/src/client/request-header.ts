// The request header fields a call sends besides its path: metadata (keys checked before
// anything is sent, with the rule the server applies), the idempotency key, and the remaining
// timeout. Separate so the rules for what a client may put on the wire sit in one place, apart
// from the call plumbing that carries them.
import { randomUUID } from 'node:crypto';
import type { MethodDefinition } from '../method';
import { RpcError, type Metadata } from '../rpc-error';
import { Status } from '../status';
import { MAX_METADATA_KEY } from '../wire/frame-codec';

export interface RequestHeaderBase {
  timeoutMs: number | undefined;
  metadata: Metadata;
  idempotencyKey: string;
}

/** Refuses a metadata key the server would refuse, before a stream is opened. */
export function validateMetadata(md: Metadata): void {
  for (const k of Object.keys(md)) {
    if (k.length > MAX_METADATA_KEY || !/^[a-z0-9][a-z0-9._-]*$/.test(k)) {
      throw new RpcError(Status.INVALID_ARGUMENT, `metadata key "${k}" must be lowercase [a-z0-9._-], at most ${MAX_METADATA_KEY} chars`);
    }
  }
}

/** The caller's key, else a fresh one for an idempotent method (kept across its retries), else none. */
export function idempotencyKeyFor(def: MethodDefinition<unknown, unknown>, requested: string | undefined): string {
  return requested ?? (def.idempotent ? randomUUID() : '');
}
