// The safety rules: the only place that decides whether this replica may sign a vote, a timeout
// or a proposal. Protocol: Jolteon / DiemBFT-v4 "2-chain" HotStuff.
//
//   Vote once per view:  sign a vote only for a view above lastVotedView; a timeout for view v
//                        also raises lastVotedView to v, so no vote follows a timeout in v.
//   Lock rule:           lockedQc is the highest QC this replica built on (voted for a block
//                        carrying it, or reported it in a timeout). A vote for block B in view v
//                        needs either B.justify.view = v - 1 (B extends the previous view's QC:
//                        that QC is at least our lock, since we have not voted since v - 1), or
//                        a TC for v - 1 and B.justify.view >= the TC's highest QC view — of the
//                        2f+1 timeouts in the TC at least one comes from an honest replica that
//                        voted for any committed block's child, so the TC's high QC is at least
//                        as high as that committed block. A timeout must report a QC at least as
//                        high as lockedQc, which is what keeps the TC's high QC honest.
//   Commit rule:         block B0 is committed once there is a QC for a child B1 with
//                        B1.view = B0.view + 1 (two consecutive certified views). Then 2f+1 have
//                        locked on B0's QC, and the lock rule above keeps every later QC a
//                        descendant of B0.
//   Persist first:       every state change returned here must be durable (the shell fsyncs the
//                        persist effect) before the signed message it allows leaves the replica;
//                        restored from disk after a crash, the replica can never sign twice.
import { readQc, readTc, Reader, scratchWriter, writeQc, writeTc, DEFAULT_LIMITS, type ConsensusLimits } from './codec';
import { assertSafety, CodecError, RejectCode } from './errors';
import type { Block, QuorumCertificate, TimeoutCertificate } from './types';
import { OK, reject, type Verdict } from './verdict';

/** What a replica persists (fsync) before it signs: its whole safety memory. */
export interface SafetyState {
  /** Highest view in which it voted or timed out. */
  lastVotedView: number;
  /** Highest view in which it proposed. */
  lastProposedView: number;
  /** Highest QC it built on (see the lock rule). */
  lockedQc: QuorumCertificate;
  /**
   * Highest TC it has seen. Not needed for safety: it lets a restarted replica show the others
   * why it is in its view (its timeouts carry it), or views can stall when the only holders of a
   * TC crashed.
   */
  highTc: TimeoutCertificate | null;
}

/**
 * Test-only protocol breakages, so the simulator can prove it catches them (DESIGN.md: "seeded
 * mutation checks"). Never set in production: the option name says so, and apps must not expose it.
 */
export type UnsafeMutationForTests =
  /** Vote for any proposal in a new view, ignoring the lock rule. */
  | 'ignore-lock-rule'
  /** Accept f+1 weight as a quorum instead of 2f+1. */
  | 'quorum-f-plus-1'
  /** Vote for proposals without running the application's operation check. */
  | 'skip-operation-check'
  /** Keep operations of abandoned (timed-out, uncertified) blocks out of the queue until their height commits (the old livelock). */
  | 'keep-abandoned-operations';

export function initialSafetyState(genesisQc: QuorumCertificate): SafetyState {
  return { lastVotedView: 0, lastProposedView: 0, lockedQc: genesisQc, highTc: null };
}

export class SafetyRules {
  private s: SafetyState;

  constructor(
    initial: SafetyState,
    private readonly mutation: UnsafeMutationForTests | null,
  ) {
    this.s = { ...initial };
  }

  get state(): Readonly<SafetyState> {
    return this.s;
  }

  /** May this replica vote for `block` (justified by `tc` when entered by timeout)? */
  checkVote(block: Block, tc: TimeoutCertificate | null): Verdict {
    if (block.view <= this.s.lastVotedView) {
      return reject(RejectCode.UNSAFE_PROPOSAL, `already voted or timed out in view ${this.s.lastVotedView} >= ${block.view}`);
    }
    if (this.mutation === 'ignore-lock-rule') return OK;
    if (block.view === block.justify.view + 1) return OK;
    if (tc !== null && block.view === tc.view + 1 && block.justify.view >= tc.highQc.view) return OK;
    return reject(
      RejectCode.UNSAFE_PROPOSAL,
      tc === null
        ? `block of view ${block.view} extends a QC of view ${block.justify.view} without a timeout certificate for view ${block.view - 1}`
        : `block extends a QC of view ${block.justify.view}, below the TC's highest QC view ${tc.highQc.view}`,
    );
  }

