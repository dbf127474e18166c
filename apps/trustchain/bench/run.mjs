#!/usr/bin/env node
// `npm run bench -w @stoq/trustchain`: the four TrustChain benchmarks, one after the other (never
// two at once: they share the machine's cores), each printing its JSON lines on stdout. Needs the
// built packages (`npm run build` at the root); builds the peers (CoreDNS, TesseraCT, step-ca)
// with `go install` into ~/.cache/stoq/bin on first use; needs dnsperf and dig (Debian).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const benches = ['enroll-renew.mjs', 'earned-issuance.mjs', 'ct-add-chain.mjs', 'dns-srv-qps.mjs'];
let failed = 0;
for (const b of benches) {
  const r = spawnSync(process.execPath, [join(HERE, b)], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`bench ${b} failed (exit ${r.status})\n`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
