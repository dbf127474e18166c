// Wires RpcServers and an RpcClient together over in-memory connections (test code only).
import type { PeerIdentity, StoqConnection } from '@stoq/core';
import { StoqError } from '@stoq/core';
import type { Connector, ConnectOptions } from '../../src/client/rpc-client';
import type { RpcServer } from '../../src/server/rpc-server';
import { memoryConnectionPair, testPeer, type MemoryConnection } from './memory-connection';

export interface Endpoint {
  server: RpcServer;
  /** Identity the server's certificate shows. */
  identity: PeerIdentity;
  /** When set, connecting fails with this transport error. */
  down?: boolean;
}

/** A set of reachable endpoints and a connector that dials them. */
export class MemoryNetwork {
  readonly endpoints = new Map<string, Endpoint>();
  readonly dials: Array<{ endpoint: string; options: ConnectOptions }> = [];
  readonly connections: MemoryConnection[] = [];

  constructor(private readonly callerPeer: PeerIdentity | null = testPeer('client-svc')) {}

  add(endpoint: string, server: RpcServer, identity: PeerIdentity = testPeer(server.service)): this {
    this.endpoints.set(endpoint, { server, identity });
    return this;
  }

  setDown(endpoint: string, down: boolean): void {
    this.endpoints.get(endpoint)!.down = down;
  }

  readonly connector: Connector = async (endpoint, options) => {
    this.dials.push({ endpoint, options });
    const ep = this.endpoints.get(endpoint);
    if (!ep || ep.down) throw new StoqError('HANDSHAKE_FAILED', `no STOQ server answers at ${endpoint}`);
    const { client, server } = memoryConnectionPair({
      clientPeer: this.callerPeer,
      serverPeer: ep.identity,
      serverAddress: endpoint,
      zeroRtt: options.zeroRtt ?? false,
    });
    this.connections.push(client);
    void ep.server.serveConnection(server);
    return client as StoqConnection;
  };
}
