// Caesar inside a running STOQ service (runService's setup): opens the durable ledger in the
// data dir, publishes commits to watchers and metrics, signs attestations with the instance's
// FALCON key, registers the caesar/* methods. Returns how to stop (storage last).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { nativeFalcon, systemClock } from '@stoq/core';
import type { ServiceContext, ServiceHooks } from '@stoq/service';
import type { LedgerChanges } from '../core/types';
import { DurableLedger, type DurableLedgerOptions } from '../store/durable-ledger';
import { AccessPolicy, type AccessConfig } from './access-policy';
import { addCaesarMethods, type EconomicsConfig } from './caesar-service';
import { ChangeFeed } from './change-feed';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { GenesisVerifier, type ProofVerifier, type ValidatorBook } from './proof-verifiers';

/** The ledger's file in the instance's data dir. */
export const LEDGER_FILE = 'caesar-ledger.sqlite';

/** Where the ledger is stored (settings.ts storeFromFlags). */
export type LedgerStoreSettings =
  | { readonly kind: 'sqlite' }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string; readonly password?: string };

export interface CaesarSettings {
  /** Default: SQLite in the data dir. */
  readonly store?: LedgerStoreSettings;
  readonly access: AccessConfig;
  readonly rewarders: readonly string[];
  readonly economics: EconomicsConfig;
  /** HyperMesh's genesis and the validators' Caesar accounts; absent: reward_block and slash refuse (proof-verifiers.ts). */
  readonly hypermesh?: ValidatorBook;
  /** Replaces the genesis verifier (tests). */
  readonly verifier?: ProofVerifier;
}

export interface StartedCaesar extends ServiceHooks {
  readonly ledger: DurableLedger;
  readonly feed: ChangeFeed;
}

export async function startCaesar(ctx: ServiceContext, settings: CaesarSettings): Promise<StartedCaesar> {
  const feed = new ChangeFeed();
  const counters = { transfers: 0, accountsCreated: 0, commits: 0 };
  const ledgers = new Set<number>([settings.economics.staking.ledger]);
  const onCommit = (changes: readonly LedgerChanges[]): void => {
    counters.commits += 1;
    for (const c of changes) {
      counters.transfers += c.transfers.length;
      counters.accountsCreated += c.accountsCreated.length;
      for (const a of c.accountsCreated) ledgers.add(a.ledger);
    }
    feed.publish(changes);
  };
  // Any failed commit (a caller's or the expiry timer's) stops the ledger: health says NOT_SERVING
  // so NGauge alerts and clients go elsewhere; a restart reopens the committed state.
  const onFailed = (): void => {
    ctx.logger.error('caesar ledger stopped after a failed commit: not serving; restart the service');
    ctx.rpc.setServing(false);
  };
  const options: DurableLedgerOptions = { create: true, logger: ctx.logger, onCommit, onFailed };
  const store = settings.store ?? { kind: 'sqlite' };
  const ledger =
    store.kind === 'postgres'
      ? await DurableLedger.openPostgres({ url: store.url, schema: store.schema, ...(store.password !== undefined ? { password: store.password } : {}) }, options)
      : DurableLedger.open(join(ctx.dataDir, LEDGER_FILE), options);
  addCaesarMethods(ctx.rpc, {
    ledger,
    policy: new AccessPolicy(settings.access),
    feed,
    economics: settings.economics,
    verifier: settings.verifier ?? new GenesisVerifier(settings.hypermesh ?? null, falconSignatureVerifier(nativeFalcon)),
    rewarders: settings.rewarders,
    signer: () => {
      const id = ctx.identity();
      return {
        keyId: new Uint8Array(createHash('sha256').update(id.falconPublicKey).digest()),
        publicKey: id.falconPublicKey,
        sign: (message: Uint8Array) => nativeFalcon.sign(id.falconSecretKey, message),
      };
    },
    now: () => systemClock.now(),
    logger: ctx.logger,
  });
  // Supply as of the last commit: while a PostgreSQL commit is in flight the core is ahead of the
  // database, so the gauge keeps the figures it last read from committed state.
  const supply = new Map<number, { circulating: number; holds: boolean }>();
  ctx.rpc.addMetricSource(() => {
    if (ledger.status !== 'open') return [];
    const view = ledger.committedView();
    if (view) {
      for (const l of ledgers) {
        // The supply invariant, recomputed from every account's balances: what the accounts
        // outside mint and burn hold equals what was minted less what was burnt.
        const s = view.supply(l);
        supply.set(l, { circulating: Number(s.circulating), holds: s.circulating === s.minted - s.burnt });
      }
    }
    const byLedger = [...supply.keys()].sort((a, b) => a - b);
    return [
      ...byLedger.map((l) => ({ name: 'caesar_total_supply', help: 'Circulating supply per ledger (minted - burnt), in base units', type: 'gauge' as const, labels: { ledger: String(l) }, value: supply.get(l)!.circulating })),
      ...byLedger.map((l) => ({ name: 'caesar_supply_invariant_holds', help: 'Whether the circulating supply, summed over the accounts, equals minted - burnt (1) or not (0)', type: 'gauge' as const, labels: { ledger: String(l) }, value: supply.get(l)!.holds ? 1 : 0 })),
      { name: 'caesar_transfers_total', help: 'Transfers committed since start (including posts, voids, expiries)', type: 'counter', value: counters.transfers },
      { name: 'caesar_accounts_created_total', help: 'Accounts created since start', type: 'counter', value: counters.accountsCreated },
      { name: 'caesar_commits_total', help: 'Durable group commits since start', type: 'counter', value: counters.commits },
      { name: 'caesar_watch_streams', help: 'Open caesar/watch streams', type: 'gauge', value: feed.watcherCount },
    ];
  });
  ctx.logger.info({ store: ledger.location, ledgerId: ledger.ledgerId, admins: settings.access.admins, operators: settings.access.operators }, 'caesar ledger ready');
  return {
    ledger,
    feed,
    stop: async () => {
      feed.close();
      await ledger.close();
    },
  };
}
