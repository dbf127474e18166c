// The `hypermesh.` zone, sans I/O: registrations held as leases, the rule of which names a
// service may publish, and lookup (name, type) → rcode + answer/authority/additional records.
// Time comes in as `now` (ms on the caller's Clock); nothing here reads a clock, opens a socket or
// touches a disk. Persistence of leases is the service layer's: it stores what `register` returns
// and rebuilds a zone with `Zone.load` on start. docs/dns.md describes the zone as built.
import { formatIpv6, isIpv6Error, parseIpv6 } from '@stoq/ipv6';
import { ZoneError } from './errors';
import { canonicalName, isHostLabel, isInZone, labelsBelow, nameProblem, selfAndAncestors } from './names';

export const DEFAULT_ORIGIN = 'hypermesh.';
/** The labels in front of a service's SRV name: `_stoq._udp.<service>.hypermesh.` (RFC 2782). */
export const SRV_PREFIX = '_stoq._udp';
/**
 * DNS-SD service type enumeration (RFC 6763 §9): `PTR _services._dns-sd._udp.hypermesh.` lists the
 * SRV name of every service with a live registration, so a monitor finds services it was never
 * told about (NGauge does).
 */
export const SERVICES_PREFIX = '_services._dns-sd._udp';

interface RecordBase {
  /** Canonical (lowercase, fully qualified) on output; any case, with or without the final dot, on input. */
  readonly name: string;
  /** Seconds. */
  readonly ttl: number;
}
export interface SrvRecord extends RecordBase {
  readonly type: 'SRV';
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}
export interface AaaaRecord extends RecordBase {
  readonly type: 'AAAA';
  /** RFC 5952 text form on output. */
  readonly address: string;
}
export interface TxtRecord extends RecordBase {
  readonly type: 'TXT';
  /** One or more character-strings, each at most 255 bytes of UTF-8. */
  readonly text: readonly string[];
}
export interface NsRecord extends RecordBase {
  readonly type: 'NS';
  readonly host: string;
}
/** DNS-SD service enumeration (RFC 6763 §9): derived by the zone, never registered. */
export interface PtrRecord extends RecordBase {
  readonly type: 'PTR';
  readonly target: string;
}
export interface SoaRecord extends RecordBase {
  readonly type: 'SOA';
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}
/** A record a service may register. */
export type RegisteredRecord = SrvRecord | AaaaRecord | TxtRecord;
/** Any record the zone serves. */
export type ZoneRecord = RegisteredRecord | NsRecord | SoaRecord | PtrRecord;
export type ZoneRecordType = ZoneRecord['type'];

type WithOptionalTtl<T> = T extends RecordBase ? Omit<T, 'ttl'> & { readonly ttl?: number } : never;
/** What a caller hands to `register`: a registered record whose TTL may be left to the zone's default. */
export type RecordInput = WithOptionalTtl<RegisteredRecord>;

/** Who registers: the service (from the caller's certificate) and its instance. */
export interface RegistrationOwner {
  readonly service: string;
  readonly instance: string;
}

/** A lease on a set of records, as `register` returns it and `load` takes it back. */
export interface Registration {
  readonly owner: RegistrationOwner;
  /** Canonical, deduplicated, TTLs filled in. */
  readonly records: readonly RegisteredRecord[];
  readonly leaseMs: number;
  /** The records vanish at this time (ms, caller's clock) unless the lease is renewed. */
  readonly expiresAt: number;
}

/** Where an instance serves STOQ, for `Zone.instanceRecords`. */
export interface InstanceEndpoint {
  readonly address: string;
  readonly port: number;
  /** SRV priority (lower preferred). Default 0. */
  readonly priority?: number;
  /** SRV weight. Default 1. */
  readonly weight?: number;
  readonly ttl?: number;
  readonly txt?: readonly string[];
}

export type LookupRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED';

