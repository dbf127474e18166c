// Four Validators in-process (real FALCON-1024 signatures, real SQLite stores in a temp dir,
// the system clock and timers, messages delivered asynchronously), each running the production
// validity check with a ProofVerifier; validator 0 also serves the HyperMesh methods on a real STOQ
// listener (QUIC on [::1], dev CA identities), and clients call it with their own certificates.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationCheck, ValidatorId } from '@stoq/consensus';
import { DevCa, NodeIdentity, StoqTransport, nativeFalcon, systemClock } from '@stoq/core';
import { createPlot, signStakeAttestationWith, type Plot, type PoStakeProof } from '@stoq/four-proof';
import { RpcClient, RpcServer, StaticResolver } from '@stoq/rpc';
import pino from 'pino';
import { operationValidity } from '../src/app/validity';
import { addAssetMethods } from '../src/assets-service';
import { addConsensusMethods } from '../src/consensus-service';
import { parseGenesis, genesisToJson, type LoadedGenesis } from '../src/genesis';
import type { ValidatorNetwork } from '../src/network/validator-network';
import { ProofVerifier, type ProofVerifierConfig } from '../src/proofs/proof-verifier';
import { ValidatorStore } from '../src/store/validator-store';
import { addValidationMethods } from '../src/validation-service';
import { Validator } from '../src/validator';
import { falconSigner } from '../src/falcon-signatures';
import { falconKeys, N } from './cluster';

export const caesarKeys = nativeFalcon.keypair();
export const LEDGER_KEY = { algorithm: 'falcon-1024' as const, publicKey: caesarKeys.publicKey };
export const NODE_ID = new Uint8Array(32).map((_, i) => i + 7);
let plot: Plot | null = null;
export function nodePlot(): Plot {
  plot ??= createPlot(NODE_ID);
  return plot;
}

/** A stake attestation signed by "Caesar" (or another key). */
export function stake(o: Partial<{ amount: bigint; expiresAtMs: number; nodeId: Uint8Array; secretKey: Uint8Array }> = {}): PoStakeProof {
  const now = Date.now();
  return signStakeAttestationWith(
    { account: '1001', amount: o.amount ?? 5_000n, nodeId: o.nodeId ?? NODE_ID, issuedAtMs: now - 60_000, expiresAtMs: o.expiresAtMs ?? now + 3_600_000 },
    (m) => nativeFalcon.sign(o.secretKey ?? caesarKeys.secretKey, m),
  );
}

export interface ServiceCluster {
  genesis: LoadedGenesis;
  validators: Validator[];
  stores: ValidatorStore[];
  /** Each validator's own four-proof verifier (validator i's validity check; 0 also serves the RPC). */
  verifiers: ProofVerifier[];
  /** Failures that stopped a validator (a test expects none). */
  fatal: unknown[];
  /** Resolves once validator `id` has committed `height`. */
  committed(id: number, height: number): Promise<void>;
  client(service: string): Promise<RpcClient>;
  close(): Promise<void>;
}

export async function startServiceCluster(o: { config?: Partial<ProofVerifierConfig>; checks?: Array<OperationCheck | null | undefined> } = {}): Promise<ServiceCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-service-'));
  const genesis = parseGenesis(JSON.parse(genesisToJson({ chainId: 'svc', validators: falconKeys().map((k, id) => ({ id, instance: `hypermesh-${id + 1}`, falconPublicKey: k.publicKey, weight: 1, address: null })) })));
  // One verifier per validator, as in production: each remembers only the sets it verified itself.
  const verifiers = Array.from({ length: N }, () => new ProofVerifier({ ledgerPublicKey: LEDGER_KEY, maxAnchorAgeBlocks: 1000, ...o.config }));
  const wallClock = (): number => Date.now();
  const validators: Validator[] = [];
  const stores: ValidatorStore[] = [];
  const fatal: unknown[] = [];
  let closed = false;
  const deliver = (to: ValidatorId, f: (v: Validator) => void): void => {
    setImmediate(() => {
      if (!closed) f(validators[to]!);
    });
  };
  for (let id = 0; id < N; id++) {
    const { store, restored } = ValidatorStore.open(join(dir, `v${id}`), genesis.validatorSet, { chainId: 'svc', genesisSha256: genesis.sha256, validatorId: id });
    stores.push(store);
    store.useKnownSets((b) => verifiers[id]!.knownSet(b));
    const check = o.checks?.[id];
    validators.push(
      new Validator({
        genesis,
        self: genesis.validators[id]!,
        falconSecretKey: falconKeys()[id]!.secretKey,
        store,
        restored,
        clock: systemClock,
        logger: pino({ enabled: false }),
        timing: { baseTimeout: 1000, maxTimeout: 4000 },
        emptyBlockDelayMs: 20,
        validateOperation: check === undefined ? operationValidity({ verifier: verifiers[id]!, wallClock, lastSequence: (n) => store.lastSequence(n), isCommitted: (id) => store.operationHeight(id) !== null }) : (check ?? (() => null)),
        outbox: {
          send: (to, bytes) => deliver(to, (v) => v.onPeerMessage(id, bytes)),
          broadcast: (bytes) => {
            for (let to = 0; to < N; to++) if (to !== id) deliver(to, (v) => v.onPeerMessage(id, bytes));
          },
          forward: (op) => {
            for (let to = 0; to < N; to++) if (to !== id) deliver(to, (v) => v.onForwardedOperation(id, op));
          },
        },
        onFatal: (err) => fatal.push(err),
      }),
    );
  }
  for (const v of validators) v.start();

  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const serverId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'server'), service: 'hypermesh', instance: 'hypermesh-1', ca, ipAddresses: ['::1'] });
  const listener = StoqTransport.listen({ identity: serverId, bind: '[::1]:0' });
  const transports: StoqTransport[] = [listener];
  const clients: RpcClient[] = [];
  const rpc = new RpcServer({ service: 'hypermesh' });
  const network = { authenticate: () => 0, isConnected: () => true } as unknown as ValidatorNetwork; // stream/status only
  addConsensusMethods(rpc, { validator: validators[0]!, network, store: stores[0]!, genesis, instance: 'hypermesh-1', signer: falconSigner(nativeFalcon, 0, falconKeys()[0]!.secretKey) });
  addValidationMethods(rpc, { validator: validators[0]!, store: stores[0]!, verifier: verifiers[0]!, wallClock });
  addAssetMethods(rpc, { validator: validators[0]!, store: stores[0]! });
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void rpc.serveConnection(conn);
  })();
  return {
    genesis,
    validators,
    stores,
    verifiers,
    fatal,
    committed: (id, height) =>
      new Promise<void>((resolve) => {
        if (stores[id]!.committedHeight >= height) return resolve();
        const off = validators[id]!.onCommit((c) => {
          if (c.block.height >= height) {
            off();
            resolve();
          }
        });
      }),
    async client(service: string) {
      const id = await NodeIdentity.loadOrCreate({ dataDir: join(dir, `client-${service}`), service, instance: `${service}-1`, ca });
      const t = StoqTransport.create({ identity: id, bind: '[::1]:0' });
      transports.push(t);
      const c = new RpcClient({ connector: (ep, opts) => t.connect(ep, opts), resolver: new StaticResolver({ hypermesh: [listener.localAddress] }), retry: { maxAttempts: 1 } });
      clients.push(c);
      return c;
    },
    async close() {
      closed = true;
      for (const v of validators) v.close();
      for (const c of clients) c.close();
      await Promise.allSettled(transports.map((t) => t.close()));
      for (const s of stores) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
