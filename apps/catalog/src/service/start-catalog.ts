// Catalog inside a running STOQ service (runService's setup): opens the program store in the
// data dir, starts the engine, registers catalog/*, bills through Caesar and signs receipts with
// the instance's FALCON key. Returns how to stop (engine, then nothing else to close).
import { join } from 'node:path';
import { systemClock } from '@stoq/core';
import { falconSignAsync } from '@stoq/native';
import type { ServiceContext, ServiceHooks } from '@stoq/service';
import type { BillingConfig } from '../core/billing';
import type { RateLimit } from '../core/rate-limiter';
import { AnswerStore } from '../store/answer-store';
import { ProgramStore } from '../store/program-store';
import { CaesarBilling } from './caesar-billing';
import { addCatalogMethods, type CatalogLimits } from './catalog-service';
import { ProgramEngine, quickJsRuntime } from './engine';
import { HyperMeshProgramRegistry, NO_REGISTRY } from './program-registry';

/** The program store's folder in the instance's data dir. */
export const PROGRAMS_DIR = 'catalog-programs';
/** The stored answers of catalog/execute (idempotent retries). */
export const ANSWERS_DIR = 'catalog-answers';

export interface CatalogSettings {
  readonly limits: CatalogLimits & { readonly maxOutputBytes: number };
  readonly workers: number;
  readonly queueDepth: number;
  readonly billing: BillingConfig;
  readonly rate: RateLimit;
  /** Register uploaded programs as HyperMesh `program` assets. */
  readonly registerAssets: boolean;
  /** How long catalog/execute answers are kept for retries with the same request id. */
  readonly answerWindowSeconds: number;
}

export function startCatalog(ctx: ServiceContext, s: CatalogSettings): ServiceHooks {
  const store = ProgramStore.open(join(ctx.dataDir, PROGRAMS_DIR));
  const answers = AnswerStore.open(join(ctx.dataDir, ANSWERS_DIR), { windowMs: s.answerWindowSeconds * 1000, maxEntries: 1_000_000, maxBytes: 512 * 1024 * 1024, now: () => systemClock.now() });
  // The engine's module cap must hold the QuickJS runtime (~640 KB) whatever the upload cap.
  const js = quickJsRuntime();
  const engine = new ProgramEngine({ workers: s.workers, queueDepth: s.queueDepth, maxMemoryBytes: s.limits.maxMemoryBytes, maxModuleBytes: Math.max(s.limits.maxModuleBytes, js.length), maxOutputBytes: s.limits.maxOutputBytes });
  engine.setJsRuntime(js);
  const methods = addCatalogMethods(ctx.rpc, {
    store,
    engine,
    billing: new CaesarBilling(ctx.client, s.billing),
    registry: s.registerAssets ? new HyperMeshProgramRegistry(ctx.client) : NO_REGISTRY,
    answers,
    limits: s.limits,
    rate: s.rate,
    signer: () => {
      const id = ctx.identity();
      return { publicKey: id.falconPublicKey, sign: (m: Uint8Array) => falconSignAsync(id.falconSecretKey, m) };
    },
    now: () => systemClock.now(),
    logger: ctx.logger,
  });
  ctx.logger.info({ programs: store.size, dir: store.dir, workers: s.workers, feeAccount: String(s.billing.feeAccountId), ledger: s.billing.ledger, price: String(s.billing.pricePerFuel), registerAssets: s.registerAssets, storedAnswers: answers.size }, 'catalog ready');
  return {
    stop: () => {
      methods.stop();
      engine.close();
      void answers.close();
    },
  };
}
