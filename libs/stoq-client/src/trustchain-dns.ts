// Service discovery through TrustChain over STOQ, for a client that knows only TrustChain's STOQ
// address: `trustchain/resolve_dns` answers the questions TrustChain's DNS server answers, over a
// connection authenticated by TrustChain's certificate (plain DNS is not). Its records come in
// presentation format; `dnsAnswerOf` (pure) parses them into the shapes DnsSrvResolver reads, so
// the SRV/AAAA logic (priorities, TTLs, "no such service") is the same as over DNS.
import { DnsQueryError, Status, isRpcError, type DnsAnswer, type DnsQuerier, type RpcClient } from '@stoq/rpc';
import { trustchain } from '@stoq/protos';

/** Records one answer may carry before it is refused as malformed (a bound on what we parse). */
const MAX_RECORDS = 1024;

type DnsRecordAnswer = DnsAnswer['answers'][number];

export class TrustChainDnsQuerier implements DnsQuerier {
  /** `rpc` reaches TrustChain (its resolver names service `trustchain`). */
  constructor(
    private readonly rpc: RpcClient,
    private readonly timeoutMs = 5000,
  ) {}

  async query(name: string, type: 'SRV' | 'AAAA' | 'PTR', signal?: AbortSignal): Promise<DnsAnswer> {
    let r: trustchain.ResolveDnsResponse;
    try {
      r = await this.rpc.call(trustchain.TrustChainMethods.resolveDns, { name, type }, { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw new DnsQueryError(isRpcError(err) && err.code === Status.DEADLINE_EXCEEDED ? 'TIMEOUT' : 'NETWORK', `trustchain/resolve_dns ${name} ${type}: ${(err as Error).message}`, { cause: err });
    }
    return dnsAnswerOf(r);
  }
}

/** A resolve_dns answer as a DNS answer (pure); records of types discovery does not read are left out. */
export function dnsAnswerOf(r: trustchain.ResolveDnsResponse): DnsAnswer {
  const answers = r.answers ?? [];
  const additionals = r.additionals ?? [];
  if (answers.length + additionals.length > MAX_RECORDS) throw new DnsQueryError('MALFORMED', `trustchain/resolve_dns answered ${answers.length + additionals.length} records, more than ${MAX_RECORDS}`);
  return { rcode: r.rcode || 'SERVFAIL', answers: answers.flatMap(recordOf), authorities: [], additionals: additionals.flatMap(recordOf) };
}

function recordOf(rec: trustchain.DnsRecord): DnsRecordAnswer[] {
  const name = rec.name ?? '';
  const ttl = rec.ttl ?? 0;
  const data = (rec.data ?? '').trim();
  const bad = (): never => {
    throw new DnsQueryError('MALFORMED', `trustchain/resolve_dns: a ${rec.type} record for ${name} has data ${JSON.stringify(data.slice(0, 80))}`);
  };
  switch (rec.type) {
    case 'SRV': {
      // "priority weight port target", RFC 2782's presentation format.
      const m = /^(\d{1,5}) (\d{1,5}) (\d{1,5}) (\S{1,255})$/.exec(data) ?? bad();
      const [priority, weight, port] = [Number(m[1]), Number(m[2]), Number(m[3])];
      if (priority > 65535 || weight > 65535 || port > 65535) bad();
      return [{ type: 'SRV', name, ttl, data: { priority, weight, port, target: m[4]! } }];
    }
    case 'AAAA':
      if (!/^[0-9a-fA-F:.]{2,45}$/.test(data)) bad();
      return [{ type: 'AAAA', name, ttl, data }];
    case 'PTR':
      if (!/^\S{1,255}$/.test(data)) bad();
      return [{ type: 'PTR', name, ttl, data }];
    default:
      return [];
  }
}
