// Discovery over TrustChain DNS: the DNS-SD enumeration (PTR _services._dns-sd._udp.<zone>) names
// every service; each service's SRV names its instances, whose AAAA come as additionals.
import type { DnsAnswer, DnsQuerier } from '@stoq/rpc';
import type { Target } from './core/targets';

export const SERVICES_ENUMERATION = '_services._dns-sd._udp';

const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');

function addressesOf(answer: DnsAnswer): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of answer.additionals) if (a.type === 'AAAA') out.set(bare(a.name), a.data);
  return out;
}

/** Every instance of every service registered in the zone now. */
export async function discoverTargets(dns: DnsQuerier, zone = 'hypermesh.', signal?: AbortSignal): Promise<Target[]> {
  const apex = zone.endsWith('.') ? zone : `${zone}.`;
  const ptr = await dns.query(`${SERVICES_ENUMERATION}.${apex}`, 'PTR', signal);
  const srvNames = ptr.answers.flatMap((a) => (a.type === 'PTR' ? [a.data] : []));
  const targets: Target[] = [];
  for (const srvName of srvNames) {
    const service = /^_stoq\._udp\.([a-z0-9-]+)\./.exec(srvName.toLowerCase())?.[1];
    if (!service) continue;
    const srv = await dns.query(srvName, 'SRV', signal);
    const addresses = addressesOf(srv);
    for (const a of srv.answers) {
      if (a.type !== 'SRV') continue;
      const host = bare(a.data.target);
      let address = addresses.get(host);
      if (address === undefined) {
        const aaaa = await dns.query(host, 'AAAA', signal);
        address = aaaa.answers.flatMap((x) => (x.type === 'AAAA' ? [x.data] : []))[0];
      }
      if (address !== undefined) targets.push({ service, instance: host.split('.')[0]!, address: `[${address}]:${a.data.port}` });
    }
  }
  return targets;
}
