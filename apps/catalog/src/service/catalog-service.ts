// The catalog/* methods (libs/protos/proto/catalog.proto): decode → check → bill → run → settle →
// sign. docs/catalog-api.md is the reference for callers. Money moves only through Caesar: a run
// starts only after its maximum fee is reserved, and every reservation ends posted (the fee) or
// voided (no fee, or the run never started); a reservation Catalog could not settle (a crash, an
// unreachable Caesar) times out in Caesar and is released there.
import { createHash } from 'node:crypto';
import type { PeerIdentity } from '@stoq/core';
import { catalog as proto } from '@stoq/protos';
import type { CallContext, RpcServer } from '@stoq/rpc';
import type { Logger } from 'pino';
import { CatalogError, rpcErrorOf } from '../errors';
import { maxFee } from '../core/billing';
import { attemptToStart, attemptTransferIds, type RunTransferIds } from '../core/request-attempts';
import { inputHash, outcomeNumber, outputHash, RUN_OUTCOMES, signReceipt, fromU64, toU64, type ReceiptSigner } from '@stoq/catalog-receipt';
import { parseProgramHash, programHash } from '../core/program-hash';
import { RateLimiter, type RateLimit } from '../core/rate-limiter';
import { parseU128 } from '../core/u128';
import type { AnswerStore } from '../store/answer-store';
import type { ProgramRecord, ProgramStore } from '../store/program-store';
import type { Billing } from './caesar-billing';
import type { OutputListener, ProgramEngine } from './engine';
import type { ProgramRegistry } from './program-registry';

const M = proto.CatalogMethods;
const ANY = { authorize: 'any-authenticated' } as const;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
export const MAX_STDIN_BYTES = 1 << 20;
export const MAX_ARGV = 64;
export const MAX_ARG_BYTES = 4096;
export const MAX_ARGS = 64;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface CatalogLimits {
  /** Largest module accepted (bytes). */
  readonly maxModuleBytes: number;
  /** Ceiling of a run's memory limit, and the default when a request gives none. */
  readonly maxMemoryBytes: number;
  readonly defaultMemoryBytes: number;
  /** Largest fuel_limit accepted. */
  readonly maxFuel: bigint;
  /** Wall-clock backstop of every run (ms). */
  readonly timeoutMs: number;
}

export interface CatalogCounters {
  runs: number;
  fuelUsed: bigint;
  fees: bigint;
  refused: number;
  readonly outcomes: number[];
}

export interface CatalogDeps {
  readonly store: ProgramStore;
  readonly engine: ProgramEngine;
  readonly billing: Billing;
  readonly registry: ProgramRegistry;
  /** Stored answers for idempotent retries of catalog/execute (null: none kept). */
  readonly answers: AnswerStore | null;
  readonly limits: CatalogLimits;
  readonly rate: RateLimit;
  /** The instance's FALCON key, read per call (renewal may replace it). */
  readonly signer: () => ReceiptSigner;
  /** Wall clock, ms. */
  readonly now: () => number;
  readonly logger: Logger;
}

function callerOf(peer: PeerIdentity | null): { service: string; id: string } {
  if (peer === null) throw new CatalogError('UNAUTHENTICATED', 'Catalog answers authenticated callers only');
  return { service: peer.service, id: `${peer.service}/${peer.instance}` };
}

export function programMessage(r: ProgramRecord): proto.Program {
  return { hash: r.hash, size: r.size, owner: r.owner, uploadedAt: toU64(BigInt(r.uploadedAtNs)), exports: r.exports.map((e) => ({ name: e.name, params: [...e.params], results: [...e.results] })), imports: [...r.imports], assetId: r.assetId, assetHeight: toU64(BigInt(r.assetHeight)), language: r.language === 'javascript' ? proto.ProgramLanguage.PROGRAM_JAVASCRIPT : proto.ProgramLanguage.PROGRAM_WASM, runtimeHash: r.runtimeHash ?? '' };
}

function parseI64(v: string, field: string): bigint {
  if (!/^-?[0-9]{1,20}$/.test(v)) throw new CatalogError('INVALID_ARGUMENT', `${field}: expected a decimal i64, got ${JSON.stringify(v.slice(0, 40))}`);
  const n = BigInt(v);
  if (n < I64_MIN || n > I64_MAX) throw new CatalogError('INVALID_ARGUMENT', `${field}: ${v} is outside the i64 range`);
  return n;
}


