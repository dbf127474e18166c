// Where validators are: the genesis address when it gives one, else TrustChain DNS
// (`_stoq._udp.hypermesh.hypermesh.` SRV → `<instance>.hypermesh.hypermesh.` AAAA), queried
// when a link needs an address (so a restarted validator on a new port is found again).
import type { Ipv6Endpoint } from '@stoq/core';
import { DEFAULT_DISCOVERY_ZONE, SRV_SERVICE_PREFIX, type DnsQuerier } from '@stoq/rpc';
import type { GenesisValidator } from '../genesis';
import { HYPERMESH_SERVICE } from './peer-link';

const bare = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export class ValidatorDirectory {
  constructor(private readonly dns: DnsQuerier | null) {}

  async locate(v: GenesisValidator, signal?: AbortSignal): Promise<Ipv6Endpoint | null> {
    if (v.address) return v.address;
    if (!this.dns) return null;
    const srvName = `${SRV_SERVICE_PREFIX}.${HYPERMESH_SERVICE}.${DEFAULT_DISCOVERY_ZONE}`;
    const srv = await this.dns.query(srvName, 'SRV', signal);
    const host = `${v.instance}.${HYPERMESH_SERVICE}.${bare(DEFAULT_DISCOVERY_ZONE)}`;
    for (const a of srv.answers) {
      if (a.type !== 'SRV' || bare(a.data.target) !== host) continue;
      const glue = srv.additionals.find((x) => x.type === 'AAAA' && bare(x.name) === host);
      const address = glue?.type === 'AAAA' ? glue.data : (await this.dns.query(host, 'AAAA', signal)).answers.flatMap((x) => (x.type === 'AAAA' ? [x.data] : []))[0];
      if (address !== undefined) return `[${address}]:${a.data.port}`;
    }
    return null;
  }
}
