// TrustChain's certificate-authority methods (`trustchain/*`): decode → issuer / store → encode.
// Who may call each is in `addCaMethods`; the error mapping is errors.ts; the pure parts
// (revocation list, CRL input, verdict checks) are revocations.ts and verdict.ts.
//
// "A reply means durable": every state change (certificate recorded and logged, token stored,
// revocation) is committed by the store before the handler returns.
import { join } from 'node:path';
import {
  MAX_CHAIN_LENGTH,
  PUBLIC_FILE_MODE,
  nativeFalcon,
  parseHybridCertificate,
  peerNamesFromCertificate,
  writeFileAtomic,
  type Clock,
  type FalconScheme,
  type HybridCertificate,
} from '@stoq/core';
import {
  CtLogError,
  LogEntryType,
  V1,
  decodeMerkleTreeLeaf,
  decodeSct,
  encodeDigitallySigned,
  encodeMerkleTreeLeaf,
  sha256Hasher,
  type CtLog,
  type SignedCertificateTimestamp,
  type SignedTreeHead,
} from '@stoq/ct-log';
import { trustchain } from '@stoq/protos';
import { signRevocationList } from '@stoq/service';
import { RpcError, Status, type CallContext, type Interceptor, type RpcServer } from '@stoq/rpc';
import type { Logger } from 'pino';
import { DATA_DIR_LAYOUT, type Authority } from '../ca/authority';
import type { CtInclusion, IssueResult, Issuer } from '../ca/issuer';
import { encodeCrl } from '../core/crl';
import { TrustChainError } from '../core/errors';
import { NO_VALIDATOR_SET_MESSAGE, checkProofSetSize, earnedNames, type EarnedIssuance } from '../earned/earned-issuance';
import { OWN_ADMIN, checkTokenTarget, checkTtl, hashToken, newToken } from '../core/tokens';
import type { CaStore, CertificateRow, RevocationRow } from '../store/ca-store';
import { rpcCall, toRpcError } from './errors';
import { CRL_VALIDITY_MS, checkReason, crlInput, normalizeSerial, unsignedRevocationList } from './revocations';
import { checkClassicalChain, checkCtInclusion, checkFalconChain, checkRevocation, checkValidity, verdictOf, type CtEvidence } from './verdict';

type Long = trustchain.Long;
const M = trustchain.TrustChainMethods;

/**
 * The service name of TrustChain's administrators: the identity `trustchain serve` keeps in
 * <data-dir>/admin/, and any enrolled with an admin token (`trustchain token create --admin`).
 */
export const ADMIN_SERVICE = OWN_ADMIN.service;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface CaServiceDeps {
  readonly store: CaStore;
  readonly authority: Authority;
  readonly issuer: Issuer;
  readonly ct: CtLog;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly falcon?: FalconScheme;
  /** The earned path (issue_certificate); absent = no HyperMesh validator set configured. */
  readonly earned?: EarnedIssuance;
}

// ------------------------------------------------------------------------ revocation publisher

/**
 * The current signed revocation list (cached per version), the CRL, its file in the data dir,
 * and the waiters of `trustchain/revocations` watch streams.
 */
export class RevocationPublisher {
  private cached: trustchain.RevocationList | null = null;
  private waiters = new Set<() => void>();
  private crlWrite: Promise<void> = Promise.resolve();
  private refreshTimer: ReturnType<Clock['setTimeout']> | null = null;
  private closed = false;

  constructor(private readonly deps: CaServiceDeps) {}

  get version(): number {
    return this.deps.store.revocationVersion();
  }

  /** The signed list of the current version. */
  current(): trustchain.RevocationList {
    const version = this.version;
    if (this.cached && Number(this.cached.version) === version) return this.cached;
    const now = this.deps.clock.now();
    const a = this.deps.authority;
    this.cached = signRevocationList(unsignedRevocationList(this.deps.store.revocations(now), version, now), (d) => a.signClassical(d), (d) => a.signFalcon(d), a.intermediates);
    return this.cached;
  }

