// Errors the `stoq` command reports to its user: one line on stderr (`stoq: <message>`) and an
// exit code, 2 for a wrong invocation (detectable from the command line alone), 1 otherwise.
import { CommandError } from '@stoq/service';

export type CliErrorCode =
  /** Wrong invocation: unknown option, missing or malformed argument, value out of range. */
  | 'USAGE'
  /** No data dir could be determined, or it could not be used. */
  | 'DATA_DIR'
  /** A file named on the command line or in the config could not be read. */
  | 'FILE_UNREADABLE'
  /** The peer's certificate does not chain to a root this side trusts. */
  | 'UNTRUSTED_PEER'
  /** Nothing answered at the target within the timeout. */
  | 'UNREACHABLE'
  /** The server answered the RPC with a non-OK status. */
  | 'RPC_FAILED'
  /** A Catalog receipt (or the answer around it) does not verify. */
  | 'INVALID_RECEIPT'
  /** The --identity certificate expired (a client identity cannot renew an expired one). */
  | 'IDENTITY_EXPIRED';

export class CliError extends CommandError<CliErrorCode> {}

export function usageError(message: string): CliError {
  return new CliError('USAGE', message);
}
