// TrustChain's typed errors as RPC statuses. One status per code (exhaustive switches: a new
// code does not compile until it is mapped), the message kept, and the stable code sent as
// trailer metadata `trustchain-error-code` so clients branch on it, never on message text.
//
// Token failures are PERMISSION_DENIED, all four: the token is the enrollment's credential, and
// unknown, used, expired or for another service all mean "this credential does not entitle you
// to this certificate"; retrying the same request cannot succeed. The code says which.
import { RpcError, Status } from '@stoq/rpc';
import type { Logger } from 'pino';
import { TrustChainError, type TrustChainErrorCode } from '../core/errors';
import { ZoneError, type ZoneErrorCode } from '../dns/errors';

/** Trailer metadata key carrying TrustChainErrorCode (or `ZONE_` + ZoneErrorCode). */
export const ERROR_CODE_METADATA = 'trustchain-error-code';

export function trustChainStatus(code: TrustChainErrorCode): Status {
  switch (code) {
    case 'TOKEN_UNKNOWN':
    case 'TOKEN_USED':
    case 'TOKEN_EXPIRED':
    case 'TOKEN_WRONG_SERVICE':
    case 'NOT_AUTHORIZED':
    case 'PROOFS_REFUSED':
      return Status.PERMISSION_DENIED;
    case 'CONSENSUS_UNAVAILABLE':
      return Status.UNAVAILABLE;
    case 'CONSENSUS_UNVERIFIED':
      return Status.INTERNAL;
    case 'CSR_REJECTED':
    case 'FALCON_PROOF_INVALID':
    case 'NAME_NOT_ALLOWED':
    case 'INVALID_ARGUMENT':
      return Status.INVALID_ARGUMENT;
    case 'CERTIFICATE_UNKNOWN':
      return Status.NOT_FOUND;
    case 'CERTIFICATE_REVOKED':
    case 'CERTIFICATE_EXPIRED':
    case 'NO_VALIDATOR_SET':
    case 'STAKE_EXPIRED':
      return Status.FAILED_PRECONDITION;
    case 'STATE_DAMAGED':
    case 'NO_SIGNING_KEY':
      return Status.INTERNAL;
    case 'ROOT_KEY_LOCKED': // the root's keys are opened by the ca commands only, never over RPC
    case 'WRONG_PASSWORD':
      return Status.FAILED_PRECONDITION;
    case 'STATE_EXISTS':
      return Status.ALREADY_EXISTS;
    default: {
      const unmapped: never = code;
      throw new TypeError(`unmapped TrustChain error code ${String(unmapped)}`);
    }
  }
}

/** Names another service or instance than the caller's own: PERMISSION_DENIED; the limits: RESOURCE_EXHAUSTED; the rest is malformed input. */
export function zoneStatus(code: ZoneErrorCode): Status {
  switch (code) {
    case 'NAME_OF_OTHER_SERVICE':
    case 'NAME_OF_OTHER_INSTANCE':
    case 'SRV_TARGET_NOT_OWNED':
      return Status.PERMISSION_DENIED;
    case 'TOO_MANY_RECORDS':
    case 'TOO_MANY_INSTANCES':
    case 'ZONE_FULL':
      return Status.RESOURCE_EXHAUSTED;
    case 'OWNER_INVALID':
    case 'NAME_INVALID':
    case 'NAME_OUTSIDE_ZONE':
    case 'NAME_NOT_ALLOWED':
    case 'TYPE_NOT_ALLOWED':
    case 'RECORD_INVALID':
    case 'NO_RECORDS':
    case 'LEASE_INVALID':
      return Status.INVALID_ARGUMENT;
    default: {
      const unmapped: never = code;
      throw new TypeError(`unmapped zone error code ${String(unmapped)}`);
    }
  }
}

/**
 * The RpcError a handler throws for `err`: TrustChainError and ZoneError by code, RpcError as is.
 * Anything else is a bug or an I/O failure of ours: logged (when a logger is given) and reported
 * as INTERNAL without its detail. STATE_DAMAGED is logged too: an operator must see it.
 */
export function toRpcError(err: unknown, logger?: Logger, method?: string): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof TrustChainError) {
    if (err.code === 'STATE_DAMAGED') logger?.error({ err, method }, 'TrustChain state failure');
    return new RpcError(trustChainStatus(err.code), err.message, { [ERROR_CODE_METADATA]: err.code });
  }
  if (err instanceof ZoneError) {
    return new RpcError(zoneStatus(err.code), err.message, { [ERROR_CODE_METADATA]: `ZONE_${err.code}` });
  }
  logger?.error({ err, method }, 'TrustChain request failed unexpectedly');
  return new RpcError(Status.INTERNAL, `${method ?? 'the call'} failed inside TrustChain; see its log`);
}

/** Runs a handler body, turning every failure into an RpcError (see toRpcError). */
export async function rpcCall<T>(logger: Logger, method: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toRpcError(err, logger, method);
  }
}
