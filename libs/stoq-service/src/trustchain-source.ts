// A CertificateSource backed by TrustChain: NodeIdentity decides when a certificate is needed,
// this gets it. First issue enrolls (`trustchain/enroll`: join token + CSR + FALCON proof) over
// a connection without a certificate that trusts only the root with the pinned SHA-256;
// later issues renew (`trustchain/renew_certificate`), authenticated by the current
// certificate. Each call dials its own short-lived client endpoint: it runs once per
// certificate lifetime, and must work before the service's own transport exists.
import { createHash, X509Certificate } from 'node:crypto';
import {
  StoqTransport,
  createCsr,
  derToPem,
  falconCsrMessage,
  nativeFalcon,
  pemToDerList,
  type CertificateRequest,
  type CertificateSource,
  type DialedConnection,
  type FalconScheme,
  type IssuedChain,
  type Ipv6Endpoint,
  type TransportIdentity,
} from '@stoq/core';
import { trustchain as tc } from '@stoq/protos';
import { RpcClient, StaticResolver, isRpcError, statusName } from '@stoq/rpc';
import type { Logger } from 'pino';
import { ServiceError } from './errors';

export interface TrustChainSourceOptions {
  trustchain: Ipv6Endpoint;
  /**
   * SHA-256 of TrustChain's root certificate DER (64 hex digits): the only root enrollment
   * trusts. Null: enrollment is refused (NO_ROOT_FINGERPRINT); renewal trusts the root the
   * current chain ends in.
   */
  rootFingerprint: string | null;
  /** The join token for a first enrollment; null when none is configured. Read only when needed. */
  joinToken: () => Promise<string | null>;
  /** Whether to require the X25519MLKEM768 key exchange (security.require_pq_kex). */
  requirePqKex?: boolean;
  timeoutMs?: number;
  falcon?: FalconScheme;
  logger: Logger;
}

export class TrustChainSource implements CertificateSource {
  private readonly pin: string | null;
  private readonly falcon: FalconScheme;
  private readonly timeoutMs: number;

  constructor(private readonly opts: TrustChainSourceOptions) {
    this.pin = opts.rootFingerprint === null ? null : opts.rootFingerprint.replace(/:/g, '').toLowerCase();
    if (this.pin !== null && !/^[0-9a-f]{64}$/.test(this.pin)) throw new ServiceError('CONFIG_INVALID', `root fingerprint ${opts.rootFingerprint} is not 64 hex digits`);
    this.falcon = opts.falcon ?? nativeFalcon;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async issue(req: CertificateRequest): Promise<IssuedChain> {
    const csr = createCsr({ service: req.service, instance: req.instance, tlsKey: req.tlsKey, falconPublicKey: req.falconPublicKey, ipAddresses: [...req.ipAddresses] });
    const falconSignature = this.falcon.sign(req.falconSecretKey, falconCsrMessage(csr));
    const current = req.currentChainPem !== undefined ? usableChain(req.currentChainPem, req.now) : null;
    let issued: tc.IssuedCertificate;
    if (current) {
      this.opts.logger.info({ reason: req.reason, trustchain: this.opts.trustchain }, 'renewing the certificate with TrustChain');
      const identity: TransportIdentity = {
        service: req.service,
        instance: req.instance,
        certChainPem: req.currentChainPem!,
        keyPem: req.tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        trustRootsPem: derToPem(current.root, 'CERTIFICATE'),
        falconPublicKey: req.falconPublicKey,
        falconSecretKey: req.falconSecretKey,
      };
      issued = await this.call(identity, 'RENEWAL_REFUSED', (rpc) => rpc.call(tc.TrustChainMethods.renewCertificate, { csr, falconSignature }, { timeoutMs: this.timeoutMs }));
      return this.checkIssued(issued, this.pin ?? sha256Hex(current.root));
    } else {
      if (this.pin === null) {
        throw new ServiceError('NO_ROOT_FINGERPRINT', `${req.service}/${req.instance} must enroll (${req.reason}) and needs certificates.root_fingerprint: print it with \`trustchain ca fingerprint\``);
      }
      const pin = this.pin;
      const token = await this.opts.joinToken();
      if (!token) {
        throw new ServiceError(
          'NO_JOIN_TOKEN',
          `${req.service}/${req.instance} has no usable certificate (${req.reason}) and no join token: mint one with \`trustchain token create --service ${req.service}\` and pass it in STOQ_JOIN_TOKEN or service.join_token_file`,
        );
      }
      this.opts.logger.info({ reason: req.reason, trustchain: this.opts.trustchain, rootFingerprint: pin }, 'enrolling with TrustChain');
      issued = await this.call({ enrolling: true, trustRootSha256: pin }, 'ENROLLMENT_REFUSED', (rpc) =>
        rpc.call(tc.TrustChainMethods.enroll, { token, csr, falconSignature }, { timeoutMs: this.timeoutMs }),
      );
      return this.checkIssued(issued, pin);
    }
  }

  private checkIssued(issued: tc.IssuedCertificate, pin: string): IssuedChain {
    const chain = issued.chain ?? [];
    if (chain.length < 2) throw new ServiceError('ROOT_MISMATCH', `TrustChain returned a chain of ${chain.length} certificate(s); expected leaf ... root`);
    const root = chain[chain.length - 1]!;
    const fp = sha256Hex(root);
    if (fp !== pin) throw new ServiceError('ROOT_MISMATCH', `TrustChain's chain ends in root ${fp}, not the trusted ${pin}; check certificates.root_fingerprint`);
    return {
      chainPem: chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''),
      rootsPem: derToPem(root, 'CERTIFICATE'),
    };
  }