export interface ZoneAnswer {
  readonly rcode: LookupRcode;
  /** Set for names inside the zone (every answer but REFUSED). */
  readonly authoritative: boolean;
  readonly answers: readonly ZoneRecord[];
  /** The SOA on NXDOMAIN and NODATA (negative caching, RFC 2308). */
  readonly authorities: readonly ZoneRecord[];
  /** AAAA of SRV targets and NS hosts inside the zone. */
  readonly additionals: readonly ZoneRecord[];
}

export interface ZoneLimits {
  /** Records in one registration. Default 16. */
  readonly maxRecordsPerRegistration: number;
  /** Instances registered for one service. Default 256. */
  readonly maxInstancesPerService: number;
  /** Registrations in the zone. Default 4096. */
  readonly maxRegistrations: number;
  /** Shortest lease (ms). Default 1000. */
  readonly minLeaseMs: number;
  /** Longest lease (ms). Default 3_600_000 (1 h). */
  readonly maxLeaseMs: number;
  /** Bytes of TXT data (all strings) in one record. Default 1024. */
  readonly maxTxtBytes: number;
}

export const DEFAULT_ZONE_LIMITS: ZoneLimits = Object.freeze({
  maxRecordsPerRegistration: 16,
  maxInstancesPerService: 256,
  maxRegistrations: 4096,
  minLeaseMs: 1_000,
  maxLeaseMs: 3_600_000,
  maxTxtBytes: 1024,
});

export interface ZoneOptions {
  /** Default `hypermesh.`. */
  readonly origin?: string;
  /** The zone's name server host (NS and SOA MNAME). Default `ns.<origin>`; its first label is no service name. */
  readonly nameServer?: string;
  /** AAAA of the name server host (the address the DNS server listens on). Default `['::1']`. */
  readonly nameServerAddresses?: readonly string[];
  /** SOA RNAME. Default `hostmaster.<origin>`. */
  readonly hostmaster?: string;
  /** TTL of registered records that name none (s). Default 10; never more than the lease. */
  readonly defaultTtl?: number;
  /** Largest TTL a registration may ask for (s). Default 300. */
  readonly maxTtl?: number;
  /** TTL of the SOA, NS and name-server AAAA (s). Default 60. */
  readonly apexTtl?: number;
  /** SOA MINIMUM: how long resolvers cache NXDOMAIN/NODATA (s, RFC 2308). Default 5. */
  readonly negativeTtl?: number;
  readonly limits?: Partial<ZoneLimits>;
}

interface Entry {
  readonly record: ZoneRecord;
  refs: number;
}

interface NameNode {
  /** Records at this name or below it: the name exists (perhaps as an empty non-terminal) while > 0. */
  below: number;
  readonly rrsets: Map<ZoneRecordType, Map<string, Entry>>;
}

interface Lease {
  readonly owner: RegistrationOwner;
  readonly records: readonly RegisteredRecord[];
  leaseMs: number;
  expiresAt: number;
}

const MAX_U16 = 0xffff;

export class Zone {
  readonly origin: string;
  readonly nameServer: string;
  readonly limits: ZoneLimits;
  private readonly hostmaster: string;
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private readonly apexTtl: number;
  private readonly negativeTtl: number;
  private readonly reservedServiceLabel: string | undefined;
  private readonly nodes = new Map<string, NameNode>();
  /** Leases by `<service>/<instance>`. */
  private readonly leases = new Map<string, Lease>();
  private readonly instancesPerService = new Map<string, number>();
  private nextExpiryAt = Number.POSITIVE_INFINITY;
  private changes = 1;
  private soaRecord: SoaRecord;

