// Byzantine replicas. Each runs the honest core (so it knows views, blocks and QCs) and
// rewrites what the core wants to send. It signs only with its own key: everything it forges
// is either signed as itself, or bytes it received from others and replays.
import { decodeMessage, encodeMessage } from '../codec';
import type { Effect } from '../effects';
import { toHex } from '../hash';
import type { Replica } from '../replica';
import { computeBlockHash, proposalSigningBytes, timeoutSigningBytes, voteSigningBytes } from '../signing';
import type { Signer } from '../crypto';
import type { Block, Message, Proposal, QuorumCertificate, TimeoutCertificate, TimeoutMessage, TimeoutSignature, ValidatorId, Vote } from '../types';
import type { ValidatorSet } from '../validators';
import { simOperation } from './operations';
import type { Prng } from './prng';

export const BYZANTINE_BEHAVIOURS = ['silent', 'equivocate', 'replay', 'invalid-votes', 'fork', 'invalid-ops'] as const;
/**
 * silent: sends nothing. equivocate: two different proposals (to different halves, and both
 * again later to anyone) and two votes per view. replay: re-sends old messages it received. invalid-votes: votes for blocks
 * that do not exist, bad signatures, garbage and oversized bytes. fork: as leader, builds a fork
 * that only replicas ignoring the lock rule vote for (see ByzantineAdversary.fork). invalid-ops:
 * as leader, proposes its block with an operation the application's check refuses added (and
 * votes for that block), so only replicas skipping the check vote for it.
 */
export type ByzantineBehaviour = (typeof BYZANTINE_BEHAVIOURS)[number];

/** An effect, or raw bytes to put on the wire (optionally after an extra delay). */
export type AdversaryAction = Effect | { type: 'raw'; to: ValidatorId; bytes: Uint8Array; delay: number };

export class ByzantineAdversary {
  private readonly received: Uint8Array[] = [];
  private plan: ForkPlan | null = null;
  private readonly equivocations: [Uint8Array, Uint8Array][] = [];
  private pendingActions: AdversaryAction[] = [];
  /** invalid-ops: view -> hash of the block with an invalid operation it proposed. */
  private readonly invalidProposals = new Map<number, string>();

  constructor(
    readonly behaviour: ByzantineBehaviour,
    private readonly self: ValidatorId,
    private readonly set: ValidatorSet,
    private readonly signer: Signer,
    private readonly prng: Prng,
  ) {}

  /** Everything delivered to this replica (for replays). */
  observe(bytes: Uint8Array): void {
    if (this.behaviour === 'fork') {
      try {
        this.observeFork(decodeMessage(bytes));
      } catch {
        // not a message; nothing to learn
      }
      return;
    }
    if (this.behaviour !== 'replay') return;
    if (this.received.length < 512) this.received.push(bytes);
    else this.received[this.prng.int(0, 511)] = bytes;
  }

  transform(effects: Effect[], replica: Replica): AdversaryAction[] {
    switch (this.behaviour) {
      case 'silent':
        return effects.filter((e) => e.type !== 'send' && e.type !== 'broadcast');
      case 'equivocate':
        return [...effects.flatMap((e) => this.equivocate(e)), ...this.resendEquivocations()];
      case 'replay':
        return [...effects, ...this.replays()];
      case 'invalid-votes':
        return [...effects, ...this.invalidVotes(replica)];
      case 'fork':
        return this.fork(effects, replica);
      case 'invalid-ops':
        return this.invalidOps(effects);
    }
  }

  /** Its own proposals carry an invalid operation; its own vote goes to that block instead. */
  private invalidOps(effects: Effect[]): AdversaryAction[] {
    const out: AdversaryAction[] = [];
    for (const e of effects) {
      if (e.type === 'broadcast' && e.message.type === 'proposal' && e.message.block.proposer === this.self) {
        const p = e.message;
        const bad = this.signProposal({ ...p.block, payload: [...p.block.payload, simOperation(0xbad, this.prng.int(0, 0x7fffffff), true)] }, p.tc);
        this.invalidProposals.set(p.block.view, computeBlockHash(this.set.chainTag, bad.block));
        if (this.invalidProposals.size > 8) this.invalidProposals.delete(this.invalidProposals.keys().next().value!);
        out.push({ type: 'broadcast', message: bad });
      } else if (e.type === 'send' && e.message.type === 'vote' && e.message.voter === this.self && this.invalidProposals.has(e.message.view)) {
        const v = e.message;
        out.push(this.raw(e.to, this.signVote(v.view, v.height, this.invalidProposals.get(v.view)!)));
      } else out.push(e);
    }
    return out;
  }

