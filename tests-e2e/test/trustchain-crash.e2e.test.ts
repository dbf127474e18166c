// kill -9 at an arbitrary instant loses nothing TrustChain acknowledged: every enrollment that
// got a reply is still recorded after a restart (its token stays burned), and its certificate
// is in the CT log under the tree head the restarted log signs. Enrollments in flight at the
// kill may or may not have happened, but never half: a token is burned only with a certificate.
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeIdentity, StoqTransport, createCsr, falconCsrMessage, generateClassicalKey, nativeFalcon, type DialedConnection } from '@stoq/core';
import { trustchain as tc } from '@stoq/protos';
import { RpcClient, StaticResolver, isRpcError } from '@stoq/rpc';
import { StoqProcess } from './support';

jest.setTimeout(180_000);

const ROUNDS = 2;
const CLIENTS = 16;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-tc-crash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(dataDir: string): Promise<{ proc: StoqProcess; stoq: string }> {
  const proc = StoqProcess.trustchain(['serve', '--data-dir', dataDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  const ready = await proc.waitFor((l) => l.msg === 'trustchain serve ready');
  return { proc, stoq: ready.stoq as string };
}

async function dial(identity: NodeIdentity | { enrolling: true; trustRootSha256: string }, stoq: string): Promise<{ rpc: RpcClient; close(): Promise<void> }> {
  const transport = StoqTransport.create({ identity, bind: '[::]:0' });
  let conn: DialedConnection;
  try {
    conn = await transport.connect(stoq, { serverName: 'trustchain.hypermesh', expectedService: 'trustchain' });
  } catch (err) {
    await transport.close();
    throw err;
  }
  const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ trustchain: [stoq] }), retry: { maxAttempts: 1 } });
  return {
    rpc,
    close: async () => {
      rpc.close();
      conn.close(0, 'done');
      await transport.close();
    },
  };
}

function enrollRequest(instance: string, token: string): tc.EnrollRequest {
  const tls = generateClassicalKey('P-256');
  const falcon = nativeFalcon.keypair();
  const csr = createCsr({ service: 'crashy', instance, tlsKey: tls.key, falconPublicKey: falcon.publicKey });
  return { token, csr, falconSignature: nativeFalcon.sign(falcon.secretKey, falconCsrMessage(csr)) };
}

test.each(Array.from({ length: ROUNDS }, (_, i) => i))('round %i: kill -9 during enrollments loses no acknowledged certificate', async (round) => {
  const dataDir = join(dir, `tc-${round}`);
  const first = await serve(dataDir);
  const admin = await NodeIdentity.loadOrCreate({ dataDir: join(dataDir, 'admin'), service: 'admin', instance: 'admin', ca: null });
  const rootFingerprint = (await first.proc.waitFor((l) => l.msg === 'trustchain serve ready')).rootFingerprint as string;
  const adminConn = await dial(admin, first.stoq);
  const tokens: string[] = [];
  for (let i = 0; i < CLIENTS; i++) tokens.push((await adminConn.rpc.call(tc.TrustChainMethods.createToken, { service: 'crashy', ttlSeconds: 3600 })).token!);
  await adminConn.close();

  // Every client enrolls as soon as it is connected; the kill lands after a random number of replies.
  const acknowledged: Array<{ token: string; serial: string; chain: Uint8Array[]; ct: tc.CtProof }> = [];
  const killAfter = randomInt(1, CLIENTS - 4);
  let killed = false;
  const clients = tokens.map(async (token, i) => {
    let c;
    try {
      c = await dial({ enrolling: true, trustRootSha256: rootFingerprint }, first.stoq);
      const issued = await c.rpc.call(tc.TrustChainMethods.enroll, enrollRequest(`c${i}`, token), { timeoutMs: 20_000 });
      acknowledged.push({ token, serial: issued.serial!, chain: issued.chain!, ct: issued.ct! });
      if (acknowledged.length >= killAfter && !killed) {
        killed = true;
        first.proc.child.kill('SIGKILL');
      }
    } catch {
      // In flight at the kill (or refused because it was): no reply, no promise made.
    } finally {
      await c?.close().catch(() => undefined);
    }
  });
  await Promise.all(clients);
  expect(await first.proc.exited).toBe('SIGKILL');
  expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter);

  const second = await serve(dataDir);
  try {
    const a = await dial(await NodeIdentity.loadOrCreate({ dataDir: join(dataDir, 'admin'), service: 'admin', instance: 'admin', ca: null }), second.stoq);
    try {
      for (const ack of acknowledged) {
        const rec = await a.rpc.call(tc.TrustChainMethods.getCertificate, { id: ack.serial });
        expect(rec).toMatchObject({ serial: ack.serial, service: 'crashy', kind: 'enroll' });
        // In the CT log under the restarted log's tree head (the verdict checks SCT + inclusion).
        const verdict = await a.rpc.call(tc.TrustChainMethods.validateCertificate, { chain: ack.chain, ct: ack.ct });
        expect(verdict.checks).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'ct_inclusion', ok: true })]));
      }
      // The tokens of acknowledged enrollments stay burned; every other token either enrolled
      // (its certificate is recorded) or is still unused: never burned without a certificate.
      const listed = await a.rpc.call(tc.TrustChainMethods.listCertificates, { service: 'crashy', limit: 1000 });
      const recorded = listed.certificates ?? [];
      expect(recorded.length).toBeGreaterThanOrEqual(acknowledged.length);
      let reusable = 0;
      for (const [i, token] of tokens.entries()) {
        const e = await dial({ enrolling: true, trustRootSha256: rootFingerprint }, second.stoq);
        try {
          const out = await e.rpc.call(tc.TrustChainMethods.enroll, enrollRequest(`again${i}`, token)).then(
            () => 'enrolled',
            (err: unknown) => (isRpcError(err) && err.metadata['trustchain-error-code'] === 'TOKEN_USED' ? 'used' : `error ${String(err)}`),
          );
          if (acknowledged.some((x) => x.token === token)) expect(out).toBe('used');
          else expect(['used', 'enrolled']).toContain(out);
          if (out === 'enrolled') reusable++;
        } finally {
          await e.close();
        }
      }
      process.stdout.write(`kill -9 after ${killAfter} replies: ${acknowledged.length} acknowledged, ${recorded.length} recorded, ${reusable} tokens unused\n`);
      // Burned tokens = certificates recorded before the kill.
      expect(tokens.length - reusable).toBe(recorded.length);
    } finally {
      await a.close();
    }
  } finally {
    expect(await second.proc.stop()).toBe(0);
  }
});
