// The error every STOQ command reports to its user: one line on stderr and an exit code — 2 for
// a wrong invocation (detectable from the command line alone), 1 otherwise. Each command names
// its own codes: `class CliError extends CommandError<'USAGE' | 'UNREACHABLE' | ...> {}`.
export class CommandError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code | 'USAGE',
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
