// `hypermesh serve`: one validator process. The STOQ runtime (enrollment, DNS registration,
// renewal, revocation) from @stoq/service; then the store, the validator links and the replica.
import { join } from 'node:path';
import { nativeFalcon, systemClock } from '@stoq/core';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { UdpDnsQuerier } from '@stoq/rpc';
import { dnsServerOf, runService, type RunningService } from '@stoq/service';
import { operationValidity } from './app/validity';
import { addAssetMethods } from './assets-service';
import { addConsensusMethods } from './consensus-service';
import { consensusMetrics, proofVerifierMetrics } from './consensus-metrics';
import { loadGenesis, selfInGenesis } from './genesis';
import { ValidatorDirectory } from './network/validator-directory';
import { ValidatorNetwork } from './network/validator-network';
import { loadFourProofConfig } from './proofs/four-proof-config';
import { ProofVerifier } from './proofs/proof-verifier';
import { DEFAULT_RETENTION, ValidatorStore } from './store/validator-store';
import { falconSigner } from './falcon-signatures';
import { rpcSnapshotSources } from './sync/rpc-sources';
import { fetchSnapshot, stateSync } from './sync/state-sync';
import { BehindMonitor } from './sync/behind-monitor';
import { addValidationMethods } from './validation-service';
import { Validator, type ConsensusOutbox } from './validator';
import { caesarOverRpc } from './caesar/caesar-reports';
import { EvidenceReporter } from './caesar/evidence-reporter';
import { RewardReporter } from './caesar/reward-reporter';
import { caesarReportMetrics } from './caesar/report-metrics';
import type { GenesisValidator, LoadedGenesis } from './genesis';
import type { Logger } from 'pino';

/** Longest a SIGTERM/SIGINT shutdown may take before the process exits regardless. */
export const SHUTDOWN_LIMIT_MS = 20_000;

export interface ServeOptions {
  configPath: string;
  genesisPath: string;
  dataDir?: string;
  joinToken?: string;
  baseTimeoutMs: number;
  emptyBlockDelayMs: number;
  /** Votes to every validator (Replica broadcastVotes; default false: see apps/hypermesh README). */
  broadcastVotes?: boolean;
  /** The chain's four-proof rules (proofs/four-proof-config.ts); absent: validate_* answer FAILED_PRECONDITION. */
  fourProofPath?: string;
  /** Report committed blocks (caesar/reward_block) and equivocation evidence (caesar/slash); default true. */
  caesarReports?: boolean;
  /** Delay between the f+1 reporters of a block (caesar/reward-schedule.ts); default 10 s. */
  rewardGraceMs?: number;
  /** A snapshot every this many blocks (0: none, nothing pruned); default 1,000. */
  snapshotInterval?: number;
  /** Newest blocks always kept in the block log; default 10,000. */
  retainBlocks?: number;
  /**
   * Tests only, not reachable from the command line: wraps the validator's outbox. The Byzantine
   * harness (tests-e2e/fixtures/byzantine-hypermesh.js) uses it to equivocate.
   */
  outboxWrapper?: (outbox: ConsensusOutbox, ctx: { genesis: LoadedGenesis; self: GenesisValidator; falconSecretKey: Uint8Array; logger: Logger }) => ConsensusOutbox;
}