  private others(): ValidatorId[] {
    return this.set.validators.map((v) => v.id).filter((id) => id !== this.self);
  }

  private raw(to: ValidatorId, message: Parameters<typeof encodeMessage>[0], delay = 0): AdversaryAction {
    return { type: 'raw', to, bytes: encodeMessage(message), delay };
  }

  private signProposal(block: Block, tc: Proposal['tc']): Proposal {
    const hash = computeBlockHash(this.set.chainTag, block);
    return { type: 'proposal', block, tc, signature: this.signer.sign(proposalSigningBytes(this.set.chainTag, block.view, block.height, hash)) };
  }

  private signVote(view: number, height: number, blockHash: string): Vote {
    return { type: 'vote', view, height, blockHash, voter: this.self, signature: this.signer.sign(voteSigningBytes(this.set.chainTag, view, height, blockHash)) };
  }

  private equivocate(e: Effect): AdversaryAction[] {
    if (e.type === 'broadcast' && e.message.type === 'proposal' && e.message.block.proposer === this.self) {
      const p = e.message;
      const alt = this.signProposal({ ...p.block, payload: [...p.block.payload, this.prng.bytes(8)] }, p.tc);
      this.equivocations.push([encodeMessage(p), encodeMessage(alt)]);
      if (this.equivocations.length > 4) this.equivocations.shift();
      const actions: AdversaryAction[] = [];
      const others = this.others();
      for (const to of others) actions.push(this.raw(to, this.prng.chance(0.5) ? p : alt));
      // Sometimes one replica sees both, and can prove the equivocation.
      if (this.prng.chance(0.5)) {
        const to = this.prng.pick(others);
        actions.push(this.raw(to, p), this.raw(to, alt));
      }
      return actions;
    }
    if (e.type === 'send' && e.message.type === 'vote' && e.message.voter === this.self) {
      const v = e.message;
      return [e, this.raw(e.to, this.signVote(v.view, v.height, toHex(this.prng.bytes(32))))];
    }
    return [e];
  }

  /** Now and then, one of its recent conflicting proposals again, to someone (e.g. a replica that has restarted since). */
  private resendEquivocations(): AdversaryAction[] {
    if (this.equivocations.length === 0 || !this.prng.chance(0.1)) return [];
    const pair = this.prng.pick(this.equivocations);
    return [{ type: 'raw', to: this.prng.pick(this.others()), bytes: pair[this.prng.int(0, 1)]!, delay: 0 }];
  }

  private replays(): AdversaryAction[] {
    const out: AdversaryAction[] = [];
    if (this.received.length === 0) return out;
    const n = this.prng.chance(0.3) ? this.prng.int(1, 3) : 0;
    for (let i = 0; i < n; i++) out.push({ type: 'raw', to: this.prng.pick(this.others()), bytes: this.prng.pick(this.received), delay: this.prng.int(0, 50) });
    return out;
  }

  private invalidVotes(replica: Replica): AdversaryAction[] {
    const out: AdversaryAction[] = [];
    const view = replica.view;
    const leader = this.set.leader(view + 1);
    const to = leader === this.self ? this.prng.pick(this.others()) : leader;
    const r = this.prng.float();
    if (r < 0.15) {
      out.push(this.raw(to, this.signVote(view, replica.committedTip.height + 2, toHex(this.prng.bytes(32))))); // unknown block
    } else if (r < 0.25) {
      const v = this.signVote(view, replica.committedTip.height + 1, toHex(this.prng.bytes(32)));
      out.push(this.raw(to, { ...v, signature: this.prng.bytes(16) })); // bad signature
    } else if (r < 0.3) {
      out.push(this.raw(to, { ...this.signVote(view + 1000, 1, toHex(this.prng.bytes(32))) })); // far future
    } else if (r < 0.35) {
      out.push({ type: 'raw', to, bytes: this.prng.bytes(this.prng.int(0, 64)), delay: 0 }); // garbage
    } else if (r < 0.38) {
      const huge = new Uint8Array(16);
      huge.set([1, 1]);
      new DataView(huge.buffer).setUint32(2, 0xffffffff);
      out.push({ type: 'raw', to, bytes: huge, delay: 0 }); // absurd lengths
    }
    return out;
  }