  /** A fresh DER CRL (thisUpdate = now), numbered with the revocation list version. */
  crl(): { der: Uint8Array; version: number } {
    const version = this.version;
    const now = this.deps.clock.now();
    // Issued by the CA that issued the leaves (RFC 5280 §5: the CRL issuer is the certificate issuer).
    const issuer = this.deps.authority.issuerCertificate;
    const der = encodeCrl(crlInput(this.deps.store.revocations(now), version, now, issuer), (tbs) => this.deps.authority.signClassical(tbs));
    return { der, version };
  }

  /**
   * Revokes (committed when this returns) and wakes the watchers. An already revoked
   * certificate is answered with its existing revocation: the method is idempotent.
   */
  revoke(serial: string, reason: number): RevocationRow & { already: boolean } {
    let row: RevocationRow;
    try {
      row = this.deps.store.revoke(serial, reason, this.deps.clock.now());
    } catch (err) {
      const existing = this.deps.store.certificate(serial);
      if (err instanceof TrustChainError && err.code === 'CERTIFICATE_REVOKED' && existing?.revokedAt != null) {
        return {
          serial,
          fingerprint: existing.fingerprint,
          service: existing.service,
          instance: existing.instance,
          reason: existing.revocationReason ?? 0,
          revokedAt: existing.revokedAt,
          version: existing.revocationVersion ?? 0,
          already: true,
        };
      }
      throw err;
    }
    this.deps.logger.warn({ serial, service: row.service, instance: row.instance, reason, version: row.version }, 'certificate revoked');
    this.wake();
    return { ...row, already: false };
  }

  /** Writes `<data-dir>/crl.der` atomically with the newest CRL; writes are serialised, so the file never goes back a version. */
  writeCrl(): Promise<void> {
    const next = this.crlWrite.then(async () => {
      const { der, version } = this.crl();
      await writeFileAtomic(join(this.deps.dataDir, DATA_DIR_LAYOUT.crl), der, PUBLIC_FILE_MODE);
      this.deps.logger.debug({ version }, 'CRL written');
    });
    this.crlWrite = next.catch((err: unknown) => this.deps.logger.error({ err }, 'cannot write the CRL file'));
    return next;
  }

  /** Writes the CRL now and again every half of its validity, so the file never goes stale. */
  async start(): Promise<void> {
    await this.writeCrl();
    const again = (): void => {
      this.refreshTimer = this.deps.clock.setTimeout(() => {
        void this.writeCrl().catch(() => undefined);
        if (!this.closed) again();
      }, CRL_VALIDITY_MS / 2);
    };
    again();
  }

  /** Resolves when the version moves past `known`, the signal aborts, or the publisher closes. */
  changed(known: number, signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted || this.version > known) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) this.deps.clock.clearTimeout(this.refreshTimer);
    this.wake();
    await this.crlWrite;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

// ------------------------------------------------------------------------ encoding helpers

/** A uint64 request field as a safe integer. */
export function u64(name: string, v: number | Long | null | undefined): number {
  const n = v === null || v === undefined ? 0 : Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new TrustChainError('INVALID_ARGUMENT', `${name} (${String(v)}) is not a non-negative integer below 2^53`);
  return n;
}

/** A bytes field (protobufjs gives a Buffer, or a default empty value). */
export function bytesField(v: Uint8Array | null | undefined): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

export function sthMessage(sth: SignedTreeHead): trustchain.SignedTreeHead {
  return { treeSize: sth.treeSize, timestamp: sth.timestamp, rootHash: sth.rootHash, signature: encodeDigitallySigned(sth.treeHeadSignature), falconSignature: sth.falconSignature };
}

function ctProofMessage(ct: CtInclusion): trustchain.CtProof {
  return { sct: ct.sct, leafIndex: ct.leafIndex, auditPath: [...ct.auditPath], sth: sthMessage(ct.sth) };
}

export function issuedMessage(r: IssueResult): trustchain.IssuedCertificate {
  return { chain: [...r.chain], serial: r.serial, fingerprint: r.fingerprint, notBeforeMs: r.notBefore, notAfterMs: r.notAfter, ct: ctProofMessage(r.ct) };
}

export function certificateRecord(r: CertificateRow): trustchain.CertificateRecord {
  return {
    serial: r.serial,
    fingerprint: r.fingerprint,
    service: r.service,
    instance: r.instance,
    notBeforeMs: r.notBefore,
    notAfterMs: r.notAfter,
    issuedAtMs: r.issuedAt,
    kind: r.kind,
    revoked: r.revokedAt !== null,
    revocationReason: (r.revocationReason ?? 0) as trustchain.RevocationReason,
    revokedAtMs: r.revokedAt ?? 0,
    der: r.der,
  };
}

