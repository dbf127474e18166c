// Errors the CLI reports; `exitCode` 2 is a usage mistake, 1 anything else.
export type CliErrorCode = 'USAGE' | 'IDENTITY' | 'UNREACHABLE' | 'RPC_FAILED' | 'INVALID_RECEIPT' | 'FILE';

export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }

  get exitCode(): 1 | 2 {
    return this.code === 'USAGE' ? 2 : 1;
  }
}

export const usage = (message: string): CliError => new CliError('USAGE', message);
