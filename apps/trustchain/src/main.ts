// The `trustchain` command (bin/trustchain.js): serve, token, certs, revoke, ct, ca. Wiring only.
import { isStoqError } from '@stoq/core';
import { runCa, runCerts, runCt, runRevoke, runToken } from './cli/commands';
import { CliError } from './cli/cli-error';
import { HELP, type HelpTopic } from './cli/help';
import { runServe } from './cli/serve';
import { TrustChainError } from './core/errors';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

const COMMANDS = ['serve', 'token', 'certs', 'revoke', 'ct', 'ca'];

/** Runs one command; resolves with the exit code (0 ok, 1 error, 2 usage error). */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await runServe(rest, io.stdout);
      case 'token':
        return await runToken(rest, io.stdout);
      case 'certs':
        return await runCerts(rest, io.stdout);
      case 'revoke':
        return await runRevoke(rest, io.stdout);
      case 'ct':
        return await runCt(rest, io.stdout);
      case 'ca':
        return await runCa(rest, io.stdout);
      case 'help':
      case '--help':
      case '-h': {
        const topic = rest[0];
        io.stdout(`${topic && topic in HELP && topic !== 'main' ? HELP[topic as HelpTopic] : HELP.main}\n`);
        return 0;
      }
      case undefined:
        io.stderr(`${HELP.main}\n`);
        return 2;
      default:
        io.stderr(`trustchain: unknown command "${command}" (commands: ${COMMANDS.join(', ')}; see trustchain --help)\n`);
        return 2;
    }
  } catch (err) {
    io.stderr(`trustchain: ${describeError(err)}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

function describeError(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (err instanceof TrustChainError || isStoqError(err)) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}