/** Refuses every call from a peer whose certificate TrustChain has revoked (connections opened before the revocation). */
export function revokedCallerInterceptor(store: CaStore): Interceptor {
  return async (call, next) => {
    const peer = call.ctx.peer;
    const row = peer ? store.certificateByFingerprint(peer.fingerprint) : undefined;
    if (row?.revokedAt != null) {
      throw toRpcError(
        new TrustChainError('CERTIFICATE_REVOKED', `the caller's certificate ${row.serial} (${row.service}/${row.instance}) was revoked at ${new Date(row.revokedAt).toISOString()}; enroll again with a new token`),
      );
    }
    await next();
  };
}

function callerOf(ctx: CallContext): { service: string; instance: string; fingerprint: string; certificateDer: Uint8Array } {
  if (!ctx.peer) throw new RpcError(Status.UNAUTHENTICATED, `${ctx.path} requires an authenticated caller`);
  return ctx.peer;
}

// ------------------------------------------------------------------------ methods

/**
 * `chain` with TrustChain's intermediates put after the leaf when the caller gave the leaf alone
 * (or leaf + root). Any other chain is judged as given.
 */
export function completeChain(chain: readonly Uint8Array[], intermediates: readonly Uint8Array[], rootDer: Uint8Array): Uint8Array[] {
  if (intermediates.length === 0) return [...chain];
  const rest = chain.slice(1);
  if (rest.length === 0 || (rest.length === 1 && Buffer.from(rest[0]!).equals(Buffer.from(rootDer)))) return [chain[0]!, ...intermediates, ...rest];
  return [...chain];
}

