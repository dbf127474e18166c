// One simulated run: N replicas (some Byzantine) on a simulated network and disks, driven by a
// discrete-event loop from one seed. Replicas see only their own skewed clocks. The run stops
// at `ticks` or at the first violation the checker finds.
import { decodeCommittedBlock, decodeMessage, encodeCommittedBlock, encodeMessage } from '../codec';
import type { Effect } from '../effects';
import { SafetyViolation, type RejectCode } from '../errors';
import { Replica } from '../replica';
import { decodeSafetyState, encodeSafetyState, initialSafetyState } from '../safety';
import { computeBlockHash } from '../signing';
import type { Message, ValidatorId } from '../types';
import { ValidatorSet } from '../validators';
import { ByzantineAdversary, type AdversaryAction } from './byzantine';
import { Checker, type Violation } from './checker';
import { SimDisk } from './disk';
import { EventQueue } from './event-queue';
import { KeyedHashKeys } from './keyed-signatures';
import { SimNetwork } from './network';
import { simOperation, simOperationCheck } from './operations';
import { Prng } from './prng';
import { scenarioFor, type Scenario, type SimulationOptions } from './profile';

type SimEvent =
  | { kind: 'deliver'; from: ValidatorId; to: ValidatorId; bytes: Uint8Array }
  | { kind: 'timer'; replica: ValidatorId; generation: number }
  | { kind: 'crash'; replica: ValidatorId }
  | { kind: 'restart'; replica: ValidatorId }
  | { kind: 'partition'; groups: number[] }
  | { kind: 'heal' }
  | { kind: 'calm' }
  | { kind: 'submit' };

interface Node {
  id: ValidatorId;
  replica: Replica | null;
  disk: SimDisk;
  adversary: ByzantineAdversary | null;
  timerGeneration: number;
  crashPending: boolean;
  /** Stopped for good after tripping an assertion or throwing. */
  failed: boolean;
  /** The last view checked for abandonment (see abandonIfStuck). */
  checkedView: number;
}

export interface SimulationResult {
  seed: number;
  ok: boolean;
  violations: Violation[];
  scenario: {
    ticks: number;
    replicas: number;
    byzantine: Scenario['byzantine'];
    network: Scenario['network'];
    timing: Scenario['timing'];
    emptyBlockDelay: number;
    broadcastVotes: boolean;
    partitions: number;
    crashes: number;
    healAt: number;
    livenessBound: number;
    livenessChecked: boolean;
    mutation: string | null;
  };
  /** Highest and lowest committed height among honest replicas at the end. */
  committedHeight: number;
  slowestHonestHeight: number;
  committedOps: number;
  /** Invalid operations leaders dropped from their mempools (operation-dropped effects). */
  droppedOps: number;
  commitEvents: number;
  evidence: number;
  /** Ticks from the heal until the slowest honest replica committed a new block. */
  recoveryTicks: number | null;
  messages: { sent: number; dropped: number; delivered: number };
  rejections: Partial<Record<RejectCode, number>>;
  disk: { fsyncs: number; tornWrites: number; restarts: number };
  /** Simulated ticks actually run (less than `ticks` if stopped at a violation). */
  simulatedTicks: number;
}

