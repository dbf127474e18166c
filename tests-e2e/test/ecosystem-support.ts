// The `npm start` launcher (scripts/start.mjs) as a user runs it, for the tests that need a whole
// ecosystem of plain processes (launcher.e2e.test.ts, ecosystem.e2e.test.ts): start it in its
// own folder and ports, wait for its progress lines, find the services' processes and logs. And
// the cross-service steps 4-7 (ecosystemSteps, at the end), shared by ecosystem.e2e.test.ts and
// compose.e2e.test.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, storedIdentity, type ServiceClient, type ServiceName } from '@stoq/client';
import { StoqTransport, createCsr, derToPem, falconCsrMessage, nativeFalcon, parseHybridCertificate } from '@stoq/core';
import { certificateKeyBinding, certificateRequestContext, createPlot, decodePoStakeProof, encodeFourProofSet, generateFourProofSet } from '@stoq/four-proof';
import { watToWasm } from '@stoq/native';
import { hypermesh } from '@stoq/protos';
import { RpcClient, StaticResolver } from '@stoq/rpc';
import { NodeMethods } from '../../apps/stoq-cli/src/node.proto';
import { until } from './support';

export const ROOT = join(__dirname, '..', '..');

export interface Launcher {
  readonly child: ChildProcess;
  /** Every stderr line so far (progress, restarts, the status table). */
  readonly lines: string[];
  /**
   * The first line matching `re` (already printed, or the next one); with `after`, only lines
   * from index `after` of `lines` on. Rejects if the launcher exits first.
   */
  waitFor(re: RegExp, after?: number): Promise<string>;
  /** Ctrl-C as a terminal sends it (SIGINT to the process group); resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/**
 * Starts `node scripts/start.mjs --home <home> --port-offset <offset> [...args]` in its own
 * process group, as a shell starts a foreground job.
 */
export function startLauncher(opts: { home: string; offset: number; args?: string[]; env?: NodeJS.ProcessEnv }): Launcher {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--home', opts.home, '--port-offset', String(opts.offset), ...(opts.args ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, ...opts.env },
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; after: number; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    lines.push(l);
    const i = lines.length - 1;
    for (const w of [...waiters]) if (i >= w.after && w.re.test(l)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(l);
  });
  const exited = once(child, 'exit');
  const waitFor = (re: RegExp, after = 0): Promise<string> => {
    const seen = lines.slice(after).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ re, after, resolve });
      void exited.then(([code]) => reject(new Error(`launcher exited (${code}) before ${re}; it said:\n${lines.join('\n')}`)));
    });
  };
  const interrupt = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    process.kill(-child.pid!, 'SIGINT');
    const [code] = (await exited) as [number | null];
    return code;
  };
  return { child, lines, waitFor, interrupt };
}

