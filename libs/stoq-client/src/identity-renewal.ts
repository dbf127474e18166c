// Renewal of a stored client identity (the ecosystem's CLI and admin identities, a `stoq enroll`
// one). Services renew their own certificates (stoq-service, at 2/3 of the lifetime); a client
// identity is only used now and then, so it renews when it is used: past 2/3 of its lifetime,
// before it connects, with `trustchain/renew_certificate` authenticated by the certificate it
// still holds. Renewal is best effort: while the certificate is valid a failed renewal (TrustChain
// unreachable) leaves the identity as it is and the call goes ahead; two processes renewing at
// once both succeed and the files are replaced atomically (the last one stays).
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import {
  NODE_IDENTITY_FILES,
  NodeIdentity,
  StoqTransport,
  createCsr,
  derToPem,
  falconCsrMessage,
  nativeFalcon,
  pemToDerList,
  type CertificateRequest,
  type CertificateSource,
  type IssuedChain,
  type Ipv6Endpoint,
} from '@stoq/core';
import { trustchain as tc } from '@stoq/protos';
import { DnsSrvResolver, RpcClient, StaticResolver } from '@stoq/rpc';

export interface RenewalOptions {
  /** Where TrustChain is (resolved only when a renewal is due). */
  trustchain: () => Promise<Ipv6Endpoint>;
  /** Told why a due renewal did not happen (the identity is used as it is). */
  onFailure?: (err: Error) => void;
  /** Told when the certificate was renewed. */
  onRenewed?: (notAfter: Date) => void;
  timeoutMs?: number;
}

/**
 * `identity` as loaded, or — when it is past its renewal time — the same keys with a certificate
 * TrustChain renewed (written to `dir`). `load(ca)` loads the identity in `dir` (with `ca`, it
 * issues through it what is due).
 */
export async function renewedIfDue(identity: NodeIdentity, load: (ca: CertificateSource | null) => Promise<NodeIdentity>, opts: RenewalOptions & { dir: string }, now = new Date()): Promise<NodeIdentity> {
  if (now.getTime() < identity.renewAt.getTime() || now.getTime() >= identity.notAfter.getTime()) return identity;
  try {
    // A certificate it could not store would be issued (and CT-logged) again at every use.
    await access(join(opts.dir, NODE_IDENTITY_FILES.dir), constants.W_OK).catch((cause: unknown) => {
      throw new Error(`${join(opts.dir, NODE_IDENTITY_FILES.dir)} is not writable (${(cause as NodeJS.ErrnoException).code ?? String(cause)}), so a renewed certificate could not be stored`);
    });
    const endpoint = await opts.trustchain();
    // Short: a client waits for this before its own call, and the certificate is still valid.
    const renewed = await load(new RenewalSource(endpoint, identity, opts.timeoutMs ?? 3_000));
    opts.onRenewed?.(renewed.notAfter);
    return renewed;
  } catch (err) {
    opts.onFailure?.(err as Error);
    return identity;
  }
}

/**
 * Where TrustChain is, for renewals: its STOQ address when given, else the best SRV target of
 * `trustchain` at TrustChain's DNS.
 */
export function locateTrustChain(via: { dns: string } | { trustchain: string }): () => Promise<Ipv6Endpoint> {
  return async () => {
    if ('trustchain' in via) return via.trustchain as Ipv6Endpoint;
    const { targets } = await new DnsSrvResolver({ server: via.dns as Ipv6Endpoint }).resolve('trustchain');
    const best = [...targets].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))[0];
    if (!best) throw new Error(`no TrustChain is registered in DNS at ${via.dns}`);
    return best.endpoint;
  };
}

/** Issues by renewing with TrustChain over a connection made with the identity's current certificate. */
class RenewalSource implements CertificateSource {
  constructor(
    private readonly trustchain: Ipv6Endpoint,
    private readonly current: NodeIdentity,
    private readonly timeoutMs: number,
  ) {}

  async issue(req: CertificateRequest): Promise<IssuedChain> {
    const csr = createCsr({ service: req.service, instance: req.instance, tlsKey: req.tlsKey, falconPublicKey: req.falconPublicKey, ipAddresses: [...req.ipAddresses] });
    const falconSignature = nativeFalcon.sign(req.falconSecretKey, falconCsrMessage(csr));
    const transport = StoqTransport.create({ identity: this.current, bind: '[::]:0', zeroRtt: false, mtuDiscovery: false }); // one request: no path-MTU probes
    const rpc = new RpcClient({
      connector: (ep, o) => transport.connect(ep, { ...o, serverName: 'trustchain.hypermesh' }),
      resolver: new StaticResolver({ trustchain: [this.trustchain] }),
      retry: { maxAttempts: 1 },
    });
    try {
      const issued = await rpc.call(tc.TrustChainMethods.renewCertificate, { csr, falconSignature }, { timeoutMs: this.timeoutMs });
      const chain = issued.chain ?? [];
      if (chain.length < 2) throw new Error(`TrustChain returned a chain of ${chain.length} certificate(s); expected leaf ... root`);
      // The new chain must end in a root this identity already trusts: renewal never moves trust.
      const root = chain[chain.length - 1]!;
      const trusted = pemToDerList(this.current.trustRootsPem, 'CERTIFICATE', 'the trusted roots');
      if (!trusted.some((r) => Buffer.from(r).equals(Buffer.from(root)))) throw new Error('TrustChain renewed under a root this identity does not trust');
      return { chainPem: chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''), rootsPem: this.current.trustRootsPem };
    } finally {
      rpc.close();
      await transport.close();
    }
  }
}
