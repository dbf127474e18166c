// Deadline and cancellation of one call: the caller's AbortSignal and the deadline combined into
// one signal whose reason is the RpcError to report (CANCELLED or DEADLINE_EXCEEDED). Separate
// from the client because every layer of a call shares it (resolving, dialing, each attempt,
// the retry backoff, health probes) and because its cheap path (no signal, no deadline: no
// AbortController, no promise races) matters at high call rates.
import type { Clock, TimerHandle } from '../clock';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import { MAX_TIMEOUT_MS } from '../wire/frame-codec';

/** What a call's scope is made of (a subset of CallOptions). */
export interface ScopeOptions {
  readonly deadline?: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Per-call cancellation: the user's signal and the deadline, combined. A call with neither
 * cannot be aborted, and gets no AbortController (one per call is measurable at high rates).
 */
export class CallScope {
  private readonly controller: AbortController | null;
  private timer: TimerHandle | null = null;
  private readonly onUserAbort: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    readonly deadline: number | undefined,
    private readonly userSignal: AbortSignal | undefined,
  ) {
    if (deadline === undefined && userSignal === undefined) {
      this.controller = null;
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    if (userSignal !== undefined) {
      const onUserAbort = (): void => controller.abort(new RpcError(Status.CANCELLED, 'call cancelled by the caller'));
      this.onUserAbort = onUserAbort;
      if (userSignal.aborted) onUserAbort();
      else userSignal.addEventListener('abort', onUserAbort, { once: true });
    }
    if (deadline !== undefined && !controller.signal.aborted) {
      const ms = deadline - clock.now();
      const exceeded = (): void => controller.abort(new RpcError(Status.DEADLINE_EXCEEDED, 'deadline exceeded'));
      if (ms <= 0) exceeded();
      else this.timer = clock.setTimeout(exceeded, ms);
    }
  }

  /**
   * The scope of a call: the earlier of `deadline` and now + `timeoutMs`; `defaultTimeoutMs`
   * applies when the call gives neither.
   */
  static of(clock: Clock, options: ScopeOptions, defaultTimeoutMs: number | undefined): CallScope {
    const now = clock.now();
    const timeoutMs = options.timeoutMs ?? (options.deadline === undefined ? defaultTimeoutMs : undefined);
    const candidates = [options.deadline, timeoutMs === undefined ? undefined : now + timeoutMs].filter((d): d is number => d !== undefined);
    return new CallScope(clock, candidates.length > 0 ? Math.min(...candidates) : undefined, options.signal);
  }

  /** Aborts when the call must stop; undefined for a call that cannot be aborted. */
  get signal(): AbortSignal | undefined {
    return this.controller?.signal;
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  /** Why the scope aborted (an RpcError), once `aborted`. */
  get reason(): unknown {
    return this.controller?.signal.reason;
  }

  /** Rejects with the abort reason if the scope is aborted. */
  check(): void {
    if (this.aborted) throw this.reason;
  }

  /** Remaining time in ms for the request header, or undefined. */
  remainingMs(): number | undefined {
    if (this.deadline === undefined) return undefined;
    return Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(this.deadline - this.clock.now())));
  }

  /** Waits for `p` unless the scope aborts first. */
  race<T>(p: Promise<T>): Promise<T> {
    const signal = this.controller?.signal;
    if (signal === undefined) return p;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Whatever went wrong while the scope was aborted is reported as the abort reason. */
  failure(err: unknown): unknown {
    return this.aborted && this.reason instanceof RpcError ? this.reason : err;
  }

  dispose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    if (this.onUserAbort !== null) this.userSignal?.removeEventListener('abort', this.onUserAbort);
  }
}
