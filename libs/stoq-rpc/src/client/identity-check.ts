// The client's own check of who answered: the service named in the peer's certificate must be
// the one the resolver said the target serves. The transport already refuses such a peer when
// it is told `expectedService`; this check is kept separate and independent of the connector
// (an injected connector may not enforce it) and runs after the handshake, which with 0-RTT
// completes only after the first streams were opened.
import type { StoqConnection } from '@stoq/core';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import type { ResolvedTarget } from './resolver';

/** Refuses (and closes) a connection whose certificate names another service. */
export function checkIdentity(conn: StoqConnection, target: ResolvedTarget): void {
  const presented = (conn.peer as StoqConnection['peer'] | null)?.service;
  if (presented !== target.expectedService) {
    conn.close(0, 'unexpected service identity');
    throw new RpcError(
      Status.UNAUTHENTICATED,
      `target ${target.endpoint} presented a certificate for service "${presented ?? '(none)'}", expected "${target.expectedService}"`,
    );
  }
}
