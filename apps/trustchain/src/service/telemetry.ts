// TrustChain's service metrics in `trustchain/metrics` (beside stoq-rpc's per-method ones and the
// process metrics every service publishes): certificates issued, instances about to run out of
// certificate, the CT log's size and the age of its newest STH, DNS queries and answers.
import type { Clock } from '@stoq/core';
import type { CtLog } from '@stoq/ct-log';
import type { ServiceMetricSample } from '@stoq/rpc';
import type { DnsServer } from '../dns/server';
import type { CaStore } from '../store/ca-store';

/** An instance whose newest certificate expires within this long has missed its renewal. */
export const EXPIRING_SOON_MS = 2 * 3600_000;

/** The two figures that scan the certificates table are recomputed at most this often. */
const STORE_SCAN_INTERVAL_MS = 15_000;

export function trustChainMetrics(deps: { store: CaStore; ct: CtLog; dns: DnsServer; clock: Clock }): () => ServiceMetricSample[] {
  let scanned: { at: number; issued: number; expiring: number } | null = null;
  return () => {
    const now = deps.clock.now();
    // A scrape comes every second; counting certificates need not (the table only grows).
    if (!scanned || now - scanned.at >= STORE_SCAN_INTERVAL_MS) {
      scanned = { at: now, issued: deps.store.certificateCount(), expiring: deps.store.expiringInstances(now, EXPIRING_SOON_MS) };
    }
    const dns = deps.dns.counters();
    const sth = deps.ct.lastSth;
    const out: ServiceMetricSample[] = [
      { name: 'trustchain_certificates_issued_total', help: 'Certificates issued and recorded (enrollments, renewals, own).', type: 'counter', value: scanned.issued },
      { name: 'trustchain_instances_certificate_expiring', help: 'Instances whose newest unrevoked certificate expires within 2 h (renewal missed).', type: 'gauge', value: scanned.expiring },
      { name: 'trustchain_ct_tree_size', help: 'Entries in the Certificate Transparency log.', type: 'gauge', value: deps.ct.treeSize },
      { name: 'trustchain_ct_sth_age_seconds', help: 'Age of the newest signed tree head.', type: 'gauge', value: sth ? Math.max(0, (now - sth.timestamp) / 1000) : 0 },
      { name: 'trustchain_dns_queries_total', help: 'DNS queries received.', type: 'counter', labels: { transport: 'udp' }, value: dns.udpQueries },
      { name: 'trustchain_dns_queries_total', help: 'DNS queries received.', type: 'counter', labels: { transport: 'tcp' }, value: dns.tcpQueries },
    ];
    for (const [rcode, n] of Object.entries(dns.answers)) {
      out.push({ name: 'trustchain_dns_responses_total', help: 'DNS responses sent, by rcode.', type: 'counter', labels: { rcode }, value: n });
    }
    return out;
  };
}