  constructor(options: ZoneOptions = {}) {
    this.origin = canonicalName(options.origin ?? DEFAULT_ORIGIN);
    const originProblem = nameProblem(this.origin);
    if (originProblem !== undefined) throw new TypeError(`zone origin ${JSON.stringify(options.origin)} is not a domain name: ${originProblem}`);
    this.nameServer = canonicalName(options.nameServer ?? `ns.${this.origin}`);
    this.hostmaster = canonicalName(options.hostmaster ?? `hostmaster.${this.origin}`);
    for (const [what, n] of [['nameServer', this.nameServer], ['hostmaster', this.hostmaster]] as const) {
      const problem = nameProblem(n);
      if (problem !== undefined) throw new TypeError(`zone ${what} ${JSON.stringify(n)} is not a domain name: ${problem}`);
    }
    this.defaultTtl = ttlOption('defaultTtl', options.defaultTtl ?? 10);
    this.maxTtl = ttlOption('maxTtl', options.maxTtl ?? 300);
    this.apexTtl = ttlOption('apexTtl', options.apexTtl ?? 60);
    this.negativeTtl = ttlOption('negativeTtl', options.negativeTtl ?? 5);
    this.limits = Object.freeze({ ...DEFAULT_ZONE_LIMITS, ...options.limits });
    if (!(this.limits.minLeaseMs >= 1 && this.limits.minLeaseMs <= this.limits.maxLeaseMs)) {
      throw new TypeError(`zone limits: minLeaseMs ${this.limits.minLeaseMs} must be in 1..maxLeaseMs (${this.limits.maxLeaseMs})`);
    }
    const nsLabels = isInZone(this.nameServer, this.origin) ? labelsBelow(this.nameServer, this.origin) : [];
    this.reservedServiceLabel = nsLabels.length > 0 ? nsLabels[nsLabels.length - 1] : undefined;

    this.soaRecord = this.makeSoa();
    this.addEntry(this.soaRecord);
    this.addEntry({ type: 'NS', name: this.origin, ttl: this.apexTtl, host: this.nameServer });
    if (isInZone(this.nameServer, this.origin)) {
      for (const a of options.nameServerAddresses ?? ['::1']) {
        this.addEntry({ type: 'AAAA', name: this.nameServer, ttl: this.apexTtl, address: normalizeAddress(a, this.nameServer) });
      }
    }
  }

  /** A zone holding `registrations` whose leases are still running at `now` (the others are skipped). Throws ZoneError for a registration the rules refuse. */
  static load(registrations: Iterable<Registration>, now: number, options: ZoneOptions = {}): Zone {
    const zone = new Zone(options);
    for (const r of registrations) {
      if (r.expiresAt <= now) continue;
      zone.put(r.owner, r.records, r.leaseMs, r.expiresAt);
    }
    return zone;
  }

  /** Increases whenever what the zone serves changes (caches of encoded answers key on it). */
  get version(): number {
    return this.changes;
  }

  /** The SOA record as served now (its serial is the zone version, modulo 2^32). */
  get soa(): SoaRecord {
    return this.soaRecord;
  }

  /** The SRV name of a service: `_stoq._udp.<service>.<origin>`. */
  srvName(service: string): string {
    return `${SRV_PREFIX}.${service}.${this.origin}`;
  }

  /** The host name of an instance: `<instance>.<service>.<origin>`. */
  hostName(owner: RegistrationOwner): string {
    return `${owner.instance}.${owner.service}.${this.origin}`;
  }

  /**
   * The records an instance serving STOQ at `address`/`port` registers: the SRV at its service's
   * name pointing at its host, the host's AAAA and, when `txt` is given, a TXT at the host.
   */
  instanceRecords(owner: RegistrationOwner, endpoint: InstanceEndpoint): RecordInput[] {
    const host = this.hostName(owner);
    const ttl = endpoint.ttl === undefined ? {} : { ttl: endpoint.ttl };
    const records: RecordInput[] = [
      { type: 'SRV', name: this.srvName(owner.service), priority: endpoint.priority ?? 0, weight: endpoint.weight ?? 1, port: endpoint.port, target: host, ...ttl },
      { type: 'AAAA', name: host, address: endpoint.address, ...ttl },
    ];
    if (endpoint.txt !== undefined && endpoint.txt.length > 0) records.push({ type: 'TXT', name: host, text: endpoint.txt, ...ttl });
    return records;
  }

  /** Registrations whose lease runs at `now`. */
  registrations(now: number): Registration[] {
    const out: Registration[] = [];
    for (const l of this.leases.values()) if (l.expiresAt > now) out.push(toRegistration(l));
    return out;
  }

