// Earned certificates across real processes (issue "Earned certificates"): `trustchain serve
// --hypermesh-genesis`, `caesar serve`, and 4 `hypermesh serve --four-proof` validators whose
// four-proof rules name Caesar's FALCON key. A node outside the genesis set has its stake bound
// to it by the account's owner (`caesar/attest_stake` with its node id), builds a four-proof set
// anchored to a recent committed block and bound to its CSR's keys, and calls
// `trustchain/issue_certificate` without any certificate. TrustChain has HyperMesh validate and
// commit the set, verifies the committed block and its QC against the genesis, and issues a
// certificate carrying the commit (openssl shows the extension; the block is fetched back from a
// validator). Each proof broken in turn is refused with its reason and nothing reaches CT; with one
// validator killed issuance still succeeds; with two down it fails UNAVAILABLE.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NODE_IDENTITY_FILES,
  NodeIdentity,
  OID_CONSENSUS_APPROVAL,
  StoqTransport,
  createCsr,
  derToPem,
  falconCsrMessage,
  nativeFalcon,
  parseHybridCertificate,
  pemToDerList,
} from '@stoq/core';
import {
  certificateKeyBinding,
  certificateRequestContext,
  createPlot,
  decodePoStakeProof,
  encodeFourProofSet,
  generateFourProofSet,
  signStakeAttestationWith,
  type BlockAnchor,
  type FourProofSet,
  type Plot,
  type PoStakeProof,
} from '@stoq/four-proof';
import { caesar, hypermesh, trustchain } from '@stoq/protos';
import { DnsSrvResolver, RpcClient, StaticResolver, isRpcError, statusName } from '@stoq/rpc';
import { CAESAR_BIN, HYPERMESH_BIN, StoqProcess, runStoq, runTrustChain, until, writeServiceConfig, type TrustChainEndpoints } from './support';

jest.setTimeout(300_000);

const N = 4;
const LEDGER = 1;
const MINT = '900000001';
const MIN_STAKE = 100n;
let dir: string;
let tcDir: string;
let tc: StoqProcess;
let tcReady: TrustChainEndpoints & Record<string, unknown>;
let caesarProc: StoqProcess;
const validators: Array<StoqProcess | null> = [];
const homes: string[] = [];
let adminTransport: StoqTransport;
/** Calls by name through TrustChain DNS, as TrustChain's admin (a Caesar admin; any peer for HyperMesh). */
let admin: RpcClient;
let caesarKey: Uint8Array;

const C = caesar.CaesarMethods;
const H = hypermesh.ConsensusMethods;
const T = trustchain.TrustChainMethods;
const num = (v: number | { toString(): string } | null | undefined): number => (v === null || v === undefined ? 0 : Number(v.toString()));

/** A node outside the genesis set: its own TLS and FALCON keys, plot and node id. */
interface NewNode {
  readonly instance: string;
  readonly tlsKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
  readonly falcon: { publicKey: Uint8Array; secretKey: Uint8Array };
  readonly nodeId: Uint8Array;
  readonly plot: Plot;
  readonly csr: Uint8Array;
  readonly keyBinding: Uint8Array;
  sequence: bigint;
}

function newNode(instance: string): NewNode {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const falcon = nativeFalcon.keypair();
  const nodeId = new Uint8Array(createHash('sha256').update(falcon.publicKey).digest());
  const csr = createCsr({ service: 'storage', instance, tlsKey: privateKey, falconPublicKey: falcon.publicKey, ipAddresses: ['::1'] });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  return { instance, tlsKey: privateKey, falcon, nodeId, plot: createPlot(nodeId), csr, keyBinding: certificateKeyBinding(spki, falcon.publicKey), sequence: 1n };
}

/** Validator i's STOQ address (from its ready line). */
const addressOf = (i: number): string => validators[i]!.lines.find((l) => l.msg === 'hypermesh validator ready')!.stoq as string;

/** The beacon: validator 0's committed tip (never killed here; a killed validator's pooled connection looks open until QUIC's idle timeout). */
async function anchor(): Promise<BlockAnchor> {
  const s = await admin.call(H.status, {}, { timeoutMs: 10_000, target: addressOf(0) });
  return { height: BigInt(num(s.committedHeight)), hash: Uint8Array.from(Buffer.from(s.committedHash!, 'hex')) };
}

