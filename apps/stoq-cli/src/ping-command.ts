// `stoq ping`: dial a STOQ node with the full handshake (TLS 1.3 + FALCON exchange), round-trip
// a message through its `node/echo` RPC, and report handshake time, key-exchange group and rtt.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { NodeMethods } from './node.proto';
import { openSession, positiveInt } from './session';

export interface PingResult {
  target: string;
  peer: { service: string; instance: string; fingerprint: string };
  keyExchangeGroup: string;
  handshakeMs: number;
  echoMs: number[];
  rttMs: number;
}

export async function runPing(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string', default: '.stoq' },
      'server-name': { type: 'string' },
      'expect-service': { type: 'string' },
      count: { type: 'string', default: '1' },
      size: { type: 'string', default: '64' },
      timeout: { type: 'string', default: '5000' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const target = positionals[0];
  if (!target || positionals.length > 1) throw new Error('stoq ping needs exactly one target, e.g. stoq ping "[::1]:4433"');
  const count = positiveInt(values.count, '--count');
  const size = positiveInt(values.size, '--size');
  const session = await openSession({
    target,
    dataDir: values['data-dir'],
    serverName: values['server-name'],
    expectedService: values['expect-service'],
    connectTimeoutMs: positiveInt(values.timeout, '--timeout'),
  });
  const { conn } = session;
  const echoMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const payload = randomBytes(size);
    const t1 = performance.now();
    const res = await session.rpc.call(NodeMethods.echo, { payload }, { timeoutMs: 5000 });
    echoMs.push(performance.now() - t1);
    if (!payload.equals(Buffer.from(res.payload ?? []))) throw new Error(`echo ${i + 1} came back different`);
  }
  const result: PingResult = {
    target,
    peer: { service: conn.peer.service, instance: conn.peer.instance, fingerprint: conn.peer.fingerprint },
    keyExchangeGroup: conn.keyExchangeGroup,
    handshakeMs: session.handshakeMs,
    echoMs,
    rttMs: conn.stats().rttMs,
  };
  await session.close();
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatPing(result));
  return 0;
}

function formatPing(r: PingResult): string {
  const echo = r.echoMs.length === 1 ? `${r.echoMs[0]!.toFixed(2)} ms` : `min ${Math.min(...r.echoMs).toFixed(2)} / max ${Math.max(...r.echoMs).toFixed(2)} ms over ${r.echoMs.length}`;
  return (
    `connected to ${r.target} as ${r.peer.instance} (service ${r.peer.service})\n` +
    `  handshake ${r.handshakeMs.toFixed(1)} ms (TLS 1.3 ${r.keyExchangeGroup} + FALCON-1024 exchange), rtt ${r.rttMs.toFixed(2)} ms, echo ${echo}\n`
  );
}
