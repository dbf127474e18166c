// The native engine as Catalog uses it: one WasmEngine per instance, programs compiled on first
// use from the store (the engine's cache is bounded; a miss recompiles), engine rejections as
// CatalogErrors.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WasmEngine, type WasmEngineOptions, type WasmModuleInfo, type WasmRunRequest, type WasmRunResult } from '@stoq/native';
import { CatalogError, fromEngineError } from '../errors';

/** The QuickJS runtime JavaScript programs run on: quickjs-wasi's quickjs.wasm (QuickJS-NG as a
 *  WASI reactor; native/README.md "JavaScript programs"). */
export function quickJsRuntime(): Buffer {
  return readFileSync(require.resolve('quickjs-wasi/quickjs.wasm'));
}

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
  private jsRuntime: { readonly bytes: Buffer; readonly hash: Buffer } | null = null;

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

  /** The runtime JavaScript programs run on (compiled on first use, recompiled after eviction). */
  setJsRuntime(bytes: Buffer): void {
    this.jsRuntime = { bytes, hash: createHash('sha256').update(bytes).digest() };
  }

  get jsRuntimeHash(): Buffer | null {
    return this.jsRuntime?.hash ?? null;
  }

  /** The JavaScript runtime's hash, compiled and cached in the engine. */
  async ensureJsRuntime(): Promise<Buffer> {
    const rt = this.jsRuntime;
    if (rt === null) throw new CatalogError('UNSUPPORTED_MODULE', 'this Catalog instance has no JavaScript runtime');
    if (!this.engine.isLoaded(rt.hash)) {
      try {
        await this.engine.compileJsRuntime(rt.bytes);
      } catch (err) {
        throw fromEngineError(err);
      }
    }
    return rt.hash;
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