  /** Record a vote for `block` (call only after checkVote passed). Returns the state to persist. */
  recordVote(block: Block, tc: TimeoutCertificate | null): SafetyState {
    assertSafety(block.view > this.s.lastVotedView, 'vote-once-per-view', () => `vote in view ${block.view} after view ${this.s.lastVotedView}`);
    assertSafety(this.checkVote(block, tc).ok, 'lock-rule', () => `vote for a block the lock rule forbids (view ${block.view})`);
    return this.update({ lastVotedView: block.view, lockedQc: higher(this.s.lockedQc, block.justify) });
  }

  /** May this replica time out in `view` reporting `highQc`? */
  checkTimeout(view: number, highQc: QuorumCertificate): Verdict {
    if (view < this.s.lastVotedView) return reject(RejectCode.STALE_VIEW, `timeout for view ${view} after voting in ${this.s.lastVotedView}`);
    if (highQc.view < this.s.lockedQc.view) return reject(RejectCode.UNSAFE_PROPOSAL, `timeout would report QC view ${highQc.view} below the lock ${this.s.lockedQc.view}`);
    if (highQc.view >= view) return reject(RejectCode.INVALID_QC, 'a timeout cannot report a QC of its own view');
    return OK;
  }

  recordTimeout(view: number, highQc: QuorumCertificate, highTc: TimeoutCertificate | null): SafetyState {
    assertSafety(this.checkTimeout(view, highQc).ok, 'timeout-rule', () => `timeout in view ${view} with QC view ${highQc.view} (lock ${this.s.lockedQc.view}, voted ${this.s.lastVotedView})`);
    const tc = highTc !== null && (this.s.highTc === null || highTc.view > this.s.highTc.view) ? highTc : this.s.highTc;
    return this.update({ lastVotedView: Math.max(this.s.lastVotedView, view), lockedQc: higher(this.s.lockedQc, highQc), highTc: tc });
  }

  canPropose(view: number): boolean {
    return view > this.s.lastProposedView;
  }

  /** Record a proposal (and optionally the proposer's own vote for it) in one state change. */
  recordProposal(block: Block, tc: TimeoutCertificate | null, alsoVote: boolean): SafetyState {
    assertSafety(block.view > this.s.lastProposedView, 'propose-once-per-view', () => `second proposal in view ${block.view}`);
    this.update({ lastProposedView: block.view });
    return alsoVote ? this.recordVote(block, tc) : { ...this.s };
  }

  private update(patch: Partial<SafetyState>): SafetyState {
    const next = { ...this.s, ...patch };
    assertSafety(
      next.lastVotedView >= this.s.lastVotedView && next.lastProposedView >= this.s.lastProposedView && next.lockedQc.view >= this.s.lockedQc.view,
      'monotonic-safety-state',
      () => 'safety state may only move forward',
    );
    this.s = next;
    return { ...next };
  }
}

function higher(a: QuorumCertificate, b: QuorumCertificate): QuorumCertificate {
  return b.view > a.view ? b : a;
}

const STATE_MAGIC = 0x53514353; // "SQCS"

/** Canonical bytes of the safety state (what the persist effect writes). */
export function encodeSafetyState(s: SafetyState): Uint8Array {
  const w = scratchWriter.reset();
  w.u32(STATE_MAGIC).u8(1).u64(s.lastVotedView).u64(s.lastProposedView);
  writeQc(w, s.lockedQc);
  if (s.highTc === null) w.u8(0);
  else writeTc(w.u8(1), s.highTc);
  return w.finish();
}

export function decodeSafetyState(bytes: Uint8Array, limits: ConsensusLimits = DEFAULT_LIMITS): SafetyState {
  const r = new Reader(bytes);
  if (r.u32() !== STATE_MAGIC || r.u8() !== 1) throw new CodecError(RejectCode.MALFORMED, 'not a safety state record');
  const lastVotedView = r.u64();
  const lastProposedView = r.u64();
  const lockedQc = readQc(r, limits);
  const flag = r.u8();
  if (flag > 1) throw new CodecError(RejectCode.MALFORMED, 'bad optional flag');
  const highTc = flag === 1 ? readTc(r, limits) : null;
  r.end();
  return { lastVotedView, lastProposedView, lockedQc, highTc };
}
