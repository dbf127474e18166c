// Fan-out of durable commits to `caesar/watch` streams. The store calls `publish` after each
// commit (before answering its callers), so a watcher never sees a change that is not on disk.
// Each watcher has a bounded queue: one that does not read is cut off with RESOURCE_EXHAUSTED
// (it resumes from its last timestamp with get_account_transfers) instead of growing memory.
import type { caesar as proto } from '@stoq/protos';
import { RpcError, Status } from '@stoq/rpc';
import type { LedgerChanges } from '../core/types';
import { encodeChange } from './wire-records';
import { toU64 } from './wire-integers';

/** Messages a watcher may have unread before it is cut off. */
export const WATCH_QUEUE_LIMIT = 1024;

interface Watcher {
  readonly accounts: ReadonlySet<bigint> | null;
  readonly queue: proto.LedgerChange[];
  wake: (() => void) | null;
  failure: RpcError | null;
}

export class ChangeFeed {
  private readonly watchers = new Set<Watcher>();

  get watcherCount(): number {
    return this.watchers.size;
  }

  publish(changes: readonly LedgerChanges[]): void {
    for (const w of this.watchers) {
      if (w.failure) continue;
      const msg = encodeChange(changes, w.accounts);
      if (msg === null) continue;
      if (w.queue.length >= WATCH_QUEUE_LIMIT) {
        w.failure = new RpcError(Status.RESOURCE_EXHAUSTED, `watch fell ${WATCH_QUEUE_LIMIT} commits behind; resume from your last timestamp with get_account_transfers and watch again`);
      } else {
        w.queue.push(msg);
      }
      w.wake?.();
    }
  }

  /** A stream of changes (after an initial message carrying only `lastTimestamp`) until `signal` aborts. */
  async *watch(accounts: ReadonlySet<bigint> | null, lastTimestamp: bigint, signal: AbortSignal): AsyncGenerator<proto.LedgerChange> {
    const w: Watcher = { accounts, queue: [], wake: null, failure: null };
    this.watchers.add(w);
    const onAbort = (): void => w.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      yield { transfers: [], accounts: [], pendingStatuses: [], lastTimestamp: toU64(lastTimestamp) };
      for (;;) {
        while (w.queue.length > 0) yield w.queue.shift()!;
        if (w.failure) throw w.failure;
        if (signal.aborted) return;
        await new Promise<void>((resolve) => (w.wake = resolve));
        w.wake = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.watchers.delete(w);
    }
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const w of this.watchers) {
      w.failure = new RpcError(Status.UNAVAILABLE, 'Caesar is shutting down');
      w.wake?.();
    }
  }
}
