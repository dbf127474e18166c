// The real `trustchain` command as child processes (bin/trustchain.js → dist/, built once here):
// serve with its readiness line and serve.json, token create, certs list/show, revoke, ca
// fingerprint / init --root-offline (password file, --insecure-no-password) / sign-intermediate / encrypt-root, usage errors (exit 2), an unreachable server (exit 1) and SIGTERM (exit 0).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { StoqTransport } from '@stoq/core';
import { trustchain } from '@stoq/protos';
import { RpcClient, StaticResolver } from '@stoq/rpc';
import { nodeKeys, openssl, signedCsr, tempDir } from '../ca/support';
import { makePki } from '../ct/support';
import { derToPem } from '@stoq/core';

const APP = join(__dirname, '..', '..');
const BIN = join(APP, 'bin', 'trustchain.js');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['STOQ_TRUSTCHAIN_DIR'];
  delete env['STOQ_ROOT_PASSWORD_FILE'];
  return env;
}

function run(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

interface LogLine {
  msg?: string;
  [k: string]: unknown;
}

/** A running `trustchain serve`; resolves once it logged that it is ready (never a sleep). */
async function serve(dir: string, extra: string[] = []): Promise<{ child: ChildProcess; ready: LogLine; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0', ...extra], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = await new Promise<LogLine>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        const l = JSON.parse(text) as LogLine;
        if (l.msg === 'trustchain serve ready') resolve(l);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`trustchain serve exited (${code}) before it was ready`)));
  });
  return { child, ready, exited };
}

beforeAll(async () => {
  // The bin runs dist/: build it from the current sources.
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(APP, 'tsconfig.build.json')], { encoding: 'utf8' }, (err, stdout) =>
      err ? reject(new Error(`building dist failed:\n${stdout}`)) : resolve(),
    ),
  );
}, 180_000);

