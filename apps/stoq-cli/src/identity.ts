// Where the CLI keeps identities: one data dir holds the development CA (until TrustChain
// enrollment exists) and one identity per node or client instance under it.
//
// The development CA issues any identity it is asked for: anyone who can read the data dir can
// act as any service (`--as admin`). It is for development on one machine only.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DevCa, NodeIdentity, StoqError } from '@stoq/core';

export interface CliIdentityOptions {
  dataDir: string;
  service: string;
  instance: string;
  lifetimeMs?: number;
  /** Pinned SHA-256 of the root certificate: refuse a data dir whose CA differs. */
  rootFingerprint?: string | null;
  ipAddresses?: string[];
  /** Called when the data dir had no CA and a new one was created, so the caller can say so. */
  onCaCreated?: (caDir: string, fingerprint: string) => void;
  /** Where first creation of the CA or the identity is logged (path and fingerprint). */
  logger?: Logger;
}

export function devCaDir(dataDir: string): string {
  return join(dataDir, 'dev-ca');
}

export async function loadCliIdentity(opts: CliIdentityOptions): Promise<NodeIdentity> {
  const caDir = devCaDir(opts.dataDir);
  const ca = await DevCa.openOrCreate(caDir, { logger: opts.logger });
  if (ca.created) opts.onCaCreated?.(caDir, ca.fingerprint);
  if (opts.rootFingerprint && opts.rootFingerprint.toLowerCase() !== ca.fingerprint) {
    throw new StoqError(
      'TLS_CONFIG',
      `certificates.root_fingerprint is ${opts.rootFingerprint} but the CA in ${caDir} has fingerprint ${ca.fingerprint}`,
    );
  }
  return NodeIdentity.loadOrCreate({
    dataDir: join(opts.dataDir, 'identities', opts.instance),
    service: opts.service,
    instance: opts.instance,
    ca,
    lifetimeMs: opts.lifetimeMs,
    ipAddresses: opts.ipAddresses,
    logger: opts.logger,
  });
}