  /**
   * Registers (or renews) the lease of `owner` on `records` for `leaseMs` from `now`. The owner's
   * previous records are replaced: re-registering never duplicates. Throws ZoneError when a
   * record is not the owner's to publish, is malformed, or a limit is reached; the zone is then
   * unchanged.
   */
  register(owner: RegistrationOwner, records: readonly RecordInput[], leaseMs: number, now: number): Registration {
    this.expire(now);
    if (!Number.isInteger(leaseMs) || leaseMs < this.limits.minLeaseMs || leaseMs > this.limits.maxLeaseMs) {
      throw new ZoneError(
        'LEASE_INVALID',
        `lease of ${String(leaseMs)} ms is not an integer in ${this.limits.minLeaseMs}..${this.limits.maxLeaseMs} ms`,
        String(leaseMs),
      );
    }
    return this.put(owner, records, leaseMs, now + leaseMs);
  }

  /** Withdraws the owner's lease and records at once; false when it held none. */
  deregister(owner: RegistrationOwner): boolean {
    const key = leaseKey(owner);
    const lease = this.leases.get(key);
    if (!lease) return false;
    this.removeLease(key, lease);
    this.changed();
    return true;
  }

  /** Removes every lease that ended at or before `now`, returning them. Cheap when none is due. */
  expire(now: number): Registration[] {
    if (now < this.nextExpiryAt) return [];
    const lapsed: Registration[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [key, lease] of this.leases) {
      if (lease.expiresAt <= now) {
        this.removeLease(key, lease);
        lapsed.push(toRegistration(lease));
      } else if (lease.expiresAt < next) {
        next = lease.expiresAt;
      }
    }
    this.nextExpiryAt = next;
    if (lapsed.length > 0) this.changed();
    return lapsed;
  }

