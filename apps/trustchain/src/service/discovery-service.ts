// Service discovery over STOQ: `trustchain/register_service`, `deregister_service` and
// `resolve_dns`. A caller registers exactly its own service and instance (from its certificate);
// a registration is a lease kept in the Zone (what DNS answers) and in the store (so a TrustChain
// restart keeps live registrations until they lapse). Leases lapse on a Clock timer.
import { parseIpv6 } from '@stoq/ipv6';
import { trustchain } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import type { Clock, TimerHandle } from '@stoq/core';
import type { Logger } from 'pino';
import { TrustChainError } from '../core/errors';
import type { Zone, InstanceEndpoint, RegisteredRecord, Registration, RegistrationOwner, ZoneRecord } from '../dns/zone';
import type { CaStore, LeaseRow } from '../store/ca-store';
import { rpcCall } from './errors';

const M = trustchain.TrustChainMethods;

export const DEFAULT_LEASE_SECONDS = 30;
export const MIN_LEASE_SECONDS = 5;
export const MAX_LEASE_SECONDS = 3600;
/** How often lapsed leases are removed (ms). DNS lookups also expire lazily, so this bounds only the store. */
export const EXPIRY_TICK_MS = 1000;
const RESOLVABLE_TYPES = ['SRV', 'AAAA', 'TXT', 'SOA', 'NS', 'PTR', 'ANY'];

export interface DiscoveryDeps {
  readonly zone: Zone;
  readonly store: CaStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The zone registration of a stored lease at `now` (its remaining time as the lease). */
export function leaseRegistration(zone: Zone, lease: LeaseRow, now: number): Registration {
  const owner = { service: lease.service, instance: lease.instance };
  const remainingMs = lease.expiresAt - now;
  const ttl = Math.max(0, Math.min(10, Math.floor(remainingMs / 1000)));
  const records = zone.instanceRecords(owner, { address: lease.address, port: lease.port, priority: lease.priority, weight: lease.weight, txt: lease.txt, ttl });
  return { owner, records: records.map((r) => ({ ...r, ttl }) as RegisteredRecord), leaseMs: remainingMs, expiresAt: lease.expiresAt };
}

/** Stored leases still running at `now`, as registrations for Zone.load; lapsed ones are deleted from the store. */
export function storedRegistrations(zone: Zone, store: CaStore, now: number): Registration[] {
  store.expireLeases(now);
  return store.leases().filter((l) => l.expiresAt > now).map((l) => leaseRegistration(zone, l, now));
}

/** Presentation format of a record's data (as dig prints it). */
export function recordData(r: ZoneRecord): string {
  switch (r.type) {
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'AAAA':
      return r.address;
    case 'TXT':
      return r.text.map((t) => JSON.stringify(t)).join(' ');
    case 'NS':
      return r.host;
    case 'PTR':
      return r.target;
    case 'SOA':
      return `${r.mname} ${r.rname} ${r.serial} ${r.refresh} ${r.retry} ${r.expire} ${r.minimum}`;
  }
}

function recordMessage(r: ZoneRecord): trustchain.DnsRecord {
  return { name: r.name, type: r.type, ttl: r.ttl, data: recordData(r) };
}

export class DiscoveryService {
  private timer: TimerHandle | null = null;
  private own: { owner: RegistrationOwner; endpoint: InstanceEndpoint } | null = null;
  private closed = false;

  constructor(private readonly deps: DiscoveryDeps) {}

  /**
   * Publishes TrustChain's own SRV + AAAA. It is not stored (a restart re-registers it) and is
   * renewed by the expiry tick, so it never lapses while TrustChain runs.
   */
  registerOwn(owner: RegistrationOwner, endpoint: InstanceEndpoint): void {
    this.own = { owner, endpoint };
    this.deps.zone.register(owner, this.deps.zone.instanceRecords(owner, endpoint), this.deps.zone.limits.maxLeaseMs, this.deps.clock.now());
  }

  start(): void {
    const tick = (): void => {
      if (this.closed) return;
      try {
        this.expire();
      } catch (err) {
        this.deps.logger.error({ err }, 'lease expiry failed');
      }
      this.timer = this.deps.clock.setTimeout(tick, EXPIRY_TICK_MS);
    };
    this.timer = this.deps.clock.setTimeout(tick, EXPIRY_TICK_MS);
  }

