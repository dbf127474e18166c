// An in-memory cluster of 4 replicas for the shell's unit tests: real FALCON-1024 signatures
// (falcon-signatures.ts), each replica's effects performed by an EffectRunner into a real
// ValidatorStore in a temp dir (its persists resolve when the WAL is synced); messages delivered
// FIFO in-process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, decodeMessage, Replica, ValidatorSet, type CommittedBlock, type Message, type RestoredState, type ValidatorId } from '@stoq/consensus';
import { ManualClock, nativeFalcon, type FalconKeypair } from '@stoq/core';
import { EffectRunner, type EffectSinks } from '../src/effect-runner';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { falconSigner } from '../src/falcon-signatures';
import { ValidatorStore, type RetentionPolicy, type StoreIdentity } from '../src/store/validator-store';
import { decodeOperation, type Operation } from '../src/operations';

export const N = 4;
let keys: FalconKeypair[] | null = null;
/** Use these keys (e.g. those a child process generated) instead of fresh ones. */
export function useFalconKeys(k: FalconKeypair[]): void {
  keys = k;
}
export function falconKeys(): FalconKeypair[] {
  keys ??= Array.from({ length: N }, () => nativeFalcon.keypair());
  return keys;
}

export function validatorSet(): ValidatorSet {
  return ValidatorSet.fromGenesis({ chainId: 'unit-chain', validators: falconKeys().map((k, id) => ({ id, publicKey: k.publicKey, weight: 1 })) });
}

export const identityOf = (id: number): StoreIdentity => ({ chainId: 'unit-chain', genesisSha256: 'a'.repeat(64), validatorId: id });

export interface Node {
  id: ValidatorId;
  dir: string;
  store: ValidatorStore;
  replica: Replica;
  runner: EffectRunner;
  commits: CommittedBlock[];
  fatal: unknown[];
}

export class TestCluster {
  readonly set = validatorSet();
  readonly clock = new ManualClock();
  readonly nodes: Array<Node | null>;
  readonly root: string;
  readonly queue: Array<{ from: ValidatorId; to: ValidatorId; bytes: Uint8Array }> = [];
  /** Persists whose WAL sync is in flight (their runners wait for them). */
  private readonly syncing = new Set<Promise<void>>();
  /** Called with every message a node puts on the wire (before it is queued). */
  onSend: (from: ValidatorId, m: Message) => void = () => undefined;

  /** The temp dir is removed by close() when the cluster made it. */
  private readonly ownsRoot: boolean;

  constructor(
    root?: string,
    /** The stores' snapshot and pruning policy (default: ValidatorStore's). */
    private readonly policy: Partial<RetentionPolicy> = {},
  ) {
    this.ownsRoot = root === undefined;
    this.root = root ?? mkdtempSync(join(tmpdir(), 'hypermesh-unit-'));
    this.nodes = Array.from({ length: N }, (_, id) => this.open(id));
  }

  open(id: ValidatorId): Node {
    const dir = join(this.root, `v${id}`);
    const { store, restored } = ValidatorStore.open(dir, this.set, identityOf(id), undefined, this.policy);
    return this.node(id, dir, store, restored);
  }

  /** Restarts `id` on its store after `prepare` (e.g. a state sync) returned what to restore from. */
  async restartAfter(id: ValidatorId, prepare: (store: ValidatorStore, restored: RestoredState | undefined) => Promise<RestoredState | undefined>): Promise<Node> {
    const dir = join(this.root, `v${id}`);
    const opened = ValidatorStore.open(dir, this.set, identityOf(id), undefined, this.policy);
    const n = this.node(id, dir, opened.store, await prepare(opened.store, opened.restored));
    this.nodes[id] = n;
    return n;
  }

  private node(id: ValidatorId, dir: string, store: ValidatorStore, restored: RestoredState | undefined): Node {
    const replica = new Replica({ genesis: this.set, self: id, signer: falconSigner(nativeFalcon, id, falconKeys()[id]!.secretKey), verifier: falconSignatureVerifier(nativeFalcon), timing: { baseTimeout: 1000, maxTimeout: 8000 }, restored });
    const node: Node = { id, dir, store, replica, runner: null as unknown as EffectRunner, commits: [], fatal: [] };
    const sinks: EffectSinks = {
      persist: (state, blocks) => {
        const durable = store.persist(state, blocks);
        this.syncing.add(durable);
        void durable.then(
          () => this.syncing.delete(durable),
          () => this.syncing.delete(durable),
        );
        return durable;
      },
      send: (to, m) => this.wire(id, to, m),
      broadcast: (m) => {
        for (let to = 0; to < N; to++) if (to !== id) this.wire(id, to, m);
      },
      commit: (c) => {
        // Typed operations in a payload are applied (the registry); other bytes are opaque.
        store.appendCommitted(c, c.block.payload.map(decodeOperation).filter((o): o is Operation => o !== null));
        node.commits.push(c);
      },
      setTimer: () => undefined,
      evidence: () => undefined,
    };
    node.runner = new EffectRunner(sinks, { onFatal: (err) => node.fatal.push(err) });
    node.runner.perform(replica.start(this.clock.now()));
    return node;
  }

  private wire(from: ValidatorId, to: ValidatorId, m: Message): void {
    this.onSend(from, m);
    this.queue.push({ from, to, bytes: encodeMessage(m) });
  }

  /**
   * Delivers queued messages until `done()`; when the queue is empty it first waits for the WAL
   * syncs in flight (the runners waiting on them then send more), and only when nothing is in
   * flight fires all timers.
   */
  async run(done: () => boolean, maxSteps = 20_000): Promise<void> {
    for (let i = 0; i < maxSteps && !done(); i++) {
      if (this.queue.length === 0 && this.syncing.size > 0) {
        await Promise.allSettled([...this.syncing]);
        await Promise.resolve(); // the runners' continuations
        i--;
        continue;
      }
      const e = this.queue.shift();
      if (!e) {
        this.clock.advance(1000);
        for (const n of this.nodes) if (n) n.runner.perform(n.replica.onTimeout(this.clock.now()));
        continue;
      }
      const n = this.nodes[e.to];
      if (!n) continue;
      decodeMessage(e.bytes); // what goes on the wire decodes
      const step = n.replica.onMessageBytes(e.from, e.bytes, this.clock.now());
      n.runner.perform(step.effects);
    }
    if (!done()) throw new Error('cluster did not reach the condition');
  }

  crash(id: ValidatorId): void {
    const n = this.nodes[id]!;
    n.runner.close();
    n.store.close();
    this.nodes[id] = null;
  }

  restart(id: ValidatorId): Node {
    const n = this.open(id);
    this.nodes[id] = n;
    return n;
  }

  close(): void {
    for (const n of this.nodes) if (n) {
      n.runner.close();
      n.store.close();
    }
    if (this.ownsRoot) rmSync(this.root, { recursive: true, force: true });
  }
}
