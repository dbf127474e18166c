// One validator: the consensus replica driven by the real world. Peer bytes, timer expiries and
// client submissions go into the replica; its effects come out through the EffectRunner (in
// order: persist is fsync'd before anything after it) into the store, the validator links and
// the commit listeners. A SafetyViolation or a failed write stops the validator: onFatal.
import {
  encodeMessage,
  Replica,
  SafetyViolation,
  type CommittedBlock,
  type EquivocationEvidence,
  type Message,
  type OperationCheck,
  type PacemakerTiming,
  type QuorumCertificate,
  type ReplicaStatus,
  type RestoredState,
  type SubmitResult,
  type ValidatorId,
} from '@stoq/consensus';
import { nativeFalcon, type Clock, type FalconScheme, type TimerHandle } from '@stoq/core';
import type { Logger } from 'pino';
import { EffectRunner } from './effect-runner';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { falconSigner } from './falcon-signatures';
import type { GenesisValidator, LoadedGenesis } from './genesis';
import type { OperationResult } from './app/apply';
import { operationValidity } from './app/validity';
import { decodeOperation, encodeOperation, operationContent, type Operation, type OperationBody } from './operations';
import type { ValidatorStore } from './store/validator-store';
import { LatencyWindow } from './latency-window';

/** Where consensus messages leave the process (the validator links). */
export interface ConsensusOutbox {
  send(to: ValidatorId, bytes: Uint8Array): void;
  broadcast(bytes: Uint8Array): void;
  /** An operation submitted here, to every other validator's mempool (best effort). */
  forward(operation: Uint8Array): void;
}

export interface ValidatorOptions {
  genesis: LoadedGenesis;
  self: GenesisValidator;
  falconSecretKey: Uint8Array;
  falcon?: FalconScheme;
  store: ValidatorStore;
  restored: RestoredState | undefined;
  outbox: ConsensusOutbox;
  clock: Clock;
  logger: Logger;
  timing?: Partial<PacemakerTiming>;
  /** An idle leader waits this long before an empty proposal (default 250 ms; Replica emptyBlockDelay). */
  emptyBlockDelayMs?: number;
  /** Votes to every validator, so each commits as soon as the votes arrive (default false; Replica broadcastVotes). */
  broadcastVotes?: boolean;
  mempoolMaxOps?: number;
  /** Committed blocks the replica keeps in memory to serve peers' catch-up (default 10,000). */
  retainBlocks?: number;
  /** The validator cannot go on (failed write, safety assertion): stop the process. */
  onFatal(err: unknown): void;
  /**
   * A submission not committed after this long is submitted again with the next attempt number
   * (default 3 × the base timeout). Why: a mempool is lost with its validator (a crash, or every
   * forwarded copy dropped by full peers). It was first the workaround for a livelock in the core
   * (operations of a block that a TC abandoned came back only when its height committed), which
   * the core now fixes itself (Replica.learnTc releases them). A re-encoded copy is a new entry;
   * the application applies an id once.
   */
  resubmitAfterMs?: number;
  /** Most submissions waiting for their commit at once (default 10,000); beyond: 'full'. */
  maxWaiting?: number;
  /**
   * Whether validator `id` is known to be unreachable (its link down for a while). A view led by
   * such a validator, or whose votes go to it (it leads the next view), cannot produce a QC and
   * is abandoned at once (Replica.abandonView) instead of after the view timer: with one
   * validator down, one view in four would otherwise cost a full timeout.
   */
  isUnreachable?(id: ValidatorId): boolean;
  /** Equivocation evidence (to be reported to Caesar once that path exists). */
  onEvidence?(evidence: EquivocationEvidence): void;
  /**
   * Application validity of operations (default: well-formed Operations only, four-proof
   * validations refused: app/validity.ts without a verifier).
   */
  validateOperation?: OperationCheck;
}

export type SubmitOutcome =
  /** `result`: the outcome of a typed operation's first commit (null for an opaque payload). */
  | { kind: 'committed'; height: number; blockHash: string; qc: QuorumCertificate; duplicate: boolean; result: OperationResult | null }
  /** The validity check refused it when this validator was about to propose it. */
  | { kind: 'refused'; detail: string }
  /** Committed at `height` long ago: the block left this validator's log (store pruning). */
  | { kind: 'pruned'; height: number; oldestKept: number }
  | { kind: 'full' }
  | { kind: 'too-large' }
  | { kind: 'conflict'; detail: string }
  /** The validator stopped (a fatal error or close) before it could take the operation. */
  | { kind: 'stopped' };

