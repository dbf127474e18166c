// The `stoq` command: the smallest real things a user can run against STOQ.
import { runNode } from './node-command';
import { runPing } from './ping-command';

export const USAGE = `usage: stoq <command> [options]

commands:
  node --config <stoq.toml> [--data-dir DIR]     run a STOQ node (echo + stats)
  ping <[ipv6]:port> [--data-dir DIR] [--server-name NAME] [--expect-service NAME]
                     [--count N] [--size BYTES] [--timeout MS] [--zero-rtt] [--json]
                                                  connect with the full handshake and round-trip a message
  help                                            this text

The node identity and the development CA live in --data-dir (default .stoq).`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'node':
      return runNode(rest);
    case 'ping':
      return runPing(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`stoq: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}
