// The `stoq` command: the smallest real things a user can run against STOQ.
import { runCall, runMethods } from './call-command';
import { runNode } from './node-command';
import { runPing } from './ping-command';

export const USAGE = `usage: stoq <command> [options]

commands:
  node --config <stoq.toml> [--data-dir DIR] [--bind ADDR]
                     run a STOQ node serving the node/* RPCs (echo, echo_stream, stats)
  ping <[ipv6]:port> [--count N] [--size BYTES] [--expect-service NAME] [--json]
                     full handshake, then round-trip node/echo; prints handshake time, group, rtt
  call <service/method> --target <[ipv6]:port> [--data JSON] [--timeout MS]
                     call any method; prints the JSON response (one line per streamed message).
                     Client/bidi streaming: --data is a JSON array of requests
  methods --target <[ipv6]:port> [--service NAME] [--json]
                     list a service's methods (reflection via <service>/_methods)

common: --data-dir DIR (identity + dev CA, default .stoq), --as SERVICE (identity to call as,
        default cli; the dev CA issues it), --server-name NAME, --timeout MS
  help                                            this text

The node identity and the development CA live in --data-dir (default .stoq).`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'node':
      return runNode(rest);
    case 'ping':
      return runPing(rest);
    case 'call':
      return runCall(rest);
    case 'methods':
      return runMethods(rest);
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
