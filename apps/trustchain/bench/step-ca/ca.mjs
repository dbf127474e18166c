// step-ca as the peer of the enroll/renew benchmark: build it (cached), write its configuration
// without the `step` CLI, run it. Only our configuration code lives here: the step-ca binary is
// built by `go install` into ~/.cache/stoq/bin and never committed.
//
// The CA is configured the way a small production step-ca would be, as close as step-ca allows
// to TrustChain's: an ECDSA P-384 root (10 years) and an ECDSA P-384 intermediate that signs the
// leaves (step-ca always issues from its intermediate; TrustChain's root signs leaves directly),
// a badgerv2 database (dgraph-io/badger v2 with its default SyncWrites=true: each commit is
// fsynced before the reply, as TrustChain's SQLite synchronous=FULL), one JWK provisioner whose
// key pair we generate (public JWK in ca.json, `encryptedKey` omitted: tokens are signed here,
// by the benchmark, with the private key), default claims (24 h leaves, renewal allowed).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const STEP_CA_VERSION = 'v0.28.3';
const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
export const STEP_CA_BIN = join(homedir(), '.cache', 'stoq', 'bin', 'step-ca');

const log = (msg) => process.stderr.write(`[step-ca] ${msg}\n`);

/** The step-ca binary: built once with `go install` (needs libpcsclite-dev for the YubiKey KMS cgo code). */
export function ensureStepCa() {
  if (existsSync(STEP_CA_BIN)) {
    // `go install` leaves step-ca's own version string unset ("0000000-dev"): read the module
    // version from the build info instead.
    const v = spawnSync(GO, ['version', '-m', STEP_CA_BIN], { encoding: 'utf8' });
    const mod = /^\s*mod\s+github\.com\/smallstep\/certificates\s+(\S+)/m.exec(v.stdout ?? '');
    if (mod?.[1] === STEP_CA_VERSION) return STEP_CA_BIN;
    log(`${STEP_CA_BIN} is not step-ca ${STEP_CA_VERSION} (build info: ${mod?.[1] ?? 'unreadable'}); rebuilding`);
  }
  if (spawnSync('dpkg', ['-s', 'libpcsclite-dev'], { stdio: 'ignore' }).status !== 0) {
    log('installing libpcsclite-dev (apt-get)');
    execFileSync('apt-get', ['install', '-y', 'libpcsclite-dev'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  log(`building step-ca ${STEP_CA_VERSION} with go install (a few minutes, once)`);
  mkdirSync(join(homedir(), '.cache', 'stoq', 'bin'), { recursive: true });
  execFileSync(GO, ['install', `github.com/smallstep/certificates/cmd/step-ca@${STEP_CA_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOSUMDB: 'off', GOBIN: join(homedir(), '.cache', 'stoq', 'bin') },
  });
  if (!existsSync(STEP_CA_BIN)) throw new Error(`go install did not produce ${STEP_CA_BIN}`);
  return STEP_CA_BIN;
}

/** A free TCP port on [::1] (step-ca's address must name a port; the tiny race is acceptable here). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '::1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** RFC 7638 JWK thumbprint (SHA-256) of an EC public JWK: the provisioner's `kid`. */
export function jwkThumbprint(jwk) {
  return b64url(createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest());
}

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Writes root, intermediate, provisioner and ca.json into `dir`; returns what the client needs.
 * Keys come from Node's crypto (PKCS#8 PEM, unencrypted); the certificates from openssl.
 */
export function writeStepCaConfig(dir, port) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p384 = () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(join(dir, 'root_ca_key'), p384(), { mode: 0o600 });
  writeFileSync(join(dir, 'intermediate_ca_key'), p384(), { mode: 0o600 });
  writeFileSync(
    join(dir, 'root.ext'),
    'basicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
  );
  writeFileSync(
    join(dir, 'intermediate.ext'),
    'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n',
  );
  openssl(['req', '-new', '-key', 'root_ca_key', '-subj', '/O=stoq bench/CN=bench step-ca Root CA', '-out', 'root.csr'], dir);
  openssl(['x509', '-req', '-in', 'root.csr', '-signkey', 'root_ca_key', '-sha384', '-days', '3650', '-extfile', 'root.ext', '-out', 'root_ca.crt'], dir);
  openssl(['req', '-new', '-key', 'intermediate_ca_key', '-subj', '/O=stoq bench/CN=bench step-ca Intermediate CA', '-out', 'intermediate.csr'], dir);
  openssl(
    ['x509', '-req', '-in', 'intermediate.csr', '-CA', 'root_ca.crt', '-CAkey', 'root_ca_key', '-CAcreateserial', '-sha384', '-days', '3650', '-extfile', 'intermediate.ext', '-out', 'intermediate_ca.crt'],
    dir,
  );

  // The JWK provisioner: an ES256 key pair; ca.json holds only the public JWK.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = publicKey.export({ format: 'jwk' });
  const kid = jwkThumbprint(pub);
  const name = 'bench@stoq';
  const address = `[::1]:${port}`;
  const config = {
    root: join(dir, 'root_ca.crt'),
    federatedRoots: null,
    crt: join(dir, 'intermediate_ca.crt'),
    key: join(dir, 'intermediate_ca_key'),
    address,
    insecureAddress: '',
    dnsNames: ['localhost', '::1'],
    logger: { format: 'text' },
    db: { type: 'badgerv2', dataSource: join(dir, 'db'), badgerFileLoadingMode: '' },
    authority: {
      provisioners: [{ type: 'JWK', name, key: { use: 'sig', kty: 'EC', kid, crv: pub.crv, alg: 'ES256', x: pub.x, y: pub.y } }],
    },
    // no "tls": step-ca's defaults (TLS 1.2..1.3, ECDSA AES-128-GCM / ChaCha20 suites)
  };
  const configPath = join(dir, 'ca.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return {
    configPath,
    address,
    origin: `https://[::1]:${port}`,
    rootPem: readFileSync(join(dir, 'root_ca.crt'), 'utf8'),
    provisioner: { name, kid, privateKey },
  };
}

/**
 * Runs step-ca on `configPath`; resolves when /health answers over HTTPS. Its log (text, one
 * line per request) goes to `logPath`. `stop()` sends SIGTERM and waits for the exit.
 */
export async function startStepCa(bin, configPath, logPath, origin, rootPem) {
  const fd = openSync(logPath, 'a');
  const child = spawn(bin, [configPath], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exitPromise;
    clearTimeout(t);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`step-ca exited (${exited.code ?? exited.signal}) before serving; see ${logPath}`);
    const ok = await new Promise((resolve) => {
      const req = https.get(`${origin}/health`, { ca: rootPem, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`step-ca did not answer ${origin}/health within 30 s; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid, child, stop };
}