export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly sc: Scenario;
  private readonly set: ValidatorSet;
  private readonly keys: KeyedHashKeys;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly prng: Prng;
  private readonly network: SimNetwork;
  private readonly nodes: Node[];
  private readonly checker: Checker;
  private readonly honest: Set<ValidatorId>;
  private readonly rejections: Partial<Record<RejectCode, number>> = {};
  private delivered = 0;
  private readonly decoded = new WeakMap<Uint8Array, Message>();
  private restarts = 0;
  private opCounter = 0;
  private droppedOps = 0;
  private now = 0;
  private calm = false;

  constructor(private readonly options: SimulationOptions) {
    this.sc = scenarioFor(options);
    const sc = this.sc;
    this.prng = new Prng(sc.seed, 2);
    this.keys = new KeyedHashKeys(sc.replicas, sc.seed);
    this.set = ValidatorSet.fromGenesis({ chainId: `sim-${sc.seed}`, validators: this.keys.validators });
    this.network = new SimNetwork(sc.network, new Prng(sc.seed, 3), (at, from, to, bytes) => this.queue.push(at, { kind: 'deliver', from, to, bytes }));
    const byz = new Map(sc.byzantine.map((b) => [b.id, b.behaviour]));
    this.honest = new Set(this.set.validators.map((v) => v.id).filter((id) => !byz.has(id)));
    this.checker = new Checker(this.set, this.keys.verifier(), this.honest, { checkCommitQc: options.checkCommitQc ?? true, operationCheck: simOperationCheck });
    this.nodes = this.set.validators.map((v) => {
      const behaviour = byz.get(v.id);
      return {
        id: v.id,
        replica: null,
        disk: new SimDisk(),
        adversary: behaviour ? new ByzantineAdversary(behaviour, v.id, this.set, this.keys.signer(v.id), new Prng(sc.seed, 100 + v.id)) : null,
        timerGeneration: 0,
        crashPending: false,
        checkedView: 0,
        failed: false,
      };
    });
  }

  run(): SimulationResult {
    const sc = this.sc;
    for (const p of sc.partitions) {
      this.queue.push(p.at, { kind: 'partition', groups: p.groups });
      this.queue.push(Math.min(p.at + p.duration, sc.healAt), { kind: 'heal' });
    }
    for (const c of sc.crashes) this.queue.push(c.at, { kind: 'crash', replica: c.replica });
    this.queue.push(sc.healAt, { kind: 'calm' });
    if (sc.opsPerSecond > 0) this.queue.push(0, { kind: 'submit' });
    for (const node of this.nodes) this.boot(node, 0);

    const stopOnViolation = this.options.stopOnViolation ?? true;
    while (this.queue.peekTime() <= sc.ticks) {
      const { at, event } = this.queue.pop()!;
      this.now = at;
      this.handle(event);
      if (stopOnViolation && !this.checker.ok) break;
    }
    const livenessChecked = this.checker.ok && this.now >= sc.ticks && sc.ticks - sc.healAt >= sc.livenessBound;
    if (livenessChecked) this.checker.checkLiveness(sc.livenessBound);
    // Operation liveness is judged in runs without crashes or partitions (loss, delay, Byzantine
    // replicas allowed): with them an operation can be lost with every holder's mempool, or only
    // get its turn well after the block-liveness bound.
    const opsChecked = this.options.submitToAll === true && sc.crashes.length === 0 && sc.partitions.length === 0;
    if (this.checker.ok && opsChecked && this.now >= sc.ticks) this.checker.checkOperations(sc.ticks - sc.livenessBound, this.now);
    return {
      seed: sc.seed,
      ok: this.checker.ok,
      violations: this.checker.violations,
      scenario: {
        ticks: sc.ticks,
        replicas: sc.replicas,
        byzantine: sc.byzantine,
        network: sc.network,
        timing: sc.timing,
        emptyBlockDelay: sc.emptyBlockDelay,
        broadcastVotes: sc.broadcastVotes,
        partitions: sc.partitions.length,
        crashes: sc.crashes.length,
        healAt: sc.healAt,
        livenessBound: sc.livenessBound,
        livenessChecked,
        mutation: this.options.unsafeMutationForTests ?? null,
      },
      committedHeight: this.checker.maxHonestHeight(),
      slowestHonestHeight: this.checker.minHonestHeight(),
      committedOps: this.checker.committedOps,
      droppedOps: this.droppedOps,
      commitEvents: this.checker.commits,
      evidence: this.checker.evidence,
      recoveryTicks: this.checker.recoveryTicks(),
      messages: { sent: this.network.sent, dropped: this.network.dropped, delivered: this.delivered },
      rejections: this.rejections,
      disk: {
        fsyncs: this.nodes.reduce((s, n) => s + n.disk.fsyncs, 0),
        tornWrites: this.nodes.reduce((s, n) => s + n.disk.tornWrites, 0),
        restarts: this.restarts,
      },
      simulatedTicks: Math.min(this.now, sc.ticks),
    };
  }

  // ---- clocks: each replica reads its own offset, drifting clock -----------------------------

  private localTime(id: ValidatorId, t: number): number {
    const c = this.sc.clocks[id]!;
    return t + c.offset + Math.floor((t * c.driftPpm) / 1e6);
  }

  private globalTime(id: ValidatorId, local: number): number {
    const c = this.sc.clocks[id]!;
    let t = Math.max(this.now, Math.floor(((local - c.offset) * 1e6) / (1e6 + c.driftPpm)));
    while (this.localTime(id, t) < local) t++;
    return t;
  }

  // ---- events ---------------------------------------------------------------------------------

  private handle(e: SimEvent): void {
    switch (e.kind) {
      case 'deliver': {
        const node = this.nodes[e.to]!;
        if (!node.replica) return;
        this.delivered++;
        node.adversary?.observe(e.bytes);
        const replica = node.replica;
        this.step(node, () => {
          const s = this.receive(replica, e.from, e.bytes, this.localTime(node.id, this.now));
          if (s.rejection) this.rejections[s.rejection.code] = (this.rejections[s.rejection.code] ?? 0) + 1;
          return s.effects;
        });
        return;
      }
      case 'timer': {
        const node = this.nodes[e.replica]!;
        const replica = node.replica;
        if (!replica || e.generation !== node.timerGeneration) return;
        this.step(node, () => replica.onTimeout(this.localTime(node.id, this.now)));
        return;
      }
      case 'crash': {
        const node = this.nodes[e.replica]!;
        if (!node.replica || this.calm) return;
        // Half the time between steps, half in the middle of the replica's next step.
        if (this.prng.chance(0.5)) this.crash(node);
        else node.crashPending = true;
        return;
      }
      case 'restart': {
        const node = this.nodes[e.replica]!;
        if (!node.replica && !node.failed) this.boot(node, this.now);
        return;
      }
      case 'partition':
        if (!this.calm) this.network.partition(e.groups);
        return;
      case 'heal':
        this.network.heal();
        return;
      case 'calm':
        this.calm = true;
        this.network.calm();
        for (const node of this.nodes) {
          node.crashPending = false;
          if (!node.replica && !node.failed) this.boot(node, this.now);
        }
        this.checker.markHeal(this.now);
        return;
      case 'submit': {
        const up = this.nodes.filter((n) => n.replica !== null);
        if (up.length > 0) {
          // Every 50th operation is invalid: honest leaders must drop it, never propose it.
          const n = this.opCounter++;
          const op = simOperation(this.sc.seed, n, n % 50 === 49);
          if (this.options.submitToAll) {
            // Recorded first: an offer step may crash its replica, which then holds nothing.
            if (n % 50 !== 49) this.checker.onSubmitted(op, this.now, up.map((u) => u.id));
            for (const node of up) if (node.replica) this.offer(node, op);
          } else this.offer(this.prng.pick(up), op);
        }
        this.queue.push(this.now + Math.max(1, Math.round(1000 / this.sc.opsPerSecond)), { kind: 'submit' });
        return;
      }
    }
  }

  /**
   * An operation handed to a replica, as a shell does: a paced leader proposes at once, and that
   * is a step (a pending crash may hit it). An offer with no effects is not: it leaves a pending
   * crash for the next step that does something (torn persists need such steps).
   */
  private offer(node: Node, op: Uint8Array): void {
    const { effects } = node.replica!.offer(op, this.localTime(node.id, this.now));
    if (effects.length > 0) this.step(node, () => effects);
  }

  /** Starts a replica from what its disk holds (nothing, on the first boot). */
  private boot(node: Node, t: number): void {
    const rec = node.disk.recover();
    const committed = rec.log.map((b) => decodeCommittedBlock(b));
    const safety = rec.state ? decodeSafetyState(rec.state) : undefined;
    const pendingBlocks = rec.blocks;
    if (t > 0) this.restarts++;
    this.checker.restarted(node.id, committed.length > 0 ? committed[committed.length - 1]!.block.height : 0);
    node.checkedView = 0;
    this.step(node, () => {
      node.replica = new Replica({
        genesis: this.set,
        self: node.id,
        signer: this.keys.signer(node.id),
        verifier: this.keys.verifier(),
        timing: this.sc.timing,
        emptyBlockDelay: this.sc.emptyBlockDelay,
        broadcastVotes: this.sc.broadcastVotes,
        restored: { safety: safety ?? initialSafetyState(this.set.genesisQc), committed, pendingBlocks },
        validateOperation: simOperationCheck,
        ...(this.options.unsafeMutationForTests ? { unsafeMutationForTests: this.options.unsafeMutationForTests } : {}),
      });
      return node.replica.start(this.localTime(node.id, t));
    });
  }

  private crash(node: Node): void {
    this.checker.crashed(node.id);
    node.replica = null;
    node.crashPending = false;
    node.timerGeneration++;
    node.disk.crash(this.prng, this.sc.tornWriteProbability);
    const plan = this.sc.crashes.find((c) => c.replica === node.id && c.at <= this.now);
    const downFor = plan?.downFor ?? 500;
    if (this.now + downFor < this.sc.healAt) this.queue.push(this.now + downFor, { kind: 'restart', replica: node.id });
  }

  /** Runs one replica step and performs its effects in order, the way a shell must. */
  private step(node: Node, body: () => Effect[]): void {
    let effects: Effect[];
    try {
      effects = body();
    } catch (err) {
      this.replicaFailed(node, err);
      return;
    }
    const actions: AdversaryAction[] = node.adversary && node.replica ? node.adversary.transform(effects, node.replica) : effects;
    const crashAt = node.crashPending ? this.prng.int(0, actions.length) : -1;
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i]!;
      if (i === crashAt) {
        // Power lost while performing effect i: nothing from i on happens. A persist in flight
        // is torn, and the messages it was meant to protect are never sent.
        if (a.type === 'persist') node.disk.tornPersist(this.prng, encodeSafetyState(a.state));
        this.crash(node);
        return;
      }
      this.perform(node, a);
    }
    if (crashAt === actions.length) this.crash(node);
    else this.abandonIfStuck(node);
  }

  /**
   * As apps/hypermesh's shell does: an honest replica entering a view whose leader, or whose
   * next leader (who collects its votes, unless votes are broadcast), it cannot reach (crashed,
   * or across a partition) abandons the view at once (Replica.abandonView). The shell's knowledge is only as good as
   * its links; here it is exact, which is what the real shell approximates after a timeout.
   */
  private abandonIfStuck(node: Node): void {
    const replica = node.replica;
    if (!replica || node.adversary || replica.view === node.checkedView) return;
    const view = replica.view;
    node.checkedView = view;
    const set = replica.validatorSet;
    const cut = (v: ValidatorId): boolean => v !== node.id && (this.nodes[v]!.replica === null || !this.network.reachable(node.id, v));
    // With votes broadcast any replica forms the QC: only the leader is needed.
    if (cut(set.leader(view)) || (!this.sc.broadcastVotes && cut(set.leader(view + 1)))) this.step(node, () => replica.abandonView(this.localTime(node.id, this.now)));
  }

  private perform(node: Node, a: AdversaryAction): void {
    switch (a.type) {
      case 'persist':
        node.disk.persistState(encodeSafetyState(a.state), a.blocks);
        return;
      case 'send':
        this.recordSigned(node, a.message);
        this.network.send(this.now, node.id, a.to, this.encode(a.message));
        return;
      case 'broadcast': {
        this.recordSigned(node, a.message);
        const bytes = this.encode(a.message);
        for (const other of this.nodes) if (other.id !== node.id) this.network.send(this.now, node.id, other.id, bytes);
        return;
      }
      case 'raw':
        this.network.send(this.now, node.id, a.to, a.bytes, a.delay);
        return;
      case 'commit':
        node.disk.append(encodeCommittedBlock(a.committed));
        node.disk.pruneBlocks(a.committed.block.height);
        this.checker.onCommit(node.id, a.committed, this.now);
        return;
      case 'set-timer':
        node.timerGeneration++;
        this.queue.push(this.globalTime(node.id, a.at), { kind: 'timer', replica: node.id, generation: node.timerGeneration });
        return;
      case 'evidence':
        this.checker.onEvidence(node.id, a.evidence, this.now);
        return;
      case 'operation-dropped':
        this.droppedOps++;
        return;
    }
  }

  private recordSigned(node: Node, m: Message): void {
    if (node.adversary !== null) return;
    if (m.type === 'vote' && m.voter === node.id) this.checker.onSigned(node.id, 'vote', m.view, m.blockHash, this.now);
    else if (m.type === 'proposal' && m.block.proposer === node.id) this.checker.onSigned(node.id, 'proposal', m.block.view, computeBlockHash(this.set.chainTag, m.block), this.now);
  }

  private encode(m: Message): Uint8Array {
    return encodeMessage(m);
  }

  /**
   * Hands wire bytes to a replica. A broadcast puts one bytes object on N - 1 links, so the
   * decoded message is cached per bytes object (replicas never mutate messages); bytes that do
   * not decode go through onMessageBytes for the rejection.
   */
  private receive(replica: Replica, from: ValidatorId, bytes: Uint8Array, now: number): ReturnType<Replica['onMessage']> {
    let m = this.decoded.get(bytes);
    if (m === undefined) {
      try {
        m = decodeMessage(bytes);
      } catch {
        return replica.onMessageBytes(from, bytes, now);
      }
      this.decoded.set(bytes, m);
    }
    return replica.onMessage(from, m, now);
  }

  private replicaFailed(node: Node, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e instanceof SafetyViolation) this.checker.onAssertion(node.id, e, this.now);
    else this.checker.onException(node.id, e, this.now);
    node.failed = true;
    node.replica = null;
    node.timerGeneration++;
  }
}