interface Waiter {
  /** operationContent: what a commit of this id must carry to answer this submission. */
  content: Buffer;
  submittedAt: number;
  resolve(outcome: SubmitOutcome): void;
}

/** Re-submissions of one operation (each new bytes: a fresh mempool entry everywhere). */
const MAX_ATTEMPTS = 20;

export class Validator {
  readonly replica: Replica;
  private readonly runner: EffectRunner;
  private timer: TimerHandle | null = null;
  private readonly waiters = new Map<string, Waiter[]>();
  /** Per waited-for operation id: the last attempt submitted here and when. */
  private readonly attempts = new Map<string, { attempt: number; body: OperationBody; lastAt: number }>();
  private resubmitTimer: TimerHandle | null = null;
  private waiting = 0;
  private readonly commitListeners = new Set<(c: CommittedBlock) => void>();
  private closed = false;
  private markClosed!: () => void;
  /** Resolves when the validator stops (closed or fatal). */
  readonly closing = new Promise<void>((r) => (this.markClosed = r));
  readonly commitLatency = new LatencyWindow(1024);
  readonly counters = { blocksCommitted: 0, operationsCommitted: 0, messagesAccepted: 0, messagesRejected: 0, evidence: 0 };
  private lastCommitAt = 0;
  private lastView = 0;

  constructor(private readonly opts: ValidatorOptions) {
    const falcon = opts.falcon ?? nativeFalcon;
    this.replica = new Replica({
      genesis: opts.genesis.validatorSet,
      self: opts.self.id,
      signer: falconSigner(falcon, opts.self.id, opts.falconSecretKey),
      verifier: falconSignatureVerifier(falcon),
      timing: opts.timing,
      emptyBlockDelay: opts.emptyBlockDelayMs ?? 250,
      broadcastVotes: opts.broadcastVotes ?? false,
      mempool: opts.mempoolMaxOps !== undefined ? { maxOps: opts.mempoolMaxOps } : undefined,
      restored: opts.restored,
      ...(opts.retainBlocks !== undefined ? { retainCommittedBlocks: opts.retainBlocks } : {}),
      validateOperation: opts.validateOperation ?? operationValidity({ verifier: null, wallClock: () => Date.now() }),
    });
    this.runner = new EffectRunner(
      {
        persist: (state, blocks) => opts.store.persist(state, blocks),
        send: (to, m) => opts.outbox.send(to, encodeMessage(m)),
        broadcast: (m: Message) => opts.outbox.broadcast(encodeMessage(m)),
        commit: (c) => this.applyCommit(c),
        setTimer: (at) => this.arm(at),
        operationDropped: (bytes, detail) => this.dropped(bytes, detail),
        evidence: (e) => {
          this.counters.evidence++;
          opts.logger.warn({ evidence: { kind: e.kind, validator: e.validator, view: e.view } }, 'equivocation evidence');
          opts.onEvidence?.(e);
        },
      },
      {
        onFatal: (err, effect) => this.fatal(err, `performing a ${effect.type} effect`),
      },
    );
  }

  start(): void {
    const s = this.replica.status();
    this.opts.logger.info({ validator: this.opts.self.id, view: s.view, committedHeight: s.committedHeight }, 'validator started');
    this.guard('start', () => this.runner.perform(this.replica.start(this.opts.clock.now())));
  }

  /** Bytes from validator `from` (authenticated by the transport and checked against genesis). */
  onPeerMessage(from: ValidatorId, bytes: Uint8Array): boolean {
    if (this.closed) return false;
    let ok = false;
    this.guard('a message', () => {
      const step = this.replica.onMessageBytes(from, bytes, this.opts.clock.now());
      if (step.rejection) {
        this.counters.messagesRejected++;
        this.opts.logger.debug({ from, code: step.rejection.code, detail: step.rejection.detail }, 'consensus message refused');
      } else {
        this.counters.messagesAccepted++;
        ok = true;
      }
      this.runner.perform(step.effects);
    });
    return ok;
  }

  /**
   * Queues the operation and resolves once a committed block carries it (or at once if it was
   * committed before). Idempotent by operation id.
   */
  submit(operationId: string, payload: Uint8Array, signal?: AbortSignal): Promise<SubmitOutcome> {
    return this.submitOperation({ operationId, body: { kind: 'opaque', payload } }, signal);
  }

