// Catalog's error vocabulary: one stable code per way a request can fail, and the RPC status a
// caller sees for it. Engine rejections (native codes) are translated here too.
import { RpcError, Status } from '@stoq/rpc';

export const CATALOG_ERROR_CODES = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  INVALID_MODULE: Status.INVALID_ARGUMENT,
  MODULE_TOO_LARGE: Status.INVALID_ARGUMENT,
  UNKNOWN_IMPORT: Status.INVALID_ARGUMENT,
  UNSUPPORTED_MODULE: Status.INVALID_ARGUMENT,
  UNSUPPORTED_SIGNATURE: Status.INVALID_ARGUMENT,
  ARGUMENT_MISMATCH: Status.INVALID_ARGUMENT,
  NO_SUCH_PROGRAM: Status.NOT_FOUND,
  NO_SUCH_EXPORT: Status.NOT_FOUND,
  PAYER_NOT_FOUND: Status.FAILED_PRECONDITION,
  PAYER_WRONG_LEDGER: Status.FAILED_PRECONDITION,
  INSUFFICIENT_FUNDS: Status.FAILED_PRECONDITION,
  NOT_PAYERS_OWNER: Status.PERMISSION_DENIED,
  UNAUTHENTICATED: Status.UNAUTHENTICATED,
  POOL_FULL: Status.RESOURCE_EXHAUSTED,
  RATE_LIMITED: Status.RESOURCE_EXHAUSTED,
  BILLING_UNAVAILABLE: Status.UNAVAILABLE,
  BILLING_FAILED: Status.INTERNAL,
  ENGINE_CLOSED: Status.UNAVAILABLE,
  ENGINE_FAILURE: Status.INTERNAL,
  MODULE_NOT_LOADED: Status.INTERNAL,
  STORE_DAMAGED: Status.INTERNAL,
  /** The request id was used before for another request. */
  REQUEST_ID_REUSED: Status.ALREADY_EXISTS,
  /** An earlier attempt of this request reserved its fee but left no stored answer. */
  REQUEST_IN_DOUBT: Status.ABORTED,
} as const;

export type CatalogErrorCode = keyof typeof CATALOG_ERROR_CODES;

export class CatalogError extends Error {
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CatalogError';
  }
}

function isCatalogCode(code: unknown): code is CatalogErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(CATALOG_ERROR_CODES, code);
}

/** An engine rejection (an Error with a native `code`) as a CatalogError; other errors unchanged. */
export function fromEngineError(err: unknown): unknown {
  // Duck-typed: the addon's errors may come from another realm (a vm context) than this Error.
  if (err instanceof CatalogError || typeof err !== 'object' || err === null) return err;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return isCatalogCode(code) && typeof message === 'string' ? new CatalogError(code, message, { cause: err }) : err;
}

/** What a caller sees: the status of the code, the message prefixed with the code. */
export function rpcErrorOf(err: unknown): unknown {
  const e = fromEngineError(err);
  if (!(e instanceof CatalogError)) return e;
  return new RpcError(CATALOG_ERROR_CODES[e.code], `${e.code}: ${e.message}`);
}
