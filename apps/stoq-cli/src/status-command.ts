// `stoq status`: the running ecosystem as a table — every instance registered in TrustChain DNS
// (its DNS-SD enumeration), each asked for `<service>/health` over STOQ, with the certificate it
// presented. Only TrustChain's DNS is needed: --dns, $STOQ_DNS, or the `npm start` ecosystem
// folder (.stoq/ecosystem) found from the current directory up, whose CLI identity (enrolled by
// the launcher) is then the default --identity.
import { parseHybridCertificate } from '@stoq/core';
import { UdpDnsQuerier, discoverInstances, healthMethod, rpcProto, type DiscoveredInstance } from '@stoq/rpc';
import { parseCommand } from './args';
import { CliError, usageError } from './cli-error';
import { findEcosystem } from '@stoq/client';
import { HELP } from './help';
import { connectSession, createClientTransport, loadClientIdentity } from './session';

export interface InstanceStatus extends DiscoveredInstance {
  /** SERVING, NOT_SERVING, UNKNOWN, or UNREACHABLE when no answer came. */
  readonly health: string;
  readonly fingerprint: string | null;
  readonly notAfter: string | null;
  readonly error: string | null;
}

export async function runStatus(argv: string[]): Promise<number> {
  const parsed = parseCommand('status', argv, {
    dns: { type: 'string' },
    identity: { type: 'string' },
    'trust-root': { type: 'string' },
    timeout: { type: 'string', default: '3000' },
    json: { type: 'boolean', default: false },
  });
  if (!parsed) {
    process.stdout.write(`${HELP.status}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw usageError(`stoq status takes no positional arguments, got "${positionals[0]}"`);
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw usageError(`--timeout must be milliseconds from 1 to 60000, got "${values.timeout}"`);
  const eco = findEcosystem(process.cwd());
  const dns = values.dns ?? (process.env.STOQ_DNS || undefined) ?? eco?.dns;
  if (!dns) throw usageError('give --dns "[ipv6]:port" (TrustChain\'s DNS, also $STOQ_DNS), or run inside a folder with an `npm start` ecosystem (.stoq/ecosystem)');
  const identityDir = values.identity ?? eco?.cli;
  if (!identityDir) throw usageError('give --identity DIR: an identity TrustChain issued (stoq enroll makes one; npm start enrolls .stoq/ecosystem/cli)');

  let instances: DiscoveredInstance[];
  try {
    instances = await discoverInstances(new UdpDnsQuerier({ server: dns }));
  } catch (cause) {
    throw new CliError('UNREACHABLE', `cannot list services in TrustChain DNS at ${dns}: ${(cause as Error).message}`, { cause });
  }
  const client = await loadClientIdentity({ identityDir, trustRoot: values['trust-root'], renewVia: { dns } });
  const transport = createClientTransport(client);
  let rows: InstanceStatus[];
  try {
    rows = await Promise.all(instances.map((i) => probe(i, client, transport, timeoutMs)));
  } finally {
    await transport.close();
  }
  rows.sort((a, b) => (a.service === b.service ? (a.instance < b.instance ? -1 : 1) : a.service < b.service ? -1 : 1));
  if (values.json) process.stdout.write(`${JSON.stringify({ dns, instances: rows })}\n`);
  else process.stdout.write(table(rows, dns));
  return rows.every((r) => r.health === 'SERVING') ? 0 : 1;
}

async function probe(i: DiscoveredInstance, client: Awaited<ReturnType<typeof loadClientIdentity>>, transport: ReturnType<typeof createClientTransport>, timeoutMs: number): Promise<InstanceStatus> {
  try {
    const session = await connectSession(client, { target: i.address, serverName: `${i.service}.hypermesh`, expectedService: i.service, connectTimeoutMs: timeoutMs }, transport);
    try {
      const cert = parseHybridCertificate(session.conn.peer.certificateDer);
      const health = await session.rpc.call(healthMethod(i.service), {}, { timeoutMs });
      const status = rpcProto.HealthResponse_ServingStatus[health.status ?? 0] ?? 'UNKNOWN';
      return { ...i, health: status, fingerprint: cert.fingerprintSha256, notAfter: cert.notAfter.toISOString(), error: null };
    } finally {
      await session.close();
    }
  } catch (err) {
    return { ...i, health: 'UNREACHABLE', fingerprint: null, notAfter: null, error: err instanceof Error ? err.message : String(err) };
  }
}

function table(rows: readonly InstanceStatus[], dns: string): string {
  const head = ['SERVICE', 'INSTANCE', 'ADDRESS', 'HEALTH', 'CERTIFICATE', 'EXPIRES'];
  const cells = rows.map((r) => [r.service, r.instance, r.address, r.health, r.fingerprint ? `sha256:${r.fingerprint.slice(0, 16)}…` : '–', r.notAfter ?? (r.error ?? '–')]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: readonly string[]): string => row.map((v, c) => (c === row.length - 1 ? v : v.padEnd(widths[c]!))).join('  ');
  const serving = rows.filter((r) => r.health === 'SERVING').length;
  return `${[line(head), ...cells.map(line)].join('\n')}\n${serving} of ${rows.length} instances serving (TrustChain DNS ${dns})\n`;
}
