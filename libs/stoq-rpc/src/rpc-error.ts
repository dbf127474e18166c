import { Status, statusName } from './status';

export type Metadata = Record<string, string>;

/**
 * The error every RPC failure surfaces as, on both sides. A handler throws one to choose the
 * status the caller sees; any other thrown value reaches the caller as INTERNAL with a generic
 * message (details stay in the server's log).
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: Status;
  readonly metadata: Metadata;

  constructor(code: Status, message: string, metadata: Metadata = {}) {
    super(message);
    this.code = code;
    this.metadata = metadata;
  }

  override toString(): string {
    return `RpcError ${statusName(this.code)}: ${this.message}`;
  }
}

export function isRpcError(err: unknown, code?: Status): err is RpcError {
  return err instanceof RpcError && (code === undefined || err.code === code);
}
