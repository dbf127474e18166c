// Issuance: CSR + proofs in, durable certificate + CT proof out. The order is what makes a reply
// trustworthy:
//   1. check the token (or current certificate), the CSR, the FALCON proof and the names;
//      a refusal here burns nothing,
//   2. sign the leaf,
//   3. record it (and burn the token) in SQLite: one transaction for every issuance that arrived
//      in the same event-loop turn,
//   4. append it to the CT log (one group commit for the batch) and get an STH covering it,
//   5. reply with chain + SCT + inclusion proof.
// A crash after 3 leaves rows with no CT index; `reconcileCt()` at start finds them in the log's
// tail or appends them, so every recorded certificate ends up in CT exactly once.

import type { Logger } from 'pino';
import {
  CsrError,
  consensusApprovalExtension,
  falconCsrMessage,
  nativeFalcon,
  parseCsr,
  parseHybridCertificate,
  type CertificateExtension,
  type ConsensusApproval,
  type FalconScheme,
  type ParsedCsr,
} from '@stoq/core';
import { decodeMerkleTreeLeaf, encodeCertificateChain, encodeSct, LogEntryType, type CtLog, type SignedTreeHead } from '@stoq/ct-log';
import { TrustChainError } from '../core/errors';
import { certificateNames, type CertificateNames } from '../core/issuance-policy';
import { checkTokenService, checkTokenUsable, tokenHashOf } from '../core/tokens';
import type { CaStore, CertificateKind, NewCertificate } from '../store/ca-store';
import { DEFAULT_CERT_LIFETIME_MS, type Authority } from './authority';

export interface CtInclusion {
  readonly sct: Uint8Array;
  readonly leafIndex: number;
  readonly auditPath: readonly Uint8Array[];
  readonly sth: SignedTreeHead;
}

export interface IssueResult {
  /** Leaf, then the intermediate (when one signs), then the root. */
  readonly chain: readonly Uint8Array[];
  readonly serial: string;
  readonly fingerprint: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly ct: CtInclusion;
}

export interface IssuerOptions {
  store: CaStore;
  authority: Authority;
  ct: CtLog;
  logger: Logger;
  now?: () => number;
  lifetimeMs?: number;
  falcon?: FalconScheme;
}

interface Pending {
  readonly record: NewCertificate;
  resolve(r: IssueResult): void;
  reject(e: unknown): void;
}

export class Issuer {
  private readonly store: CaStore;
  private readonly authority: Authority;
  private readonly ct: CtLog;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly lifetimeMs: number;
  private readonly falcon: FalconScheme;
  private queue: Pending[] = [];
  private flushScheduled = false;
  /** Tokens of enrollments between check and commit: a second use fails at once. */
  private readonly tokensInFlight = new Set<string>();
  private issuedCount = 0;

  constructor(opts: IssuerOptions) {
    this.store = opts.store;
    this.authority = opts.authority;
    this.ct = opts.ct;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.lifetimeMs = opts.lifetimeMs ?? DEFAULT_CERT_LIFETIME_MS;
    this.falcon = opts.falcon ?? nativeFalcon;
  }

  /** Certificates issued by this process since start. */
  get issued(): number {
    return this.issuedCount;
  }

  /** First issuance for a genesis-set service: a one-time join token. */
  async enroll(token: string, csrDer: Uint8Array, falconSignature: Uint8Array): Promise<IssueResult> {
    const hash = tokenHashOf(token);
    // Unknown, used or expired first: those do not depend on the CSR.
    const record = checkTokenUsable(this.store.token(hash), this.now());
    if (this.tokensInFlight.has(hash)) {
      throw new TrustChainError('TOKEN_USED', 'the join token is being used by another enrollment right now; tokens are single-use, mint a new one');
    }
    const csr = this.checkCsr(csrDer, falconSignature);
    checkTokenService(record, csr.service, csr.commonName);
    const names = certificateNames(csr, record.service);
    this.tokensInFlight.add(hash);
    try {
      return await this.issue(csr, names, 'enroll', hash);
    } finally {
      this.tokensInFlight.delete(hash);
    }
  }

