// Crash safety with a real process: a child appends in a loop and reports each acknowledged
// entry; we SIGKILL it at a random point (after a random number of acks: we wait on its output,
// not on time), reopen the log, and check that no acknowledged entry was lost and that the
// recovered tree is consistent with the last persisted STH.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CtLog, FileLogStorage, LogSigningKey, sha256Hasher, verifyConsistency, verifyInclusion, verifySth } from '../src';
import { nobleKeys, nobleSigner } from './helpers/falcon';
import { makePki } from './helpers/x509';

const pki = makePki('Crash');
const signingKey = LogSigningKey.generate();
const falcon = nobleSigner();
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ct-crash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  acks: Map<number, string>;
  sths: { size: number; root: string }[];
  opened: number;
}

/** Runs the writer until it has acknowledged `killAfter` entries, then SIGKILLs it. */
function runAndKill(dataDir: string, keysFile: string, killAfter: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'crash-writer.js'), [dataDir, keysFile], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    const run: Run = { acks: new Map(), sths: [], opened: -1 };
    let killed = false;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const [kind, a, b] = line.split(' ');
      if (kind === 'open') run.opened = Number(a);
      if (kind === 'ack') run.acks.set(Number(a), b!);
      if (kind === 'sth') run.sths.push({ size: Number(a), root: b! });
      if (!killed && run.acks.size >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolve(run);
      else reject(new Error(`writer exited early (code ${code}, signal ${signal}) after ${run.acks.size} acks`));
    });
  });
}

test('SIGKILL at random moments loses no acknowledged entry and never contradicts a persisted STH', async () => {
  const keys = nobleKeys();
  const keysFile = join(dir, 'keys.json');
  writeFileSync(
    keysFile,
    JSON.stringify({
      logKeyPem: signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      falconSecretKey: Buffer.from(keys.secretKey).toString('hex'),
      falconPublicKey: Buffer.from(keys.publicKey).toString('hex'),
      rootDer: pki.root.der.toString('hex'),
      intermediateDer: pki.intermediate.der.toString('hex'),
      intermediateKeyPem: pki.intermediate.key.export({ type: 'pkcs8', format: 'pem' }),
      intermediateName: pki.intermediate.name,
    }),
  );
  const dataDir = join(dir, 'log');
  const allAcks = new Map<number, string>();
  let lastAnnounced: { size: number; root: string } | null = null;
  const seed = Date.now();
  let rnd = seed;
  const random = (): number => ((rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let recoveredSize = 0;
  for (let round = 0; round < 3; round++) {
    const killAfter = 40 + Math.floor(random() * 300);
    const run = await runAndKill(dataDir, keysFile, killAfter);
    expect(run.opened).toBe(recoveredSize); // the writer reopened exactly what we last recovered
    for (const [i, h] of run.acks) allAcks.set(i, h);
    if (run.sths.length > 0) lastAnnounced = run.sths[run.sths.length - 1]!;

    const log = await CtLog.open({ storage: new FileLogStorage(dataDir), signingKey, falcon, roots: [pki.root.der] });
    try {
      const size = log.treeSize;
      recoveredSize = size;
      // Every acknowledged entry is present, at its index, with its leaf hash.
      const maxAck = Math.max(...allAcks.keys());
      expect(size).toBeGreaterThan(maxAck);
      const root = log.rootAt(size);
      for (const [index, hashHex] of allAcks) {
        const leafHash = Buffer.from(hashHex, 'hex');
        const proof = log.getProofByIndex(index, size);
        expect(verifyInclusion(index, size, leafHash, proof, root)).toBe(true);
      }
      const entries = await log.getEntries(maxAck, maxAck);
      expect(Buffer.from(sha256Hasher.hashLeaf(entries[0]!.leafInput)).toString('hex')).toBe(allAcks.get(maxAck));
      // The persisted STH is at least the last one the writer reported, verifies, and the
      // recovered tree is consistent with it.
      const sth = log.lastSth;
      if (lastAnnounced) {
        expect(sth).not.toBeNull();
        expect(sth!.treeSize).toBeGreaterThanOrEqual(lastAnnounced.size);
        expect(Buffer.from(log.rootAt(lastAnnounced.size)).toString('hex')).toBe(lastAnnounced.root);
      }
      if (sth) {
        expect(verifySth(sth, signingKey.publicKey, falcon)).toBe(true);
        const proof = log.getSthConsistency(sth.treeSize, size);
        expect(verifyConsistency(sth.treeSize, size, proof, sth.rootHash, root)).toBe(true);
      }
    } finally {
      await log.close();
    }
  }
  expect(allAcks.size).toBeGreaterThan(100);
}, 120_000);