  /**
   * The fork attack, which only a broken lock rule lets through. As leader of view v, holding
   * QC(Z) for view v - 1 (which commits Z's parent Y), it withholds QC(Z), gathers the others'
   * timeouts for v - 1 into a TC whose high QC is QC(Y), and proposes F: a sibling of Y (same
   * height, extending Y's parent) justified by that TC. It shows QC(Z) to one victim only, who
   * commits Y. Honest replicas refuse F (F extends a QC below the TC's high QC); with the lock
   * rule ignored the other two vote for F and for its child, and commit F at Y's height.
   */
  private fork(effects: Effect[], replica: Replica): AdversaryAction[] {
    const out: AdversaryAction[] = [...this.pendingActions];
    this.pendingActions = [];
    if (this.plan && replica.view > this.plan.view + 3) this.plan = null; // give up; behave again
    for (const e of effects) {
      if (!this.plan && e.type === 'broadcast' && e.message.type === 'proposal' && e.message.block.proposer === this.self) {
        this.plan = this.planFork(e.message, replica);
        if (this.plan) continue;
      }
      if (this.plan && (e.type === 'send' || e.type === 'broadcast')) continue; // keep quiet: QC(Z) must not leak
      out.push(e);
    }
    return out;
  }

  private planFork(p: Proposal, replica: Replica): ForkPlan | null {
    const view = p.block.view;
    const qcZ = p.block.justify;
    const z = replica.block(qcZ.blockHash);
    const y = z ? replica.block(z.parentHash) : undefined;
    if (!z || !y || y.height < 1 || qcZ.view !== view - 1 || z.view !== y.view + 1) return null;
    const victim = this.set.leader(view - 1);
    if (victim === this.self || this.set.leader(view + 1) === victim || this.set.leader(view + 2) === victim) return null;
    const ownTimeout = { validator: this.self, highQcView: y.view, signature: this.signer.sign(timeoutSigningBytes(this.set.chainTag, view - 1, y.view)) };
    return { view, qcZ, y, victim, timeouts: new Map([[this.self, { sig: ownTimeout, highQc: z.justify }]]), forkHash: null };
  }

  private observeFork(m: Message): void {
    const plan = this.plan;
    if (!plan) return;
    if (plan.forkHash === null && m.type === 'timeout' && m.view === plan.view - 1 && !plan.timeouts.has(m.voter) && m.highQc.view < plan.qcZ.view) {
      plan.timeouts.set(m.voter, { sig: { validator: m.voter, highQcView: m.highQc.view, signature: m.signature }, highQc: m.highQc });
      let weight = 0;
      for (const id of plan.timeouts.keys()) weight += this.set.weightOf(id);
      if (weight >= this.set.quorumWeight) this.launchFork(plan);
    } else if (plan.forkHash !== null && m.type === 'proposal' && m.block.view === plan.view + 1 && m.block.parentHash === plan.forkHash) {
      const hash = computeBlockHash(this.set.chainTag, m.block);
      this.pendingActions.push(this.raw(this.set.leader(plan.view + 2), this.signVote(m.block.view, m.block.height, hash)));
      this.plan = null;
    }
  }

  private launchFork(plan: ForkPlan): void {
    const entries = [...plan.timeouts.values()].sort((a, b) => a.sig.validator - b.sig.validator);
    const highQc = entries.reduce((best, e) => (e.highQc.view > best.view ? e.highQc : best), entries[0]!.highQc);
    const tc: TimeoutCertificate = { view: plan.view - 1, highQc, signatures: entries.map((e) => e.sig) };
    const y = plan.y;
    const fork: Block = { height: y.height, view: plan.view, proposer: this.self, parentHash: y.parentHash, justify: y.justify, payload: [this.prng.bytes(8)] };
    const proposal = this.signProposal(fork, tc);
    plan.forkHash = computeBlockHash(this.set.chainTag, fork);
    for (const to of this.others()) if (to !== plan.victim) this.pendingActions.push(this.raw(to, proposal));
    const pull: TimeoutMessage = { type: 'timeout', view: plan.view, highQc: plan.qcZ, lastTc: tc, voter: this.self, signature: this.signer.sign(timeoutSigningBytes(this.set.chainTag, plan.view, plan.qcZ.view)) };
    this.pendingActions.push(this.raw(plan.victim, pull));
    this.pendingActions.push(this.raw(this.set.leader(plan.view + 1), this.signVote(fork.view, fork.height, plan.forkHash)));
  }
}

interface ForkPlan {
  view: number;
  qcZ: QuorumCertificate;
  y: Block;
  victim: ValidatorId;
  timeouts: Map<ValidatorId, { sig: TimeoutSignature; highQc: QuorumCertificate }>;
  forkHash: string | null;
}
