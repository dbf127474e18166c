// Coalesces Catalog's Caesar transfers (reservations, posts, voids) into batches: while `maxInFlight`
// create_transfers calls are outstanding, new transfers wait and go out together in the next call
// (at most Caesar's 8,190 events). An idle Catalog sends each transfer at once, so batching adds no
// latency; a busy one turns N runs' transfers into one round trip and one durable Caesar commit.
// Events are independent (not linked): each gets its own result code, in order.
import { caesar } from '@stoq/protos';
import type { RpcClient } from '@stoq/rpc';

export const MAX_BATCH = 8190;

interface Waiting {
  readonly transfer: caesar.NewTransfer;
  resolve(result: number): void;
  reject(err: unknown): void;
}

export class TransferBatcher {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  /** Calls made and events sent, for the batching ratio in stats. */
  calls = 0;
  events = 0;

  constructor(
    private readonly client: RpcClient,
    private readonly maxInFlight = 2,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The transfer's CreateTransferResult (0 = ok); rejects if the call fails (the whole batch). */
  submit(transfer: caesar.NewTransfer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ transfer, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight += 1;
      this.calls += 1;
      this.events += batch.length;
      this.client
        .call(caesar.CaesarMethods.createTransfers, { transfers: batch.map((w) => w.transfer) }, { timeoutMs: this.timeoutMs })
        .then(
          (res) => {
            const results = res.results ?? [];
            batch.forEach((w, i) => {
              const r = results[i];
              if (r === undefined) w.reject(new Error(`Caesar answered ${results.length} results for ${batch.length} transfers`));
              else w.resolve(r);
            });
          },
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.inFlight -= 1;
          this.pump();
        });
    }
  }
}
