// The native engine as Catalog uses it: one WasmEngine per instance, programs compiled on first
// use from the store (the engine's cache is bounded; a miss recompiles), engine rejections as
// CatalogErrors.
import { WasmEngine, type WasmEngineOptions, type WasmModuleInfo, type WasmRunRequest, type WasmRunResult } from '@stoq/native';
import { fromEngineError } from '../errors';

export type { WasmModuleInfo, WasmRunRequest, WasmRunResult };

/** Output as a run writes it: the bytes since the previous call (either may be empty). */
export type OutputListener = (stdout: Buffer, stderr: Buffer) => void;

export interface EngineLimits {
  readonly workers: number;
  readonly queueDepth: number;
  readonly maxMemoryBytes: number;
  readonly maxModuleBytes: number;
  readonly maxOutputBytes: number;
}

export class ProgramEngine {
  readonly engine: WasmEngine;

  constructor(readonly limits: EngineLimits, extra: Partial<WasmEngineOptions> = {}) {
    this.engine = new WasmEngine({
      workers: limits.workers,
      queueDepth: limits.queueDepth,
      maxMemoryBytes: limits.maxMemoryBytes,
      maxModuleBytes: limits.maxModuleBytes,
      maxOutputBytes: limits.maxOutputBytes,
      ...extra,
    });
  }

  async compile(module: Uint8Array): Promise<WasmModuleInfo> {
    try {
      return await this.engine.compile(Buffer.from(module.buffer, module.byteOffset, module.byteLength));
    } catch (err) {
      throw fromEngineError(err);
    }
  }

  /** Compiles from `load` unless the engine still has the module cached. */
  async ensureLoaded(hash: Buffer, load: () => Promise<Buffer>): Promise<void> {
    if (!this.engine.isLoaded(hash)) await this.compile(await load());
  }

  /** The checks a run makes before it starts (export, signature, arguments, limits); throws. */
  check(req: WasmRunRequest): void {
    try {
      this.engine.check(req);
    } catch (err) {
      throw fromEngineError(err);
    }
  }

  /** Whether a run submitted now would be refused for a full pool. */
  get full(): boolean {
    return this.engine.stats().inFlight >= this.limits.workers + this.limits.queueDepth;
  }

  async run(req: WasmRunRequest): Promise<WasmRunResult> {
    try {
      return await this.engine.run(req);
    } catch (err) {
      throw fromEngineError(err);
    }
  }

  /** `run`, with output delivered while the program runs (pieces of the final, capped output). */
  async runStreaming(req: WasmRunRequest, onOutput: OutputListener): Promise<WasmRunResult> {
    try {
      return await this.engine.runStreaming(req, onOutput);
    } catch (err) {
      throw fromEngineError(err);
    }
  }

  close(): void {
    this.engine.close();
  }
}
