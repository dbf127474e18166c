// What this node knows of TrustChain's revocations (pure): the newest signed list it has seen.
// A list is taken only if both signatures verify against the pinned root (or an intermediate
// that chains to it, named in the list's signer_chain) and its version is
// newer, so a replayed older list cannot un-revoke anyone. verifyPeer asks `isRevoked`.
import { X509Certificate, createHash, verify, type KeyObject } from 'node:crypto';
import { MAX_CHAIN_LENGTH, nativeFalcon, parseHybridCertificate, verifyAltSignatureChain, type FalconScheme } from '@stoq/core';
import { ServiceError } from './errors';
import { verifyRevocationList, type RevocationListMessage } from './revocation-list';

export interface RevokedEntry {
  readonly serial: string;
  readonly fingerprint: string;
  readonly reason: number;
  readonly revokedAtMs: number;
}

/**
 * Verifies lists signed by `rootDer` (ECDSA P-384/SHA-384 DER + the root's FALCON-1024 key), or
 * by the CA its `signer_chain` names (an intermediate, when TrustChain was set up with
 * `trustchain ca init`) if that chain leads to `rootDer` by classical and FALCON signatures.
 */
export function rootListVerifier(rootDer: Uint8Array, falcon: FalconScheme = nativeFalcon): (list: RevocationListMessage) => boolean {
  const rootSigner: ListSigner = { key: new X509Certificate(Buffer.from(rootDer)).publicKey, falconKey: parseHybridCertificate(rootDer).falconPublicKey };
  // Signer chains already judged (a TrustChain sends the same one with every list).
  const judged = new Map<string, ListSigner | null>();
  return (list) => {
    const chain = (list.signerChain ?? []).map((c) => new Uint8Array(c));
    let signer: ListSigner | null = rootSigner;
    if (chain.length > 0) {
      const id = createHash('sha256').update(Buffer.concat(chain)).digest('hex');
      signer = judged.get(id) ?? null;
      if (!judged.has(id)) {
        signer = signerUnder(chain, rootDer, falcon);
        if (judged.size >= 16) judged.clear();
        judged.set(id, signer);
      }
    }
    if (!signer) return false;
    const { key, falconKey } = signer;
    return verifyRevocationList(
      list,
      (data, sig) => verify('sha384', data, { key, dsaEncoding: 'der' }, sig),
      (data, sig) => falcon.verify(falconKey, data, sig),
    );
  };
}

interface ListSigner {
  readonly key: KeyObject;
  readonly falconKey: Uint8Array;
}

/** The keys of `chain[0]` if it is a CA allowed to sign CRLs that chains to `rootDer` (both signature kinds); else null. */
function signerUnder(chain: readonly Uint8Array[], rootDer: Uint8Array, falcon: FalconScheme): ListSigner | null {
  try {
    if (chain.length > MAX_CHAIN_LENGTH) return null;
    const certs = chain.map((d) => new X509Certificate(Buffer.from(d)));
    const root = new X509Certificate(Buffer.from(rootDer));
    for (let i = 0; i < certs.length; i++) {
      const issuer = certs[i + 1] ?? root;
      if (!certs[i]!.ca || !certs[i]!.checkIssued(issuer) || !certs[i]!.verify(issuer.publicKey)) return null;
    }
    verifyAltSignatureChain(chain, [rootDer], falcon);
    const signer = parseHybridCertificate(chain[0]!);
    if (!signer.isCa) return null;
    return { key: certs[0]!.publicKey, falconKey: signer.falconPublicKey };
  } catch {
    return null;
  }
}

export class RevocationSet {
  private versionNow = 0;
  private byFingerprint = new Map<string, RevokedEntry>();

  constructor(private readonly verifyList: (list: RevocationListMessage) => boolean) {}

  get version(): number {
    return this.versionNow;
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  isRevoked(fingerprint: string): RevokedEntry | undefined {
    return this.byFingerprint.get(fingerprint.toLowerCase());
  }

  /**
   * Takes `list` if it is newer; returns the fingerprints it newly revokes ([] for an older or
   * equal version). Throws REVOCATION_LIST_INVALID if a signature does not verify.
   */
  apply(list: RevocationListMessage): string[] {
    const version = Number(list.version ?? 0);
    if (version <= this.versionNow) return [];
    if (!this.verifyList(list)) {
      throw new ServiceError('REVOCATION_LIST_INVALID', `revocation list version ${version} is not signed by the pinned TrustChain root; ignoring it`);
    }
    const next = new Map<string, RevokedEntry>();
    for (const e of list.entries ?? []) {
      const fingerprint = (e.fingerprint ?? '').toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(fingerprint)) continue;
      next.set(fingerprint, { serial: e.serial ?? '', fingerprint, reason: Number(e.reason ?? 0), revokedAtMs: Number(e.revokedAtMs ?? 0) });
    }
    const added = [...next.keys()].filter((f) => !this.byFingerprint.has(f));
    this.byFingerprint = next;
    this.versionNow = version;
    return added;
  }
}
