// One validator's replica: a sans-I/O state machine. The shell feeds it messages (with the peer
// they came from), timer expiries and client operations, each with the time of its clock, and
// performs the returned effects in order (see effects.ts). Nothing here reads a clock, touches a
// socket or a disk, starts a timer or draws a random number, so a seed replays a run exactly.
//
// Protocol: chained 2-chain HotStuff in the Jolteon / DiemBFT-v4 style (rules in safety.ts).
// Views rotate leaders round-robin. The leader of view v proposes a block extending its highest
// QC; replicas vote to the leader of v + 1, which turns 2f+1 votes into the QC that its own
// proposal for v + 1 carries — so proposals are pipelined: each block certifies its parent and
// commits its grandparent when their views are consecutive. A replica that hears nothing useful
// before its timer fires broadcasts a signed timeout with its highest QC; 2f+1 timeouts form a
// TC that moves everyone to the next view, and f+1 of them pull a replica into timing out too.
// The view timeout doubles after each view ended by a TC, up to maxTimeout, and resets on a QC.
import { checkQuorumCertificate, checkTimeoutCertificate } from './certificates';
import { DEFAULT_LIMITS, decodeMessage, type ConsensusLimits } from './codec';
import type { Signer, SignatureVerifier } from './crypto';
import type { Effect, Step } from './effects';
import { EquivocationDetector } from './equivocation';
import { assertSafety, CodecError, type Rejection } from './errors';
import { BlockTree } from './block-tree';
import { checkBlockShape, checkPayload } from './block-checks';
import { BlockFetcher, checkResponseChain, RequestBudget, serveBlocks } from './catch-up';
import { DEFAULT_MEMPOOL, Mempool, type SubmitResult } from './mempool';
import { DEFAULT_TIMING, type OperationCheck, type OperationCheckContext, type PacemakerTiming, type ReplicaOptions, type ReplicaStatus } from './replica-options';
import { initialSafetyState, SafetyRules } from './safety';
import { computeBlockHash, proposalSigningBytes, timeoutSigningBytes, voteSigningBytes } from './signing';
import { TimeoutAggregator, VoteAggregator } from './aggregators';
import type { Block, BlockHash, BlockRequest, BlockResponse, CommittedBlock, Message, Proposal, QuorumCertificate, TimeoutCertificate, TimeoutMessage, ValidatorId, Vote } from './types';
import { ValidatorSet } from './validators';
import { reject, RejectCode } from './verdict';

interface PendingProposal {
  from: ValidatorId;
  proposal: Proposal;
  hash: BlockHash;
}

const EVIDENCE_WINDOW_VIEWS = 64;
const QC_CACHE_SIZE = 4096;
const REQUESTS_PER_PEER_PER_VIEW = 16;

export class Replica {
  readonly validatorSet: ValidatorSet;
  readonly self: ValidatorId;
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly timing: PacemakerTiming;
  private readonly limits: ConsensusLimits;
  private readonly quorum: number;
  private readonly maxViewAhead: number;
  private readonly safety: SafetyRules;
  private readonly tree: BlockTree;
  private readonly mempool: Mempool;
  private readonly votes = new VoteAggregator();
  private readonly timeouts = new TimeoutAggregator();
  private readonly equivocation = new EquivocationDetector();
  private readonly qcCache = new Map<string, QuorumCertificate>();
  private readonly pendingProposals = new Map<number, PendingProposal>();
  private readonly fetcher: BlockFetcher;
  private readonly requestBudget = new RequestBudget(REQUESTS_PER_PEER_PER_VIEW);
  private readonly validateOperation: OperationCheck | null;
  private readonly skipOperationCheck: boolean;
  private readonly keepAbandonedOperations: boolean;
  private readonly emptyBlockDelay: number;
  private readonly broadcastVotes: boolean;
  /** The block whose operations passed the check last; a vote may only be signed for it. */
  private opsCheckedFor: BlockHash | null = null;

  private currentView = 1;
  private highestQc: QuorumCertificate;
  private lastTc: TimeoutCertificate | null = null;
  private consecutiveTimeouts = 0;
  private myTimeout: TimeoutMessage | null = null;
  /** Peers sent our timeout in this view because they were behind (once per view each). */
  private readonly helped = new Set<ValidatorId>();
  private deadline = 0;
  /** The view whose empty proposal this leader holds back (pacing) until `proposeAt`, or 0. */
  private pacedView = 0;
  private proposeAt = 0;
  private now = 0;
  private out: Effect[] = [];
  private timerDirty = false;