  /** As submit, for any typed operation (the caller checked its body: operations.ts bodyProblem). */
  submitOperation(op: Operation, signal?: AbortSignal): Promise<SubmitOutcome> {
    const { operationId, body } = op;
    const already = this.committedOutcome(op);
    if (already) return Promise.resolve(already);
    const content = operationContent(op);
    const waiting = this.waiters.get(operationId);
    if (waiting && !waiting[0]!.content.equals(content)) return Promise.resolve({ kind: 'conflict', detail: `operation ${operationId} is pending with another payload` });
    if (this.waiting >= (this.opts.maxWaiting ?? 10_000)) return Promise.resolve({ kind: 'full' });
    const encoded = encodeOperation({ operationId, body });
    // The waiter is registered before the replica's effects run: a paced leader proposes at once
    // inside offer, and an operation its check refuses is dropped (operation-dropped) right then.
    let outcome: Promise<SubmitOutcome> | undefined;
    const result = this.offer(encoded, () => {
      // Every validator's mempool gets it: with round-robin leaders, a block proposed by this
      // validator may never be certified (e.g. while the next leader is down), another's will.
      this.opts.outbox.forward(encoded);
      outcome = this.waitFor(operationId, content, body, signal);
    });
    if (outcome) return outcome;
    if (result === 'full') return Promise.resolve({ kind: 'full' });
    if (result === 'too-large') return Promise.resolve({ kind: 'too-large' });
    return Promise.resolve({ kind: 'stopped' });
  }

