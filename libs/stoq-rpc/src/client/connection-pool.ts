// One multiplexed STOQ connection per target endpoint: the first call to a target dials it,
// later calls share the dial or the established connection, and a connection leaves the pool
// when it closes. Separate because connection lifetime (dial errors mapped to status codes, the
// identity check, 0-RTT, close) is independent of which call uses a connection, as grpc-js
// keeps subchannels apart from the calls routed over them.
import { isStoqError, type Ipv6Endpoint, type StoqConnection } from '@stoq/core';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import { checkIdentity } from './identity-check';
import type { ResolvedTarget } from './resolver';

export interface ConnectOptions {
  /** The transport refuses a server whose certificate does not name this service. */
  expectedService?: string;
  /** Send early data (0-RTT) if a resumption ticket exists: only for idempotent calls. */
  zeroRtt?: boolean;
}

export type Connector = (endpoint: Ipv6Endpoint, options: ConnectOptions) => Promise<StoqConnection>;

interface PooledConnection {
  readonly promise: Promise<StoqConnection>;
  conn: StoqConnection | null;
}

export class ConnectionPool {
  private readonly pool = new Map<string, PooledConnection>();
  private closed = false;

  constructor(private readonly connector: Connector) {}

  /** The established connection to `endpoint`, if any: the no-await fast path. */
  established(endpoint: string): StoqConnection | undefined {
    return this.pool.get(endpoint)?.conn ?? undefined;
  }

  /**
   * The pooled connection to `target` (one per target, multiplexed). The first call to a
   * target dials it; an idempotent first call asks for 0-RTT. Early data is only ever used by
   * idempotent calls: the others' streams wait for the handshake (see AttemptOpener.openOn).
   */
  connection(target: ResolvedTarget, idempotent: boolean): Promise<StoqConnection> {
    const pooled = this.pool.get(target.endpoint);
    if (pooled) return pooled.promise;
    return this.dial(target, target.endpoint, idempotent);
  }

  /** Forgets and closes a connection that failed (could not open a stream, or a silent peer). */
  drop(endpoint: string, conn: StoqConnection, reason: string): void {
    if (this.pool.get(endpoint)?.conn === conn) this.pool.delete(endpoint);
    conn.close(0, reason);
  }

  /** Closes every pooled connection; a dial still under way closes its connection when it lands. */
  close(): void {
    this.closed = true;
    for (const p of this.pool.values()) p.conn?.close(0, 'client closed');
    this.pool.clear();
  }

  private dial(target: ResolvedTarget, key: string, zeroRtt: boolean): Promise<StoqConnection> {
    const entry: PooledConnection = {
      conn: null,
      promise: (async () => {
        let conn: StoqConnection;
        try {
          conn = await this.connector(target.endpoint, { expectedService: target.expectedService, zeroRtt });
        } catch (err) {
          // The transport itself refused the server's identity: not a reachability problem.
          const code = isStoqError(err, 'PEER_REJECTED') || isStoqError(err, 'FALCON_REJECTED') ? Status.UNAUTHENTICATED : Status.UNAVAILABLE;
          throw new RpcError(code, `cannot connect to ${target.endpoint}: ${(err as Error).message}`);
        }
        // With 0-RTT the handshake (and the peer's identity proof) completes later: check then.
        if (zeroRtt) {
          void conn.ready.then(
            () => checkIdentity(conn, target),
            () => undefined,
          ).catch(() => undefined);
        } else {
          await conn.ready;
          checkIdentity(conn, target);
        }
        return conn;
      })(),
    };
    this.pool.set(key, entry);
    entry.promise.then(
      (conn) => {
        entry.conn = conn;
        void conn.closed.then(() => {
          if (this.pool.get(key) === entry) this.pool.delete(key);
        });
        if (this.closed) conn.close(0, 'client closed');
      },
      () => {
        if (this.pool.get(key) === entry) this.pool.delete(key);
      },
    );
    return entry.promise;
  }
}