  constructor(opts: ReplicaOptions) {
    this.validatorSet = opts.genesis instanceof ValidatorSet ? opts.genesis : ValidatorSet.fromGenesis(opts.genesis);
    const set = this.validatorSet;
    if (!set.has(opts.self)) throw new RangeError(`self ${opts.self} is not a validator`);
    if (opts.signer.validator !== opts.self) throw new RangeError('signer signs for another validator');
    this.self = opts.self;
    this.signer = opts.signer;
    this.verifier = opts.verifier;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxViewAhead = opts.maxViewAhead ?? 4;
    this.quorum = opts.unsafeMutationForTests === 'quorum-f-plus-1' ? set.faultyWeight + 1 : set.quorumWeight;
    this.mempool = new Mempool({ ...DEFAULT_MEMPOOL, ...opts.mempool });
    this.validateOperation = opts.validateOperation ?? null;
    this.skipOperationCheck = opts.unsafeMutationForTests === 'skip-operation-check';
    this.keepAbandonedOperations = opts.unsafeMutationForTests === 'keep-abandoned-operations';
    this.emptyBlockDelay = opts.emptyBlockDelay ?? 0;
    this.broadcastVotes = opts.broadcastVotes ?? false;
    if (!(this.emptyBlockDelay >= 0 && this.emptyBlockDelay < this.timing.baseTimeout)) {
      throw new RangeError(`emptyBlockDelay ${this.emptyBlockDelay} must be at least 0 and below timing.baseTimeout ${this.timing.baseTimeout}`);
    }
    this.fetcher = new BlockFetcher(this.self, set.size, this.limits.maxBlocksPerResponse, this.timing.baseTimeout);
    this.tree = new BlockTree(set.genesisBlock, set.genesisBlockHash, set.genesisQc, opts.retainCommittedBlocks ?? 10_000);
    const safety = opts.restored?.safety ?? initialSafetyState(set.genesisQc);
    this.safety = new SafetyRules(safety, opts.unsafeMutationForTests ?? null);
    for (const c of opts.restored?.committed ?? []) this.tree.restoreCommitted(c);
    const pending = [...(opts.restored?.pendingBlocks ?? [])].sort((a, b) => a.height - b.height);
    for (const b of pending) this.tree.add(computeBlockHash(set.chainTag, b), b);
    this.highestQc = safety.lockedQc;
    this.lastTc = safety.highTc;
    this.tree.recordQc(safety.lockedQc);
    this.currentView = Math.max(1, safety.lockedQc.view + 1, safety.lastVotedView, safety.highTc ? safety.highTc.view + 1 : 0);
  }

  // ---- public API -------------------------------------------------------------------------

  /** Arms the first timer and, if this replica leads the first view, proposes. */
  start(now: number): Effect[] {
    return this.run(now, () => {
      this.armTimer();
      this.tryPropose();
    });
  }

  /** A decoded message from validator `from` (as authenticated by the transport). */
  onMessage(from: ValidatorId, message: Message, now: number): Step {
    let rejection: Rejection | null = null;
    const effects = this.run(now, () => {
      rejection = this.dispatch(from, message);
    });
    return { effects, rejection };
  }

  /** Wire bytes from `from`: decoded with the configured limits, then as onMessage. */
  onMessageBytes(from: ValidatorId, bytes: Uint8Array, now: number): Step {
    let message: Message;
    try {
      message = decodeMessage(bytes, this.limits);
    } catch (e) {
      if (e instanceof CodecError) return { effects: [], rejection: { code: e.code, detail: e.message } };
      throw e;
    }
    return this.onMessage(from, message, now);
  }

  /** The timer set by the last set-timer effect fired (early or repeated calls are harmless). */
  onTimeout(now: number): Effect[] {
    return this.run(now, () => {
      if (this.pacedView === this.currentView && now >= this.proposeAt) this.proposePaced();
      if (now < this.deadline) {
        this.timerDirty = true;
        return;
      }
      for (const r of this.fetcher.retry(now, (h) => this.tree.has(h))) this.send(r.to, r.request);
      this.localTimeout();
    });
  }

  /**
   * The shell knows the current view cannot produce a QC: its leader, or the next view's leader
   * (who collects this view's votes, unless broadcastVotes), cannot be reached (e.g. its link has been down for a
   * while). Give up on the view now instead of waiting for the timer. A timeout is always safe;
   * it ends the view only with 2f+1 timeouts, so the shell must be sure: a replica that gives up
   * a view that could succeed loses its vote in it.
   */
  abandonView(now: number): Effect[] {
    return this.run(now, () => {
      if (this.myTimeout !== null && this.myTimeout.view === this.currentView) return;
      this.localTimeout();
    });
  }