  /** Registers a waiter for the commit of `operationId` (and its re-submission until then). */
  private waitFor(operationId: string, content: Buffer, body: OperationBody, signal: AbortSignal | undefined): Promise<SubmitOutcome> {
    return new Promise<SubmitOutcome>((resolve, reject) => {
      const w: Waiter = { content, submittedAt: this.opts.clock.now(), resolve };
      if (!this.attempts.has(operationId)) this.attempts.set(operationId, { attempt: 0, body, lastAt: this.opts.clock.now() });
      this.armResubmit();
      const list = this.waiters.get(operationId) ?? [];
      list.push(w);
      this.waiters.set(operationId, list);
      this.waiting++;
      signal?.addEventListener(
        'abort',
        () => {
          const l = this.waiters.get(operationId);
          const i = l ? l.indexOf(w) : -1;
          if (l && i >= 0) {
            l.splice(i, 1);
            this.waiting--;
            if (l.length === 0) {
              this.waiters.delete(operationId);
              this.attempts.delete(operationId);
            }
          }
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /**
   * An operation another validator forwarded: into our mempool (not forwarded again). Returns
   * false for bytes that are not an operation; a full mempool just drops it (the submitter's
   * validator keeps its copy).
   */
  onForwardedOperation(from: ValidatorId, bytes: Uint8Array): boolean {
    if (this.closed) return false;
    const op = decodeOperation(bytes);
    if (!op) {
      this.counters.messagesRejected++;
      this.opts.logger.debug({ from }, 'forwarded operation refused: not an Operation');
      return false;
    }
    if (this.opts.store.operationHeight(op.operationId) !== null) return true;
    this.offer(bytes);
    return true;
  }

  status(): ReplicaStatus {
    return this.replica.status();
  }

  /**
   * Installs a fetched snapshot (sync/state-sync.ts fetchSnapshot) while running: the replica
   * jumps to its block, then the store takes its state, in one synchronous step so that no commit
   * can come between. 'busy' when effects are still in flight (try again later), 'stale' when the
   * validator has meanwhile committed that height. A failure after the replica jumped stops the
   * validator (its memory and its store would disagree).
   */
  installSnapshot(data: Uint8Array, committed: CommittedBlock): 'installed' | 'busy' | 'stale' {
    if (this.closed || !this.runner.idle) return 'busy';
    if (committed.block.height <= this.opts.store.committedHeight) return 'stale';
    const step = this.replica.jumpTo(committed, this.opts.clock.now());
    if (step.rejection) {
      this.opts.logger.warn({ code: step.rejection.code, detail: step.rejection.detail }, 'state sync: the replica refused the snapshot block');
      return 'stale';
    }
    try {
      const info = this.opts.store.installSnapshot(data, committed);
      this.opts.logger.info({ height: info.height, digest: info.digest, bytes: info.size }, 'state sync: snapshot installed');
    } catch (err) {
      this.fatal(err, 'installing a snapshot');
      return 'busy';
    }
    this.guard('a snapshot', () => this.runner.perform(step.effects));
    this.settleCommittedWaiters();
    return 'installed';
  }

  /** Submissions whose operation the installed snapshot shows committed: answered now (their blocks were skipped). */
  private settleCommittedWaiters(): void {
    for (const [operationId, list] of [...this.waiters]) {
      const a = this.attempts.get(operationId);
      const out = a ? this.committedOutcome({ operationId, body: a.body }) : null;
      if (!out) continue;
      this.waiters.delete(operationId);
      this.attempts.delete(operationId);
      this.waiting -= list.length;
      for (const w of list) w.resolve(out);
    }
  }

  get lastCommitTime(): number {
    return this.lastCommitAt;
  }

  onCommit(listener: (c: CommittedBlock) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  get stopped(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runner.close();
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.resubmitTimer) this.opts.clock.clearTimeout(this.resubmitTimer);
    this.resubmitTimer = null;
    this.markClosed();
  }

  /** The answer for `op` if its id was committed before (or a conflict), else null. */
  committedOutcome(op: Operation): SubmitOutcome | null {
    const { operationId } = op;
    const height = this.opts.store.operationHeight(operationId);
    if (height === null) return null;
    const c = this.opts.store.block(height);
    if (!c) return { kind: 'pruned', height, oldestKept: this.opts.store.oldestHeight };
    const first = c.block.payload.map(decodeOperation).find((o) => o?.operationId === operationId);
    if (first && !operationContent(first).equals(operationContent(op))) return { kind: 'conflict', detail: `operation ${operationId} was committed at height ${height} with another payload` };
    return { kind: 'committed', height, blockHash: c.hash, qc: c.qc, duplicate: true, result: this.opts.store.operationResult(operationId) };
  }

  /**
   * The committed operation of `operationId` if it is this same validation request (the proof
   * hash, computed at verification, aside), else null.
   */
  committedValidation(operationId: string, body: Extract<OperationBody, { kind: 'certificate.validate' | 'proofs.validate' }>): Operation | null {
    const height = this.opts.store.operationHeight(operationId);
    const c = height === null ? null : this.opts.store.block(height);
    const first = c?.block.payload.map(decodeOperation).find((o) => o?.operationId === operationId);
    if (!first || first.body.kind !== body.kind) return null;
    const same = operationContent({ operationId, body: { ...body, proofHash: first.body.proofHash } }).equals(operationContent(first));
    return same ? first : null;
  }

  /** The replica's validity check refused an operation as it was about to propose it. */
  private dropped(bytes: Uint8Array, detail: string): void {
    const op = decodeOperation(bytes);
    this.opts.logger.info({ operationId: op?.operationId ?? null, detail }, 'operation refused by the validity check');
    if (!op) return;
    const list = this.waiters.get(op.operationId);
    if (!list) return;
    const content = operationContent(op);
    const refused = list.filter((w) => w.content.equals(content));
    if (refused.length === 0) return;
    const rest = list.filter((w) => !w.content.equals(content));
    if (rest.length > 0) this.waiters.set(op.operationId, rest);
    else {
      this.waiters.delete(op.operationId);
      this.attempts.delete(op.operationId);
    }
    this.waiting -= refused.length;
    for (const w of refused) w.resolve({ kind: 'refused', detail });
  }

  private applyCommit(c: CommittedBlock): void {
    const ops = c.block.payload.map(decodeOperation);
    const valid = ops.flatMap((o) => (o ? [o] : []));
    const fresh = new Set(this.opts.store.appendCommitted(c, valid));
    const now = this.opts.clock.now();
    this.lastCommitAt = now;
    this.counters.blocksCommitted++;
    this.counters.operationsCommitted += fresh.size;
    for (const op of ops) {
      if (!op) continue;
      const list = this.waiters.get(op.operationId);
      if (!list) continue;
      this.waiters.delete(op.operationId);
      this.attempts.delete(op.operationId);
      this.waiting -= list.length;
      for (const w of list) {
        if (fresh.has(op.operationId) && w.content.equals(operationContent(op))) {
          this.commitLatency.add((now - w.submittedAt) / 1000);
          w.resolve({ kind: 'committed', height: c.block.height, blockHash: c.hash, qc: c.qc, duplicate: false, result: this.opts.store.operationResult(op.operationId) });
        } else if (!fresh.has(op.operationId)) {
          // committed earlier (this block repeats it): the first commit answers, or a conflict
          w.resolve(this.committedOutcome({ operationId: op.operationId, body: op.body }) ?? { kind: 'conflict', detail: `operation ${op.operationId} was committed with another payload` });
        } else {
          w.resolve({ kind: 'conflict', detail: `operation ${op.operationId} was committed at height ${c.block.height} with another payload` });
        }
      }
    }
    const ids = valid.map((o) => o.operationId);
    if (c.block.height % 100 === 0 || ids.length > 0) this.opts.logger.info({ height: c.block.height, hash: c.hash, operations: ids.length }, 'block committed');
    for (const l of this.commitListeners) {
      try {
        l(c);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'commit listener failed');
      }
    }
  }

  private armResubmit(): void {
    if (this.resubmitTimer !== null || this.closed) return;
    const every = this.opts.resubmitAfterMs ?? 3 * (this.opts.timing?.baseTimeout ?? 1000);
    this.resubmitTimer = this.opts.clock.setTimeout(() => {
      this.resubmitTimer = null;
      if (this.closed) return;
      const now = this.opts.clock.now();
      for (const [operationId, a] of this.attempts) {
        if (now - a.lastAt < every || a.attempt + 1 >= MAX_ATTEMPTS) continue;
        a.attempt++;
        a.lastAt = now;
        const encoded = encodeOperation({ operationId, body: a.body, attempt: a.attempt });
        if (this.offer(encoded) === 'accepted') this.opts.outbox.forward(encoded);
        this.opts.logger.debug({ operationId, attempt: a.attempt }, 'operation submitted again');
      }
      if (this.attempts.size > 0) this.armResubmit();
    }, every);
  }

  private arm(at: number): void {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = this.opts.clock.setTimeout(
      () => {
        this.timer = null;
        if (this.closed) return;
        this.guard('a timeout', () => this.runner.perform(this.replica.onTimeout(this.opts.clock.now())));
      },
      Math.max(0, at - this.opts.clock.now()),
    );
  }

  /**
   * Into the mempool; a leader holding back an empty proposal (pacing) proposes it now.
   * `taken` runs when the mempool holds the operation, before the replica's effects are performed.
   */
  private offer(encoded: Uint8Array, taken?: () => void): SubmitResult | 'stopped' {
    let result: SubmitResult | 'stopped' = 'stopped';
    this.guard('an operation', () => {
      const step = this.replica.offer(encoded, this.opts.clock.now());
      result = step.result;
      if (step.result === 'accepted' || step.result === 'duplicate') taken?.();
      this.runner.perform(step.effects);
    });
    return result;
  }

  private guard(what: string, body: () => void): void {
    if (this.closed) return;
    try {
      body();
    } catch (err) {
      this.fatal(err, `handling ${what}`);
      return;
    }
    // A new view that cannot produce a QC is abandoned at once (bounded: our own timeout cannot
    // move the view; only others' timeouts, in later steps, can).
    for (let i = 0; i < 2 && this.replica.view !== this.lastView && !this.closed; i++) {
      const view = this.replica.view;
      const set = this.replica.validatorSet;
      const leader = set.leader(view);
      this.lastView = view;
      this.opts.logger.debug({ view, leader, highQcView: this.replica.highQc.view, after: what }, 'view');
      const unreachable = this.opts.isUnreachable;
      if (!unreachable) break;
      // The next leader collects this view's votes, unless votes go to everyone (then any
      // replica forms the QC, and abandoning would throw away the one that commits).
      const needed = this.opts.broadcastVotes ? [leader] : [leader, set.leader(view + 1)];
      const dead = needed.find((v) => v !== this.opts.self.id && unreachable(v));
      if (dead === undefined) break;
      this.opts.logger.debug({ view, unreachable: dead }, 'view abandoned: a validator it needs is unreachable');
      try {
        this.runner.perform(this.replica.abandonView(this.opts.clock.now()));
      } catch (err) {
        this.fatal(err, 'abandoning a view');
        return;
      }
    }
  }

  private fatal(err: unknown, doing: string): void {
    if (this.closed) return;
    const kind = err instanceof SafetyViolation ? 'safety assertion' : 'failure';
    this.opts.logger.fatal({ err: (err as Error).message, code: (err as { code?: unknown }).code, doing }, `validator stopped: ${kind}`);
    this.close();
    this.opts.onFatal(err);
  }
}
