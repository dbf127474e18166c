// Byzantine replicas. Each runs the honest core (so it knows views, blocks and QCs) and
// rewrites what the core wants to send. It signs only with its own key: everything it forges
// is either signed as itself, or bytes it received from others and replays.
import { encodeMessage } from '../codec';
import type { Effect } from '../effects';
import { toHex } from '../hash';
import type { Replica } from '../replica';
import { computeBlockHash, proposalSigningBytes, timeoutSigningBytes, voteSigningBytes } from '../signing';
import type { Signer } from '../crypto';
import type { Block, Proposal, TimeoutMessage, ValidatorId, Vote } from '../types';
import type { ValidatorSet } from '../validators';
import type { Prng } from './prng';

export const BYZANTINE_BEHAVIOURS = ['silent', 'equivocate', 'replay', 'invalid-votes', 'fork'] as const;
/**
 * silent: sends nothing. equivocate: two different proposals (to different halves) and two
 * votes per view. replay: re-sends old messages it received. invalid-votes: votes for blocks
 * that do not exist, bad signatures, garbage and oversized bytes. fork: as leader, drags replicas
 * into its view with a timeout and proposes a block that forks below the committed chain.
 */
export type ByzantineBehaviour = (typeof BYZANTINE_BEHAVIOURS)[number];

/** An effect, or raw bytes to put on the wire (optionally after an extra delay). */
export type AdversaryAction = Effect | { type: 'raw'; to: ValidatorId; bytes: Uint8Array; delay: number };

export class ByzantineAdversary {
  private readonly received: Uint8Array[] = [];

  constructor(
    readonly behaviour: ByzantineBehaviour,
    private readonly self: ValidatorId,
    private readonly set: ValidatorSet,
    private readonly signer: Signer,
    private readonly prng: Prng,
  ) {}

  /** Everything delivered to this replica (for replays). */
  observe(bytes: Uint8Array): void {
    if (this.behaviour !== 'replay') return;
    if (this.received.length < 512) this.received.push(bytes);
    else this.received[this.prng.int(0, 511)] = bytes;
  }

  transform(effects: Effect[], replica: Replica): AdversaryAction[] {
    switch (this.behaviour) {
      case 'silent':
        return effects.filter((e) => e.type !== 'send' && e.type !== 'broadcast');
      case 'equivocate':
        return effects.flatMap((e) => this.equivocate(e));
      case 'replay':
        return [...effects, ...this.replays()];
      case 'invalid-votes':
        return [...effects, ...this.invalidVotes(replica)];
      case 'fork':
        return effects.flatMap((e) => this.fork(e, replica));
    }
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

  private fork(e: Effect, replica: Replica): AdversaryAction[] {
    if (!(e.type === 'broadcast' && e.message.type === 'proposal' && e.message.block.proposer === this.self)) return [e];
    const p = e.message;
    const qc = p.block.justify; // QC of view - 1 (or older after a TC)
    const z = replica.block(qc.blockHash);
    const y = z ? replica.block(z.parentHash) : undefined;
    if (!z || !y || y.height < 1) return [e];
    // Fork below y: a block at y's height whose parent is y's parent, justified by y's own QC
    // for that parent. Replicas that keep the lock rule refuse it.
    const fork: Block = { height: y.height, view: p.block.view, proposer: this.self, parentHash: y.parentHash, justify: y.justify, payload: [this.prng.bytes(8)] };
    const forked = this.signProposal(fork, null);
    // Replicas still in view - 1 would drop the fork as a future view: a timeout for this view
    // carrying the QC of view - 1 moves them in first.
    const pull: TimeoutMessage = { type: 'timeout', view: p.block.view, highQc: qc, lastTc: p.tc, voter: this.self, signature: this.signer.sign(timeoutSigningBytes(this.set.chainTag, p.block.view, qc.view)) };
    return this.others().flatMap((to) => [this.raw(to, pull), this.raw(to, forked, 20)]);
  }
}
