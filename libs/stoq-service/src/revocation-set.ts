// What this node knows of TrustChain's revocations (pure): the newest signed list it has seen.
// A list is taken only if both signatures verify against the pinned root and its version is
// newer, so a replayed older list cannot un-revoke anyone. verifyPeer asks `isRevoked`.
import { X509Certificate, verify } from 'node:crypto';
import { nativeFalcon, parseHybridCertificate, type FalconScheme } from '@stoq/core';
import { ServiceError } from './errors';
import { verifyRevocationList, type RevocationListMessage } from './revocation-list';

export interface RevokedEntry {
  readonly serial: string;
  readonly fingerprint: string;
  readonly reason: number;
  readonly revokedAtMs: number;
}

/** Verifies lists signed by `rootDer` (ECDSA P-384/SHA-384 DER + the root's FALCON-1024 key). */
export function rootListVerifier(rootDer: Uint8Array, falcon: FalconScheme = nativeFalcon): (list: RevocationListMessage) => boolean {
  const key = new X509Certificate(Buffer.from(rootDer)).publicKey;
  const falconKey = parseHybridCertificate(rootDer).falconPublicKey;
  return (list) =>
    verifyRevocationList(
      list,
      (data, sig) => verify('sha384', data, { key, dsaEncoding: 'der' }, sig),
      (data, sig) => falcon.verify(falconKey, data, sig),
    );
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
