// discoverInstances reads the DNS-SD enumeration, each service's SRV and the AAAA additionals,
// asking for an AAAA only when the additional is missing; foreign PTR targets are skipped.
import type { DnsAnswer, DnsQuerier } from '../src/client/dns-querier';
import { discoverInstances } from '../src/client/service-discovery';

const answer = (answers: DnsAnswer['answers'], additionals: DnsAnswer['additionals'] = []): DnsAnswer => ({ rcode: 'NOERROR', answers, authorities: [], additionals });

test('every instance of every enumerated service, with its address', async () => {
  const asked: string[] = [];
  const dns: DnsQuerier = {
    query: async (name, type) => {
      asked.push(`${type} ${name}`);
      if (type === 'PTR') {
        return answer([
          { type: 'PTR', name, data: '_stoq._udp.caesar.hypermesh.' },
          { type: 'PTR', name, data: '_http._tcp.web.hypermesh.' },
          { type: 'PTR', name, data: '_stoq._udp.ngauge.hypermesh.' },
        ]);
      }
      if (type === 'SRV' && name.includes('caesar')) {
        return answer(
          [
            { type: 'SRV', name, data: { priority: 0, weight: 1, port: 7001, target: 'caesar-1.caesar.hypermesh.' } },
            { type: 'SRV', name, data: { priority: 0, weight: 1, port: 7002, target: 'Caesar-2.caesar.hypermesh.' } },
          ],
          [{ type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', data: '::1' }],
        );
      }
      if (type === 'SRV') return answer([{ type: 'SRV', name, data: { priority: 0, weight: 1, port: 9000, target: 'ngauge-1.ngauge.hypermesh.' } }], [{ type: 'AAAA', name: 'ngauge-1.ngauge.hypermesh.', data: 'fd00::9' }]);
      return answer([{ type: 'AAAA', name, data: 'fd00::2' }]);
    },
  };
  expect(await discoverInstances(dns)).toEqual([
    { service: 'caesar', instance: 'caesar-1', address: '[::1]:7001' },
    { service: 'caesar', instance: 'caesar-2', address: '[fd00::2]:7002' },
    { service: 'ngauge', instance: 'ngauge-1', address: '[fd00::9]:9000' },
  ]);
  expect(asked).toEqual(['PTR _services._dns-sd._udp.hypermesh.', 'SRV _stoq._udp.caesar.hypermesh', 'AAAA caesar-2.caesar.hypermesh', 'SRV _stoq._udp.ngauge.hypermesh']);
});
