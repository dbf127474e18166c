// One attempt of a call: pick a target of the method's service (or the pinned one), take its
// pooled connection, open a stream, and feed the attempt's outcome back to load balancing
// (UNAVAILABLE ejects the target, anything else readmits it). Separate from retrying (which
// decides whether to make another attempt) and from resolving and pooling (which it only
// consults), like grpc-js's load-balancing call between its retrying call and its subchannels.
import type { Ipv6Endpoint, StoqConnection, StoqStream } from '@stoq/core';
import type { Clock } from '../clock';
import { serviceOfPath, type MethodDefinition } from '../method';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import type { WireLimits } from '../wire/call-sequencer';
import { ClientCall } from './client-call';
import type { CallScope } from './call-scope';
import type { ConnectionPool } from './connection-pool';
import type { ResolvedTarget } from './resolver';
import type { ServiceDirectory } from './service-targets';
import type { TargetSet } from './target-set';

type AnyDef = MethodDefinition<unknown, unknown>;

/** Shortest attempt after which a peer that sent nothing is judged gone (well above ACK delays). */
const SILENCE_MIN_MS = 250;

function packetsReceived(conn: StoqConnection): number | null {
  try {
    return conn.stats().packetsReceived;
  } catch {
    return null; // closed meanwhile: its own close handling applies
  }
}

export class AttemptOpener {
  constructor(
    private readonly services: ServiceDirectory,
    private readonly pool: ConnectionPool,
    private readonly clock: Clock,
    private readonly limits: WireLimits,
    private readonly isClosed: () => boolean,
  ) {}

  /** Picks a target, gets its pooled connection and opens a stream: one call attempt. */
  async open(def: AnyDef, scope: CallScope, pinned?: Ipv6Endpoint): Promise<ClientCall> {
    scope.check();
    if (this.isClosed()) throw new RpcError(Status.UNAVAILABLE, 'client is closed');
    const service = serviceOfPath(def.path);
    // Fast paths: a fresh resolver answer and an established pooled connection need no await.
    const state = this.services.fresh(service) ?? (await scope.race(this.services.resolve(service)));
    const target = pinned !== undefined ? state.targets.all().find((s) => s.target.endpoint === pinned)?.target : state.targets.pick(this.clock.now());
    if (!target) {
      throw new RpcError(Status.UNAVAILABLE, pinned !== undefined ? `${pinned} is not a target of service "${service}"` : `no targets for service "${service}"`);
    }
    const call = await this.openOn(target, def, scope, state.targets);
    // Only an attempt that can run out of time after SILENCE_MIN_MS is judged (no stats read otherwise).
    const silence = scope.deadline !== undefined && scope.deadline - this.clock.now() >= SILENCE_MIN_MS ? this.silenceProbe(target.endpoint) : null;
    void call.result.then(
      () => state.targets.reportSuccess(target.endpoint),
      (err: RpcError) => {
        if (err.code === Status.UNAVAILABLE || (err.code === Status.DEADLINE_EXCEEDED && silence?.())) state.targets.reportFailure(target.endpoint, this.clock.now());
        else state.targets.reportSuccess(target.endpoint);
      },
    );
    return call;
  }

  /**
   * For an attempt on `endpoint`'s pooled connection: a check, made when the attempt ran out of
   * time, of whether the peer sent no packet at all meanwhile (not even the ACK of the request,
   * which a live QUIC peer sends within its max ACK delay). Then the peer is gone (a kill -9
   * sends no CONNECTION_CLOSE, and the idle timeout would keep the dead connection pooled for
   * its whole length): the connection leaves the pool and the attempt counts as a failure of the
   * target. A slow but live peer keeps both. The caller probes only attempts whose deadline is at
   * least SILENCE_MIN_MS away.
   */
  private silenceProbe(endpoint: string): (() => boolean) | null {
    const conn = this.pool.established(endpoint);
    if (!conn) return null;
    const receivedBefore = packetsReceived(conn);
    return () => {
      const receivedAfter = packetsReceived(conn);
      if (receivedBefore === null || receivedAfter !== receivedBefore) return false;
      this.pool.drop(endpoint, conn, 'peer silent for a whole call attempt');
      return true;
    };
  }

  /**
   * Opens a stream to `target` for `def`. Failing to connect or to open a stream reports the
   * target failed unless `report` is false (a health probe reports its own verdict).
   */
  async openOn(target: ResolvedTarget, def: AnyDef, scope: CallScope, targets: TargetSet, report = true): Promise<ClientCall> {
    let conn: StoqConnection;
    try {
      conn = this.pool.established(target.endpoint) ?? (await scope.race(this.pool.connection(target, def.idempotent)));
    } catch (err) {
      if (scope.aborted) throw scope.reason;
      if (report) targets.reportFailure(target.endpoint, this.clock.now());
      throw err;
    }
    let stream: StoqStream;
    try {
      // Only idempotent calls may ride in 0-RTT early data (it can be replayed).
      stream = await scope.race(def.idempotent ? conn.openStream({ early: true }) : conn.openStream());
    } catch (err) {
      if (scope.aborted) throw scope.reason;
      this.pool.drop(target.endpoint, conn, 'stream open failed');
      if (report) targets.reportFailure(target.endpoint, this.clock.now());
      throw new RpcError(Status.UNAVAILABLE, `cannot open a stream to ${target.endpoint}: ${(err as Error).message}`);
    }
    return new ClientCall(stream, def.kind, this.limits, scope.signal);
  }
}