async function stakeFor(node: NewNode, account: string): Promise<PoStakeProof> {
  const a = await admin.call(C.attestStake, { ownerAccountId: account, validitySeconds: 600, nodeId: node.nodeId }, { timeoutMs: 10_000 });
  return decodePoStakeProof(a.fourProofStake!);
}

async function proofSet(node: NewNode, opts: { stake: PoStakeProof; anchor?: BlockAnchor; keyBinding?: Uint8Array; powDifficulty?: number }): Promise<FourProofSet> {
  return generateFourProofSet({
    context: certificateRequestContext(opts.keyBinding ?? node.keyBinding, node.nodeId),
    plot: node.plot,
    ipv6Address: '::1',
    stake: opts.stake,
    now: Date.now(),
    sequence: node.sequence++,
    anchor: opts.anchor ?? (await anchor()),
    ...(opts.powDifficulty !== undefined ? { params: { powDifficulty: opts.powDifficulty } } : {}),
  });
}

/** trustchain/issue_certificate over a certificate-less connection that trusts only the pinned root. */
async function issue(node: NewNode, set: FourProofSet | Uint8Array, timeoutMs = 60_000): Promise<trustchain.IssuedCertificate> {
  const transport = StoqTransport.create({ identity: { enrolling: true, trustRootSha256: tcReady.rootFingerprint }, bind: '[::1]:0' });
  const conn = await transport.connect(tcReady.stoq, { serverName: 'trustchain.hypermesh', expectedService: 'trustchain' });
  const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ trustchain: [tcReady.stoq] }), retry: { maxAttempts: 1 } });
  try {
    const bytes = set instanceof Uint8Array ? set : encodeFourProofSet(set);
    return await rpc.call(T.issueCertificate, { csr: node.csr, falconSignature: nativeFalcon.sign(node.falcon.secretKey, falconCsrMessage(node.csr)), proofSet: bytes }, { timeoutMs });
  } finally {
    rpc.close();
    conn.close(0, 'done');
    await transport.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isRpcError(err)) return `${statusName(err.code)} ${err.message}`;
    throw err;
  }
  throw new Error('expected a refusal, got a certificate');
}

async function treeSize(): Promise<number> {
  return num((await admin.call(trustchain.CtMethods.getSth, {}, { timeoutMs: 10_000 })).treeSize);
}

/** Calls by name through TrustChain DNS as TrustChain's admin (a new pool: after a restart the old one's connections are dead). */
function adminClient(): RpcClient {
  return new RpcClient({
    connector: (ep, o) => adminTransport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
    resolver: new DnsSrvResolver({ server: tcReady.dns }),
  });
}

function startValidator(i: number): StoqProcess {
  const p = StoqProcess.start(['serve', '--config', 'hypermesh.toml', '--genesis', join(dir, 'genesis.json'), '--four-proof', join(dir, 'four-proof.json')], homes[i]!, { bin: HYPERMESH_BIN });
  validators[i] = p;
  return p;
}

