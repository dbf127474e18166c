// `stoq ping`: dial a STOQ node with the full handshake (TLS 1.3 + FALCON exchange), round-trip
// a message on a stream, and report handshake time, key-exchange group and rtt.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { StoqTransport } from '@stoq/core';
import { loadCliIdentity } from './identity';

export interface PingResult {
  target: string;
  peer: { service: string; instance: string; fingerprint: string };
  keyExchangeGroup: string;
  handshakeMs: number;
  echoMs: number[];
  rttMs: number;
  zeroRtt: boolean;
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
      'zero-rtt': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '5000' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const target = positionals[0];
  if (!target || positionals.length > 1) throw new Error('stoq ping needs exactly one target, e.g. stoq ping "[::1]:4433"');
  const count = positiveInt(values.count, '--count');
  const size = positiveInt(values.size, '--size');
  const timeoutMs = positiveInt(values.timeout, '--timeout');

  const identity = await loadCliIdentity({ dataDir: values['data-dir'], service: 'cli', instance: 'cli' });
  const transport = StoqTransport.create({ identity, bind: '[::]:0', zeroRtt: values['zero-rtt'] });
  try {
    const t0 = performance.now();
    const conn = await withTimeout(
      transport.connect(target, { serverName: values['server-name'], expectedService: values['expect-service'] }),
      timeoutMs,
      `no STOQ node answered at ${target} within ${timeoutMs} ms`,
    );
    const handshakeMs = performance.now() - t0;
    const echoMs: number[] = [];
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(size);
      const t1 = performance.now();
      const s = await conn.openStream();
      await s.sendMessage(payload);
      s.finish();
      const back = await s.receiveMessage();
      echoMs.push(performance.now() - t1);
      if (!back || !payload.equals(Buffer.from(back))) throw new Error(`echo ${i + 1} came back different`);
    }
    const result: PingResult = {
      target,
      peer: { service: conn.peer.service, instance: conn.peer.instance, fingerprint: conn.peer.fingerprint },
      keyExchangeGroup: conn.keyExchangeGroup,
      handshakeMs,
      echoMs,
      rttMs: conn.stats().rttMs,
      zeroRtt: conn.zeroRtt,
    };
    conn.close(0, 'ping done');
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatPing(result));
    await transport.close(); // waits until the node was told we closed
    return 0;
  } catch (err) {
    // Nothing to drain gracefully after a failure; the caller exits right away.
    void transport.close();
    throw err;
  }
}

function formatPing(r: PingResult): string {
  const echo = r.echoMs.length === 1 ? `${r.echoMs[0]!.toFixed(2)} ms` : `min ${Math.min(...r.echoMs).toFixed(2)} / max ${Math.max(...r.echoMs).toFixed(2)} ms over ${r.echoMs.length}`;
  return (
    `connected to ${r.target} as ${r.peer.instance} (service ${r.peer.service})\n` +
    `  handshake ${r.handshakeMs.toFixed(1)} ms (TLS 1.3 ${r.keyExchangeGroup} + FALCON-1024 exchange), rtt ${r.rttMs.toFixed(2)} ms, echo ${echo}\n`
  );
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return n;
}
