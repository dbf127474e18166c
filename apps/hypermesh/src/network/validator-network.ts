// The validators' mesh: one PeerLink (outbound call) per other validator, and the check for
// inbound calls: the caller's certificate names service `hypermesh` and an instance of genesis,
// and the FALCON key it proved in the handshake is that validator's genesis key.
import type { ValidatorId } from '@stoq/consensus';
import type { Clock, Ipv6Endpoint, PeerIdentity, StoqTransport } from '@stoq/core';
import { RpcError, Status } from '@stoq/rpc';
import type { Logger } from 'pino';
import type { GenesisValidator, LoadedGenesis } from '../genesis';
import type { ConsensusOutbox } from '../validator';
import { HYPERMESH_SERVICE, PeerLink } from './peer-link';
import type { ValidatorDirectory } from './validator-directory';

export interface ValidatorNetworkOptions {
  genesis: LoadedGenesis;
  self: GenesisValidator;
  transport: StoqTransport;
  directory: ValidatorDirectory;
  clock: Clock;
  logger: Logger;
}

export class ValidatorNetwork implements ConsensusOutbox {
  private readonly links = new Map<ValidatorId, PeerLink>();

  constructor(private readonly opts: ValidatorNetworkOptions) {
    for (const v of opts.genesis.validators) {
      if (v.id === opts.self.id) continue;
      this.links.set(
        v.id,
        new PeerLink({ peer: v, transport: opts.transport, clock: opts.clock, logger: opts.logger, locate: (signal) => opts.directory.locate(v, signal) }),
      );
    }
  }

  start(): void {
    for (const l of this.links.values()) l.start();
  }

  send(to: ValidatorId, bytes: Uint8Array): void {
    this.links.get(to)?.enqueue({ message: bytes });
  }

  broadcast(bytes: Uint8Array): void {
    for (const l of this.links.values()) l.enqueue({ message: bytes });
  }

  forward(operation: Uint8Array): void {
    for (const l of this.links.values()) l.enqueue({ forwardedOperation: operation });
  }

  isConnected(id: ValidatorId): boolean {
    return this.links.get(id)?.connected ?? false;
  }

  /**
   * Whether validator `id` has been unreachable for at least `forMs`: our link to it is down and
   * has been since then (its dials fail, or the silence watchdog dropped it).
   */
  unreachable(id: ValidatorId, forMs: number): boolean {
    const l = this.links.get(id);
    return l !== undefined && l.downFor(this.opts.clock.now()) >= forMs;
  }

  get connectedCount(): number {
    let n = 0;
    for (const l of this.links.values()) if (l.connected) n++;
    return n;
  }

  /**
   * The validator an inbound caller is, or PERMISSION_DENIED. Its address tells our link where
   * it is now (a restarted validator comes back on a new port).
   */
  authenticate(peer: PeerIdentity | null, remoteAddress: Ipv6Endpoint): ValidatorId {
    const id = this.validatorOf(peer);
    this.links.get(id)?.seenAt(remoteAddress);
    return id;
  }

  /** The other validator an inbound caller is, or PERMISSION_DENIED (no side effect on the links). */
  validatorOf(peer: PeerIdentity | null): ValidatorId {
    if (!peer || peer.service !== HYPERMESH_SERVICE) throw new RpcError(Status.PERMISSION_DENIED, 'only validators (service hypermesh) may call this method');
    const v = this.opts.genesis.validators.find((x) => x.instance === peer.instance);
    if (!v || v.id === this.opts.self.id) throw new RpcError(Status.PERMISSION_DENIED, `instance ${peer.instance} is not another validator of genesis`);
    if (!Buffer.from(peer.falconPublicKey).equals(Buffer.from(v.falconPublicKey))) {
      throw new RpcError(Status.PERMISSION_DENIED, `instance ${peer.instance} proved a FALCON key that is not validator ${v.id}'s genesis key`);
    }
    return v.id;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
