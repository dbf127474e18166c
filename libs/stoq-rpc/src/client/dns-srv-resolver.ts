// DNS SRV service discovery (RFC 2782) for RpcClient: `_stoq._udp.<service>.hypermesh. SRV`
// gives the instances (priority, weight, port, target host), the target hosts' AAAA give the
// addresses (from the additional section, or asked for when missing). The answer's smallest TTL
// is how long ServiceDirectory caches it, and a failed lookup keeps the stale answer there
// (service-targets.ts); TargetSet balances by priority then weight. Every target must present a
// certificate naming the service (identity-check.ts), so DNS tells where to look, never whom
// to trust. `resolutionFromDns` is the pure part.
import type { Ipv6Endpoint } from '@stoq/core';
import type dnsPacket from 'dns-packet';
import { UdpDnsQuerier, type DnsAnswer, type DnsQuerier } from './dns-querier';
import type { Resolution, ResolvedTarget, Resolver } from './resolver';

export const DEFAULT_DISCOVERY_ZONE = 'hypermesh.';
export const SRV_SERVICE_PREFIX = '_stoq._udp';

export interface DnsSrvResolverOptions {
  /** The DNS server (TrustChain's), or a querier of your own. */
  server?: Ipv6Endpoint;
  querier?: DnsQuerier;
  /** Default `hypermesh.`. */
  zone?: string;
  /** Cache bounds on the TTL of an answer (ms). Defaults 1000 and 300_000. */
  minTtlMs?: number;
  maxTtlMs?: number;
  /** How long "no such service" is cached when the answer carries no SOA (ms). Default 5000. */
  negativeTtlMs?: number;
  /** At most this many targets per service are used (a bound on what one answer can make us dial). Default 64. */
  maxTargets?: number;
}

export class DnsSrvResolver implements Resolver {
  private readonly querier: DnsQuerier;
  private readonly zone: string;
  private readonly bounds: TtlBounds;
  private readonly maxTargets: number;

  constructor(opts: DnsSrvResolverOptions) {
    if (!opts.querier && !opts.server) throw new TypeError('DnsSrvResolver needs server or querier');
    this.querier = opts.querier ?? new UdpDnsQuerier({ server: opts.server! });
    this.zone = (opts.zone ?? DEFAULT_DISCOVERY_ZONE).replace(/\.?$/, '.');
    this.bounds = { minMs: opts.minTtlMs ?? 1000, maxMs: opts.maxTtlMs ?? 300_000, negativeMs: opts.negativeTtlMs ?? 5000 };
    this.maxTargets = opts.maxTargets ?? 64;
  }

  /** The SRV name of a service: `_stoq._udp.<service>.hypermesh.` */
  srvName(service: string): string {
    return `${SRV_SERVICE_PREFIX}.${service}.${this.zone}`;
  }

  async resolve(service: string, signal?: AbortSignal): Promise<Resolution> {
    const srv = await this.querier.query(this.srvName(service), 'SRV', signal);
    const missing = hostsWithoutAddress(srv);
    const extra: dnsPacket.Answer[] = [];
    for (const host of missing.slice(0, this.maxTargets)) {
      const a = await this.querier.query(host, 'AAAA', signal);
      if (a.rcode === 'NOERROR') extra.push(...a.answers);
    }
    const res = resolutionFromDns(service, { ...srv, additionals: [...srv.additionals, ...extra] }, this.bounds);
    return res.targets.length > this.maxTargets ? { ...res, targets: res.targets.slice(0, this.maxTargets) } : res;
  }
}

export interface TtlBounds {
  readonly minMs: number;
  readonly maxMs: number;
  readonly negativeMs: number;
}

const canonical = (n: string): string => n.toLowerCase().replace(/\.$/, '');

/** SRV target hosts the answer gives no AAAA for. */
export function hostsWithoutAddress(answer: DnsAnswer): string[] {
  const have = new Set(answer.additionals.filter((a) => a.type === 'AAAA').map((a) => canonical(a.name)));
  const hosts = answer.answers.filter((a): a is dnsPacket.SrvAnswer => a.type === 'SRV').map((a) => canonical(a.data.target));
  return [...new Set(hosts)].filter((h) => !have.has(h));
}

/**
 * Targets from an SRV answer plus AAAA records (pure). NXDOMAIN and NODATA mean "no instance
 * now", cached for the SOA minimum (RFC 2308) or `negativeMs`; other rcodes are errors.
 * A target "." means the service is decidedly absent (RFC 2782).
 */
export function resolutionFromDns(service: string, answer: DnsAnswer, bounds: TtlBounds): Resolution {
  const clamp = (ms: number): number => Math.min(bounds.maxMs, Math.max(bounds.minMs, ms));
  if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') {
    throw new Error(`DNS answered ${answer.rcode} for service "${service}"`);
  }
  const srvs = answer.rcode === 'NOERROR' ? answer.answers.filter((a): a is dnsPacket.SrvAnswer => a.type === 'SRV') : [];
  if (srvs.length === 0) {
    const soa = answer.authorities.find((a): a is dnsPacket.SoaAnswer => a.type === 'SOA');
    const ttl = soa ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) * 1000 : bounds.negativeMs;
    return { targets: [], ttlMs: clamp(ttl) };
  }
  const addresses = new Map<string, Array<{ address: string; ttl: number }>>();
  for (const a of answer.additionals) {
    if (a.type !== 'AAAA') continue;
    const list = addresses.get(canonical(a.name)) ?? [];
    list.push({ address: a.data, ttl: a.ttl ?? 0 });
    addresses.set(canonical(a.name), list);
  }
  let ttl = Number.POSITIVE_INFINITY;
  const targets: ResolvedTarget[] = [];
  const seen = new Set<string>();
  for (const s of srvs) {
    ttl = Math.min(ttl, s.ttl ?? 0);
    if (s.data.target === '.' || s.data.target === '') continue;
    for (const { address, ttl: aTtl } of addresses.get(canonical(s.data.target)) ?? []) {
      const endpoint: Ipv6Endpoint = `[${address}]:${s.data.port}`;
      if (seen.has(endpoint)) continue;
      seen.add(endpoint);
      ttl = Math.min(ttl, aTtl);
      targets.push({ endpoint, expectedService: service, priority: s.data.priority ?? 0, weight: s.data.weight ?? 1 });
    }
  }
  return { targets, ttlMs: clamp(ttl * 1000) };
}
