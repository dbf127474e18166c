// Shared fixtures for transport tests: a development CA and node identities in a temp dir,
// and transports bound to [::1]:0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { DevCa } from '../../src/identity/dev-ca';
import { NodeIdentity } from '../../src/identity/node-identity';
import { StoqTransport, type StoqTransportOptions, type TransportIdentity } from '../../src/transport';
import { serveEcho } from '../../src/echo';

export class Fixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'stoq-test-'));
  private readonly transports: StoqTransport[] = [];
  private caCount = 0;

  async ca(name = `ca${this.caCount++}`): Promise<DevCa> {
    return DevCa.openOrCreate(join(this.dir, name));
  }

  async identity(ca: DevCa, service: string, instance = `${service}-1`, extra: { lifetimeMs?: number; notBefore?: Date } = {}): Promise<TransportIdentity> {
    return NodeIdentity.loadOrCreate({ dataDir: join(this.dir, 'nodes', `${instance}-${Math.random().toString(36).slice(2)}`), service, instance, ca, ...extra });
  }

  server(identity: TransportIdentity, opts: Partial<StoqTransportOptions> = {}): StoqTransport {
    const t = StoqTransport.listen({ identity, bind: '[::1]:0', ...opts });
    this.transports.push(t);
    return t;
  }

  client(identity: TransportIdentity, opts: Partial<StoqTransportOptions> = {}): StoqTransport {
    const t = StoqTransport.create({ identity, bind: '[::1]:0', ...opts });
    this.transports.push(t);
    return t;
  }

  /** A listening transport that echoes every stream message and datagram. */
  echoServer(identity: TransportIdentity, opts: Partial<StoqTransportOptions> = {}): StoqTransport {
    const t = this.server(identity, opts);
    void (async () => {
      for (;;) {
        const conn = await t.accept();
        if (!conn) return;
        void serveEcho(conn);
      }
    })();
    return t;
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A pino logger whose JSON lines are kept in memory (written synchronously). */
export function captureLogs(): { logger: Logger; lines(): Array<Record<string, unknown>> } {
  const text: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  return {
    logger,
    lines: () => text.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
