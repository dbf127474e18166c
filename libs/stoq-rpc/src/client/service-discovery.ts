// Every instance of every service in TrustChain's zone: the DNS-SD service enumeration
// (`PTR _services._dns-sd._udp.<zone>`, RFC 6763 §9) names each service's SRV name; each SRV
// names the instances, whose AAAA come as additionals (or are asked for). For monitors and
// operators (NGauge, `stoq status`); calls that want one service use DnsSrvResolver.
import type { DnsAnswer, DnsQuerier } from './dns-querier';
import { DEFAULT_DISCOVERY_ZONE, SRV_SERVICE_PREFIX } from './dns-srv-resolver';

/** The DNS-SD enumeration name's labels in front of the zone. */
export const SERVICES_ENUMERATION = '_services._dns-sd._udp';

export interface DiscoveredInstance {
  readonly service: string;
  readonly instance: string;
  /** `[ipv6]:port` */
  readonly address: string;
}

const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');

function addressesOf(answer: DnsAnswer): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of answer.additionals) if (a.type === 'AAAA') out.set(bare(a.name), a.data);
  return out;
}

/** Every instance registered in `zone` now, by service and instance name. */
export async function discoverInstances(dns: DnsQuerier, zone = DEFAULT_DISCOVERY_ZONE, signal?: AbortSignal): Promise<DiscoveredInstance[]> {
  const apex = zone.endsWith('.') ? zone : `${zone}.`;
  const ptr = await dns.query(`${SERVICES_ENUMERATION}.${apex}`, 'PTR', signal);
  const prefix = `${SRV_SERVICE_PREFIX}.`;
  const out: DiscoveredInstance[] = [];
  for (const srvName of ptr.answers.flatMap((a) => (a.type === 'PTR' ? [bare(a.data)] : []))) {
    if (!srvName.startsWith(prefix)) continue;
    const service = srvName.slice(prefix.length).split('.')[0]!;
    const srv = await dns.query(srvName, 'SRV', signal);
    const addresses = addressesOf(srv);
    for (const a of srv.answers) {
      if (a.type !== 'SRV') continue;
      const host = bare(a.data.target);
      const address = addresses.get(host) ?? (await dns.query(host, 'AAAA', signal)).answers.flatMap((x) => (x.type === 'AAAA' ? [x.data] : []))[0];
      if (address !== undefined) out.push({ service, instance: host.split('.')[0]!, address: `[${address}]:${a.data.port}` });
    }
  }
  return out;
}