  /** Removes lapsed leases from the zone and the store; renews TrustChain's own. */
  expire(): void {
    const { zone, store, clock, logger } = this.deps;
    const now = clock.now();
    const lapsed = zone.expire(now);
    if (lapsed.length > 0) {
      store.expireLeases(now);
      logger.info({ lapsed: lapsed.map((r) => `${r.owner.service}/${r.owner.instance}`) }, 'discovery leases lapsed');
    }
    if (this.own) {
      const mine = zone.registrations(now).find((r) => r.owner.service === this.own!.owner.service && r.owner.instance === this.own!.owner.instance);
      if (!mine || mine.expiresAt - now < zone.limits.maxLeaseMs / 2) this.registerOwn(this.own.owner, this.own.endpoint);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
  }

  addMethods(server: RpcServer): void {
    const { zone, store, clock, logger } = this.deps;

    server.addMethod(
      M.registerService,
      (req, ctx) =>
        rpcCall(logger, M.registerService.path, () => {
          const peer = ctx.peer;
          if (!peer) throw new RpcError(Status.UNAUTHENTICATED, `${M.registerService.path} requires an authenticated caller`);
          const owner = ownerOf(peer, req.service ?? '', req.instance ?? '', 'register');
          const address = req.address ?? '';
          try {
            parseIpv6(address);
          } catch (err) {
            throw new TrustChainError('INVALID_ARGUMENT', `address ${JSON.stringify(address)}: ${(err as Error).message}; register an IPv6 address`, { cause: err });
          }
          const leaseSeconds = req.leaseSeconds ? req.leaseSeconds : DEFAULT_LEASE_SECONDS;
          if (!Number.isInteger(leaseSeconds) || leaseSeconds < MIN_LEASE_SECONDS || leaseSeconds > MAX_LEASE_SECONDS) {
            throw new TrustChainError('INVALID_ARGUMENT', `lease_seconds ${leaseSeconds} is out of range: ${MIN_LEASE_SECONDS} .. ${MAX_LEASE_SECONDS}`);
          }
          // proto3 cannot tell an unset weight from 0: unset means the documented default 1.
          const endpoint: InstanceEndpoint = { address, port: req.port ?? 0, priority: req.priority ?? 0, weight: req.weight ? req.weight : 1, txt: [...(req.txt ?? [])] };
          const now = clock.now();
          // The zone validates every record (and is unchanged when it refuses); then the lease is made durable.
          const reg = zone.register(owner, zone.instanceRecords(owner, endpoint), leaseSeconds * 1000, now);
          try {
            store.putLease({ ...owner, address: endpoint.address, port: endpoint.port, priority: endpoint.priority ?? 0, weight: endpoint.weight ?? 1, txt: endpoint.txt ?? [], expiresAt: reg.expiresAt });
          } catch (err) {
            zone.deregister(owner);
            throw err;
          }
          return { leaseExpiresAtMs: reg.expiresAt, names: [...new Set(reg.records.map((r) => r.name))] };
        }),
      { authorize: 'any-authenticated' },
    );

    server.addMethod(
      M.deregisterService,
      (req, ctx) =>
        rpcCall(logger, M.deregisterService.path, () => {
          const peer = ctx.peer;
          if (!peer) throw new RpcError(Status.UNAUTHENTICATED, `${M.deregisterService.path} requires an authenticated caller`);
          const owner = ownerOf(peer, req.service ?? '', req.instance ?? '', 'deregister');
          const stored = store.deleteLease(owner.service, owner.instance);
          const inZone = zone.deregister(owner);
          return { removed: stored || inZone };
        }),
      { authorize: 'any-authenticated' },
    );

    // Anyone may resolve: the same answers are public over UDP; over STOQ they come
    // authenticated by TrustChain's certificate, which is the point of this method.
    server.addMethod(
      M.resolveDns,
      (req) =>
        rpcCall(logger, M.resolveDns.path, () => {
          const name = req.name ?? '';
          const type = (req.type || 'SRV').toUpperCase();
          if (name.length === 0 || name.length > 255) throw new TrustChainError('INVALID_ARGUMENT', `name ${JSON.stringify(name.slice(0, 64))} must be 1..255 characters`);
          if (!RESOLVABLE_TYPES.includes(type)) throw new TrustChainError('INVALID_ARGUMENT', `type ${JSON.stringify(req.type)} is not one of ${RESOLVABLE_TYPES.join(', ')}`);
          const answer = zone.lookup(name, type, clock.now());
          return { rcode: answer.rcode, answers: answer.answers.map(recordMessage), additionals: answer.additionals.map(recordMessage) };
        }),
      { authorize: 'unauthenticated' },
    );
  }
}

/** The owner a caller may act as: exactly its certificate's service and instance. */
function ownerOf(peer: { service: string; instance: string }, service: string, instance: string, what: string): RegistrationOwner {
  if (service !== peer.service || instance !== peer.instance) {
    throw new TrustChainError(
      'NOT_AUTHORIZED',
      `${peer.service}/${peer.instance} may ${what} only itself, not ${service || '(empty)'}/${instance || '(empty)'}: the service and instance come from the caller's certificate`,
    );
  }
  return { service, instance };
}