/**
 * The fuel a run is billed (and its receipt signs): what it used when the engine's count is
 * exact, else its whole fuel_limit. wasmtime's compiled code keeps the count in a register and
 * stores it only at calls, returns, `unreachable` and out of fuel; a run ended by the timeout,
 * another trap (an out-of-bounds access, a division by zero) or a memory/table limit reports
 * only what was stored before, nothing of a loop without calls (native `fuelExact` false). Billing
 * that would let an endless loop, or a long loop ended by a deliberate trap, run for free. The
 * caller agreed to fuel_limit × price when it reserved.
 */
export function billedFuel(fuelExact: boolean, reported: bigint, fuelLimit: bigint): bigint {
  return fuelExact ? reported : fuelLimit;
}

async function mapped<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw rpcErrorOf(err);
  }
}

export function addCatalogMethods(rpc: RpcServer, d: CatalogDeps): CatalogCounters & { stop(): void } {
  const counters: CatalogCounters = { runs: 0, fuelUsed: 0n, fees: 0n, refused: 0, outcomes: RUN_OUTCOMES.map(() => 0) };
  const limiter = new RateLimiter(d.rate);
  const pendingRegistrations = new Set<string>();

  const register = async (r: ProgramRecord): Promise<ProgramRecord> => {
    if (!d.registry.enabled || r.assetId !== '') return r;
    try {
      const a = await d.registry.register(r.hash, r.owner, r.size);
      const updated = { ...r, assetId: a.assetId, assetHeight: a.height };
      d.store.update(updated);
      pendingRegistrations.delete(r.hash);
      d.logger.info({ program: r.hash, asset: a.assetId, height: a.height }, 'catalog program registered in hypermesh');
      return updated;
    } catch (err) {
      pendingRegistrations.add(r.hash);
      d.logger.warn({ program: r.hash, err: (err as Error).message }, 'catalog program not registered in hypermesh yet (retried later)');
      return r;
    }
  };

  rpc.addMethod(
    M.uploadProgram,
    (req, ctx) =>
      mapped(async () => {
        const caller = callerOf(ctx.peer);
        const module = Buffer.from(req.module ?? []);
        const language = req.language ?? proto.ProgramLanguage.PROGRAM_WASM;
        if (language !== proto.ProgramLanguage.PROGRAM_WASM && language !== proto.ProgramLanguage.PROGRAM_JAVASCRIPT) throw new CatalogError('INVALID_ARGUMENT', `language: unknown value ${String(language)}`);
        const js = language === proto.ProgramLanguage.PROGRAM_JAVASCRIPT;
        if (module.length === 0) throw new CatalogError('INVALID_ARGUMENT', `module: is required (${js ? 'JavaScript source' : 'WebAssembly binary'})`);
        if (module.length > d.limits.maxModuleBytes) throw new CatalogError('MODULE_TOO_LARGE', `module: ${module.length} bytes; the limit is ${d.limits.maxModuleBytes}`);
        const hash = programHash(module);
        const known = d.store.get(hash);
        if (known) return { program: programMessage(await register(known)), duplicate: true };
        let record: ProgramRecord;
        const uploadedAtNs = String(BigInt(Math.floor(d.now())) * 1_000_000n);
        if (js) {
          try {
            new TextDecoder('utf-8', { fatal: true }).decode(module);
          } catch {
            throw new CatalogError('INVALID_MODULE', 'module: a JavaScript program is UTF-8 source text; these bytes are not UTF-8');
          }
          const runtime = await d.engine.ensureJsRuntime();
          // Parsed and compiled (not run) by QuickJS in the engine, within the service's limits.
          const checked = await d.engine.run({ moduleHash: runtime, export: '', args: [], script: module, compileOnly: true, fuel: Number(d.limits.maxFuel), memoryLimitBytes: d.limits.maxMemoryBytes, timeoutMs: d.limits.timeoutMs });
          if (checked.outcome === 'JS_EXCEPTION') throw new CatalogError('INVALID_MODULE', `module: the JavaScript does not compile: ${checked.message.split('\n')[0]!}`);
          if (checked.outcome !== 'OK') throw new CatalogError('UNSUPPORTED_MODULE', `module: the JavaScript could not be compiled within the service's limits (${checked.outcome}: ${checked.message})`);
          record = { hash, size: module.length, owner: caller.id, uploadedAtNs, exports: [], imports: [], assetId: '', assetHeight: '0', language: 'javascript', runtimeHash: runtime.toString('hex') };
        } else {
          const info = await d.engine.compile(module);
          record = { hash, size: module.length, owner: caller.id, uploadedAtNs, exports: info.exports, imports: info.imports, assetId: '', assetHeight: '0' };
        }
        const added = d.store.add(record, module);
        d.logger.info({ program: hash, size: module.length, owner: caller.id, language: record.language ?? 'wasm' }, 'catalog program uploaded');
        return { program: programMessage(await register(d.store.get(hash) ?? record)), duplicate: !added };
      }),
    ANY,
  );

  rpc.addMethod(
    M.getProgram,
    (req, ctx) =>
      mapped(async () => {
        callerOf(ctx.peer);
        const hash = parseProgramHash(req.hash, 'hash');
        const r = d.store.get(hash);
        if (!r) throw new CatalogError('NO_SUCH_PROGRAM', `no program ${hash}`);
        return { program: programMessage(r), module: req.includeModule ? await d.store.module(hash) : new Uint8Array() };
      }),
    ANY,
  );

  rpc.addMethod(
    M.listPrograms,
    (req, ctx) =>
      mapped(() => {
        callerOf(ctx.peer);
        const size = req.pageSize ?? 0;
        if (size > 1000) throw new CatalogError('INVALID_ARGUMENT', 'page_size: at most 1000');
        const limit = size === 0 ? 100 : size;
        const after = req.pageToken ? parseProgramHash(req.pageToken, 'page_token') : '';
        const owner = req.owner ?? '';
        const match = (r: ProgramRecord): boolean => owner === '' || r.owner === owner || r.owner.startsWith(`${owner}/`);
        const page = d.store.list(after, limit + 1, match);
        const more = page.length > limit;
        const programs = page.slice(0, limit);
        return { programs: programs.map(programMessage), nextPageToken: more ? programs[programs.length - 1]!.hash : '' };
      }),
    ANY,
  );

  /** One billed run (catalog/execute and execute_stream); `onOutput` streams output as it is written. */
  // Idempotency: answers by request key (caller + request id), stored durably; runs in flight by key.
  const inFlight = new Map<string, { fingerprint: string; answer: Promise<proto.ExecuteResponse> }>();
  const execute = async (req: proto.ExecuteRequest, ctx: CallContext, onOutput?: OutputListener): Promise<proto.ExecuteResponse> => {
    const caller = callerOf(ctx.peer);
    const requestId = req.requestId || ctx.idempotencyKey || '';
    if (requestId === '' || d.answers === null) return run(req, ctx, caller, null, onOutput);
    if (!REQUEST_ID.test(requestId)) throw new CatalogError('INVALID_ARGUMENT', 'request_id: 1-64 characters of [A-Za-z0-9._-]');
    const key = createHash('sha256').update(`catalog execute v1\0${caller.id}\0${requestId}`).digest();
    const keyHex = key.toString('hex');
    const fingerprint = createHash('sha256').update(proto.ExecuteRequestType.encode(proto.ExecuteRequestType.fromObject({ ...req, requestId: '' })).finish()).digest('hex');
    const reused = (): CatalogError => new CatalogError('REQUEST_ID_REUSED', `request id ${JSON.stringify(requestId)} was used for another request; a retry must repeat the request exactly`);
    const stored = d.answers.get(keyHex);
    if (stored) {
      if (stored.fingerprint !== fingerprint) throw reused();
      return proto.ExecuteResponseType.decode(stored.answer) as unknown as proto.ExecuteResponse;
    }
    const running = inFlight.get(keyHex);
    if (running) {
      if (running.fingerprint !== fingerprint) throw reused();
      return running.answer;
    }
    // An attempt recorded without an answer binds the id to its request too.
    const attempted = d.answers.attemptOf(keyHex);
    if (attempted && attempted.fingerprint !== fingerprint) throw reused();
    const answers = d.answers;
    // Called by run() once everything checkable without money passed, just before reserving.
    // The attempt line is written behind the reservation (its fdatasync overlaps the Caesar
    // round trip): losing it in a crash is safe — the retry then finds the reservation without
    // a record and is refused as in doubt, never charged twice. Before a failure is answered the
    // line is made durable, so a retry (also after a restart) closes this attempt and runs; a
    // success is covered by the answer's own fdatasync (same log, later append).
    let recorded: Promise<void> | null = null;
    const beginAttempt = async (): Promise<RunTransferIds> => {
      const last = answers.lastAttempt(keyHex);
      const closed = last > 0 ? await d.billing.closeAttempt(attemptTransferIds(key, last)) : null;
      const start = attemptToStart(last, closed);
      recorded = answers.putAttempt(keyHex, fingerprint, start);
      recorded.catch(() => undefined); // awaited below on failure; a lost line is safe (above)
      return attemptTransferIds(key, start);
    };
    const answer = (async () => {
      let a: proto.ExecuteResponse;
      try {
        a = await run(req, ctx, caller, beginAttempt, onOutput);
      } catch (err) {
        await (recorded as Promise<void> | null)?.catch((e: unknown) => d.logger.warn({ err: (e as Error).message }, 'catalog could not record an execute attempt; a retry of it is refused as in doubt'));
        throw err;
      }
      await answers.put(keyHex, fingerprint, Buffer.from(proto.ExecuteResponseType.encode(proto.ExecuteResponseType.fromObject(a)).finish()));
      return a;
    })();
    inFlight.set(keyHex, { fingerprint, answer });
    try {
      return await answer;
    } finally {
      inFlight.delete(keyHex);
    }
  };

  const run = async (req: proto.ExecuteRequest, ctx: CallContext, caller: { service: string; id: string }, beginAttempt: (() => Promise<RunTransferIds>) | null, onOutput?: OutputListener): Promise<proto.ExecuteResponse> => {
    if (!limiter.take(caller.id, d.now())) {
      counters.refused += 1;
      throw new CatalogError('RATE_LIMITED', `${caller.id} is over its rate limit (${d.rate.perSecond}/s, burst ${d.rate.burst}); try again later`);
    }
    // Everything that can be checked without money is checked first.
    const hash = parseProgramHash(req.programHash, 'program_hash');
    const record = d.store.get(hash);
    if (!record) throw new CatalogError('NO_SUCH_PROGRAM', `no program ${hash}`);
    const fuelLimit = fromU64(req.fuelLimit);
    if (fuelLimit === 0n) throw new CatalogError('INVALID_ARGUMENT', 'fuel_limit: must be at least 1');
    if (fuelLimit > d.limits.maxFuel) throw new CatalogError('INVALID_ARGUMENT', `fuel_limit: ${fuelLimit} is above the service's cap of ${d.limits.maxFuel}`);
    const memoryLimit = fromU64(req.memoryLimitBytes) === 0n ? BigInt(d.limits.defaultMemoryBytes) : fromU64(req.memoryLimitBytes);
    if (memoryLimit > BigInt(d.limits.maxMemoryBytes)) throw new CatalogError('INVALID_ARGUMENT', `memory_limit_bytes: ${memoryLimit} is above the service's cap of ${d.limits.maxMemoryBytes}`);
    const payer = parseU128(req.payerAccountId, 'payer_account_id');
    if (payer === 0n) throw new CatalogError('INVALID_ARGUMENT', 'payer_account_id: is required');
    const args = (req.args ?? []).map((a, i) => parseI64(a, `args[${i}]`));
    if (args.length > MAX_ARGS) throw new CatalogError('INVALID_ARGUMENT', `args: at most ${MAX_ARGS}`);
    const argv = req.argv ?? [];
    if (argv.length > MAX_ARGV || argv.some((a) => Buffer.byteLength(a) > MAX_ARG_BYTES)) throw new CatalogError('INVALID_ARGUMENT', `argv: at most ${MAX_ARGV} entries of ${MAX_ARG_BYTES} bytes`);
    // protobufjs may decode an absent bytes field as [] rather than a Uint8Array.
    const stdin = Buffer.from(req.stdin ?? []);
    if (stdin.length > MAX_STDIN_BYTES) throw new CatalogError('INVALID_ARGUMENT', `stdin: ${stdin.length} bytes; at most ${MAX_STDIN_BYTES}`);
    const seed = req.seed && req.seed.length > 0 ? Buffer.from(req.seed) : Buffer.alloc(32);
    if (seed.length !== 32) throw new CatalogError('INVALID_ARGUMENT', `seed: 32 bytes or empty, got ${seed.length}`);
    const clockStartNs = fromU64(req.clockStartNs) === 0n ? BigInt(Math.floor(d.now())) * 1_000_000n : fromU64(req.clockStartNs);
    const js = record.language === 'javascript';
    if (js && req.export) throw new CatalogError('INVALID_ARGUMENT', 'export: a JavaScript program has no exports (it runs as a script; give input through stdin and argv)');
    if (js && args.length > 0) throw new CatalogError('ARGUMENT_MISMATCH', 'args: a JavaScript program takes no i64 arguments (use argv and stdin)');
    const exportName = js ? '' : req.export || '_start';
    maxFee(fuelLimit, d.billing.config);
    const moduleHash = Buffer.from(hash, 'hex');
    const runtimeHash = js ? await d.engine.ensureJsRuntime() : undefined;
    const runRequest = {
      moduleHash: runtimeHash ?? moduleHash,
      script: js ? await d.store.module(hash) : undefined,
      export: exportName,
      args,
      argv,
      stdin,
      fuel: Number(fuelLimit),
      memoryLimitBytes: Number(memoryLimit),
      timeoutMs: d.limits.timeoutMs,
      seed,
      clockStartNs,
    };
    const inHash = inputHash({ exportName, args, argv, stdin, seed, clockStartNs, fuelLimit, memoryLimitBytes: memoryLimit, ...(runtimeHash ? { runtimeHash } : {}) });
    if (!js) await d.engine.ensureLoaded(moduleHash, () => d.store.module(hash));
    d.engine.check(runRequest);
    if (d.engine.full) {
      counters.refused += 1;
      throw new CatalogError('POOL_FULL', 'every worker is busy and the queue is full; try again later');
    }

    await d.billing.ensureFeeAccount();
    await d.billing.checkPayer(payer, caller.service, ctx.deadline);
    const ids = beginAttempt === null ? null : await beginAttempt();
    const pendingId = await d.billing.reserve(payer, fuelLimit, ids?.reserve);
    let result;
    try {
      result = onOutput ? await d.engine.runStreaming(runRequest, onOutput) : await d.engine.run(runRequest);
    } catch (err) {
      // The run never started: nothing is owed.
      if (err instanceof CatalogError && err.code === 'POOL_FULL') counters.refused += 1;
      await d.billing.release(pendingId, ids?.release).catch((voidErr: unknown) => d.logger.error({ pendingId: String(pendingId), err: (voidErr as Error).message }, 'catalog could not void a reservation; Caesar releases it at its timeout'));
      throw err;
    }
    const fuelUsed = billedFuel(result.fuelExact, BigInt(result.fuelUsed), fuelLimit);
    const fee = fuelUsed * d.billing.config.pricePerFuel;
    await d.billing.settle(pendingId, fee, ids?.settle);
    const outcome = outcomeNumber(result.outcome);
    counters.runs += 1;
    counters.fuelUsed += fuelUsed;
    counters.fees += fee;
    counters.outcomes[outcome]! += 1;

    const results = result.results.map((r) => BigInt(r));
    const exitCode = result.exitCode ?? null;
    const signer = d.signer();
    const receipt = await signReceipt(
      {
        programHash: moduleHash,
        inputHash: inHash,
        outputHash: outputHash({ outcome, results, exitCode, stdout: result.stdout, stderr: result.stderr, stdoutTruncated: result.stdoutTruncated, stderrTruncated: result.stderrTruncated }),
        fuelUsed,
        fee,
        transferId: pendingId,
        outcome,
        issuedAtNs: BigInt(Math.floor(d.now())) * 1_000_000n,
      },
      signer,
    );
    d.logger.debug({ program: hash, caller: caller.id, outcome: result.outcome, fuelUsed: result.fuelUsed, fee: String(fee) }, 'catalog run');
    return {
      outcome,
      message: result.message,
      results: results.map(String),
      exited: exitCode !== null,
      exitCode: exitCode ?? 0,
      stdout: result.stdout,
      stderr: result.stderr,
      stdoutTruncated: result.stdoutTruncated,
      stderrTruncated: result.stderrTruncated,
      fuelUsed: Number(fuelUsed),
      fee: String(fee),
      receipt: {
        programHash: hash,
        inputHash: Buffer.from(receipt.fields.inputHash).toString('hex'),
        outputHash: Buffer.from(receipt.fields.outputHash).toString('hex'),
        fuelUsed: Number(fuelUsed),
        fee: String(fee),
        transferId: String(pendingId),
        outcome,
        issuedAt: toU64(receipt.fields.issuedAtNs),
        keyId: receipt.fields.keyId,
        publicKey: receipt.publicKey,
        signature: receipt.signature,
        encoded: receipt.encoded,
      },
    };
  };

  // Idempotent by request id (or the RPC idempotency key): a retry gets the stored answer.
  rpc.addMethod(M.execute, (req, ctx: CallContext) => mapped(() => execute(req, ctx)), ANY);

  rpc.addMethod(
    M.executeStream,
    async function* (req, ctx: CallContext) {
      const queue: proto.ExecuteStreamEvent[] = [];
      const sent = { stdout: 0, stderr: 0 };
      let wake: (() => void) | null = null;
      let done = false;
      let answer: proto.ExecuteResponse | null = null;
      let failure: unknown = null;
      const onOutput: OutputListener = (stdout, stderr) => {
        if (done) return; // late pieces: the remainder is taken from the answer below
        if (stdout.length > 0) {
          queue.push({ stdout });
          sent.stdout += stdout.length;
        }
        if (stderr.length > 0) {
          queue.push({ stderr });
          sent.stderr += stderr.length;
        }
        wake?.();
      };
      void execute(req, ctx, onOutput)
        .then((a) => void (answer = a), (err: unknown) => void (failure = err))
        .finally(() => {
          done = true;
          wake?.();
        });
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (done) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      if (failure !== null || answer === null) throw rpcErrorOf(failure);
      const a: proto.ExecuteResponse = answer;
      const out = Buffer.from(a.stdout ?? []);
      const err = Buffer.from(a.stderr ?? []);
      if (out.length > sent.stdout) yield { stdout: out.subarray(sent.stdout) };
      if (err.length > sent.stderr) yield { stderr: err.subarray(sent.stderr) };
      yield { result: a };
    },
    ANY,
  );

  rpc.addMethod(
    M.stats,
    (_req, ctx) =>
      mapped(() => {
        callerOf(ctx.peer);
        const s = d.engine.engine.stats();
        return {
          programs: d.store.size,
          runs: counters.runs,
          fuelUsed: Number(counters.fuelUsed),
          fees: String(counters.fees),
          workers: s.workers,
          inFlight: s.inFlight,
          outcomes: counters.outcomes.map((runs, outcome) => ({ outcome, runs })),
          refused: counters.refused,
          feeAccountId: String(d.billing.config.feeAccountId),
          pricePerFuel: String(d.billing.config.pricePerFuel),
        };
      }),
    ANY,
  );

  // Programs whose HyperMesh registration failed are retried every 10 s.
  const retry = setInterval(() => {
    for (const h of [...pendingRegistrations]) {
      const r = d.store.get(h);
      if (r) void register(r);
    }
  }, 10_000);
  retry.unref();
  rpc.addMetricSource(() => [
    { name: 'catalog_programs', help: 'Programs stored', type: 'gauge', value: d.store.size },
    ...RUN_OUTCOMES.map((o, i) => ({ name: 'catalog_runs_total', help: 'Runs finished, by outcome', type: 'counter' as const, labels: { outcome: o }, value: counters.outcomes[i]! })),
    { name: 'catalog_fuel_used_total', help: 'Fuel used by all runs', type: 'counter', value: Number(counters.fuelUsed) },
    { name: 'catalog_fees_total', help: 'Fees posted to Caesar, in base units', type: 'counter', value: Number(counters.fees) },
    { name: 'catalog_refused_total', help: 'Executions refused with RESOURCE_EXHAUSTED (pool full or rate limited)', type: 'counter', value: counters.refused },
    { name: 'catalog_runs_in_flight', help: 'Runs running or queued in the engine', type: 'gauge', value: d.engine.engine.stats().inFlight },
    { name: 'catalog_registrations_pending', help: 'Programs not yet registered in HyperMesh', type: 'gauge', value: pendingRegistrations.size },
  ]);
  const stop = (): void => clearInterval(retry);
  return Object.assign(counters, { stop });
}
