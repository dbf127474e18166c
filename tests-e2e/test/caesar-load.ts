// The kill -9 workload both Caesar e2e files drive (the SQLite store in caesar.e2e, the PostgreSQL
// store in caesar-postgres.e2e): four submitters send linked chains of three transfers
// (100 -> 101 -> 100 -> 101: each chain moves 2 from 100 to 101) until a drawn number of chains
// is acknowledged, then the caller kills Caesar. What was sent and what was acknowledged is kept
// across rounds, for the checks after each restart.
import { caesar as proto } from '@stoq/protos';
import type { RpcClient } from '@stoq/rpc';

const M = proto.CaesarMethods;
const LINKED = 1;
/** Largest lookup_transfers batch. */
const LOOKUP_PAGE = 8190;

export class ChainLoad {
  /** Every chain sent, acknowledged or in flight when Caesar died. */
  readonly sent: proto.NewTransfer[][] = [];
  /** Every transfer of an acknowledged chain. */
  readonly acked: proto.NewTransfer[] = [];
  private nextId = 1_000_000;
  private rnd: number;

  /** `seed` draws the kill points (replay a run with its seed). */
  constructor(
    readonly seed: number,
    private readonly ledger: number,
  ) {
    this.rnd = seed;
  }

  /** Acknowledged chains so far plus `min` .. `min + spread` more: when the next kill comes. */
  drawKillPoint(min: number, spread: number): number {
    this.rnd = (this.rnd * 1_103_515_245 + 12_345) % 2 ** 31;
    return this.acked.length / 3 + min + Math.floor((this.rnd / 2 ** 31) * spread);
  }

  /**
   * Runs the submitters on `rpc` until `killAfter` chains are acknowledged, then `kill()` (the
   * caller's SIGKILL, resolved once the process is gone); resolves when every submitter stopped.
   * Calls failing after the kill end their submitter; any other failure or result fails the run.
   */
  async runUntilKilled(rpc: RpcClient, killAfter: number, kill: () => Promise<void>, timeoutMs: number): Promise<void> {
    let stop = false;
    let killing = false;
    let killed: (() => void) | null = null;
    const killedNow = new Promise<void>((r) => (killed = r));
    const chain = (base: number): proto.NewTransfer[] => [
      { id: String(base), debitAccountId: '100', creditAccountId: '101', amount: '3', ledger: this.ledger, code: 7, flags: LINKED },
      { id: String(base + 1), debitAccountId: '101', creditAccountId: '100', amount: '2', ledger: this.ledger, code: 7, flags: LINKED },
      { id: String(base + 2), debitAccountId: '100', creditAccountId: '101', amount: '1', ledger: this.ledger, code: 7 },
    ];
    const submitter = async (): Promise<void> => {
      while (!stop) {
        const base = this.nextId;
        this.nextId += 3;
        const batch = chain(base);
        this.sent.push(batch);
        let r: proto.CreateTransfersResponse;
        try {
          r = await rpc.call(M.createTransfers, { transfers: batch }, { timeoutMs });
        } catch (err) {
          if (killing) return; // Caesar died: stop submitting
          throw err;
        }
        if (JSON.stringify(r.results) !== '[0,0,0]') throw new Error(`batch ${base} answered ${JSON.stringify(r.results)}`);
        this.acked.push(...batch);
        if (this.acked.length >= killAfter * 3 && killed) {
          killing = true;
          killed();
          killed = null;
        }
      }
    };
    const load = Promise.all([submitter(), submitter(), submitter(), submitter()]);
    await Promise.race([killedNow, load.then(() => Promise.reject(new Error('the load ended before the kill')))]);
    await kill();
    stop = true;
    await load;
  }
}

/** The transfers Caesar holds among `ids`, by id (looked up in pages of 8,190). */
export async function lookupTransfersById(rpc: RpcClient, ids: readonly string[]): Promise<Map<string, proto.Transfer>> {
  const found = new Map<string, proto.Transfer>();
  for (let i = 0; i < ids.length; i += LOOKUP_PAGE) {
    for (const t of (await rpc.call(M.lookupTransfers, { ids: ids.slice(i, i + LOOKUP_PAGE) })).transfers ?? []) found.set(t.id!, t);
  }
  return found;
}