  /**
   * The shell installed a snapshot of the application state at `c`'s height (more than the
   * blocks peers still hold behind this replica's tip): continue from `c` as the committed tip.
   * Its QC must verify; the safety state is untouched (a jump never lets a replica sign twice).
   * Blocks and requests held so far are dropped; catch-up resumes from the highest QC known.
   * The caller must have performed every effect returned before (no commit below `c` in flight).
   */
  jumpTo(c: CommittedBlock, now: number): Step {
    let rejection: Rejection | null = null;
    const effects = this.run(now, () => {
      const set = this.validatorSet;
      if (c.block.height <= this.tree.committedTip.height) {
        rejection = { code: RejectCode.STALE_VIEW, detail: `snapshot height ${c.block.height} is not above the committed height ${this.tree.committedTip.height}` };
        return;
      }
      if (computeBlockHash(set.chainTag, c.block) !== c.hash || c.qc.blockHash !== c.hash || c.qc.height !== c.block.height) {
        rejection = { code: RejectCode.INVALID_BLOCK, detail: 'the snapshot block does not hash to the block its QC certifies' };
        return;
      }
      const qc = this.verifiedQc(c.qc);
      if ('code' in qc) {
        rejection = qc;
        return;
      }
      this.tree.resetTo({ ...c, qc });
      this.fetcher.clear();
      this.pendingProposals.clear();
      this.opsCheckedFor = null;
      if (qc.view > this.highestQc.view) this.highestQc = qc;
      this.tree.recordQc(this.highestQc);
      if (!this.tree.has(this.highestQc.blockHash) && this.highestQc.height > c.block.height) this.requestBlock(this.highestQc.blockHash, null);
    });
    return { effects, rejection };
  }

  /**
   * Queues an operation for a block this replica will propose when it leads. Without effects:
   * a leader holding back an empty proposal (emptyBlockDelay) proposes when its delay ends;
   * use `offer` to have it propose at once.
   */
  submit(op: Uint8Array): SubmitResult {
    return this.mempool.submit(op, this.limits.maxOpBytes);
  }

  /**
   * As submit; and if this replica is the leader holding back its proposal for the current view
   * (pacing), it proposes now, carrying what its mempool holds.
   */
  offer(op: Uint8Array, now: number): { result: SubmitResult; effects: Effect[] } {
    let result: SubmitResult = 'full';
    const effects = this.run(now, () => {
      result = this.mempool.submit(op, this.limits.maxOpBytes);
      if (result === 'accepted' && this.pacedView === this.currentView) this.proposePaced();
    });
    return { result, effects };
  }

  get view(): number {
    return this.currentView;
  }

  get highQc(): QuorumCertificate {
    return this.highestQc;
  }

  get committedTip(): { hash: BlockHash; height: number } {
    const t = this.tree.committedTip;
    return { hash: t.hash, height: t.height };
  }

  /** A block this replica holds (committed within the retention window, or pending). */
  block(hash: BlockHash): Block | undefined {
    return this.tree.get(hash);
  }

  /** Hash of the committed block at `height` (within the retained window; 0 = genesis), if kept. */
  committedHash(height: number): BlockHash | undefined {
    return this.tree.committedHashAt(height);
  }

  /** The QC certifying a held block, if seen. */
  certificateOf(hash: BlockHash): QuorumCertificate | undefined {
    return this.tree.qcOf(hash);
  }