export function addCaMethods(server: RpcServer, deps: CaServiceDeps): RevocationPublisher {
  const { store, authority, issuer, ct, logger, clock } = deps;
  const falcon = deps.falcon ?? nativeFalcon;
  const revocations = new RevocationPublisher(deps);
  // Tree heads carry the signing CA's FALCON signature (the intermediate's, when one signs).
  const logFalcon = authority.logFalcon;

  server.addMethod(
    M.enroll,
    (req) => rpcCall(logger, M.enroll.path, async () => issuedMessage(await issuer.enroll(req.token ?? '', bytesField(req.csr), bytesField(req.falconSignature)))),
    { authorize: 'unauthenticated' },
  );

  // The current certificate is the caller's TLS leaf (PeerIdentity.certificateDer): the handshake
  // proved possession of its key, so nothing in the request can name another certificate.
  server.addMethod(
    M.renewCertificate,
    (req, ctx) =>
      rpcCall(logger, M.renewCertificate.path, async () => issuedMessage(await issuer.renew(callerOf(ctx).certificateDer, bytesField(req.csr), bytesField(req.falconSignature)))),
    { authorize: 'any-authenticated' },
  );

  // The earned path (earned/earned-issuance.ts): without a configured HyperMesh validator set the
  // request is checked and refused with NO_VALIDATOR_SET, never a certificate.
  server.addMethod(
    M.issueCertificate,
    (req) =>
      rpcCall(logger, M.issueCertificate.path, async () => {
        if (!deps.earned) {
          earnedNames(issuer.checkCsr(bytesField(req.csr), bytesField(req.falconSignature)));
          checkProofSetSize(bytesField(req.proofSet));
          throw new TrustChainError('NO_VALIDATOR_SET', `${NO_VALIDATOR_SET_MESSAGE}; genesis-set services enroll with a join token (trustchain/enroll)`);
        }
        const r = await deps.earned.issue(bytesField(req.csr), bytesField(req.falconSignature), bytesField(req.proofSet));
        return { ...issuedMessage(r), approval: { blockHeight: r.approval.blockHeight, blockHash: r.approval.blockHash, committedBlock: r.approval.committedBlock } };
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.validateCertificate,
    (req) =>
      rpcCall(logger, M.validateCertificate.path, async (): Promise<trustchain.ValidationVerdict> => {
        const chain = (req.chain ?? []).map(bytesField);
        if (chain.length === 0) throw new TrustChainError('INVALID_ARGUMENT', 'chain is empty: give the leaf first, then any intermediates');
        if (chain.length > MAX_CHAIN_LENGTH) throw new TrustChainError('INVALID_ARGUMENT', `chain has ${chain.length} certificates; at most ${MAX_CHAIN_LENGTH}`);
        let leaf: HybridCertificate;
        try {
          leaf = parseHybridCertificate(chain[0]!);
        } catch (err) {
          throw new TrustChainError('INVALID_ARGUMENT', `chain[0] is not a STOQ hybrid certificate: ${(err as Error).message}`, { cause: err });
        }
        let names = { service: '', instance: leaf.commonName };
        try {
          names = peerNamesFromCertificate(leaf.der);
        } catch {
          // A certificate naming no service still gets a verdict.
        }
        const row = store.certificateByFingerprint(leaf.fingerprintSha256);
        const evidence = await ctEvidence(ct, leaf.der, req.ct, row);
        // A chain given without TrustChain's intermediate (just the leaf) is completed with it.
        const full = completeChain(chain, authority.intermediates, authority.rootDer);
        const verdict = verdictOf([
          checkClassicalChain(full, authority.rootDer),
          checkFalconChain(full, authority.rootDer, falcon),
          checkValidity(leaf, clock.now()),
          checkRevocation(row, revocations.version),
          checkCtInclusion(leaf.der, evidence, authority.logKey.publicKey, logFalcon),
        ]);
        return { valid: verdict.valid, checks: verdict.checks.map((c) => ({ ...c })), serial: leaf.serialNumber, fingerprint: leaf.fingerprintSha256, service: names.service, instance: names.instance };
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.revokeCertificate,
    (req, ctx) =>
      rpcCall(logger, M.revokeCertificate.path, async () => {
        const caller = callerOf(ctx);
        const serial = normalizeSerial(req.serial ?? '');
        const reason = checkReason(Number(req.reason ?? 0));
        const row = store.certificate(serial);
        if (!row) throw new TrustChainError('CERTIFICATE_UNKNOWN', `no certificate with serial ${serial} was issued by this TrustChain; list them with \`trustchain certs list\``);
        const holder = caller.service === row.service && caller.instance === row.instance;
        if (caller.service !== ADMIN_SERVICE && !holder) {
          throw new TrustChainError(
            'NOT_AUTHORIZED',
            `${caller.service}/${caller.instance} may revoke only its own certificates; serial ${serial} belongs to ${row.service}/${row.instance} (an admin may revoke any)`,
          );
        }
        const r = revocations.revoke(serial, reason);
        if (!r.already) {
          ctx.logger.info({ serial, by: `${caller.service}/${caller.instance}` }, 'revocation requested');
          // The revocation is committed; a CRL file that cannot be written is logged, not failed.
          await revocations.writeCrl().catch(() => undefined);
        }
        return { version: r.version, revokedAtMs: r.revokedAt };
      }),
    { authorize: 'any-authenticated' },
  );

  server.addMethod(
    M.revocations,
    (req, ctx) =>
      (async function* watch(): AsyncGenerator<trustchain.RevocationList> {
        let known = u64('known_version', req.knownVersion);
        while (!ctx.signal.aborted) {
          const list = revocations.current();
          const version = Number(list.version);
          if (version > known) {
            known = version;
            yield list;
            continue;
          }
          await revocations.changed(known, ctx.signal);
          if (revocations.version <= known) return; // closed or aborted
        }
      })(),
    { authorize: 'unauthenticated' },
  );

  // The poll fallback: always the current list (known_version is only checked to be well formed).
  server.addMethod(
    M.getRevocations,
    (req) =>
      rpcCall(logger, M.getRevocations.path, () => {
        u64('known_version', req.knownVersion);
        return revocations.current();
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.getCrl,
    () =>
      rpcCall(logger, M.getCrl.path, () => {
        const { der, version } = revocations.crl();
        return { crl: der, version };
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.createToken,
    (req, ctx) =>
      rpcCall(logger, M.createToken.path, () => {
        const service = req.service ?? '';
        if (!LABEL.test(service)) throw new TrustChainError('INVALID_ARGUMENT', `service ${JSON.stringify(service)} is not a lowercase DNS label (letters, digits, inner "-", 1..63)`);
        checkTokenTarget(service, req.admin === true);
        const ttl = checkTtl(req.ttlSeconds ?? 0);
        const token = newToken();
        const now = clock.now();
        const expiresAt = now + ttl * 1000;
        store.addToken(hashToken(token), service, now, expiresAt);
        // Never log the token itself: only its hash is kept anywhere.
        ctx.logger.info({ service, expiresAt: new Date(expiresAt).toISOString(), by: ctx.peer?.instance }, 'join token created');
        return { token, service, expiresAtMs: expiresAt };
      }),
    { authorize: [ADMIN_SERVICE] },
  );

  server.addMethod(M.getCa, () => ({ roots: [authority.rootDer], rootFingerprint: authority.fingerprint, intermediates: [...authority.intermediates] }), { authorize: 'unauthenticated' });

  server.addMethod(
    M.listCertificates,
    (req) =>
      rpcCall(logger, M.listCertificates.path, () => {
        const limit = req.limit ? req.limit : DEFAULT_LIST_LIMIT;
        if (limit > MAX_LIST_LIMIT) throw new TrustChainError('INVALID_ARGUMENT', `limit ${limit} is above ${MAX_LIST_LIMIT}`);
        return { certificates: store.listCertificates(req.service || undefined, limit).map(certificateRecord) };
      }),
    { authorize: [ADMIN_SERVICE] },
  );

  server.addMethod(
    M.getCertificate,
    (req) =>
      rpcCall(logger, M.getCertificate.path, () => {
        const id = normalizeSerial(req.id ?? '');
        const row = (id.length === 64 ? store.certificateByFingerprint(id) : undefined) ?? store.certificate(id);
        if (!row) throw new TrustChainError('CERTIFICATE_UNKNOWN', `no certificate with serial or fingerprint ${id} was issued by this TrustChain`);
        return certificateRecord(row);
      }),
    { authorize: [ADMIN_SERVICE] },
  );

  return revocations;
}

/** Where the leaf sits in the log: by the caller's SCT, else by the store's CT index; a string says why it was not found. */
async function ctEvidence(ct: CtLog, leafDer: Uint8Array, given: trustchain.CtProof | null | undefined, row: CertificateRow | undefined): Promise<CtEvidence | string> {
  const sth = await ct.getSth();
  if (sth.treeSize === 0) return 'the CT log is empty';
  const entry = { entryType: LogEntryType.x509_entry, certificate: leafDer } as const;
  const sctBytes = bytesField(given?.sct);
  if (sctBytes.length > 0) {
    let sct: SignedCertificateTimestamp;
    try {
      sct = decodeSct(sctBytes);
    } catch (err) {
      return `the SCT cannot be decoded: ${(err as Error).message}`;
    }
    const leafHash = sha256Hasher.hashLeaf(encodeMerkleTreeLeaf({ version: V1, timestampedEntry: { timestamp: sct.timestamp, signedEntry: entry, extensions: sct.extensions } }));
    try {
      const p = ct.getProofByHash(leafHash, sth.treeSize);
      return { sct, timestamp: sct.timestamp, leafIndex: p.leafIndex, auditPath: p.auditPath, sth };
    } catch (err) {
      if (err instanceof CtLogError && err.code === 'NOT_FOUND') return `the log holds no entry for this certificate with the SCT's timestamp ${sct.timestamp}`;
      throw err;
    }
  }
  if (!row || row.ctIndex === null) return 'no SCT given, and the log has no entry recorded for this certificate';
  const [found] = await ct.getEntries(row.ctIndex, row.ctIndex);
  if (!found) return `the log has no entry ${row.ctIndex}`;
  const leaf = decodeMerkleTreeLeaf(found.leafInput).timestampedEntry;
  const se = leaf.signedEntry;
  if (se.entryType !== LogEntryType.x509_entry || !Buffer.from(se.certificate).equals(Buffer.from(leafDer))) return `log entry ${row.ctIndex} is another certificate`;
  return { timestamp: leaf.timestamp, leafIndex: row.ctIndex, auditPath: ct.getProofByIndex(row.ctIndex, sth.treeSize), sth };
}