describe('usage', () => {
  it('exits 2 for a wrong invocation and 0 for help', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    const noService = await run(['token', 'create', '--data-dir', tempDir()]);
    expect(noService.code).toBe(2);
    expect(noService.stderr).toMatch(/--service/);
    expect((await run(['revoke', 'xyz'])).code).toBe(2);
    expect((await run(['revoke', 'ab', '--reason', 'bored'])).code).toBe(2);
    expect((await run(['token', 'create', '--service', 'caesar', '--ttl', 'soon'])).code).toBe(2);
    for (const topic of [['--help'], ['serve', '--help'], ['token', '--help'], ['certs', '--help'], ['revoke', '--help'], ['ct', '--help'], ['ca', '--help']]) {
      const r = await run(topic);
      expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/^usage: trustchain/)]);
    }
  });

  it('explains an empty data dir and an unreachable server (exit 1)', async () => {
    const dir = tempDir();
    const fp = await run(['ca', 'fingerprint', '--data-dir', dir]);
    expect(fp.code).toBe(1);
    expect(fp.stderr).toMatch(/no TrustChain root/);
    const none = await run(['token', 'create', '--service', 'caesar', '--data-dir', dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/start `trustchain serve --data-dir/);
  });
});

describe('serve and the admin commands', () => {
  it('serves, mints a token that enrolls, lists, shows and revokes certificates, and stops on SIGTERM', async () => {
    const dir = tempDir();
    const s = await serve(dir);
    try {
      const info = JSON.parse(readFileSync(join(dir, 'serve.json'), 'utf8')) as { stoq: string; rootFingerprint: string; pid: number };
      expect(info).toMatchObject({ stoq: s.ready.stoq, rootFingerprint: s.ready.rootFingerprint, pid: s.child.pid });
      const fp = await run(['ca', 'fingerprint', '--data-dir', dir]);
      expect(fp.stdout.trim()).toBe(info.rootFingerprint);
      // $STOQ_TRUSTCHAIN_DIR works as --data-dir.
      const tokenRun = await run(['token', 'create', '--service', 'caesar', '--ttl', '10m'], { ...cleanEnv(), STOQ_TRUSTCHAIN_DIR: dir });
      expect(tokenRun.code).toBe(0);
      const token = tokenRun.stdout.trim();
      expect(token).toMatch(/^stoqjt_[A-Za-z0-9_-]{43}$/);
      const asJson = JSON.parse((await run(['token', 'create', '--service', 'ledger', '--json', '--data-dir', dir])).stdout) as { service: string; expires_at: string };
      expect(asJson.service).toBe('ledger');
      // A token for an administrator only with --admin.
      const forAdmin = await run(['token', 'create', '--service', 'admin', '--data-dir', dir]);
      expect(forAdmin.code).toBe(1);
      expect(forAdmin.stderr).toMatch(/`trustchain token create --admin`.*INVALID_ARGUMENT/);
      const adminToken = JSON.parse((await run(['token', 'create', '--admin', '--json', '--data-dir', dir])).stdout) as { service: string };
      expect(adminToken.service).toBe('admin');
      expect((await run(['token', 'create', '--admin', '--service', 'caesar', '--data-dir', dir])).code).toBe(2);

      // The token enrolls a node over a certificate-less connection pinning the root.
      const transport = StoqTransport.create({ identity: { enrolling: true, trustRootSha256: info.rootFingerprint }, bind: '[::1]:0' });
      const rpc = new RpcClient({ connector: (ep) => transport.connect(ep, { expectedService: 'trustchain' }), resolver: new StaticResolver({ trustchain: [info.stoq] }), retry: { maxAttempts: 1 } });
      const csr = signedCsr(nodeKeys(), 'caesar', 'caesar-1');
      const issued = await rpc.call(trustchain.TrustChainMethods.enroll, { token, csr: csr.der, falconSignature: csr.falconSignature });
      rpc.close();
      await transport.close();

      const list = await run(['certs', 'list', '--data-dir', dir]);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/trustchain\/trustchain-1\s+self/);
      expect(list.stdout).toMatch(/admin\/admin\s+self/);
      expect(list.stdout).toMatch(new RegExp(`${issued.serial}\\s+caesar/caesar-1\\s+enroll .* valid`));
      const only = JSON.parse((await run(['certs', 'list', '--service', 'caesar', '--json', '--data-dir', dir])).stdout) as Array<{ serial: string }>;
      expect(only.map((c) => c.serial)).toEqual([issued.serial]);

      const revoke = await run(['revoke', issued.serial!, '--reason', 'superseded', '--data-dir', dir]);
      expect(revoke.code).toBe(0);
      expect(revoke.stdout).toMatch(new RegExp(`revoked ${issued.serial} \\(superseded\\).*revocation list version 1`));
      const show = await run(['certs', 'show', issued.fingerprint!, '--data-dir', dir]);
      expect(show.stdout).toMatch(/revoked\s+true/);
      expect(show.stdout).toMatch(/revocation_reason\s+superseded/);
      expect(show.stdout).toMatch(/BEGIN CERTIFICATE/);
      const unknown = await run(['revoke', 'abcdef', '--data-dir', dir]);
      expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringMatching(/NOT_FOUND CERTIFICATE_UNKNOWN/)]);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
    expect(existsSync(join(dir, 'serve.json'))).toBe(false);
    const after = await run(['certs', 'list', '--data-dir', dir]);
    expect([after.code, after.stderr]).toEqual([1, expect.stringMatching(/start `trustchain serve/)]);
  });

  it('ca init --root-offline: prints the root and where it went; serve runs without it and issues through the intermediate; sign-intermediate needs the root back', async () => {
    const base = tempDir();
    const dir = join(base, 'tc');
    const pw = join(base, 'root-password');
    writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
    const noPassword = await run(['ca', 'init', '--root-offline', '--data-dir', dir]);
    expect([noPassword.code, noPassword.stderr]).toEqual([2, expect.stringMatching(/--password-file FILE.*--insecure-no-password/)]);
    expect(existsSync(dir) || existsSync(join(base, 'tc.root-ca'))).toBe(false);
    const init = await run(['ca', 'init', '--root-offline', '--data-dir', dir, '--password-file', pw]);
    expect([init.code, init.stderr]).toEqual([0, '']);
    expect(init.stdout).toContain('(keys password-encrypted)');
    expect(readFileSync(join(base, 'tc.root-ca', 'root.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(await openssl(['pkey', '-in', join(base, 'tc.root-ca', 'root.key'), '-passin', `file:${pw}`, '-noout', '-text'])).toContain('ASN1 OID: secp384r1');
    const fpLine = /root fingerprint\s+([0-9a-f]{64})/.exec(init.stdout);
    expect(fpLine).not.toBeNull();
    expect(init.stdout).toContain(`Move ${join(base, 'tc.root-ca')} to offline storage`);
    expect(existsSync(join(dir, 'ca'))).toBe(false);
    expect((await run(['ca', 'fingerprint', '--data-dir', dir])).stdout.trim()).toBe(fpLine![1]);
    const twice = await run(['ca', 'init', '--data-dir', dir]);
    expect([twice.code, twice.stderr]).toEqual([1, expect.stringMatching(/already initialized .*\[STATE_EXISTS\]/)]);
    expect((await run(['ca', 'init', '--root-dir', join(base, 'r'), '--data-dir', join(base, 'x')])).code).toBe(2);
    expect((await run(['ca', 'sign-intermediate', '--root-offline', '--data-dir', dir])).code).toBe(2);

    const s = await serve(dir);
    try {
      expect(s.ready.rootFingerprint).toBe(fpLine![1]);
      const token = (await run(['token', 'create', '--service', 'caesar', '--data-dir', dir])).stdout.trim();
      const transport = StoqTransport.create({ identity: { enrolling: true, trustRootSha256: fpLine![1]! }, bind: '[::1]:0' });
      const rpc = new RpcClient({ connector: (ep) => transport.connect(ep, { expectedService: 'trustchain' }), resolver: new StaticResolver({ trustchain: [s.ready.stoq as string] }), retry: { maxAttempts: 1 } });
      const csr = signedCsr(nodeKeys(), 'caesar', 'caesar-1');
      const issued = await rpc.call(trustchain.TrustChainMethods.enroll, { token, csr: csr.der, falconSignature: csr.falconSignature });
      rpc.close();
      await transport.close();
      expect(issued.chain).toHaveLength(3);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);

    // sign-intermediate refuses to replace the intermediate (before any password is read).
    const rootDir = join(base, 'tc.root-ca');
    const exists = await run(['ca', 'sign-intermediate', '--root-dir', rootDir, '--data-dir', dir, '--password-file', join(base, 'nonexistent')]);
    expect([exists.code, exists.stderr]).toEqual([1, expect.stringMatching(/never replaced in place.*\[STATE_EXISTS\]/)]);

    // A replacement: without the root it says what is missing; the password is asked for, a
    // wrong or missing one writes nothing.
    renameSync(join(dir, 'intermediate'), join(base, 'intermediate.old'));
    const noRoot = await run(['ca', 'sign-intermediate', '--data-dir', dir]);
    expect([noRoot.code, noRoot.stderr]).toEqual([1, expect.stringMatching(/root\.key.*\[NO_SIGNING_KEY\]/s)]);
    const locked = await run(['ca', 'sign-intermediate', '--root-dir', rootDir, '--data-dir', dir]);
    expect([locked.code, locked.stderr]).toEqual([1, expect.stringMatching(/password-encrypted; give the password with --password-file FILE.*\[ROOT_KEY_LOCKED\]/)]);
    const bad = join(base, 'bad-password');
    writeFileSync(bad, 'correct horse battery stapler\n');
    const wrong = await run(['ca', 'sign-intermediate', '--root-dir', rootDir, '--data-dir', dir, '--password-file', bad]);
    expect([wrong.code, wrong.stderr]).toEqual([1, expect.stringMatching(/does not open .*root-falcon\.key.*\[WRONG_PASSWORD\]/)]);
    expect(existsSync(join(dir, 'intermediate'))).toBe(false);
    const signed = await run(['ca', 'sign-intermediate', '--root-dir', rootDir, '--data-dir', dir, '--json'], { ...cleanEnv(), STOQ_ROOT_PASSWORD_FILE: pw });
    expect([signed.code, signed.stderr]).toEqual([0, '']);
    expect(JSON.parse(signed.stdout)).toMatchObject({ root_fingerprint: fpLine![1], root_encrypted: true });
    const chain = [join(dir, 'intermediate', 'intermediate.pem'), join(dir, 'intermediate', 'root.pem')];
    expect(await openssl(['verify', '-CAfile', chain[1]!, chain[0]!])).toContain(': OK');
  });

  it('ca init --root-offline --insecure-no-password writes plain keys; encrypt-root makes an encrypted copy that sign-intermediate opens', async () => {
    const base = tempDir();
    const dir = join(base, 'tc');
    const pw = join(base, 'pw');
    writeFileSync(pw, 'hunter2hunter2\n');
    expect((await run(['ca', 'init', '--root-offline', '--insecure-no-password', '--password-file', pw, '--data-dir', dir])).code).toBe(2);
    expect((await run(['ca', 'init', '--insecure-no-password', '--data-dir', dir])).code).toBe(2);
    const init = await run(['ca', 'init', '--root-offline', '--insecure-no-password', '--data-dir', dir, '--json']);
    expect([init.code, init.stderr]).toEqual([0, '']);
    const r = JSON.parse(init.stdout) as { root_dir: string; root_encrypted: boolean; root_fingerprint: string };
    expect(r.root_encrypted).toBe(false);
    expect(readFileSync(join(r.root_dir, 'root.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const out = join(base, 'root-encrypted');
    expect((await run(['ca', 'encrypt-root', '--root-dir', r.root_dir, '--data-dir', dir])).code).toBe(2);
    const enc = await run(['ca', 'encrypt-root', '--root-dir', r.root_dir, '--out', out, '--password-file', pw, '--json']);
    expect([enc.code, enc.stderr]).toEqual([0, '']);
    expect(JSON.parse(enc.stdout)).toMatchObject({ root_fingerprint: r.root_fingerprint, root_dir: out, root_encrypted: true });
    expect(readFileSync(join(r.root_dir, 'root.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/); // left alone
    const again = await run(['ca', 'encrypt-root', '--root-dir', r.root_dir, '--out', out, '--password-file', pw]);
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/already exists.*\[STATE_EXISTS\]/)]);

    rmSync(join(dir, 'intermediate'), { recursive: true });
    const signed = await run(['ca', 'sign-intermediate', '--root-dir', out, '--data-dir', dir, '--password-file', pw]);
    expect([signed.code, signed.stderr]).toEqual([0, '']);
    expect(signed.stdout).toContain(`signed by root ${r.root_fingerprint}`);
  });

  it('says the server is unreachable when serve.json is stale (a serve killed with -9)', async () => {
    const dir = tempDir();
    const s = await serve(dir);
    s.child.kill('SIGKILL');
    await s.exited;
    expect(existsSync(join(dir, 'serve.json'))).toBe(true);
    const r = await run(['certs', 'list', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach TrustChain at .*is `trustchain serve --data-dir .*` running\?/);
    // Starting again on the same data dir works and rewrites serve.json.
    const again = await serve(dir);
    try {
      expect((await run(['certs', 'list', '--data-dir', dir])).code).toBe(0);
    } finally {
      again.child.kill('SIGTERM');
    }
    expect(await again.exited).toBe(0);
    writeFileSync(join(dir, 'serve.json'), 'not json');
    expect((await run(['certs', 'list', '--data-dir', dir])).stderr).toMatch(/not JSON/);
  });

  it('prints the CT log’s signed tree head', async () => {
    const dir = tempDir();
    const s = await serve(dir);
    try {
      const r = await run(['ct', 'sth', '--data-dir', dir]);
      expect(r.code).toBe(0);
      const sth = JSON.parse(r.stdout) as { tree_size: number; sha256_root_hash: string; tree_head_signature: string; falcon_signature: string };
      expect(sth.tree_size).toBeGreaterThanOrEqual(2); // TrustChain's own leaf and the admin's
      expect(Buffer.from(sth.sha256_root_hash, 'base64')).toHaveLength(32);
      expect(sth.falcon_signature.length).toBeGreaterThan(0);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
  });

  it('lists the --ct-root CAs among the CT log’s accepted roots and refuses a --ct-root that is no CA certificate', async () => {
    const dir = tempDir();
    const pki = makePki('Foreign');
    const roots = join(dir, 'foreign-roots.pem');
    writeFileSync(roots, derToPem(pki.root, 'CERTIFICATE'));
    const leafFile = join(dir, 'leaf.pem');
    writeFileSync(leafFile, derToPem(pki.leaf('not-a-ca'), 'CERTIFICATE'));
    const notCa = await run(['serve', '--data-dir', dir, '--ct-root', leafFile]);
    expect(notCa.code).toBe(2);
    expect(notCa.stderr).toMatch(/--ct-root .*leaf\.pem: .* is not a CA certificate/);
    const missing = await run(['serve', '--data-dir', dir, '--ct-root', join(dir, 'nope.pem')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--ct-root .*nope\.pem: cannot read it \(ENOENT\)/);

    const s = await serve(dir, ['--ct-root', roots]);
    try {
      const res = await fetch(`http://${String(s.ready['ctHttp'])}/ct/v1/get-roots`);
      const body = (await res.json()) as { certificates: string[] };
      expect(body.certificates).toHaveLength(2);
      expect(body.certificates).toContain(Buffer.from(pki.root).toString('base64'));
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
  });
});