async function token(service: string): Promise<string> {
  const r = await runTrustChain(['token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], dir);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-earned-e2e-'));
  tcDir = join(dir, 'trustchain');
  // The genesis file does not exist yet: TrustChain reads it when it appears.
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0', '--hypermesh-genesis', join(dir, 'genesis.json')], dir);
  tcReady = (await tc.waitFor((l) => l.msg === 'trustchain serve ready')) as unknown as TrustChainEndpoints & Record<string, unknown>;

  const caesarHome = join(dir, 'caesar');
  writeServiceConfig(caesarHome, 'caesar.toml', 'caesar-1', tcReady);
  caesarProc = StoqProcess.start(['serve', '--config', 'caesar.toml', '--mint-account', MINT], caesarHome, { bin: CAESAR_BIN, env: { STOQ_JOIN_TOKEN: await token('caesar') } });
  await caesarProc.waitFor((l) => l.msg === 'caesar serving');
  caesarKey = pemToDerList(readFileSync(join(caesarHome, 'data', NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.falconPub), 'utf8'), 'FALCON-1024 PUBLIC KEY', 'caesar key')[0]!;

  for (let i = 0; i < N; i++) {
    const home = join(dir, `hypermesh-${i + 1}`);
    homes.push(home);
    writeServiceConfig(home, 'hypermesh.toml', `hypermesh-${i + 1}`, tcReady);
    const r = await runStoq(['enroll', '--config', 'hypermesh.toml'], home, { bin: HYPERMESH_BIN, env: { STOQ_JOIN_TOKEN: await token('hypermesh') } });
    expect(r.code).toBe(0);
  }
  const g = await runStoq(['genesis', '--chain-id', 'earned-e2e', '--out', join(dir, 'genesis.json'), ...homes.flatMap((h) => ['--config', join(h, 'hypermesh.toml')])], dir, { bin: HYPERMESH_BIN });
  expect(g.code).toBe(0);
  writeFileSync(
    join(dir, 'four-proof.json'),
    JSON.stringify({ format: 'hypermesh-four-proof/1', ledgerKey: { algorithm: 'falcon-1024', publicKey: Buffer.from(caesarKey).toString('base64') }, params: { minStake: String(MIN_STAKE) }, maxAnchorAgeBlocks: 1000 }),
  );
  for (let i = 0; i < N; i++) startValidator(i);
  await Promise.all(validators.map((v) => v!.waitFor((l) => l.msg === 'hypermesh validator ready')));

  const adminDir = join(tcDir, 'admin');
  const pem = readFileSync(join(adminDir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8');
  const leaf = parseHybridCertificate(pemToDerList(pem, 'CERTIFICATE', 'cert')[0]!);
  const identity = await NodeIdentity.loadOrCreate({ dataDir: adminDir, service: 'admin', instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
  adminTransport = StoqTransport.create({ identity, bind: '[::1]:0' });
  admin = adminClient();
  await until('hypermesh committing and registered in DNS', async () => (num((await admin.call(H.status, {}, { timeoutMs: 5000 })).committedHeight) >= 2 ? true : null), 60_000);
  await until('caesar registered in DNS', async () => ((await admin.call(C.whoAmI, {}, { timeoutMs: 5000 })).service === 'admin' ? true : null));

  // The admin funds two accounts it owns and stakes from them: 5,000 (enough) and 50 (below the chain's minimum).
  expect((await admin.call(C.createAccounts, { accounts: [{ id: MINT, ledger: LEDGER, code: 1, flags: 1 << 14 }, { id: '100', ledger: LEDGER, code: 1 }, { id: '101', ledger: LEDGER, code: 1 }] })).results).toEqual([0, 0, 0].map(() => caesar.CreateAccountResult.CREATE_ACCOUNT_OK));
  await admin.call(C.createTransfers, { transfers: [{ id: '1', debitAccountId: MINT, creditAccountId: '100', amount: '10000', ledger: LEDGER, code: 1 }, { id: '2', debitAccountId: MINT, creditAccountId: '101', amount: '50', ledger: LEDGER, code: 1 }] });
  await admin.call(C.stake, { ownerAccountId: '100', amount: '5000', transferId: '3' });
  await admin.call(C.stake, { ownerAccountId: '101', amount: '50', transferId: '4' });
});

afterAll(async () => {
  admin?.close();
  await adminTransport?.close();
  await Promise.all(validators.map((v) => v?.stop()));
  await caesarProc?.stop();
  await tc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('happy path: staked, proven, approved by consensus, issued with the commit in the certificate, in CT, auditable', async () => {
  const node = newNode('storage-1');
  const stake = await stakeFor(node, '100');
  expect(stake.attestation.amount).toBe(5000n);
  const before = await treeSize();
  const issued = await issue(node, await proofSet(node, { stake }));
  const leaf = parseHybridCertificate(issued.chain![0]!);
  expect(leaf.dnsNames).toContain('storage-1.storage.hypermesh');
  expect(leaf.falconPublicKey).toEqual(node.falcon.publicKey);
  const approval = leaf.consensusApproval!;
  expect(approval.blockHeight).toBe(num(issued.approval!.blockHeight));
  expect(approval.blockHash).toBe(issued.approval!.blockHash);
  expect(approval.commitHash).toBe(createHash('sha256').update(issued.approval!.committedBlock!).digest('hex'));
  // openssl reads it as ordinary X.509 with the extension, and verifies it under TrustChain's root.
  const file = join(dir, 'earned.pem');
  writeFileSync(file, derToPem(issued.chain![0]!, 'CERTIFICATE'));
  writeFileSync(join(dir, 'root.pem'), derToPem(issued.chain![issued.chain!.length - 1]!, 'CERTIFICATE'));
  expect(execFileSync('openssl', ['x509', '-in', file, '-text', '-noout'], { encoding: 'utf8' })).toContain(OID_CONSENSUS_APPROVAL);
  expect(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), file], { encoding: 'utf8' }).trim()).toBe(`${file}: OK`);
  // In CT, and TrustChain's own verdict is valid on every check.
  expect(await treeSize()).toBe(before + 1);
  const verdict = await admin.call(T.validateCertificate, { chain: issued.chain!, ct: issued.ct! }, { timeoutMs: 10_000 });
  expect(verdict.valid).toBe(true);
  // Every validator has that block, with that hash, holding this certificate request.
  for (let i = 0; i < N; i++) {
    // The answering validator had committed it; the others may be a block behind for a moment.
    const block = await until(`validator ${i} has block ${approval.blockHeight}`, () => admin.call(H.block, { height: approval.blockHeight }, { timeoutMs: 10_000, target: addressOf(i) }));
    expect(block.hash).toBe(approval.blockHash);
    const ops = (block.operations ?? []).filter((o) => o.certificateValidation && Buffer.from(o.certificateValidation.keyBinding!).equals(Buffer.from(node.keyBinding)));
    expect(ops).toHaveLength(1);
  }
  // The audit command: chains, CT, revocation, and the approval re-checked from the block a validator serves.
  const audit = await runStoq(['verify-cert', file, '--dns', tcReady.dns, '--identity', join(tcDir, 'admin'), '--genesis', join(dir, 'genesis.json'), '--json'], dir);
  expect(audit.stderr).toBe('');
  expect(audit.code).toBe(0);
  const report = JSON.parse(audit.stdout) as { valid: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> };
  expect(report.checks.map((c) => `${c.check} ${c.ok}`)).toEqual(['classical_chain true', 'falcon_chain true', 'validity true', 'revocation true', 'ct_inclusion true', 'consensus_approval true']);
  expect(report.checks[5]!.detail).toContain(`block ${approval.blockHeight}`);
  // Against another chain's genesis the same certificate does not audit.
  const strangers = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as { chainId: string };
  strangers.chainId = 'another-chain';
  writeFileSync(join(dir, 'other-genesis.json'), JSON.stringify(strangers));
  const wrong = await runStoq(['verify-cert', file, '--dns', tcReady.dns, '--identity', join(tcDir, 'admin'), '--genesis', join(dir, 'other-genesis.json')], dir);
  expect(wrong.code).toBe(1);
  expect(wrong.stdout).toMatch(/FAIL\s+consensus_approval\s+QC_MISMATCH/);
});

test('each proof broken in turn is refused with its reason; nothing is issued, nothing reaches CT', async () => {
  const node = newNode('storage-2');
  const stake = await stakeFor(node, '100');
  const before = await treeSize();
  // PoSpace: a tampered plot opening.
  const good = await proofSet(node, { stake });
  const block = Uint8Array.from(good.space.openings[0]!.block);
  block[0] ^= 0xff;
  const badSpace: FourProofSet = { ...good, space: { ...good.space, openings: [{ ...good.space.openings[0]!, block }, ...good.space.openings.slice(1)] } };
  expect(await refusal(issue(node, badSpace))).toMatch(/^PERMISSION_DENIED .*POSPACE_INVALID/);
  // PoStake: signed by another key than Caesar's (forged), and too little stake.
  const forger = nativeFalcon.keypair();
  const forged = signStakeAttestationWith(stake.attestation, (m) => nativeFalcon.sign(forger.secretKey, m));
  expect(await refusal(issue(node, await proofSet(node, { stake: forged })))).toMatch(/^PERMISSION_DENIED .*POSTAKE_INVALID/);
  expect(await refusal(issue(node, await proofSet(node, { stake: await stakeFor(node, '101') })))).toMatch(/^PERMISSION_DENIED .*POSTAKE_INSUFFICIENT/);
  // PoWork below the chain's difficulty.
  expect(await refusal(issue(node, await proofSet(node, { stake, powDifficulty: 2 })))).toMatch(/^PERMISSION_DENIED .*POWORK_INSUFFICIENT/);
  // PoTime over a block the chain never committed (a stale or invented beacon).
  expect(await refusal(issue(node, await proofSet(node, { stake, anchor: { height: 1n, hash: new Uint8Array(32).fill(7) } })))).toMatch(/^PERMISSION_DENIED .*STALE/);
  // Proofs bound to another CSR's keys: TrustChain refuses before asking anyone.
  const other = newNode('storage-3');
  expect(await refusal(issue(node, await proofSet(node, { stake, keyBinding: other.keyBinding })))).toMatch(/^PERMISSION_DENIED .*OPERATION_MISMATCH at context.assetId/);
  expect(await treeSize()).toBe(before);
});

test('TrustChain killed mid-issuance and restarted: every recorded certificate is in CT once, serials unique, the retries succeed', async () => {
  const nodes = [0, 1, 2, 3, 4, 5].map((i) => newNode(`storage-crash-${i}`));
  const sets = [];
  for (const n of nodes) sets.push(await proofSet(n, { stake: await stakeFor(n, '100') }));
  const attempts = nodes.map((n, i) => issue(n, sets[i]!, 30_000).then(() => 'issued', () => 'lost'));
  // Dead the moment the first of them is issued: the others are between HyperMesh and the reply.
  await tc.waitFor((l) => l.msg === 'earned certificate issued' && String(l['instance']).startsWith('storage-crash-'));
  tc.child.kill('SIGKILL');
  expect(await tc.exited).toBe('SIGKILL');
  const outcome = await Promise.all(attempts);
  // Restarted on the same addresses from the same data dir (CT reconciled at start).
  const ports = { stoq: tcReady.stoq, dns: tcReady.dns, ctHttp: String(tcReady['ctHttp']) };
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', ports.stoq, '--dns-bind', ports.dns, '--ct-http-bind', ports.ctHttp, '--hypermesh-genesis', join(dir, 'genesis.json')], dir);
  await tc.waitFor((l) => l.msg === 'trustchain serve ready');
  admin.close();
  admin = adminClient();
  // TrustChain was down longer than the 5 s discovery leases, so the others' records lapsed; the
  // tests after this one find validators and Caesar by name, so wait until each re-registered.
  for (const i of [0, 1, 2, 3]) await until(`validator ${i} back in DNS`, async () => (await admin.call(H.status, {}, { timeoutMs: 5000, target: addressOf(i) })) ?? null, 60_000);
  await until('caesar back in DNS', async () => ((await admin.call(C.whoAmI, {}, { timeoutMs: 5000 })).service === 'admin' ? true : null), 60_000);
  // A lost answer is retried with the same proofs: HyperMesh answers with its commit (same request id).
  for (const [i, o] of outcome.entries()) if (o === 'lost') await until(`retry of ${nodes[i]!.instance}`, async () => (await issue(nodes[i]!, sets[i]!, 30_000)).chain ?? null, 60_000);
  const certs = JSON.parse((await runTrustChain(['certs', 'list', '--limit', '1000', '--json', '--data-dir', tcDir], dir)).stdout) as Array<{ serial: string; instance: string }>;
  expect(new Set(certs.map((c) => c.serial)).size).toBe(certs.length);
  for (const n of nodes) expect(certs.some((c) => c.instance === n.instance)).toBe(true);
  const sth = JSON.parse((await runTrustChain(['ct', 'sth', '--data-dir', tcDir], dir)).stdout) as { tree_size: number };
  expect(sth.tree_size).toBe(certs.length);
});

test('one validator killed with kill -9 during issuance: it still succeeds with 3 of 4', async () => {
  const node = newNode('storage-4');
  const set = await proofSet(node, { stake: await stakeFor(node, '100') });
  const issuing = issue(node, set);
  validators[3]!.child.kill('SIGKILL');
  await validators[3]!.exited;
  validators[3] = null;
  const issued = await issuing;
  expect(parseHybridCertificate(issued.chain![0]!).consensusApproval!.blockHeight).toBeGreaterThan(0);
});

test('two validators down: issuance fails UNAVAILABLE within the deadline, no certificate issued', async () => {
  const node = newNode('storage-5');
  const set = await proofSet(node, { stake: await stakeFor(node, '100') });
  validators[2]!.child.kill('SIGKILL');
  await validators[2]!.exited;
  validators[2] = null;
  const before = await treeSize();
  const started = Date.now();
  expect(await refusal(issue(node, set, 60_000))).toMatch(/^UNAVAILABLE /);
  expect(Date.now() - started).toBeLessThan(40_000);
  expect(await treeSize()).toBe(before);
});
