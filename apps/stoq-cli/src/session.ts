// A CLI session: the CLI identity, a client transport, one authenticated connection to the
// target, and an RPC client that uses exactly that connection.
import { StoqTransport, type StoqConnection } from '@stoq/core';
import { RpcClient, StaticResolver } from '@stoq/rpc';
import { loadCliIdentity } from './identity';

export interface SessionOptions {
  target: string;
  dataDir: string;
  /** Service name in the CLI's certificate (default "cli"); the dev CA issues it on first use. */
  as?: string;
  serverName?: string;
  expectedService?: string;
  connectTimeoutMs: number;
  zeroRtt?: boolean;
}

export interface Session {
  transport: StoqTransport;
  conn: StoqConnection;
  /** Time from dialing to an authenticated connection (TLS + FALCON exchange). */
  handshakeMs: number;
  rpc: RpcClient;
  close(): Promise<void>;
}

export async function openSession(opts: SessionOptions): Promise<Session> {
  const as = opts.as ?? 'cli';
  const identity = await loadCliIdentity({ dataDir: opts.dataDir, service: as, instance: as });
  const transport = StoqTransport.create({ identity, bind: '[::]:0', zeroRtt: opts.zeroRtt ?? false });
  try {
    const t0 = performance.now();
    const conn = await withTimeout(
      transport.connect(opts.target, { serverName: opts.serverName, expectedService: opts.expectedService }),
      opts.connectTimeoutMs,
      `no STOQ node answered at ${opts.target} within ${opts.connectTimeoutMs} ms`,
    );
    const handshakeMs = performance.now() - t0;
    const service = conn.peer.service;
    const rpc = new RpcClient({
      connector: async () => conn,
      resolver: new StaticResolver({ [service]: [opts.target] }),
      retry: { maxAttempts: 1 },
    });
    return {
      transport,
      conn,
      handshakeMs,
      rpc,
      async close() {
        rpc.close();
        conn.close(0, 'done');
        await transport.close(); // waits until the node was told we closed
      },
    };
  } catch (err) {
    void transport.close(); // nothing to drain after a failure; the command exits right away
    throw err;
  }
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

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return n;
}