  /** Renewal, authenticated by the caller's current certificate (DER, from the TLS handshake). */
  async renew(currentDer: Uint8Array, csrDer: Uint8Array, falconSignature: Uint8Array): Promise<IssueResult> {
    const current = parseHybridCertificate(currentDer);
    const row = this.store.certificateByFingerprint(current.fingerprintSha256);
    if (!row) throw new TrustChainError('CERTIFICATE_UNKNOWN', `the caller's certificate ${current.fingerprintSha256} was not issued by this TrustChain; enroll with a join token instead`);
    if (row.revokedAt !== null) {
      throw new TrustChainError('CERTIFICATE_REVOKED', `certificate ${row.serial} was revoked at ${new Date(row.revokedAt).toISOString()}; a revoked certificate cannot be renewed, enroll again with a new token`);
    }
    if (this.now() >= row.notAfter) throw new TrustChainError('CERTIFICATE_EXPIRED', `certificate ${row.serial} expired at ${new Date(row.notAfter).toISOString()}; enroll again with a new token`);
    if (row.stakeExpiresAt !== null && this.now() >= row.stakeExpiresAt) {
      throw new TrustChainError(
        'STAKE_EXPIRED',
        `certificate ${row.serial} was earned with a stake attestation that expired at ${new Date(row.stakeExpiresAt).toISOString()}; earn it again (trustchain/issue_certificate with a fresh attestation and proofs)`,
      );
    }
    const csr = this.checkCsr(csrDer, falconSignature);
    // A renewal keeps its lineage's stake expiry: proofs once, renewals until the stake attestation ends.
    return this.issue(csr, certificateNames(csr, row.service, row.instance), 'renew', undefined, undefined, row.stakeExpiresAt);
  }

  /**
   * The earned path: the CSR was checked by `checkCsr` and HyperMesh's commit approving it by
   * earned/commit-check.ts; the leaf carries that commit in its ConsensusApproval extension.
   */
  async issueEarned(csr: ParsedCsr, names: CertificateNames, approval: ConsensusApproval, stakeExpiresAt: number): Promise<IssueResult> {
    return this.issue(csr, names, 'earned', undefined, [consensusApprovalExtension(approval)], stakeExpiresAt);
  }

  /** A certificate TrustChain issues to itself (its own leaf), recorded and logged like any other. */
  async issueLocal(csr: ParsedCsr, names: CertificateNames): Promise<IssueResult> {
    return this.issue(csr, names, 'self');
  }

  /** Parse and verify a CSR and its FALCON proof; every failure is CSR_REJECTED / FALCON_PROOF_INVALID. */
  checkCsr(csrDer: Uint8Array, falconSignature: Uint8Array): ParsedCsr {
    let csr: ParsedCsr;
    try {
      csr = parseCsr(csrDer);
    } catch (err) {
      if (err instanceof CsrError) throw new TrustChainError('CSR_REJECTED', `${err.message} (${err.reason})`, { cause: err });
      throw err;
    }
    if (!(falconSignature instanceof Uint8Array) || falconSignature.length === 0 || falconSignature.length > 2048) {
      throw new TrustChainError('FALCON_PROOF_INVALID', 'falcon_signature is missing or not a FALCON-1024 signature (1..2048 bytes) over the CSR');
    }
    if (!this.falcon.verify(csr.falconPublicKey, falconCsrMessage(csr.der), falconSignature)) {
      throw new TrustChainError('FALCON_PROOF_INVALID', "falcon_signature does not verify over this CSR with the CSR's FALCON key (signed another CSR, or with another key)");
    }
    return csr;
  }