  /**
   * What the zone answers for `name` (any case, with or without the final dot) and `type` (a
   * record type name as dns-packet spells it: `SRV`, `AAAA`, `ANY`, `UNKNOWN_65280`...) at `now`.
   * REFUSED outside the zone; NXDOMAIN + SOA for a name that does not exist; NOERROR with no
   * answer + SOA (NODATA) for a name that exists without that type, empty non-terminals included.
   */
  lookup(name: string, type: string, now: number): ZoneAnswer {
    this.expire(now);
    const qname = canonicalName(name);
    if (!isInZone(qname, this.origin)) return { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
    if (qname === this.servicesName) return this.serviceEnumeration(type, now);
    const node = this.nodes.get(qname);
    if (node === undefined) return this.negative('NXDOMAIN');
    const answers: ZoneRecord[] = [];
    if (type === 'ANY') {
      for (const rrset of node.rrsets.values()) answers.push(...rrsetRecords(rrset));
    } else {
      const rrset = node.rrsets.get(type as ZoneRecordType);
      if (rrset !== undefined) answers.push(...rrsetRecords(rrset));
    }
    if (answers.length === 0) return this.negative('NOERROR');
    const additionals: ZoneRecord[] = [];
    const seen = new Set<string>();
    for (const r of answers) {
      const host = r.type === 'SRV' ? r.target : r.type === 'NS' ? r.host : undefined;
      if (host === undefined || seen.has(host) || host === qname) continue;
      seen.add(host);
      const aaaa = this.nodes.get(host)?.rrsets.get('AAAA');
      if (aaaa !== undefined) additionals.push(...rrsetRecords(aaaa));
    }
    return { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals };
  }

  /** The zone as an RFC 1035 master file (for other servers, e.g. CoreDNS, and for people). */
  toMasterFile(): string {
    const lines = [`$ORIGIN ${this.origin}`, `$TTL ${this.defaultTtl}`];
    const names = [...this.nodes.keys()].sort((a, b) => (a === this.origin ? -1 : b === this.origin ? 1 : a < b ? -1 : a > b ? 1 : 0));
    const order: ZoneRecordType[] = ['SOA', 'NS', 'SRV', 'AAAA', 'TXT'];
    for (const n of names) {
      const node = this.nodes.get(n)!;
      for (const t of order) {
        const rrset = node.rrsets.get(t);
        if (rrset !== undefined) for (const r of rrsetRecords(rrset)) lines.push(`${r.name} ${r.ttl} IN ${r.type} ${presentationData(r)}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** `_services._dns-sd._udp.<origin>`: the DNS-SD enumeration name. */
  get servicesName(): string {
    return `${SERVICES_PREFIX}.${this.origin}`;
  }

  /** The services with a live SRV record (their names, sorted). */
  services(now: number): string[] {
    this.expire(now);
    const suffix = `.${this.origin}`;
    const out: string[] = [];
    for (const [name, node] of this.nodes) {
      if (!name.startsWith(`${SRV_PREFIX}.`) || !node.rrsets.has('SRV')) continue;
      const service = name.slice(SRV_PREFIX.length + 1, name.length - suffix.length);
      if (!service.includes('.')) out.push(service);
    }
    return out.sort();
  }

  // ------------------------------------------------------------------------------- internals

  private serviceEnumeration(type: string, now: number): ZoneAnswer {
    if (type !== 'PTR' && type !== 'ANY') return this.negative('NOERROR');
    const answers: PtrRecord[] = this.services(now).map((service) => ({ type: 'PTR', name: this.servicesName, ttl: this.defaultTtl, target: this.srvName(service) }));
    if (answers.length === 0) return this.negative('NOERROR');
    return { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals: [] };
  }

  private negative(rcode: 'NXDOMAIN' | 'NOERROR'): ZoneAnswer {
    const soa = this.soaRecord;
    // RFC 2308 §3: the SOA of a negative answer carries min(SOA TTL, MINIMUM).
    const authority: SoaRecord = { ...soa, ttl: Math.min(soa.ttl, soa.minimum) };
    return { rcode, authoritative: true, answers: [], authorities: [authority], additionals: [] };
  }

  private makeSoa(): SoaRecord {
    return {
      type: 'SOA',
      name: this.origin,
      ttl: this.apexTtl,
      mname: this.nameServer,
      rname: this.hostmaster,
      serial: this.changes % 2 ** 32,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: this.negativeTtl,
    };
  }

  private changed(): void {
    this.changes += 1;
    this.removeEntry(this.soaRecord);
    this.soaRecord = this.makeSoa();
    this.addEntry(this.soaRecord);
  }

  /** Validates and installs a lease; the zone is untouched when validation throws. */
  private put(owner: RegistrationOwner, input: readonly RecordInput[], leaseMs: number, expiresAt: number): Registration {
    const own = this.checkOwner(owner);
    const key = leaseKey(own);
    const records = this.checkRecords(own, input, leaseMs);
    const previous = this.leases.get(key);
    if (previous === undefined) {
      if (this.leases.size >= this.limits.maxRegistrations) {
        throw new ZoneError('ZONE_FULL', `the zone holds ${this.leases.size} registrations, its limit; try again after leases lapse`, key);
      }
      const instances = this.instancesPerService.get(own.service) ?? 0;
      if (instances >= this.limits.maxInstancesPerService) {
        throw new ZoneError('TOO_MANY_INSTANCES', `service "${own.service}" has ${instances} instances registered, the limit`, own.service);
      }
    }
    const lease: Lease = { owner: own, records, leaseMs, expiresAt };
    if (previous !== undefined && sameRecords(previous.records, records)) {
      // A renewal: only the lease moves; what the zone serves (and its version) stays.
      previous.expiresAt = expiresAt;
      previous.leaseMs = leaseMs;
      if (expiresAt < this.nextExpiryAt) this.nextExpiryAt = expiresAt;
      return toRegistration(previous);
    }
    if (previous !== undefined) this.removeLease(key, previous);
    this.leases.set(key, lease);
    this.instancesPerService.set(own.service, (this.instancesPerService.get(own.service) ?? 0) + 1);
    for (const r of records) this.addEntry(r);
    if (expiresAt < this.nextExpiryAt) this.nextExpiryAt = expiresAt;
    this.changed();
    return toRegistration(lease);
  }

  private removeLease(key: string, lease: Lease): void {
    this.leases.delete(key);
    const n = (this.instancesPerService.get(lease.owner.service) ?? 1) - 1;
    if (n > 0) this.instancesPerService.set(lease.owner.service, n);
    else this.instancesPerService.delete(lease.owner.service);
    for (const r of lease.records) this.removeEntry(r);
  }

  private addEntry(record: ZoneRecord): void {
    let node = this.nodes.get(record.name);
    if (node === undefined) {
      node = { below: 0, rrsets: new Map() };
      this.nodes.set(record.name, node);
    }
    let rrset = node.rrsets.get(record.type);
    if (rrset === undefined) {
      rrset = new Map();
      node.rrsets.set(record.type, rrset);
    }
    const k = rdataKey(record);
    const entry = rrset.get(k);
    if (entry !== undefined) entry.refs += 1;
    else rrset.set(k, { record, refs: 1 });
    for (const n of selfAndAncestors(record.name, this.origin)) {
      let anc = this.nodes.get(n);
      if (anc === undefined) {
        anc = { below: 0, rrsets: new Map() };
        this.nodes.set(n, anc);
      }
      anc.below += 1;
    }
  }

  private removeEntry(record: ZoneRecord): void {
    const node = this.nodes.get(record.name);
    const rrset = node?.rrsets.get(record.type);
    const k = rdataKey(record);
    const entry = rrset?.get(k);
    if (node === undefined || rrset === undefined || entry === undefined) return;
    entry.refs -= 1;
    if (entry.refs === 0) {
      rrset.delete(k);
      if (rrset.size === 0) node.rrsets.delete(record.type);
    }
    for (const n of selfAndAncestors(record.name, this.origin)) {
      const anc = this.nodes.get(n);
      if (anc === undefined) continue;
      anc.below -= 1;
      if (anc.below <= 0 && anc.rrsets.size === 0) this.nodes.delete(n);
    }
  }

  private checkOwner(owner: RegistrationOwner): RegistrationOwner {
    const service = typeof owner?.service === 'string' ? owner.service : '';
    const instance = typeof owner?.instance === 'string' ? owner.instance : '';
    if (!isHostLabel(service)) {
      throw new ZoneError('OWNER_INVALID', `service name ${JSON.stringify(service)} is not a lowercase DNS label (letters, digits, inner "-", 1..63)`, service);
    }
    if (service === this.reservedServiceLabel) {
      throw new ZoneError('OWNER_INVALID', `"${service}" is reserved for the zone's name server ${this.nameServer}`, service);
    }
    if (!isHostLabel(instance)) {
      throw new ZoneError('OWNER_INVALID', `instance name ${JSON.stringify(instance)} is not a lowercase DNS label (letters, digits, inner "-", 1..63)`, instance);
    }
    const srvName = `${SRV_PREFIX}.${service}.${this.origin}`;
    const hostName = `${instance}.${service}.${this.origin}`;
    for (const n of [srvName, hostName]) {
      const problem = nameProblem(n);
      if (problem !== undefined) throw new ZoneError('OWNER_INVALID', `the names of ${service}/${instance} would be invalid: ${n}: ${problem}`, n);
    }
    return { service, instance };
  }

  /** The owner's records in canonical form, deduplicated, or a ZoneError for the first one refused. */
  private checkRecords(owner: RegistrationOwner, input: readonly RecordInput[], leaseMs: number): RegisteredRecord[] {
    if (!Array.isArray(input) || input.length === 0) {
      throw new ZoneError('NO_RECORDS', `${owner.service}/${owner.instance} registered no records; deregister to withdraw`, `${owner.service}/${owner.instance}`);
    }
    if (input.length > this.limits.maxRecordsPerRegistration) {
      throw new ZoneError('TOO_MANY_RECORDS', `${input.length} records in one registration; at most ${this.limits.maxRecordsPerRegistration}`, String(input.length));
    }
    const srvName = `${SRV_PREFIX}.${owner.service}.${this.origin}`;
    const hostName = `${owner.instance}.${owner.service}.${this.origin}`;
    const leaseSeconds = Math.floor(leaseMs / 1000);
    const out = new Map<string, RegisteredRecord>();
    for (const r of input) {
      const rawName = typeof r?.name === 'string' ? r.name : '';
      const name = canonicalName(rawName);
      const problem = nameProblem(name);
      if (problem !== undefined) throw new ZoneError('NAME_INVALID', `record name ${JSON.stringify(rawName)} is not a domain name: ${problem}`, rawName);
      this.checkNameOwned(owner, name, srvName, hostName);
      const type: unknown = r.type;
      const allowed = name === srvName ? ['SRV', 'TXT'] : ['AAAA', 'TXT'];
      if (typeof type !== 'string' || !allowed.includes(type)) {
        throw new ZoneError('TYPE_NOT_ALLOWED', `${name} may carry ${allowed.join(' and ')} records, not ${String(type)}`, `${name} ${String(type)}`);
      }
      const ttl = this.checkTtl(name, r.ttl, leaseSeconds);
      let record: RegisteredRecord;
      switch (r.type) {
        case 'SRV': {
          const target = canonicalName(typeof r.target === 'string' ? r.target : '');
          if (target !== hostName) {
            throw new ZoneError('SRV_TARGET_NOT_OWNED', `the SRV target of ${name} must be the instance's own host ${hostName}, not ${target}`, target);
          }
          record = {
            type: 'SRV',
            name,
            ttl,
            priority: u16(name, 'priority', r.priority, 0),
            weight: u16(name, 'weight', r.weight, 0),
            port: u16(name, 'port', r.port, 1),
            target,
          };
          break;
        }
        case 'AAAA':
          record = { type: 'AAAA', name, ttl, address: normalizeAddress(r.address, name) };
          break;
        case 'TXT':
          record = { type: 'TXT', name, ttl, text: this.checkTxt(name, r.text) };
          break;
        default:
          throw new ZoneError('TYPE_NOT_ALLOWED', `${name} may carry ${allowed.join(' and ')} records`, name);
      }
      out.set(`${record.type} ${name} ${rdataKey(record)}`, record);
    }
    return [...out.values()];
  }

  private checkNameOwned(owner: RegistrationOwner, name: string, srvName: string, hostName: string): void {
    if (name === srvName || name === hostName) return;
    if (!isInZone(name, this.origin)) {
      throw new ZoneError('NAME_OUTSIDE_ZONE', `${name} is outside the zone ${this.origin}; ${owner.service} may publish ${srvName} and ${hostName}`, name);
    }
    const labels = labelsBelow(name, this.origin);
    if (labels.length === 0) {
      throw new ZoneError('NAME_NOT_ALLOWED', `${name} is the zone apex: it holds the zone's own SOA and NS; ${owner.service} may publish ${srvName} and ${hostName}`, name);
    }
    const service = labels[labels.length - 1];
    if (service !== owner.service) {
      throw new ZoneError('NAME_OF_OTHER_SERVICE', `${name} belongs to service "${service ?? ''}", not to "${owner.service}"`, name);
    }
    if (labels.length === 2 && !labels[0]!.startsWith('_')) {
      throw new ZoneError('NAME_OF_OTHER_INSTANCE', `${name} is the host of instance "${labels[0]!}" of ${owner.service}, not of "${owner.instance}"`, name);
    }
    throw new ZoneError('NAME_NOT_ALLOWED', `${owner.service}/${owner.instance} may publish ${srvName} and ${hostName} only, not ${name}`, name);
  }

  private checkTtl(name: string, ttl: unknown, leaseSeconds: number): number {
    if (ttl === undefined) return Math.min(this.defaultTtl, leaseSeconds);
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > this.maxTtl) {
      throw new ZoneError('RECORD_INVALID', `TTL ${String(ttl)} of ${name} is not an integer in 0..${this.maxTtl} s`, String(ttl));
    }
    if (ttl > leaseSeconds) {
      throw new ZoneError('RECORD_INVALID', `TTL ${ttl} s of ${name} outlives its ${leaseSeconds} s lease: caches would keep it after it lapsed`, String(ttl));
    }
    return ttl;
  }

  private checkTxt(name: string, text: unknown): string[] {
    if (!Array.isArray(text) || text.length === 0) throw new ZoneError('RECORD_INVALID', `TXT of ${name} needs one or more strings`, name);
    let total = 0;
    const out: string[] = [];
    for (const s of text as unknown[]) {
      if (typeof s !== 'string') throw new ZoneError('RECORD_INVALID', `TXT of ${name} holds a ${typeof s}, not a string`, name);
      const bytes = Buffer.byteLength(s, 'utf8');
      if (bytes > 255) throw new ZoneError('RECORD_INVALID', `a TXT string of ${name} is ${bytes} bytes; at most 255 (RFC 1035 character-string)`, s.slice(0, 32));
      total += bytes;
      out.push(s);
    }
    if (total > this.limits.maxTxtBytes) {
      throw new ZoneError('RECORD_INVALID', `TXT of ${name} is ${total} bytes; at most ${this.limits.maxTxtBytes}`, name);
    }
    return out;
  }
}

// ------------------------------------------------------------------------------- helpers

function ttlOption(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) throw new TypeError(`zone ${what} ${v} is not a TTL in seconds (integer 0..2^31-1)`);
  return v;
}

function u16(name: string, field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_U16) {
    throw new ZoneError('RECORD_INVALID', `SRV ${field} ${String(v)} of ${name} is not an integer in ${min}..${MAX_U16}`, String(v));
  }
  return v;
}