  status(): ReplicaStatus {
    const s = this.safety.state;
    const tip = this.tree.committedTip;
    return {
      self: this.self,
      view: this.currentView,
      leader: this.validatorSet.leader(this.currentView),
      highQcView: this.highestQc.view,
      lockedQcView: s.lockedQc.view,
      lastVotedView: s.lastVotedView,
      committedHeight: tip.height,
      committedHash: tip.hash,
      mempoolSize: this.mempool.size,
    };
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private run(now: number, body: () => void): Effect[] {
    this.now = now;
    this.out = [];
    this.timerDirty = false;
    body();
    if (this.timerDirty) this.out.push({ type: 'set-timer', at: this.pacedView === this.currentView ? Math.min(this.deadline, this.proposeAt) : this.deadline });
    const effects = this.out;
    this.out = [];
    return effects;
  }

  private dispatch(from: ValidatorId, m: Message): Rejection | null {
    if (!this.validatorSet.has(from)) return reject(RejectCode.NOT_VALIDATOR, `sender ${from} is not a validator`).rejection;
    switch (m.type) {
      case 'proposal':
        return this.onProposal(from, m);
      case 'vote':
        return this.onVote(m, false);
      case 'timeout':
        return this.onTimeoutMessage(from, m);
      case 'block-request':
        return this.onBlockRequest(from, m);
      case 'block-response':
        return this.onBlockResponse(from, m);
    }
  }

  private send(to: ValidatorId, message: Message): void {
    this.out.push({ type: 'send', to, message });
  }

  private timeoutDuration(): number {
    return Math.min(this.timing.maxTimeout, this.timing.baseTimeout * 2 ** Math.min(this.consecutiveTimeouts, 30));
  }

  private armTimer(): void {
    this.deadline = this.now + this.timeoutDuration();
    this.timerDirty = true;
  }

  /** A QC this replica can rely on: a cached verified copy, the incoming one once verified, or a rejection. */
  private verifiedQc(qc: QuorumCertificate): QuorumCertificate | Rejection {
    const key = `${qc.view}:${qc.blockHash}`;
    const known = this.qcCache.get(key);
    if (known) return known.height === qc.height ? known : { code: RejectCode.INVALID_QC, detail: 'QC height contradicts a verified QC' };
    const v = checkQuorumCertificate(qc, this.validatorSet, this.verifier, this.quorum);
    if (!v.ok) return v.rejection;
    this.rememberQc(qc);
    return qc;
  }

  private rememberQc(qc: QuorumCertificate): void {
    const key = `${qc.view}:${qc.blockHash}`;
    if (this.qcCache.has(key)) return;
    this.qcCache.set(key, qc);
    if (this.qcCache.size > QC_CACHE_SIZE) this.qcCache.delete(this.qcCache.keys().next().value!);
  }

  private verifySignature(validator: ValidatorId, message: Uint8Array, signature: Uint8Array): boolean {
    return this.verifier.verify({ validator, publicKey: this.validatorSet.publicKeyOf(validator), message, signature });
  }

  // ---- views, certificates, commits ---------------------------------------------------------

  private enterView(view: number, byTimeout: boolean): void {
    if (view <= this.currentView) return;
    this.currentView = view;
    this.consecutiveTimeouts = byTimeout ? this.consecutiveTimeouts + 1 : 0;
    this.myTimeout = null;
    this.helped.clear();
    this.requestBudget.reset();
    this.armTimer();
    this.votes.prune(view);
    this.timeouts.prune(view);
    this.equivocation.prune(view - EVIDENCE_WINDOW_VIEWS);
    for (const v of this.pendingProposals.keys()) if (v < view) this.pendingProposals.delete(v);
    this.tryPropose();
  }

  /**
   * Learn a verified QC: raise highQc, apply the commit rule, and (unless a TC for a later view
   * comes with it) follow it into the next view.
   */
  /**
   * A QC this replica formed from votes it verified one by one: known good, so the same QC
   * arriving in a proposal is not verified again.
   */
  private learnFormedQc(qc: QuorumCertificate): void {
    this.rememberQc(qc);
    this.learnQc(qc, null);
  }

  private learnQc(qc: QuorumCertificate, source: ValidatorId | null, advance = true): void {
    this.tree.recordQc(qc);
    if (qc.view > this.highestQc.view) this.highestQc = qc;
    if (this.tree.has(qc.blockHash)) this.tryCommit(qc);
    else if (source !== null && qc.height > this.tree.committedTip.height) this.requestBlock(qc.blockHash, source);
    if (advance) this.enterView(qc.view + 1, false);
  }

  /** Learn a verified TC: its high QC (without stopping in the views between) and then view tc.view + 1. */
  private learnTc(tc: TimeoutCertificate, source: ValidatorId | null): void {
    if (this.lastTc === null || tc.view > this.lastTc.view) this.lastTc = tc;
    this.learnQc(tc.highQc, source, false);
    // Liveness, not safety: a block of a view up to tc.view that no known QC certifies is not
    // what honest leaders extend next (they extend the TC's high QC or later), so its operations
    // go back to the queue now, before this replica may propose in tc.view + 1. Waiting for its
    // height to commit instead let a leader whose successor is down take them again after every
    // commit, forever (found in the e2e test; the simulator's submitToAll runs reproduce it). If
    // the block is certified and commits after all, the copies leave the queue then
    // (Mempool.committed) and the application applies an operation once.
    if (!this.keepAbandonedOperations) {
      this.mempool.release((hash) => {
        const b = this.tree.get(hash);
        return b !== undefined && b.view <= tc.view && this.tree.qcOf(hash) === undefined;
      });
    }
    this.enterView(tc.view + 1, true);
  }

  /**
   * Commit rule (2-chain): a QC for B1 commits B1's parent B0 when B1.view = B0.view + 1.
   * Everything between the committed tip and B0 commits with it, in height order.
   */
  private tryCommit(qc: QuorumCertificate): void {
    const b1 = this.tree.get(qc.blockHash);
    if (!b1 || b1.height <= 1) return;
    const b0 = this.tree.get(b1.parentHash);
    if (!b0 || b1.view !== b0.view + 1 || b0.height <= this.tree.committedTip.height) return;
    const path = this.tree.pathToCommit(b1.parentHash);
    if ('missing' in path) {
      this.requestBlock(path.missing, null);
      return;
    }
    for (const { hash } of path.path) {
      const committed = this.tree.commit(hash);
      this.mempool.committed(hash, committed.block.height, committed.block.payload);
      this.out.push({ type: 'commit', committed });
    }
    this.tree.prune();
  }

  // ---- proposals --------------------------------------------------------------------------

  /** The held-back proposal goes out now (if it still can; else it waits as any proposal would). */
  private proposePaced(): void {
    this.pacedView = 0;
    this.timerDirty = true;
    this.tryPropose(true);
  }

  /** Proposes if this replica leads the current view and may; `now` skips pacing. */
  private tryPropose(now = false): void {
    const view = this.currentView;
    if (this.validatorSet.leader(view) !== this.self || !this.safety.canPropose(view)) return;
    let tc: TimeoutCertificate | null = null;
    if (this.highestQc.view + 1 !== view) {
      if (this.lastTc === null || this.lastTc.view + 1 !== view) return; // not justified (e.g. just restarted): wait for a QC or TC
      tc = this.lastTc;
    }
    const parent = this.tree.get(this.highestQc.blockHash);
    if (!parent) {
      this.requestBlock(this.highestQc.blockHash, null);
      return; // retried when the block arrives
    }
    // Not late in a view: a proposal held past the view's deadline would time the view out.
    if (!now && this.emptyBlockDelay > 0 && this.now + this.emptyBlockDelay < this.deadline && this.mayPace(parent)) {
      if (this.pacedView !== view) {
        this.pacedView = view;
        this.proposeAt = this.now + this.emptyBlockDelay;
        this.timerDirty = true;
      }
      return;
    }
    this.pacedView = 0;
    // Application validity: a refused operation is dropped here, never proposed (honest
    // replicas would not vote for the block, and the view would be lost).
    const ctx = this.operationContext(parent.height + 1);
    const check = this.validateOperation;
    const taken = this.mempool.take(this.limits.maxBlockOps, this.limits.maxBlockPayloadBytes, check ? (op) => check(op, ctx)?.detail ?? null : undefined);
    for (const d of taken.dropped) this.out.push({ type: 'operation-dropped', operation: d.op, detail: d.detail });
    const payload = taken.ops;
    const block: Block = { height: parent.height + 1, view, proposer: this.self, parentHash: this.highestQc.blockHash, justify: this.highestQc, payload };
    const hash = computeBlockHash(this.validatorSet.chainTag, block);
    this.opsCheckedFor = hash;
    const canVote = this.safety.checkVote(block, tc).ok;
    this.out.push({ type: 'persist', state: this.safety.recordProposal(block, tc, canVote), blocks: [block] });
    const signature = this.signer.sign(proposalSigningBytes(this.validatorSet.chainTag, view, block.height, hash));
    const proposal: Proposal = { type: 'proposal', block, tc, signature };
    this.equivocation.observe('proposal', this.self, view, { height: block.height, blockHash: hash, signature });
    this.out.push({ type: 'broadcast', message: proposal });
    if (this.tree.add(hash, block)) this.afterBlockAdded(hash);
    if (canVote) this.sendVote(block, hash);
  }

  /**
   * Whether an empty proposal on `parent` may wait: nothing waits for it. Not if the mempool holds
   * an operation, nor if one sits in an uncommitted block of the chain (the next blocks certify
   * and commit it) or in the block committed last (the others commit it only when this proposal
   * brings them the QC of its child, and its submitters may be waiting on them).
   */
  private mayPace(parent: Block): boolean {
    if (this.mempool.size > 0) return false;
    const committed = this.tree.committedTip.height;
    for (let b: Block | undefined = parent; b && b.height >= committed && b.height > 0; b = this.tree.get(b.parentHash)) {
      if (b.payload.length > 0) return false;
    }
    return true;
  }

  private onProposal(from: ValidatorId, p: Proposal): Rejection | null {
    const b = p.block;
    const set = this.validatorSet;
    const bad = checkBlockShape(set, b) ?? checkPayload(this.limits, b);
    if (bad) return bad;
    if (p.tc !== null && p.tc.view >= b.view) return { code: RejectCode.INVALID_BLOCK, detail: 'TC is not from an earlier view' };
    if (b.view < this.currentView) return { code: RejectCode.STALE_VIEW, detail: `proposal for view ${b.view} in view ${this.currentView}` };
    const justified = Math.max(b.justify.view + 1, p.tc ? p.tc.view + 1 : 0);
    if (b.view > Math.max(this.currentView, justified)) return { code: RejectCode.FUTURE_VIEW, detail: `proposal for view ${b.view} is not justified by its certificates` };

    const hash = computeBlockHash(set.chainTag, b);
    if (!this.verifySignature(b.proposer, proposalSigningBytes(set.chainTag, b.view, b.height, hash), p.signature)) {
      return { code: RejectCode.BAD_SIGNATURE, detail: `proposal signature of validator ${b.proposer}` };
    }
    // Certificates before the equivocation record: the block hash does not cover the QC's
    // signatures, so a relayed copy with a broken QC must not make the real one a "duplicate".
    const qc = this.verifiedQc(b.justify);
    if ('code' in qc) return qc;
    if (p.tc !== null) {
      const v = checkTimeoutCertificate(p.tc, set, this.verifier, this.quorum);
      if (!v.ok) return v.rejection;
    }
    const seen = this.equivocation.observe('proposal', b.proposer, b.view, { height: b.height, blockHash: hash, signature: p.signature });
    if (seen === 'duplicate') return { code: RejectCode.DUPLICATE, detail: 'proposal already seen' };
    if (seen !== 'new') {
      if (seen !== 'already-reported') this.out.push({ type: 'evidence', evidence: seen });
      return { code: RejectCode.EQUIVOCATION, detail: `validator ${b.proposer} proposed two blocks in view ${b.view}` };
    }
    // Sync first: the proposal's certificates may move this replica into the proposal's view.
    this.learnQc(qc, from, p.tc === null);
    if (p.tc !== null) this.learnTc(p.tc, from);
    if (b.view !== this.currentView) return { code: RejectCode.STALE_VIEW, detail: `proposal for view ${b.view} in view ${this.currentView}` };
    const proposal: Proposal = { ...p, block: { ...b, justify: qc } };
    if (!this.tree.has(b.parentHash)) {
      this.pendingProposals.set(b.view, { from, proposal, hash });
      this.requestBlock(b.parentHash, from);
      return null; // resumed by afterBlockAdded when the parent arrives
    }
    return this.processProposal(proposal, hash);
  }

  /** The part of proposal handling that needs the parent block. */
  private processProposal(p: Proposal, hash: BlockHash): Rejection | null {
    const b = p.block;
    const parent = this.tree.get(b.parentHash)!;
    if (parent.height + 1 !== b.height || parent.view >= b.view) return { code: RejectCode.INVALID_BLOCK, detail: 'block does not follow its parent' };
    if (b.height <= this.tree.committedTip.height) return { code: RejectCode.UNSAFE_PROPOSAL, detail: `block at height ${b.height} forks below the committed height ${this.tree.committedTip.height}` };
    if (this.tree.add(hash, b)) this.afterBlockAdded(hash);
    if (b.view !== this.currentView) return { code: RejectCode.STALE_VIEW, detail: 'view moved on while the parent was fetched' };
    const verdict = this.safety.checkVote(b, p.tc);
    if (!verdict.ok) return verdict.rejection;
    // Validity: no vote for a block carrying an operation the application refuses. Checked after
    // the (cheap) safety rules and before anything is recorded: a refused block stays in the tree
    // (others may certify it; then it commits here too) but gets no vote from this replica.
    const invalid = this.checkOperations(b);
    if (invalid) return invalid;
    this.opsCheckedFor = hash;
    this.out.push({ type: 'persist', state: this.safety.recordVote(b, p.tc), blocks: [b] });
    this.sendVote(b, hash);
    return null;
  }

  /** Signs a vote (the persist effect for it is already queued) and sends it to the next leader. */
  private sendVote(b: Block, hash: BlockHash): void {
    assertSafety(this.opsCheckedFor === hash, 'vote-for-checked-operations', () => `vote for block ${hash} at height ${b.height} whose operations were not checked`);
    const signature = this.signer.sign(voteSigningBytes(this.validatorSet.chainTag, b.view, b.height, hash));
    const vote: Vote = { type: 'vote', view: b.view, height: b.height, blockHash: hash, voter: this.self, signature };
    const next = this.validatorSet.leader(b.view + 1);
    if (this.broadcastVotes) {
      this.out.push({ type: 'broadcast', message: vote });
      this.onVote(vote, true);
    } else if (next === this.self) this.onVote(vote, true);
    else this.send(next, vote);
  }

  /** A block entered the tree: certify/commit with what was waiting for it, resume waiting work. */
  private afterBlockAdded(hash: BlockHash): void {
    this.fetcher.done(hash);
    const b = this.tree.get(hash)!;
    this.mempool.inBlock(hash, b.height, b.payload);
    const qc = this.tree.qcOf(hash);
    if (qc) this.tryCommit(qc);
    this.tryCommit(b.justify);
    const formed = this.votes.tryCertify(b.view, b.height, hash, this.quorum);
    if (formed) this.learnFormedQc(formed);
    for (const [view, pending] of this.pendingProposals) {
      if (pending.proposal.block.parentHash === hash) {
        this.pendingProposals.delete(view);
        this.processProposal(pending.proposal, pending.hash);
      }
    }
    if (this.highestQc.blockHash === hash) this.tryPropose();
  }

  private operationContext(height: number): OperationCheckContext {
    return { height, committedHash: (h) => this.tree.committedHashAt(h) };
  }

  /** The first operation of `b` the application refuses, as a rejection; null if all pass. */
  private checkOperations(b: Block): Rejection | null {
    const check = this.validateOperation;
    if (check === null || this.skipOperationCheck) return null;
    const ctx = this.operationContext(b.height);
    for (let i = 0; i < b.payload.length; i++) {
      const refusal = check(b.payload[i]!, ctx);
      if (refusal) return { code: RejectCode.INVALID_OPERATION, detail: `operation ${i} of block ${b.height} (view ${b.view}): ${refusal.detail}` };
    }
    return null;
  }

  // ---- votes and timeouts -------------------------------------------------------------------

  private onVote(v: Vote, own: boolean): Rejection | null {
    const set = this.validatorSet;
    if (!set.has(v.voter)) return { code: RejectCode.NOT_VALIDATOR, detail: `voter ${v.voter} is not a validator` };
    if (v.view < 1 || v.height < 1) return { code: RejectCode.INVALID_BLOCK, detail: 'view and height start at 1' };
    if (!this.broadcastVotes && set.leader(v.view + 1) !== this.self) return { code: RejectCode.NOT_LEADER, detail: `not the leader of view ${v.view + 1}` };
    if (v.view < this.currentView) return { code: RejectCode.STALE_VIEW, detail: `vote for view ${v.view} in view ${this.currentView}` };
    if (v.view > this.currentView + this.maxViewAhead) return { code: RejectCode.FUTURE_VIEW, detail: `vote for view ${v.view} in view ${this.currentView}` };
    const block = this.tree.get(v.blockHash);
    if (!block && v.view > this.currentView + 1) return { code: RejectCode.UNKNOWN_BLOCK, detail: 'vote for an unknown block beyond the next view' };
    if (block && (block.view !== v.view || block.height !== v.height)) return { code: RejectCode.INVALID_BLOCK, detail: 'vote names a block of another view or height' };
    // An exact copy of a vote already counted (a replay, a duplicated packet) costs no signature
    // check: with votes broadcast every replica would otherwise verify every copy.
    if (!own && this.equivocation.isRecorded('vote', v.voter, v.view, { height: v.height, blockHash: v.blockHash, signature: v.signature })) {
      return { code: RejectCode.DUPLICATE, detail: 'vote already counted' };
    }
    if (!own && !this.verifySignature(v.voter, voteSigningBytes(set.chainTag, v.view, v.height, v.blockHash), v.signature)) {
      return { code: RejectCode.BAD_SIGNATURE, detail: `vote signature of validator ${v.voter}` };
    }
    const seen = this.equivocation.observe('vote', v.voter, v.view, { height: v.height, blockHash: v.blockHash, signature: v.signature });
    if (seen === 'duplicate') return { code: RejectCode.DUPLICATE, detail: 'vote already counted' };
    if (seen !== 'new') {
      if (seen !== 'already-reported') this.out.push({ type: 'evidence', evidence: seen });
      return { code: RejectCode.EQUIVOCATION, detail: `validator ${v.voter} voted for two blocks in view ${v.view}` };
    }
    this.votes.add(v.view, v.height, v.blockHash, v.voter, set.weightOf(v.voter), v.signature);
    // A vote for a block not yet received waits (for this view and the next) and counts only
    // once the block arrives: a QC is only ever formed for a block this replica holds.
    if (!block) return null;
    const qc = this.votes.tryCertify(v.view, v.height, v.blockHash, this.quorum);
    if (qc) this.learnFormedQc(qc);
    return null;
  }

  /** The view timer fired (or f+1 others gave up on this view): broadcast a signed timeout. */
  private localTimeout(): void {
    const view = this.currentView;
    if (this.myTimeout !== null && this.myTimeout.view === view) {
      this.out.push({ type: 'broadcast', message: this.myTimeout }); // retransmit: messages may be lost
      this.armTimer();
      return;
    }
    const highQc = this.highestQc;
    if (!this.safety.checkTimeout(view, highQc).ok) {
      this.armTimer();
      return;
    }
    const lastTc = this.lastTc !== null && this.lastTc.view === view - 1 ? this.lastTc : null;
    this.out.push({ type: 'persist', state: this.safety.recordTimeout(view, highQc, lastTc), blocks: [] });
    const signature = this.signer.sign(timeoutSigningBytes(this.validatorSet.chainTag, view, highQc.view));
    const msg: TimeoutMessage = { type: 'timeout', view, highQc, lastTc, voter: this.self, signature };
    this.myTimeout = msg;
    this.out.push({ type: 'broadcast', message: msg });
    this.armTimer();
    this.countTimeout(msg);
  }

  private onTimeoutMessage(from: ValidatorId, t: TimeoutMessage): Rejection | null {
    const set = this.validatorSet;
    if (!set.has(t.voter)) return { code: RejectCode.NOT_VALIDATOR, detail: `timeout signer ${t.voter} is not a validator` };
    if (t.view < 1 || t.highQc.view >= t.view) return { code: RejectCode.INVALID_QC, detail: 'a timeout reports a QC from an earlier view' };
    if (t.view < this.currentView) {
      // The sender is behind: our own timeout carries the QC/TC that explain our view.
      if (this.myTimeout !== null && t.voter === from && !this.helped.has(from)) {
        this.helped.add(from);
        this.send(from, this.myTimeout);
      }
      return { code: RejectCode.STALE_VIEW, detail: `timeout for view ${t.view} in view ${this.currentView}` };
    }
    const justified = Math.max(this.currentView, t.highQc.view + 1, t.lastTc ? t.lastTc.view + 1 : 0);
    if (t.view > justified + this.maxViewAhead) return { code: RejectCode.FUTURE_VIEW, detail: `timeout for view ${t.view} in view ${this.currentView}` };
    if (!this.verifySignature(t.voter, timeoutSigningBytes(set.chainTag, t.view, t.highQc.view), t.signature)) {
      return { code: RejectCode.BAD_SIGNATURE, detail: `timeout signature of validator ${t.voter}` };
    }
    if (this.timeouts.has(t.view, t.voter)) return { code: RejectCode.DUPLICATE, detail: 'timeout already counted' };
    const qc = this.verifiedQc(t.highQc);
    if ('code' in qc) return qc;
    if (t.lastTc !== null && t.lastTc.view >= this.currentView) {
      const v = checkTimeoutCertificate(t.lastTc, set, this.verifier, this.quorum);
      if (!v.ok) return v.rejection;
      this.learnTc(t.lastTc, from);
    }
    this.learnQc(qc, from);
    if (t.view < this.currentView) return null; // its certificates moved us past it; they were the useful part
    this.countTimeout({ ...t, highQc: qc });
    return null;
  }

  private countTimeout(t: TimeoutMessage): void {
    const weight = this.timeouts.add(t.view, { validator: t.voter, highQcView: t.highQc.view, signature: t.signature }, t.highQc, this.validatorSet.weightOf(t.voter));
    if (weight < 0) return;
    // Bracha-style amplification: f+1 timeouts include an honest one, so join in.
    if (t.view === this.currentView && weight > this.validatorSet.faultyWeight && this.myTimeout?.view !== t.view) this.localTimeout();
    const tc = this.timeouts.tryCertify(t.view, this.quorum);
    if (tc) this.learnTc(tc, null);
  }

  // ---- catch-up (see catch-up.ts) ------------------------------------------------------------

  private requestBlock(hash: BlockHash, peer: ValidatorId | null): void {
    const r = this.fetcher.request(hash, peer ?? this.validatorSet.leader(this.currentView), this.now);
    if (r) this.send(r.to, r.request);
  }

  private onBlockRequest(from: ValidatorId, req: BlockRequest): Rejection | null {
    if (from === this.self) return { code: RejectCode.UNSOLICITED, detail: 'request from self' };
    if (!this.requestBudget.allow(from)) return { code: RejectCode.RATE_LIMITED, detail: `validator ${from} used its ${REQUESTS_PER_PEER_PER_VIEW} block requests of view ${this.currentView}` };
    const res = serveBlocks(this.tree, req, this.limits);
    if ('code' in res) return res;
    this.send(from, res);
    return null;
  }

  /** Fetched blocks: chained from a requested hash, each shape-checked and its justify QC verified before it is stored. */
  private onBlockResponse(from: ValidatorId, res: BlockResponse): Rejection | null {
    const set = this.validatorSet;
    const hashes = res.blocks.map((b) => computeBlockHash(set.chainTag, b));
    const chain = checkResponseChain(res, hashes, this.fetcher);
    if (chain) return chain;
    const checked: { hash: BlockHash; block: Block }[] = [];
    for (let i = 0; i < res.blocks.length; i++) {
      const b = res.blocks[i]!;
      const bad = checkBlockShape(set, b) ?? checkPayload(this.limits, b);
      if (bad) return bad;
      const qc = this.verifiedQc(b.justify);
      if ('code' in qc) return qc;
      checked.push({ hash: hashes[i]!, block: { ...b, justify: qc } });
    }
    const tipHeight = this.tree.committedTip.height;
    // Oldest first, so each block finds its parent; then let waiting work see them.
    for (let i = checked.length - 1; i >= 0; i--) if (checked[i]!.block.height > tipHeight) this.tree.add(checked[i]!.hash, checked[i]!.block);
    for (let i = checked.length - 1; i >= 0; i--) if (checked[i]!.block.height > tipHeight && this.tree.has(checked[i]!.hash)) this.afterBlockAdded(checked[i]!.hash);
    const oldest = checked[checked.length - 1]!.block;
    if (oldest.height - 1 > this.tree.committedTip.height && !this.tree.has(oldest.parentHash)) this.requestBlock(oldest.parentHash, from);
    return null;
  }
}