  private issue(csr: ParsedCsr, names: CertificateNames, kind: CertificateKind, tokenHash?: string, extensions?: readonly CertificateExtension[], stakeExpiresAt: number | null = null): Promise<IssueResult> {
    const now = this.now();
    const leaf = this.authority.issueLeaf({ spkiDer: csr.spkiDer }, csr.falconPublicKey, names, now, this.lifetimeMs, extensions);
    const record: NewCertificate = {
      serial: leaf.serial,
      fingerprint: leaf.fingerprint,
      service: names.service,
      instance: names.instance,
      kind,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      issuedAt: now,
      der: leaf.der,
      ...(tokenHash !== undefined ? { tokenHash } : {}),
      stakeExpiresAt,
    };
    return new Promise<IssueResult>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the I/O phase: every issuance that arrived in this turn shares the transaction.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const committed: Pending[] = [];
    try {
      this.store.issueBatch(batch.map((p) => p.record));
      committed.push(...batch);
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One bad item (a raced token) must not fail the rest: commit one by one.
      for (const p of batch) {
        try {
          this.store.issueBatch([p.record]);
          committed.push(p);
        } catch (e) {
          p.reject(e);
        }
      }
    }
    await this.logAndReply(committed);
  }

  private async logAndReply(items: Pending[]): Promise<void> {
    if (items.length === 0) return;
    const extra = encodeCertificateChain(this.authority.chainTail);
    let appended;
    try {
      appended = await Promise.all(items.map((p) => this.ct.appendEntry({ entryType: LogEntryType.x509_entry, certificate: p.record.der }, extra)));
    } catch (err) {
      // Recorded but not logged: reconcileCt() at the next start logs them. The caller sees a failure.
      this.logger.error({ err, serials: items.map((p) => p.record.serial) }, 'CT append failed after the certificates were recorded');
      for (const p of items) p.reject(new TrustChainError('STATE_DAMAGED', `the certificate was recorded but the CT log refused it: ${(err as Error).message}`, { cause: err }));
      return;
    }
    try {
      this.store.setCtIndexes(items.map((p, i) => [p.record.serial, appended[i]!.leafIndex] as const));
      const sth = await this.ct.getSth();
      const tail = this.authority.chainTail;
      items.forEach((p, i) => {
        const a = appended[i]!;
        this.issuedCount++;
        p.resolve({
          chain: [p.record.der, ...tail],
          serial: p.record.serial,
          fingerprint: p.record.fingerprint,
          notBefore: p.record.notBefore,
          notAfter: p.record.notAfter,
          ct: { sct: encodeSct(a.sct), leafIndex: a.leafIndex, auditPath: this.ct.getProofByIndex(a.leafIndex, sth.treeSize), sth },
        });
      });
    } catch (err) {
      for (const p of items) p.reject(err);
    }
  }

  /**
   * After a crash between recording and logging: find recorded certificates missing a CT index
   * in the log's tail (logged, index not yet written) or append them now.
   */
  async reconcileCt(): Promise<{ found: number; appended: number }> {
    const pending = this.store.pendingCt();
    if (pending.length === 0) return { found: 0, appended: 0 };
    // Recorded certificates by their DER (base64), removed as they are found in the log.
    const byDer = new Map(pending.map((r) => [Buffer.from(r.der).toString('base64'), r] as const));
    let found = 0;
    const size = this.ct.treeSize;
    // Page by what came back: the log may return fewer entries than asked (its maxGetEntries).
    for (let i = Math.max(0, this.store.maxCtIndex() + 1), n = 0; i < size; i += n) {
      const entries = await this.ct.getEntries(i, Math.min(size - 1, i + 255));
      n = entries.length;
      if (n === 0) break;
      entries.forEach((e, k) => {
        const se = decodeMerkleTreeLeaf(e.leafInput).timestampedEntry.signedEntry;
        if (se.entryType !== LogEntryType.x509_entry) return;
        const key = Buffer.from(se.certificate).toString('base64');
        const row = byDer.get(key);
        if (!row) return;
        this.store.setCtIndexes([[row.serial, i + k]]);
        byDer.delete(key);
        found++;
      });
    }
    const extra = encodeCertificateChain(this.authority.chainTail);
    const rest = [...byDer.values()];
    const added = await Promise.all(rest.map((r) => this.ct.appendEntry({ entryType: LogEntryType.x509_entry, certificate: r.der }, extra)));
    this.store.setCtIndexes(rest.map((r, i) => [r.serial, added[i]!.leafIndex] as const));
    if (found + rest.length > 0) this.logger.warn({ found, appended: rest.length }, 'reconciled recorded certificates with the CT log after an interrupted issuance');
    return { found, appended: rest.length };
  }
}
