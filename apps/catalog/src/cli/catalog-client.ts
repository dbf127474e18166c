// A client session to Catalog: an identity TrustChain issued (--identity DIR, else $STOQ_IDENTITY,
// else the `npm start` ecosystem's CLI identity), Catalog found by name through TrustChain's DNS
// (--dns, else $STOQ_DNS, else the ecosystem's) or at --target.
import { resolve } from 'node:path';
import { findEcosystem, locateTrustChain, storedIdentity } from '@stoq/client';
import { StoqTransport } from '@stoq/core';
import { DnsSrvResolver, RpcClient, StaticResolver } from '@stoq/rpc';
import { CliError, usage } from './cli-error';

export interface ConnectFlags {
  identity?: string;
  dns?: string;
  target?: string;
}

export interface CatalogSession {
  readonly rpc: RpcClient;
  close(): Promise<void>;
}

export async function connectCatalog(flags: ConnectFlags): Promise<CatalogSession> {
  const eco = findEcosystem(process.cwd());
  const identityDir = flags.identity ?? (process.env['STOQ_IDENTITY'] || undefined) ?? eco?.cli;
  if (!identityDir) throw usage('--identity DIR is required (a data dir with an identity TrustChain issued; also $STOQ_IDENTITY)');
  const dns = flags.dns ?? (process.env['STOQ_DNS'] || undefined) ?? eco?.dns;
  if (!flags.target && !dns) throw usage('give --dns "[ipv6]:port" (TrustChain\'s DNS, also $STOQ_DNS) to find Catalog by name, or --target "[ipv6]:port"');
  let identity;
  try {
    // Renewed with TrustChain first when past 2/3 of its lifetime (found through the same DNS).
    const renew = dns
      ? {
          trustchain: locateTrustChain({ dns }),
          onFailure: (err: Error) => process.stderr.write(`catalog: could not renew the certificate of ${identityDir} (${err.message}); using it until it expires\n`),
        }
      : undefined;
    identity = await storedIdentity(resolve(identityDir), renew ? { renew } : {});
  } catch (cause) {
    throw new CliError('IDENTITY', `--identity ${identityDir}: ${(cause as Error).message}`, { cause });
  }
  const transport = StoqTransport.create({ identity, bind: '[::]:0', zeroRtt: false });
  const rpc = new RpcClient({
    connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
    resolver: flags.target ? new StaticResolver({ catalog: [flags.target] }) : new DnsSrvResolver({ server: dns! }),
    retry: { maxAttempts: 1 },
  });
  return {
    rpc,
    async close() {
      rpc.close();
      await transport.close();
    },
  };
}
