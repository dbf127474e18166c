// The simulator's judge. Safety: no two honest replicas commit different blocks at one height;
// every committed block hashes right and carries a valid QC (checked with the exported
// verifier); evidence is valid and never names an honest validator; no replica trips its own
// assertions. Liveness: after the network heals, every honest replica commits a new block
// within the bound.
import { verifyQuorumCertificate } from '../certificates';
import type { SignatureVerifier } from '../crypto';
import type { OperationCheck } from '../replica-options';
import { verifyEquivocationEvidence, type EquivocationEvidence } from '../equivocation';
import { computeBlockHash } from '../signing';
import type { BlockHash, CommittedBlock, ValidatorId } from '../types';
import type { ValidatorSet } from '../validators';

export type ViolationKind = 'operation-not-committed' | 'invalid-operation-committed' | 'replica-exception' | 'honest-equivocation' | 'conflicting-commit' | 'invalid-commit-qc' | 'bad-block-hash' | 'non-contiguous-commit' | 'invalid-evidence' | 'evidence-against-honest' | 'replica-assertion' | 'no-progress-after-heal';

export interface Violation {
  kind: ViolationKind;
  replica: ValidatorId;
  at: number;
  detail: string;
}

export interface CheckerOptions {
  /** Verify each commit's QC with verifyQuorumCertificate (on by default). */
  checkCommitQc: boolean;
  /** The application's validity check: no committed block may carry an operation it refuses. */
  operationCheck: OperationCheck | null;
}

export class Checker {
  readonly violations: Violation[] = [];
  private readonly canonical = new Map<number, { hash: BlockHash; replica: ValidatorId }>();
  private readonly heights = new Map<ValidatorId, number>();
  private readonly verifiedQcs = new Set<string>();
  private readonly signed = new Map<string, BlockHash>();
  private healAt = Infinity;
  private heightAtHeal = 0;
  private readonly progressedAt = new Map<ValidatorId, number>();
  /**
   * Valid operations submitted (hex) -> submission tick and the honest replicas holding it in
   * their mempools without a crash since (a crash empties a mempool: when every holder crashed,
   * the operation is legitimately lost; clients must resubmit, as apps/hypermesh does).
   */
  private readonly submittedOps = new Map<string, { at: number; holders: Set<ValidatorId> }>();
  private readonly committedOpKeys = new Set<string>();
  evidence = 0;
  commits = 0;
  committedOps = 0;

  constructor(
    private readonly set: ValidatorSet,
    private readonly verifier: SignatureVerifier,
    private readonly honest: ReadonlySet<ValidatorId>,
    private readonly options: CheckerOptions,
  ) {}

  get ok(): boolean {
    return this.violations.length === 0;
  }

  private fail(kind: ViolationKind, replica: ValidatorId, at: number, detail: string): void {
    if (this.violations.length < 20) this.violations.push({ kind, replica, at, detail });
  }

  /** The replica restarted from disk: its commits may start again from its durable log's tip. */
  restarted(replica: ValidatorId, durableHeight: number): void {
    this.heights.set(replica, durableHeight);
  }

  onCommit(replica: ValidatorId, c: CommittedBlock, at: number): void {
    if (!this.honest.has(replica)) return;
    this.commits++;
    const h = c.block.height;
    const prev = this.heights.get(replica) ?? 0;
    if (h !== prev + 1) this.fail('non-contiguous-commit', replica, at, `committed height ${h} after ${prev}`);
    this.heights.set(replica, h);
    // The hash is recomputed for the first commit of each height; later ones must name the same hash.
    const first = this.canonical.get(h);
    if (!first && computeBlockHash(this.set.chainTag, c.block) !== c.hash) this.fail('bad-block-hash', replica, at, `height ${h}`);
    if (this.options.checkCommitQc) {
      const key = `${c.qc.view}:${c.qc.blockHash}`;
      if (!this.verifiedQcs.has(key)) {
        const v = verifyQuorumCertificate(c.qc, this.set, this.verifier);
        if (!v.ok || c.qc.blockHash !== c.hash || c.qc.height !== h) this.fail('invalid-commit-qc', replica, at, `height ${h}: ${v.ok ? 'QC names another block' : v.rejection.detail}`);
        else this.verifiedQcs.add(key);
      }
    }
    if (!first && this.options.operationCheck) {
      // Validity (once per height; later commits of it must carry the same hash anyway).
      const check = this.options.operationCheck;
      const ctx = { height: h, committedHash: (x: number) => (x === 0 ? this.set.genesisBlockHash : this.canonical.get(x)?.hash) };
      for (const op of c.block.payload) {
        const refusal = check(op, ctx);
        if (refusal) {
          this.fail('invalid-operation-committed', replica, at, `height ${h}: ${refusal.detail}`);
          break;
        }
      }
    }
    if (!first) {
      this.canonical.set(h, { hash: c.hash, replica });
      this.committedOps += c.block.payload.length;
      if (this.submittedOps.size > 0) for (const op of c.block.payload) this.committedOpKeys.add(Buffer.from(op.buffer, op.byteOffset, op.byteLength).toString('hex'));
    } else if (first.hash !== c.hash) {
      this.fail('conflicting-commit', replica, at, `height ${h}: replica ${replica} committed ${c.hash.slice(0, 16)}, replica ${first.replica} committed ${first.hash.slice(0, 16)}`);
    }
    if (at >= this.healAt && h > this.heightAtHeal && !this.progressedAt.has(replica)) this.progressedAt.set(replica, at);
  }

