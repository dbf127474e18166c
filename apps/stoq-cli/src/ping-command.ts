// `stoq ping`: dial a STOQ node with the full handshake (TLS 1.3 + FALCON exchange), round-trip
// messages through its `node/echo` RPC, and report what the protocol costs: the handshake and
// echo times of a warm process. A first connection and echo are made and discarded, so key
// loading, lazy native initialisation and JIT compilation do not show up as protocol cost; the
// reported handshake is the first on a second client endpoint created before the warm-up, so it
// has no TLS session ticket (a full handshake with certificates). A reconnect on the warm-up
// endpoint, which holds a ticket, is reported next to it.
import { randomBytes } from 'node:crypto';
import { intOption, parseCommand, timeoutOption } from './args';
import { usageError } from './cli-error';
import { HELP } from './help';
import { NodeMethods } from './node.proto';
import { connectSession, createClientTransport, loadClientIdentity, type Session } from './session';

export interface PingResult {
  target: string;
  peer: { service: string; instance: string; fingerprint: string };
  keyExchangeGroup: string;
  /** Connect call -> authenticated connection: first connection of a fresh client endpoint, after the warm-up. */
  handshakeMs: number;
  /** The same on the warm-up endpoint, which holds a TLS session ticket from the warm-up connection. */
  reconnectMs: number;
  /** The discarded warm-up connection's handshake (includes one-time start-up work). */
  warmupHandshakeMs: number;
  /** One entry per timed echo round trip. */
  echoMs: number[];
  echo: { count: number; sizeBytes: number; minMs: number; medianMs: number; maxMs: number };
  /** QUIC's smoothed RTT estimate for the connection. */
  rttMs: number;
}

export async function runPing(argv: string[]): Promise<number> {
  const parsed = parseCommand('ping', argv, {
    'data-dir': { type: 'string' },
    'server-name': { type: 'string' },
    'expect-service': { type: 'string' },
    'trust-root': { type: 'string' },
    identity: { type: 'string' },
    count: { type: 'string', short: 'c', default: '5' },
    size: { type: 'string', default: '64' },
    timeout: { type: 'string', default: '5000' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  });
  if (!parsed) {
    process.stdout.write(`${HELP.ping}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  const target = positionals[0];
  if (!target || positionals.length > 1) throw usageError('stoq ping needs exactly one target, e.g. stoq ping "[::1]:4433" (see stoq ping --help)');
  const count = intOption(values.count, '--count', 1, 100_000);
  const size = intOption(values.size, '--size', 0, 16 * 1024 * 1024, 'bytes');
  const timeoutMs = timeoutOption(values.timeout);

  const client = await loadClientIdentity({ dataDir: values['data-dir'], trustRoot: values['trust-root'], identityDir: values.identity, verbose: values.verbose });
  const connectOptions = { target, serverName: values['server-name'], expectedService: values['expect-service'], connectTimeoutMs: timeoutMs };
  const warmEndpoint = createClientTransport(client);
  const freshEndpoint = createClientTransport(client); // created now, so its start-up is not timed
  let session: Session | undefined;
  let warmupHandshakeMs: number;
  let reconnectMs: number;
  try {
    const warmup = await connectSession(client, connectOptions, warmEndpoint);
    warmupHandshakeMs = warmup.handshakeMs;
    await echoOnce(warmup, size, timeoutMs, 'warm-up');
    await warmup.close();
    session = await connectSession(client, connectOptions, freshEndpoint);
    const reconnect = await connectSession(client, connectOptions, warmEndpoint);
    reconnectMs = reconnect.handshakeMs;
    await reconnect.close();
  } catch (err) {
    void warmEndpoint.close();
    void freshEndpoint.close();
    throw err;
  }
  await warmEndpoint.close();
  const echoMs: number[] = [];
  let result: PingResult;
  try {
    for (let i = 0; i < count; i++) echoMs.push(await echoOnce(session, size, timeoutMs, String(i + 1)));
    const { conn } = session;
    const sorted = [...echoMs].sort((a, b) => a - b);
    result = {
      target,
      peer: { service: conn.peer.service, instance: conn.peer.instance, fingerprint: conn.peer.fingerprint },
      keyExchangeGroup: conn.keyExchangeGroup,
      handshakeMs: session.handshakeMs,
      reconnectMs,
      warmupHandshakeMs,
      echoMs,
      echo: { count, sizeBytes: size, minMs: sorted[0]!, medianMs: median(sorted), maxMs: sorted[sorted.length - 1]! },
      rttMs: conn.stats().rttMs,
    };
  } finally {
    await session.close();
    await freshEndpoint.close();
  }
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatPing(result));
  return 0;
}

async function echoOnce(session: Session, size: number, timeoutMs: number, which: string): Promise<number> {
  const payload = randomBytes(size);
  const t0 = performance.now();
  const res = await session.rpc.call(NodeMethods.echo, { payload }, { timeoutMs });
  const ms = performance.now() - t0;
  if (!payload.equals(Buffer.from(res.payload ?? []))) throw new Error(`echo ${which} came back different`);
  return ms;
}

/** Median of an ascending, non-empty list. */
export function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

function formatPing(r: PingResult): string {
  const e = r.echo;
  return (
    `connected to ${r.target} as ${r.peer.instance} (service ${r.peer.service})\n` +
    `  handshake ${ms(r.handshakeMs)} ms (TLS 1.3 ${r.keyExchangeGroup} + FALCON-1024 exchange), rtt ${ms(r.rttMs)} ms\n` +
    `  echo ${e.sizeBytes} B x ${e.count}: min ${ms(e.minMs)} / median ${ms(e.medianMs)} / max ${ms(e.maxMs)} ms\n` +
    `  measured warm: the handshake is the connect call to the authenticated connection on a fresh client endpoint\n` +
    `  (no TLS session ticket), after a discarded warm-up connection (${ms(r.warmupHandshakeMs)} ms, incl. process start-up);\n` +
    `  a reconnect on the warm-up endpoint (session ticket held) took ${ms(r.reconnectMs)} ms\n`
  );
}
