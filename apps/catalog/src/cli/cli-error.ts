// Errors the `catalog` command reports; `exitCode` 2 is a usage mistake, 1 anything else.
import { CommandError } from '@stoq/service';

export type CliErrorCode = 'USAGE' | 'IDENTITY' | 'UNREACHABLE' | 'RPC_FAILED' | 'INVALID_RECEIPT' | 'FILE';

export class CliError extends CommandError<CliErrorCode> {}

export const usage = (message: string): CliError => new CliError('USAGE', message);
