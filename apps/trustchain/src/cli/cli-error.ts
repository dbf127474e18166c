// Errors the `trustchain` command reports: one line on stderr (`trustchain: <message>`) and an
// exit code, 2 for a wrong invocation (detectable from the command line alone), 1 otherwise
// (the same convention as `stoq`).
import { CommandError } from '@stoq/service';

export type CliErrorCode =
  /** Wrong invocation: unknown option, missing or malformed argument, value out of range. */
  | 'USAGE'
  /** The data dir holds no TrustChain, or not the files the command needs. */
  | 'DATA_DIR'
  /** No TrustChain answered at the address its data dir records. */
  | 'UNREACHABLE'
  /** The server answered with a non-OK status. */
  | 'RPC_FAILED';

export class CliError extends CommandError<CliErrorCode> {}

export function usageError(message: string): CliError {
  return new CliError('USAGE', message);
}