  private async call<T>(identity: TransportIdentity | { enrolling: true; trustRootSha256: string }, refused: 'ENROLLMENT_REFUSED' | 'RENEWAL_REFUSED', run: (rpc: RpcClient) => Promise<T>): Promise<T> {
    // One request on a connection of its own: no path-MTU probes (they would cost both sides more than the request).
    const transport = StoqTransport.create({ identity, bind: '[::]:0', zeroRtt: false, requirePqKex: this.opts.requirePqKex ?? true, mtuDiscovery: false });
    let conn: DialedConnection | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ServiceError('TRUSTCHAIN_UNREACHABLE', `TrustChain at ${this.opts.trustchain} did not answer within ${this.timeoutMs} ms; is \`trustchain serve\` running there?`)), this.timeoutMs);
      });
      try {
        conn = await Promise.race([transport.connect(this.opts.trustchain, { serverName: 'trustchain.hypermesh', expectedService: 'trustchain' }), expired]);
      } catch (err) {
        if (err instanceof ServiceError) throw err;
        throw new ServiceError('TRUSTCHAIN_UNREACHABLE', `cannot connect to TrustChain at ${this.opts.trustchain}: ${(err as Error).message}`, { cause: err });
      }
      const c = conn;
      const rpc = new RpcClient({ connector: async () => c, resolver: new StaticResolver({ trustchain: [this.opts.trustchain] }), retry: { maxAttempts: 1 } });
      try {
        return await Promise.race([run(rpc), expired]);
      } catch (err) {
        if (isRpcError(err)) throw new ServiceError(refused, `TrustChain refused: ${statusName(err.code)}: ${err.message}`, { cause: err });
        throw err;
      } finally {
        rpc.close();
      }
    } finally {
      clearTimeout(timer);
      conn?.close(0, 'done');
      await transport.close();
    }
  }
}

const sha256Hex = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/** The current chain's leaf and root if the leaf is still valid at `now` (renewal needs that). */
function usableChain(chainPem: string, now: Date): { leaf: Uint8Array; root: Uint8Array } | null {
  let ders: Uint8Array[];
  try {
    ders = pemToDerList(chainPem, 'CERTIFICATE', 'current chain');
  } catch {
    return null;
  }
  if (ders.length === 0) return null;
  const leaf = new X509Certificate(Buffer.from(ders[0]!));
  if (now.getTime() >= new Date(leaf.validTo).getTime()) return null;
  // The stored chain ends with the root (IssuedChain.chainPem): trust exactly that one.
  return { leaf: ders[0]!, root: ders[ders.length - 1]! };
}