export async function serve(o: ServeOptions): Promise<number> {
  const genesis = await loadGenesis(o.genesisPath);
  const verifier = o.fourProofPath ? new ProofVerifier(await loadFourProofConfig(o.fourProofPath)) : null;
  const wallClock = (): number => Date.now();
  let validator: Validator | null = null;
  let network: ValidatorNetwork | null = null;
  let svc: RunningService | null = null;
  let fatal: unknown = null;
  let shuttingDown: Promise<void> | null = null;
  let closeStore: (() => void) | null = null;
  /** What runs beside the validator once it started: the Caesar reporters, the behind monitor. */
  let background: { start(): void; close(): void } | null = null;
  let forced: (() => void) | null = null;
  const forcedExit = new Promise<void>((r) => (forced = r));
  const shutdown = (reason: string): Promise<void> =>
    (shuttingDown ??= (async () => {
      background?.close();
      validator?.close(); // ends the inbound streams and watches, stops performing effects
      // Bounded shutdown: if the runtime's stop (drain, transport close) has not finished in
      // time, close the store (nothing writes to it any more) and exit anyway.
      const watchdog = systemClock.setTimeout(() => {
        svc?.logger.warn({ afterMs: SHUTDOWN_LIMIT_MS }, 'the STOQ runtime did not finish stopping in time: the validator state is closed, exiting anyway');
        closeStore?.();
        forced?.();
      }, SHUTDOWN_LIMIT_MS);
      await network?.close();
      await svc?.stop(reason);
      systemClock.clearTimeout(watchdog);
    })());

  svc = await runService({
    service: 'hypermesh',
    configPath: o.configPath,
    overrides: { ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.joinToken ? { joinToken: o.joinToken } : {}) },
    handleSignals: false,
    setup: async (ctx) => {
      const id = ctx.identity();
      const self = selfInGenesis(genesis, id.instance, id.falconPublicKey);
      const reportsOn = o.caesarReports ?? true;
      const snapshotEvery = o.snapshotInterval ?? DEFAULT_RETENTION.snapshotEvery;
      const opened = ValidatorStore.open(join(ctx.dataDir, 'consensus'), genesis.validatorSet, { chainId: genesis.chainId, genesisSha256: genesis.sha256, validatorId: self.id }, undefined, {
        snapshotEvery,
        retainBlocks: o.retainBlocks ?? DEFAULT_RETENTION.retainBlocks,
        keepUnreported: reportsOn,
      });
      const store = opened.store;
      if (verifier) store.useKnownSets((b) => verifier.knownSet(b));
      let restored = opened.restored;
      closeStore = () => store.close();
      const dnsServer = dnsServerOf(ctx.section);
      const directory = new ValidatorDirectory(dnsServer ? new UdpDnsQuerier({ server: dnsServer }) : null);
      const syncWith = {
        set: genesis.validatorSet,
        verifier: falconSignatureVerifier(nativeFalcon),
        sources: rpcSnapshotSources(ctx.client, directory, genesis.validators.filter((v) => v.id !== self.id)),
        minGap: snapshotEvery,
        logger: ctx.logger.child({ component: 'state-sync' }),
      };
      if (snapshotEvery > 0) {
        const synced = await stateSync({ ...syncWith, store });
        if (synced.installed) restored = store.restoredState();
        else ctx.logger.info({ committedHeight: store.committedHeight, reason: synced.reason }, 'state sync: not needed');
      }
      network = new ValidatorNetwork({ genesis, self, transport: ctx.transport, directory, clock: systemClock, logger: ctx.logger });
      const caesar = caesarOverRpc(ctx.client);
      const evidence = reportsOn ? new EvidenceReporter({ reporting: store.reporting, caesar, clock: systemClock, logger: ctx.logger.child({ component: 'caesar-evidence' }) }) : null;
      const n = genesis.validatorSet.validators.length;
      const rewards = reportsOn
        ? new RewardReporter({ self: self.id, validators: n, reporters: Math.floor((n - 1) / 3) + 1, ...(o.rewardGraceMs !== undefined ? { graceMs: o.rewardGraceMs } : {}), store, caesar, clock: systemClock, logger: ctx.logger.child({ component: 'caesar-rewards' }) })
        : null;
      const outbox = o.outboxWrapper ? o.outboxWrapper(network, { genesis, self, falconSecretKey: id.falconSecretKey, logger: ctx.logger }) : network;
      const v = new Validator({
        genesis,
        self,
        falconSecretKey: id.falconSecretKey,
        store,
        restored,
        outbox,
        clock: systemClock,
        logger: ctx.logger,
        timing: { baseTimeout: o.baseTimeoutMs, maxTimeout: Math.max(o.baseTimeoutMs * 16, 10_000) },
        emptyBlockDelayMs: o.emptyBlockDelayMs,
        broadcastVotes: o.broadcastVotes ?? false,
        retainBlocks: o.retainBlocks ?? DEFAULT_RETENTION.retainBlocks,
        // Down for at least a base timeout: not a link still coming up or redialling a live peer.
        isUnreachable: (leader) => network?.unreachable(leader, o.baseTimeoutMs) ?? false,
        validateOperation: operationValidity({ verifier, wallClock, lastSequence: (n) => store.lastSequence(n), isCommitted: (id) => store.operationHeight(id) !== null, blockHashAt: (h) => store.blockHashAt(h) }),
        onFatal: (err) => {
          fatal = err;
          void shutdown('fatal error');
        },
        ...(evidence ? { onEvidence: (e) => evidence.record(e) } : {}),
      });
      if (rewards) v.onCommit((c) => rewards.onCommitted(c.block.height));
      const behind =
        snapshotEvery > 0
          ? new BehindMonitor({ validator: v, committedHeight: () => store.committedHeight, fetch: (h) => fetchSnapshot({ ...syncWith, committedHeight: h }), minGap: snapshotEvery, clock: systemClock, logger: syncWith.logger })
          : null;
      background = {
        start: () => (evidence?.start(), rewards?.start(), behind?.start()),
        close: () => (evidence?.close(), rewards?.close(), behind?.close()),
      };
      validator = v;
      addConsensusMethods(ctx.rpc, { validator: v, network, store, genesis, instance: id.instance, signer: falconSigner(nativeFalcon, self.id, id.falconSecretKey) });
      addValidationMethods(ctx.rpc, { validator: v, store, verifier, wallClock });
      addAssetMethods(ctx.rpc, { validator: v, store });
      ctx.rpc.addMetricSource(consensusMetrics(v, network, genesis, store));
      if (verifier) ctx.rpc.addMetricSource(proofVerifierMetrics(verifier));
      if (rewards) ctx.rpc.addMetricSource(caesarReportMetrics(rewards, store.reporting));
      ctx.logger.info({ validator: self.id, chainId: genesis.chainId, committedHeight: store.committedHeight, oldestBlock: store.oldestHeight, snapshot: store.latestSnapshot()?.height ?? null, restored: restored !== undefined }, 'validator state opened');
      return {
        stop: () => {
          background?.close();
          v.close();
          store.close();
        },
      };
    },
  });
  const running = svc;
  const onSignal = (sig: NodeJS.Signals): void => void shutdown(sig);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const v = validator as Validator | null;
  const n = network as ValidatorNetwork | null;
  if (!v || !n) throw new Error('setup did not run');
  v.start();
  n.start();
  (background as { start(): void } | null)?.start();
  running.logger.info({ stoq: running.address, advertised: running.advertised, validator: v.status().self, chainId: genesis.chainId }, 'hypermesh validator ready');
  await Promise.race([running.stopped, forcedExit]);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return fatal === null ? 0 : 1;
}
