// A client session to Caesar: an identity issued by TrustChain (--identity DIR, a data dir
// holding identity/cert.pem, e.g. an enrolled node's or TrustChain's <data-dir>/admin), Caesar
// found by name through TrustChain's DNS (--dns, SRV _stoq._udp.caesar.hypermesh) or at --target,
// one authenticated STOQ connection and an RPC client on it.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList, type DialedConnection } from '@stoq/core';
import { DnsSrvResolver, RpcClient, StaticResolver } from '@stoq/rpc';
import { CliError, usage } from './cli-error';

export interface ConnectFlags {
  identity?: string;
  dns?: string;
  target?: string;
  timeoutMs: number;
}

export interface CaesarSession {
  readonly rpc: RpcClient;
  readonly conn: DialedConnection;
  close(): Promise<void>;
}

const SERVICE = 'caesar';

async function loadIdentity(dirFlag: string): Promise<NodeIdentity> {
  const dir = resolve(dirFlag);
  const certFile = join(dir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain);
  let pem: string;
  try {
    pem = await readFile(certFile, 'utf8');
  } catch (cause) {
    throw new CliError('IDENTITY', `--identity ${dir}: cannot read ${certFile}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)} (give a data dir holding identity/cert.pem, e.g. an enrolled node's data dir or TrustChain's <data-dir>/admin)`, { cause });
  }
  const leaf = parseHybridCertificate(pemToDerList(pem, 'CERTIFICATE', certFile)[0]!);
  const service = leaf.dnsNames.find((n) => /^[^.]+\.hypermesh$/.test(n))?.split('.')[0] ?? leaf.commonName;
  return NodeIdentity.loadOrCreate({ dataDir: dir, service, instance: leaf.commonName, ca: null, ipAddresses: leaf.ipAddresses.length > 0 ? [...leaf.ipAddresses] : undefined });
}

async function findCaesar(dns: string): Promise<string> {
  let found;
  try {
    found = await new DnsSrvResolver({ server: dns }).resolve(SERVICE);
  } catch (cause) {
    throw new CliError('UNREACHABLE', `cannot look up caesar in DNS at ${dns}: ${(cause as Error).message}`, { cause });
  }
  const best = [...found.targets].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))[0];
  if (!best) throw new CliError('UNREACHABLE', `no caesar instance is registered in DNS at ${dns}`);
  return best.endpoint;
}

export async function connectCaesar(flags: ConnectFlags): Promise<CaesarSession> {
  const identityDir = flags.identity ?? process.env['CAESAR_IDENTITY'];
  if (!identityDir) throw usage('--identity DIR is required (a data dir with an identity TrustChain issued, e.g. an enrolled node\'s; also $CAESAR_IDENTITY)');
  const dns = flags.dns ?? process.env['STOQ_DNS'];
  if (!flags.target && !dns) throw usage('give --dns "[ipv6]:port" (TrustChain\'s DNS, also $STOQ_DNS) to find Caesar by name, or --target "[ipv6]:port"');
  const identity = await loadIdentity(identityDir);
  const target = flags.target ?? (await findCaesar(dns!));
  const transport = StoqTransport.create({ identity, bind: '[::]:0', zeroRtt: false });
  let timer: NodeJS.Timeout | undefined;
  try {
    const conn = await Promise.race([
      transport.connect(target, { serverName: `${SERVICE}.hypermesh`, expectedService: SERVICE }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CliError('UNREACHABLE', `Caesar did not answer at ${target} within ${flags.timeoutMs} ms`)), flags.timeoutMs);
      }),
    ]);
    const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ [SERVICE]: [target] }), retry: { maxAttempts: 1 } });
    return {
      rpc,
      conn,
      async close() {
        rpc.close();
        conn.close(0, 'done');
        await transport.close();
      },
    };
  } catch (err) {
    void transport.close();
    if (err instanceof CliError) throw err;
    throw new CliError('UNREACHABLE', `cannot connect to Caesar at ${target}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
