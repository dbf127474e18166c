// Where a node identity's certificate comes from. NodeIdentity keeps the keys and decides when a
// certificate must be (re-)issued; a CertificateSource issues it: a local CA (DevCa, or
// TrustChain's own root issuing TrustChain's leaf) or a remote one (enrollment with a join
// token, renewal with the current certificate, in @stoq/service).
import type { KeyObject } from 'node:crypto';

export interface CertificateRequest {
  readonly service: string;
  readonly instance: string;
  /** The node's TLS private key: a remote source signs a CSR with it, a local CA takes its public half. */
  readonly tlsKey: KeyObject;
  readonly falconPublicKey: Uint8Array;
  /** For proving possession of the FALCON key (a FALCON signature over the CSR). */
  readonly falconSecretKey: Uint8Array;
  /** Every dNSName the certificate must carry (the standard STOQ names first). */
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly now: Date;
  readonly lifetimeMs?: number;
  readonly notBefore?: Date;
  /** Why a certificate is needed (first issue, expiry, renewal...): for logs. */
  readonly reason: string;
  /** The chain the node holds now (PEM, leaf first), when it has one. */
  readonly currentChainPem?: string;
}

export interface IssuedChain {
  /** Leaf first, ending with the root. */
  readonly chainPem: string;
  /** The roots the node should trust from now on. */
  readonly rootsPem: string;
}

export interface CertificateSource {
  /**
   * DER of the root this source's certificates chain to, when known before issuing: a stored
   * certificate under another root is then re-issued. Undefined: not checked.
   */
  readonly rootDer?: Uint8Array;
  issue(request: CertificateRequest): Promise<IssuedChain>;
}
