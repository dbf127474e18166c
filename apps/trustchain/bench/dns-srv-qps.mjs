#!/usr/bin/env node
// dns_srv_qps: queries/s that dnsperf (Debian) gets from TrustChain's authoritative DNS and from
// CoreDNS serving the same zone from a master file, in one run, same query mix, same dnsperf
// settings. Prints one JSON line (stdout); progress goes to stderr.
//
// The zone: 16 services × 4 instances registered through Zone.register with the records
// register_service creates (SRV at _stoq._udp.<service>.hypermesh., AAAA at
// <instance>.<service>.hypermesh.), exported with Zone.toMasterFile() for CoreDNS. Queries:
// SRV of every service (answers carry the targets' AAAA as additionals) and AAAA of half the
// hosts: one SRV query to two AAAA. TrustChain's DNS runs in this process (the same DnsServer `trustchain serve`
// starts); this process does nothing else while dnsperf runs. CoreDNS is built with
// `go install` into ~/.cache/stoq/bin on first use.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, freePort, log, onExit, requireTool, runBench, runChecked } from './support.mjs';

const require = createRequire(import.meta.url);
const { Zone, DnsServer } = require('../dist/dns/index.js');
const pino = require('pino');

const COREDNS_VERSION = 'v1.12.1';
const SERVICES = 16;
const INSTANCES = 4;
const DURATION_S = Number(process.env.BENCH_DNS_SECONDS ?? 10);
const DNSPERF_CLIENTS = 4;
const DNSPERF_OUTSTANDING = 200;

function coreDnsBinary() {
  const bin = join(homedir(), '.cache', 'stoq', 'bin', 'coredns');
  if (existsSync(bin)) return bin;
  log(`building CoreDNS ${COREDNS_VERSION} with go install (about a minute)`);
  runChecked('go', ['install', `github.com/coredns/coredns@${COREDNS_VERSION}`], { env: { ...process.env, GOBIN: join(homedir(), '.cache', 'stoq', 'bin'), GOSUMDB: 'off' } });
  return bin;
}

function buildZone(now) {
  const zone = new Zone({ nameServerAddresses: ['::1'] });
  for (let s = 0; s < SERVICES; s++) {
    for (let i = 0; i < INSTANCES; i++) {
      const owner = { service: `svc${s}`, instance: `svc${s}-${i}` };
      const address = `fd00:5354::${(s * INSTANCES + i + 1).toString(16)}`;
      zone.register(owner, zone.instanceRecords(owner, { address, port: 4433 + i, weight: 1 + i }), zone.limits.maxLeaseMs, now);
    }
  }
  return zone;
}

function queryFile(dir, zone) {
  const lines = [];
  for (let s = 0; s < SERVICES; s++) {
    lines.push(`${zone.srvName(`svc${s}`)} SRV`);
    for (let i = 0; i < INSTANCES; i++) if (i % 2 === 0) lines.push(`${zone.hostName({ service: `svc${s}`, instance: `svc${s}-${i}` })} AAAA`);
  }
  const file = join(dir, 'queries.txt');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Runs a command without blocking this process (TrustChain's DNS server answers from its event loop). */
function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ status: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

/** Runs dnsperf against [::1]:port; returns queries/s, failing unless every query was answered NOERROR. */
async function dnsperf(port, queries, what) {
  log(`dnsperf → ${what} on [::1]:${port} for ${DURATION_S}s`);
  const r = await run('dnsperf', ['-s', '::1', '-p', String(port), '-d', queries, '-l', String(DURATION_S), '-c', String(DNSPERF_CLIENTS), '-q', String(DNSPERF_OUTSTANDING), '-t', '2']);
  if (r.status !== 0) throw new Error(`dnsperf against ${what} exited ${r.status}: ${r.stderr || r.stdout}`);
  const qps = /Queries per second:\s+([\d.]+)/.exec(r.stdout);
  const lost = /Queries lost:\s+(\d+)/.exec(r.stdout);
  const noerror = /NOERROR (\d+)/.exec(r.stdout);
  const completed = /Queries completed:\s+(\d+)/.exec(r.stdout);
  if (!qps || !completed) throw new Error(`cannot read dnsperf's output for ${what}:\n${r.stdout}`);
  if (!noerror || noerror[1] !== completed[1]) throw new Error(`${what}: not every answer was NOERROR:\n${r.stdout}`);
  return { qps: Number(qps[1]), lost: lost ? Number(lost[1]) : 0, completed: Number(completed[1]) };
}

/** Checks a server answers the SRV query as expected before measuring it. */
async function checkWithDig(port, name, targets, what) {
  const r = await run('dig', ['@::1', '-p', String(port), '+short', '+tries=1', '+time=2', 'SRV', name]);
  const got = r.stdout.trim().split('\n').filter(Boolean).length;
  if (r.status !== 0 || got !== targets) throw new Error(`${what} answered SRV ${name} with ${got} records, expected ${targets}:\n${r.stdout}${r.stderr}`);
}

async function startCoreDns(bin, dir, masterFile) {
  const port = await freePort('udp');
  const zonePath = join(dir, 'db.hypermesh');
  writeFileSync(zonePath, masterFile);
  const corefile = join(dir, 'Corefile');
  writeFileSync(corefile, `hypermesh.:${port} {\n  bind ::1\n  file ${zonePath}\n}\n`);
  const child = spawn(bin, ['-conf', corefile], { stdio: ['ignore', 'pipe', 'pipe'] });
  onExit(() => child.kill('SIGKILL'));
  let out = '';
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      if (out.includes('CoreDNS-')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`CoreDNS exited ${code} before serving:\n${out}`)));
  });
  return { port, stop: () => child.kill('SIGTERM') };
}

async function main() {
  requireTool('dnsperf', 'apt-get install -y dnsperf');
  requireTool('dig', 'apt-get install -y bind9-dnsutils');
  const bin = coreDnsBinary();
  const dir = mkdtempSync(join(tmpdir(), 'tc-dns-bench-'));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  const zone = buildZone(Date.now());
  const queries = queryFile(dir, zone);

  const server = await DnsServer.start({ zone, bind: '[::1]:0', logger: pino({ level: 'warn' }) });
  onExit(() => server.close());
  const tcPort = server.port;
  await checkWithDig(tcPort, zone.srvName('svc0'), INSTANCES, 'TrustChain DNS');
  const ours = await dnsperf(tcPort, queries, 'TrustChain DNS');
  await server.close();

  const core = await startCoreDns(bin, dir, zone.toMasterFile());
  await checkWithDig(core.port, zone.srvName('svc0'), INSTANCES, 'CoreDNS');
  const peer = await dnsperf(core.port, queries, `CoreDNS ${COREDNS_VERSION}`);
  core.stop();

  emit('trustchain.dns_srv_qps', 'queries/s', ours.qps, peer.qps, `CoreDNS ${COREDNS_VERSION} (file plugin, same zone)`, {
    seconds: DURATION_S,
    clients: DNSPERF_CLIENTS,
    outstanding: DNSPERF_OUTSTANDING,
    lost: ours.lost,
    peerLost: peer.lost,
  });
}

runBench('dns_srv_qps', main);