  /**
   * An honest replica put a signed vote or proposal on the wire. Two different ones for one view
   * mean persist-before-send failed somewhere (e.g. across a crash): checked directly, not only
   * when some leader happens to receive both.
   */
  onSigned(replica: ValidatorId, kind: 'vote' | 'proposal', view: number, blockHash: BlockHash, at: number): void {
    const key = `${kind}:${replica}:${view}`;
    const first = this.signed.get(key);
    if (first === undefined) this.signed.set(key, blockHash);
    else if (first !== blockHash) this.fail('honest-equivocation', replica, at, `replica ${replica} signed two ${kind}s in view ${view}`);
  }

  onEvidence(replica: ValidatorId, e: EquivocationEvidence, at: number): void {
    if (!this.honest.has(replica)) return;
    this.evidence++;
    const v = verifyEquivocationEvidence(e, this.set, this.verifier);
    if (!v.ok) this.fail('invalid-evidence', replica, at, v.rejection.detail);
    else if (this.honest.has(e.validator)) this.fail('evidence-against-honest', replica, at, `validator ${e.validator} in view ${e.view}`);
  }

  onAssertion(replica: ValidatorId, error: Error, at: number): void {
    this.fail('replica-assertion', replica, at, error.message);
  }

  /** Anything else thrown by the core is a bug too (bad input must be rejected, not crash it). */
  onException(replica: ValidatorId, error: Error, at: number): void {
    this.fail('replica-exception', replica, at, error.stack ?? error.message);
  }

  /** Faults stop now; remember how far honest replicas had committed. */
  markHeal(at: number): void {
    this.healAt = at;
    this.heightAtHeal = this.maxHonestHeight();
  }

  /** A valid operation was handed to the replicas' mempools at `at`. */
  onSubmitted(op: Uint8Array, at: number, to: readonly ValidatorId[]): void {
    this.submittedOps.set(Buffer.from(op).toString('hex'), { at, holders: new Set(to.filter((r) => this.honest.has(r))) });
  }

  /** A replica crashed: its mempool is gone. */
  crashed(replica: ValidatorId): void {
    for (const s of this.submittedOps.values()) s.holders.delete(replica);
  }

  /** Every valid operation submitted before `before` has been committed (operation liveness). */
  checkOperations(before: number, end: number): void {
    for (const [op, { at, holders }] of this.submittedOps) {
      if (at >= before || holders.size === 0 || this.committedOpKeys.has(op)) continue;
      this.fail('operation-not-committed', -1, end, `operation ${op.slice(8, 16)} submitted at tick ${at} is not committed at tick ${end}`);
      return;
    }
  }

  /** Called at the end of the run if it lasted at least `bound` past the heal. */
  checkLiveness(bound: number): void {
    for (const r of this.honest) {
      const t = this.progressedAt.get(r);
      if (t === undefined || t > this.healAt + bound) {
        this.fail('no-progress-after-heal', r, this.healAt + bound, `no commit above height ${this.heightAtHeal} within ${bound} ticks of the heal at ${this.healAt} (replica at height ${this.heights.get(r) ?? 0})`);
      }
    }
  }

  /** Slowest honest replica's first new commit after the heal, in ticks (or null). */
  recoveryTicks(): number | null {
    let worst = 0;
    for (const r of this.honest) {
      const t = this.progressedAt.get(r);
      if (t === undefined) return null;
      worst = Math.max(worst, t - this.healAt);
    }
    return worst;
  }

  maxHonestHeight(): number {
    let m = 0;
    for (const r of this.honest) m = Math.max(m, this.heights.get(r) ?? 0);
    return m;
  }

  minHonestHeight(): number {
    let m = Infinity;
    for (const r of this.honest) m = Math.min(m, this.heights.get(r) ?? 0);
    return m === Infinity ? 0 : m;
  }
}
