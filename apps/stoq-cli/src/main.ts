// The `stoq` command: the smallest real things a user can run against STOQ.
import { isStoqError } from '@stoq/core';
import { runCall, runMethods } from './call-command';
import { CliError } from './cli-error';
import { HELP } from './help';
import { runNode } from './node-command';
import { runEnroll } from './enroll-command';
import { runLogs } from './logs-command';
import { runPing } from './ping-command';
import { runStatus } from './status-command';
import { runVerifyCert } from './verify-cert-command';
import { runVerifyReceipt } from './verify-receipt-command';

export const USAGE = HELP.main;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** Runs one command; resolves with the exit code (0 ok, 1 error, 2 usage error). */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'node':
        return await runNode(rest);
      case 'ping':
        return await runPing(rest);
      case 'call':
        return await runCall(rest);
      case 'methods':
        return await runMethods(rest);
      case 'status':
        return await runStatus(rest);
      case 'logs':
        return await runLogs(rest);
      case 'enroll':
        return await runEnroll(rest);
      case 'verify-cert':
        return await runVerifyCert(rest);
      case 'verify-receipt':
        return await runVerifyReceipt(rest, io.stdout);
      case 'help':
      case '--help':
      case '-h': {
        const topic = rest[0];
        io.stdout(`${topic && topic in HELP && topic !== 'main' ? HELP[topic as keyof typeof HELP] : USAGE}\n`);
        return 0;
      }
      case undefined:
        io.stderr(`${USAGE}\n`);
        return 2;
      default:
        io.stderr(`stoq: unknown command "${command}" (commands: node, ping, call, methods, status, logs, enroll, verify-cert, verify-receipt; see stoq --help)\n`);
        return 2;
    }
  } catch (err) {
    io.stderr(`stoq: ${describeError(err)}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

function describeError(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (isStoqError(err)) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}