function normalizeAddress(address: unknown, name: string): string {
  const text = typeof address === 'string' ? address : String(address);
  let bytes: Uint8Array;
  try {
    bytes = parseIpv6(text);
  } catch (err) {
    const why = isIpv6Error(err) ? err.message : String(err);
    throw new ZoneError('RECORD_INVALID', `AAAA of ${name}: ${why}`, text, { cause: err });
  }
  if (bytes.every((b) => b === 0)) throw new ZoneError('RECORD_INVALID', `AAAA of ${name}: :: (unspecified) is no address to connect to`, text);
  return formatIpv6(bytes);
}

function leaseKey(owner: RegistrationOwner): string {
  return `${owner.service}/${owner.instance}`;
}

function toRegistration(l: Lease): Registration {
  return { owner: l.owner, records: l.records, leaseMs: l.leaseMs, expiresAt: l.expiresAt };
}

/** Identifies a record's data within its RRset (name and type aside; TTL not part of it). */
function rdataKey(r: ZoneRecord): string {
  switch (r.type) {
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'AAAA':
      return r.address;
    case 'TXT':
      return JSON.stringify(r.text);
    case 'NS':
      return r.host;
    case 'PTR':
      return r.target;
    case 'SOA':
      return 'SOA';
  }
}

function sameRecords(a: readonly RegisteredRecord[], b: readonly RegisteredRecord[]): boolean {
  if (a.length !== b.length) return false;
  const key = (r: RegisteredRecord): string => `${r.type} ${r.name} ${r.ttl} ${rdataKey(r)}`;
  const set = new Set(a.map(key));
  return b.every((r) => set.has(key(r)));
}

/** An RRset's records in a stable order, all with the RRset's smallest TTL (RFC 2181 §5.2). */
function rrsetRecords(rrset: Map<string, Entry>): ZoneRecord[] {
  const entries = [...rrset.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let ttl = Number.POSITIVE_INFINITY;
  for (const [, e] of entries) ttl = Math.min(ttl, e.record.ttl);
  return entries.map(([, e]) => (e.record.ttl === ttl ? e.record : { ...e.record, ttl }));
}

function presentationData(r: ZoneRecord): string {
  switch (r.type) {
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'AAAA':
      return r.address;
    case 'TXT':
      return r.text.map(quoteCharacterString).join(' ');
    case 'NS':
    case 'PTR':
      return r.type === 'NS' ? r.host : r.target;
    case 'SOA':
      return `${r.mname} ${r.rname} ${r.serial} ${r.refresh} ${r.retry} ${r.expire} ${r.minimum}`;
  }
}

/** RFC 1035 §5.1 quoted character-string: `"` and `\` escaped, bytes outside printable ASCII as \DDD. */
function quoteCharacterString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}