/** PIDs of processes whose command line mentions the ecosystem folder `home`. */
export function processesOfHome(home: string): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.includes(home) && !l.includes('ps -eo'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** The PID of the launcher's service `name` (its command line names `<home>/<name>.toml`), or null. */
export function pidOfService(home: string, name: string): number | null {
  for (const pid of processesOfHome(home)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(join(home, `${name}.toml`))) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

/** A service's pino JSON log lines, from `<home>/logs/<name>.log` (lines that are not JSON are skipped). */
export function serviceLog(home: string, name: string): Array<Record<string, unknown> & { msg?: string; time?: number }> {
  let text: string;
  try {
    text = readFileSync(join(home, 'logs', `${name}.log`), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** SHA-256 of the leaf certificate in `<dataDir>/identity/cert.pem`, lower-case hex (how logs and `stoq status` name it). */
export function certificateFingerprint(dataDir: string): string {
  return new X509Certificate(readFileSync(join(dataDir, 'identity', 'cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase();
}

export interface PromResult {
  metric: Record<string, string>;
  /** An instant vector's sample. */
  value?: [number, string];
  /** A range vector's raw samples. */
  values?: [number, string][];
}

export interface Prometheus {
  readonly url: string;
  /** A PromQL query (instant): its result. */
  query(promql: string): Promise<PromResult[]>;
  stop(): Promise<void>;
}

/** A free TCP port on [::1]. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen({ host: '::1', port: 0 }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** Whether a `prometheus` binary is on PATH (Debian's package). */
export const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;

/**
 * A real Prometheus (Debian's package, as ngauge.e2e.test.ts runs it) scraping NGauge's /metrics
 * at `target` ("[::1]:port") every 500 ms, its state in `dir`. honor_labels keeps NGauge's own
 * `instance` label (the scraped service's) on its series.
 */
export async function startPrometheus(target: string, dir: string): Promise<Prometheus> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), ['global:', '  scrape_interval: 500ms', '  scrape_timeout: 400ms', 'scrape_configs:', '  - job_name: ngauge', '    honor_labels: true', '    static_configs:', `      - targets: ['${target}']`, ''].join('\n'));
  const child = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=[::1]:${port}`], { stdio: 'ignore' });
  const url = `http://[::1]:${port}`;
  return {
    url,
    async query(promql: string): Promise<PromResult[]> {
      const body = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { data: { result: PromResult[] } };
      return body.data.result;
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Whether NGauge's `up` samples of one instance show it down after `sinceMs` and up after that,
 * and up last (samples: ms since the epoch, value 0 or 1).
 */
export function downThenUp(samples: Array<{ t: number; v: number }>, sinceMs: number): boolean {
  const sorted = [...samples].sort((x, y) => x.t - y.t);
  const down = sorted.find((x) => x.t >= sinceMs - 1000 && x.v === 0);
  return down !== undefined && sorted.some((x) => x.t > down.t && x.v === 1) && sorted.at(-1)?.v === 1;
}

/**
 * What Prometheus must hold for an instance that was killed at `sinceMs` and restarted: a
 * process_start_time_seconds from before and one from after, and `up` 1 now. (A crash that
 * NGauge saw as one failed scrape is in its /metrics for less than an interval, so a scraper can
 * miss the 0; the restart it cannot miss.)
 */
export async function prometheusSawRestart(prom: Prometheus, instance: string, sinceMs: number): Promise<boolean> {
  const since = sinceMs / 1000;
  const starts = (await prom.query(`process_start_time_seconds{instance="${instance}"}[1h]`)).flatMap((r) => r.values ?? []).map(([, v]) => Number(v));
  const up = (await prom.query(`up{instance="${instance}"}`)).map((r) => r.value?.[1]);
  return starts.some((v) => v < since) && starts.some((v) => v >= since - 1) && up.length === 1 && up[0] === '1';
}

// ---------------------------------------------------------------------------------------------
// The cross-service steps 4, 5, 6 and 7 of issue 15, shared by ecosystem.e2e.test.ts (plain
// processes under `npm start`) and compose.e2e.test.ts (containers): what differs between the
// two (how a service is killed, how its restart is seen, where its log is) comes in as functions.

/** How the steps reach an ecosystem from this process. */
export interface EcosystemAccess {
  /** TrustChain's DNS, "[addr]:port". */
  readonly dns: string;
  /** TrustChain's admin identity dir (TrustChain renews it in place), readable by this process. */
  readonly admin: string;
  /** Validator `i`'s (1..4) STOQ address, "[addr]:port". */
  validator(i: number): string;
  /** An identity dir of the ecosystem's `cli` service that is valid now (renewed or enrolled first). */
  freshCli(): Promise<string>;
}

export type ServiceLog = Array<Record<string, unknown> & { msg?: string; time?: number }>;

const MINT_FLAG = 1 << 14;
const ADD_WAT_SOURCE = '(module (func (export "add") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add))\n';

/** The step helpers bound to one ecosystem. */
export function ecosystemSteps(eco: EcosystemAccess) {
  /** A typed client by name, as TrustChain's admin. */
  const client = <S extends ServiceName>(service: S): Promise<ServiceClient<S>> => connect(service, { dns: eco.dns, identity: eco.admin });
  async function withClient<S extends ServiceName, T>(service: S, body: (c: ServiceClient<S>) => Promise<T>): Promise<T> {
    const c = await client(service);
    try {
      return await body(c);
    } finally {
      await c.close();
    }
  }
  /** One validator, by its address (not by name: each one's own view). */
  async function atValidator<T>(i: number, body: (rpc: RpcClient) => Promise<T>): Promise<T> {
    const transport = StoqTransport.create({ identity: await storedIdentity(eco.admin), bind: '[::]:0' });
    const rpc = new RpcClient({
      connector: (ep) => transport.connect(ep, { serverName: 'hypermesh.hypermesh', expectedService: 'hypermesh' }),
      resolver: new StaticResolver({ hypermesh: [eco.validator(i)] }),
      retry: { maxAttempts: 1 },
    });
    try {
      return await body(rpc);
    } finally {
      rpc.close();
      await transport.close();
    }
  }
  const statusOf = (i: number) => atValidator(i, (rpc) => rpc.call(hypermesh.ConsensusMethods.status, {}, { timeoutMs: 5000 }));
  const blockOf = (i: number, height: number) => atValidator(i, (rpc) => rpc.call(hypermesh.ConsensusMethods.block, { height }, { timeoutMs: 5000 }));

  /** Creates a mint account and `n` ordinary accounts (as admin), funds each from the mint. */
  async function fundedAccounts(caesar: ServiceClient<'caesar'>, n: number, amount: string): Promise<{ mint: string; accounts: string[]; next: () => string }> {
    let id = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1000)) * 1000n;
    const next = (): string => String(++id);
    const mint = next();
    const accounts = Array.from({ length: n }, next);
    const created = await caesar.createAccounts({ accounts: [{ id: mint, ledger: 1, code: 1, flags: MINT_FLAG }, ...accounts.map((a) => ({ id: a, ledger: 1, code: 10 }))] });
    expect(created.results).toEqual(Array(n + 1).fill(0));
    const funded = await caesar.createTransfers({ transfers: accounts.map((a) => ({ id: next(), debitAccountId: mint, creditAccountId: a, amount, ledger: 1, code: 1 })) });
    expect(funded.results).toEqual(Array(n).fill(0));
    return { mint, accounts, next };
  }

  /**
   * What examples/earned-certificate.mjs does, split in two: everything up to the request (the cli
   * identity stakes from an account the admin funds, binds the stake to a new node's id; the
   * node's keys, CSR and four proofs anchored to a committed block), then `issue()`:
   * trustchain/issue_certificate, which needs HyperMesh's approval. The chain is written to `outDir`.
   */
  async function prepareEarnedCertificate(outDir: string): Promise<{ issue(): Promise<{ file: string; approvedAtHeight: number }> }> {
    const owner = await connect('caesar', { dns: eco.dns, identity: await eco.freshCli() });
    const treasury = await client('caesar');
    let set: ReturnType<typeof generateFourProofSet>;
    let csr: Uint8Array;
    let falconSignature: Uint8Array;
    const instance = `storage-${Date.now() % 100000}`;
    try {
      const id = BigInt(Date.now()) * 1_000_000n;
      const [mint, account] = [id + 1n, id + 2n].map(String) as [string, string];
      expect((await treasury.createAccounts({ accounts: [{ id: mint, ledger: 1, code: 1, flags: MINT_FLAG }] })).results).toEqual([0]);
      expect((await owner.createAccounts({ accounts: [{ id: account, ledger: 1, code: 10 }] })).results).toEqual([0]);
      expect((await treasury.createTransfers({ transfers: [{ id: String(id + 3n), debitAccountId: mint, creditAccountId: account, amount: '1000', ledger: 1, code: 1 }] })).results).toEqual([0]);
      expect((await owner.stake({ ownerAccountId: account, amount: '500', transferId: String(id + 4n) })).result ?? 0).toBe(0);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const falcon = nativeFalcon.keypair();
      csr = createCsr({ service: 'storage', instance, tlsKey: privateKey, falconPublicKey: falcon.publicKey, ipAddresses: ['::1'] });
      falconSignature = nativeFalcon.sign(falcon.secretKey, falconCsrMessage(csr));
      const nodeId = new Uint8Array(createHash('sha256').update(falcon.publicKey).digest());
      const keyBinding = certificateKeyBinding(new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })), falcon.publicKey);
      const attestation = await owner.attestStake({ ownerAccountId: account, validitySeconds: 3600, nodeId });
      const { height, hash } = await withClient('hypermesh', async (h) => {
        const at = Number((await h.status({})).committedHeight) - 2;
        return { height: at, hash: (await h.block({ height: at })).hash };
      });
      set = generateFourProofSet({
        context: certificateRequestContext(keyBinding, nodeId),
        plot: createPlot(nodeId),
        ipv6Address: '::1',
        stake: decodePoStakeProof(attestation.fourProofStake),
        now: Date.now(),
        sequence: 1n,
        anchor: { height: BigInt(height), hash: Uint8Array.from(Buffer.from(hash, 'hex')) },
      });
    } finally {
      await Promise.all([owner.close(), treasury.close()]);
    }
    return {
      issue: () =>
        withClient('trustchain', async (trustchain) => {
          const issued = await trustchain.issueCertificate({ csr, falconSignature, proofSet: encodeFourProofSet(set) }, { timeoutMs: 120_000 });
          const file = join(outDir, `${instance}.pem`);
          writeFileSync(file, issued.chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''), { mode: 0o644 });
          return { file, approvedAtHeight: Number(parseHybridCertificate(issued.chain[0]!).consensusApproval!.blockHeight) };
        }),
    };
  }

  /**
   * Step 4: `kill()` validator `i` (kill -9), and right away, while it is down, an earned
   * certificate is issued (4 validators, f = 1: three make a quorum) and a transfer is made;
   * `verifyCert(file)` audits the certificate (it throws if the audit fails). Then
   * `restarted()` waits until the validator is back, and it must catch up: commit past the height
   * the others had reached at its restart, and hold the same block as all the others at a common
   * height. Returns lines of evidence for the test's output.
   */
  async function validatorOutage(i: number, opts: { outDir: string; kill(): Promise<void>; verifyCert(file: string): Promise<void>; restarted(): Promise<void>; backAlready(): boolean }): Promise<string[]> {
    const evidence: string[] = [];
    const request = await prepareEarnedCertificate(opts.outDir);
    const killedAt = Date.now();
    await opts.kill();
    const caesar = await client('caesar');
    try {
      const issuance = request.issue();
      const accounts = await fundedAccounts(caesar, 2, '1000');
      const moved = await caesar.createTransfers({ transfers: [{ id: accounts.next(), debitAccountId: accounts.accounts[0]!, creditAccountId: accounts.accounts[1]!, amount: '10', ledger: 1, code: 2 }] });
      expect(moved.results).toEqual([0]);
      const cert = await issuance;
      const back = opts.backAlready();
      expect(cert.approvedAtHeight).toBeGreaterThan(0);
      await opts.verifyCert(cert.file);
      // Evidence, not a pass condition (the supervisor, not the test, decides how long it stays
      // down): which validators signed the QC of the approving block.
      const other = i === 1 ? 2 : 1;
      const block = await blockOf(other, cert.approvedAtHeight);
      const names = new Map(((await statusOf(other)).validators ?? []).map((v) => [Number(v.id), v.instance]));
      const signers = (block.qc?.signatures ?? []).map((x) => names.get(Number(x.validator)) ?? `#${x.validator}`).sort();
      evidence.push(`certificate issued ${Date.now() - killedAt} ms after the kill (${back ? 'after' : 'before'} hypermesh-${i} was back), approved at height ${cert.approvedAtHeight} with a QC signed by validators ${signers.join(', ')}`);
    } finally {
      await caesar.close();
    }
    await opts.restarted();
    const others = await Promise.all([1, 2, 3, 4].filter((j) => j !== i).map(statusOf));
    const target = Math.max(...others.map((s) => Number(s.committedHeight)));
    const catchUpFrom = Date.now();
    await until(`hypermesh-${i} to commit past the others' height at its restart`, async () => (Number((await statusOf(i)).committedHeight) >= target ? true : null), 180_000);
    evidence.push(`hypermesh-${i} reached height ${target} ${Date.now() - catchUpFrom} ms after its restart`);
    const heights = await Promise.all([1, 2, 3, 4].map(async (j) => Number((await statusOf(j)).committedHeight)));
    const common = Math.min(...heights);
    expect(common).toBeGreaterThanOrEqual(target);
    const hashes = await Promise.all([1, 2, 3, 4].map(async (j) => (await blockOf(j, common)).hash));
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    return evidence;
  }

  /**
   * Step 5: four clients send transfers (each one at a time, retrying the same id on a new
   * connection after an error, until answered OK or EXISTS); after 50 acknowledged, `kill()`
   * (kill -9 of Caesar), `restarted()` waits for it to be back, 50 more acknowledged. Then: no
   * acknowledged transfer lost (each with its accounts and amount), the balances are exactly the
   * transfers that exist, debits equal credits, circulating supply = minted - burnt.
   */
  async function caesarUnderLoad(opts: { kill(): Promise<void>; restarted(): Promise<void> }): Promise<{ sent: number; acked: number; failures: number }> {
    const setup = await client('caesar');
    const { mint, accounts, next } = await fundedAccounts(setup, 2, '1000000');
    await setup.close();
    const [a, b] = accounts as [string, string];
    const sent = new Map<string, { debit: string; credit: string; amount: string; acked: boolean }>();
    let acked = 0;
    let failures = 0;
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      let c = await client('caesar');
      try {
        while (!stop) {
          const id = next();
          const t = { debit: w % 2 ? a : b, credit: w % 2 ? b : a, amount: String(1 + Number(BigInt(id) % 97n)) };
          sent.set(id, { ...t, acked: false });
          for (;;) {
            try {
              const r = await c.createTransfers({ transfers: [{ id, debitAccountId: t.debit, creditAccountId: t.credit, amount: t.amount, ledger: 1, code: 3 }] }, { timeoutMs: 5000 });
              expect([0, 43]).toContain(r.results[0]); // OK, or EXISTS: an earlier attempt was durable
              sent.get(id)!.acked = true;
              acked++;
              break;
            } catch {
              failures++;
              await c.close();
              c = await client('caesar');
              if (stop) break;
            }
          }
        }
      } finally {
        await c.close();
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    try {
      await until('50 acknowledged transfers', async () => (acked >= 50 ? true : null), 120_000);
      const ackedAtKill = acked;
      await opts.kill();
      await opts.restarted();
      await until('50 more acknowledged transfers after the restart', async () => (acked >= ackedAtKill + 50 ? true : null), 180_000);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(failures).toBeGreaterThan(0); // the load really was in flight across the crash

    await withClient('caesar', async (caesar) => {
      const ids = [...sent.keys()];
      const found = new Map<string, { debitAccountId: string; creditAccountId: string; amount: string }>();
      for (let i = 0; i < ids.length; i += 1000) for (const t of (await caesar.lookupTransfers({ ids: ids.slice(i, i + 1000) })).transfers) found.set(t.id, t);
      const lost = [...sent].filter(([id, t]) => t.acked && !found.has(id)).map(([id]) => id);
      expect(lost).toEqual([]);
      for (const [id, t] of found) expect(`${id} ${t.debitAccountId}>${t.creditAccountId} ${t.amount}`).toBe(`${id} ${sent.get(id)!.debit}>${sent.get(id)!.credit} ${sent.get(id)!.amount}`);
      // Balances are exactly the transfers that exist (funding included), and in this closed set
      // of accounts (mint, a, b) debits equal credits.
      const [m, x, y] = (await caesar.lookupAccounts({ ids: [mint, a, b] })).accounts;
      const net = (acct: string): bigint => [...found.values()].reduce((s, t) => s + (t.creditAccountId === acct ? BigInt(t.amount) : 0n) - (t.debitAccountId === acct ? BigInt(t.amount) : 0n), 0n) + 1_000_000n;
      expect(BigInt(x!.creditsPosted) - BigInt(x!.debitsPosted)).toBe(net(a));
      expect(BigInt(y!.creditsPosted) - BigInt(y!.debitsPosted)).toBe(net(b));
      const debits = [m, x, y].reduce((s, acct) => s + BigInt(acct!.debitsPosted), 0n);
      const credits = [m, x, y].reduce((s, acct) => s + BigInt(acct!.creditsPosted), 0n);
      expect(debits).toBe(credits);
      expect(BigInt(m!.debitsPosted)).toBe(2_000_000n);
      const supply = await caesar.supply({ ledger: 1 });
      expect(BigInt(supply.circulating)).toBe(BigInt(supply.minted) - BigInt(supply.burnt));
    });
    return { sent: sent.size, acked, failures };
  }

  /**
   * Step 6, the measure: after TrustChain revoked certificate `serial` (fingerprint `fingerprint`),
   * how long (ms, on the services' own clocks) each of `peers` took to log that it refuses the
   * holder, from TrustChain's "certificate revoked" log line. `log(name)` reads a service's log.
   */
  async function revocationLags(opts: { serial: string; fingerprint: string; peers: string[]; log(name: string): Promise<ServiceLog> }): Promise<Record<string, number>> {
    const revokedAt = await until('TrustChain to log the revocation', async () => (await opts.log('trustchain')).find((l) => l.msg === 'certificate revoked' && l['serial'] === opts.serial) ?? null, 60_000);
    return until(
      'every peer to refuse the revoked certificate',
      async () => {
        const seen = await Promise.all(opts.peers.map(async (p) => (await opts.log(p)).find((l) => l.msg === 'certificates revoked: refusing their holders' && (l['revoked'] as string[]).includes(opts.fingerprint))));
        return seen.every(Boolean) ? Object.fromEntries(opts.peers.map((p, i) => [p, seen[i]!.time! - revokedAt.time!])) : null;
      },
      60_000,
    );
  }

  /**
   * Step 7: a client calls every service (node, Caesar, Catalog, HyperMesh, TrustChain, NGauge),
   * round after round, on long-lived connections and on new ones (new handshakes), until
   * `renewed()` says every certificate was renewed, then two more rounds. Returns the failed
   * calls (the step expects none) and the number of rounds.
   */
  async function trafficAcrossRenewals(renewed: () => Promise<boolean>, timeoutMs: number): Promise<{ failed: string[]; rounds: number }> {
    const setup = await client('caesar');
    const { accounts, next } = await fundedAccounts(setup, 2, '100000000');
    await setup.close();
    const program = await withClient('catalog', async (c) => (await c.uploadProgram({ module: watToWasm(ADD_WAT_SOURCE) })).program!.hash);
    const failed: string[] = [];
    let rounds = 0;
    let stop = false;
    type Clients = { caesar: ServiceClient<'caesar'>; catalog: ServiceClient<'catalog'>; hypermesh: ServiceClient<'hypermesh'>; trustchain: ServiceClient<'trustchain'>; ngauge: ServiceClient<'ngauge'> };
    const round = async (c: Clients) => {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['node/echo', () => c.caesar.rpc.call(NodeMethods.echo, { text: 'renewal' })],
        ['caesar/create_transfers', async () => expect((await c.caesar.createTransfers({ transfers: [{ id: next(), debitAccountId: accounts[0]!, creditAccountId: accounts[1]!, amount: '1', ledger: 1, code: 4 }] })).results).toEqual([0])],
        ['catalog/execute', async () => expect((await c.catalog.execute({ programHash: program, export: 'add', args: ['1', '2'], fuelLimit: 1000, payerAccountId: accounts[0]!, requestId: `renewal-${next()}` })).results).toEqual(['3'])],
        ['hypermesh/consensus/status', () => c.hypermesh.status({})],
        ['trustchain/get_ca', () => c.trustchain.getCa({})],
        ['ngauge/targets', () => c.ngauge.targets({})],
      ];
      for (const [name, call] of calls) {
        try {
          await call();
        } catch (err) {
          failed.push(`${new Date().toISOString()} ${name}: ${(err as Error).message}`);
        }
      }
    };
    const open = async (): Promise<Clients> => ({ caesar: await client('caesar'), catalog: await client('catalog'), hypermesh: await client('hypermesh'), trustchain: await client('trustchain'), ngauge: await client('ngauge') });
    const closeAll = async (c: Clients) => Promise.all(Object.values(c).map((x) => x.close()));
    const traffic = (async () => {
      const longLived = await open();
      try {
        while (!stop) {
          await round(longLived);
          let fresh: Clients | null = null;
          try {
            fresh = await open();
            await round(fresh);
          } catch (err) {
            failed.push(`${new Date().toISOString()} connect: ${(err as Error).message}`);
          } finally {
            if (fresh) await closeAll(fresh);
          }
          rounds++;
        }
      } finally {
        await closeAll(longLived);
      }
    })();
    try {
      await until('every service to renew its certificate', async () => ((await renewed()) ? true : null), timeoutMs);
      const r = rounds;
      await until('two more rounds of calls', async () => (rounds >= r + 2 ? true : null), 120_000);
    } finally {
      stop = true;
      await traffic;
    }
    return { failed, rounds };
  }

  return { client, withClient, statusOf, blockOf, fundedAccounts, prepareEarnedCertificate, validatorOutage, caesarUnderLoad, revocationLags, trafficAcrossRenewals };
}
