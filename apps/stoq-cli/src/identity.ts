// Where the CLI keeps identities: one data dir holds the development CA (until TrustChain
// enrollment exists) and one identity per node or client instance under it.
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqError } from '@stoq/core';

export interface CliIdentityOptions {
  dataDir: string;
  service: string;
  instance: string;
  lifetimeMs?: number;
  /** Pinned SHA-256 of the root certificate: refuse a data dir whose CA differs. */
  rootFingerprint?: string | null;
  ipAddresses?: string[];
}

export async function loadCliIdentity(opts: CliIdentityOptions): Promise<NodeIdentity> {
  const ca = await DevCa.openOrCreate(join(opts.dataDir, 'dev-ca'));
  if (opts.rootFingerprint && opts.rootFingerprint.toLowerCase() !== ca.fingerprint) {
    throw new StoqError(
      'TLS_CONFIG',
      `certificates.root_fingerprint is ${opts.rootFingerprint} but the CA in ${join(opts.dataDir, 'dev-ca')} has fingerprint ${ca.fingerprint}`,
    );
  }
  return NodeIdentity.loadOrCreate({
    dataDir: join(opts.dataDir, 'identities', opts.instance),
    service: opts.service,
    instance: opts.instance,
    ca,
    lifetimeMs: opts.lifetimeMs,
    ipAddresses: opts.ipAddresses,
  });
}
