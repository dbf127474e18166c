// The pure parts of the runtime: the [service] section, the revocation set (signed by a real
// root, replayed/older/forged lists refused) and the renewal schedule on a manual clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DevCa, ManualClock, NodeIdentity, generateClassicalKey, nativeFalcon, parseConfigWithSections } from '@stoq/core';
import { RenewalScheduler, RevocationSet, dnsServerOf, isServiceError, readServiceSection, retryDelayMs, rootListVerifier, signRevocationList } from '../src';

const silent = pino({ level: 'silent' });
const parse = (toml: string) => parseConfigWithSections(toml, { sections: { service: readServiceSection } }).sections.service;

describe('[service] section', () => {
  it('has defaults, and derives the DNS server from TrustChain\'s address', () => {
    const s = parse('[service]\ntrustchain = "[fd00::7]:7440"\n');
    expect(s).toMatchObject({ trustchain: '[fd00::7]:7440', dns: null, leaseSeconds: 30, priority: 0, weight: 1, advertise: null });
    expect(dnsServerOf(s)).toBe('[fd00::7]:5354');
    expect(dnsServerOf(parse(''))).toBeNull();
    expect(dnsServerOf(parse('[service]\ntrustchain = "[::1]:1"\ndns = "[::1]:53"\n'))).toBe('[::1]:53');
  });

  it('names the key on unknown keys, IPv4, missing ports and out-of-range values', () => {
    expect(() => parse('[service]\ntrustchian = "[::1]:7440"\n')).toThrow(/service\.trustchian.*unknown key/);
    expect(() => parse('[service]\ntrustchain = "127.0.0.1:7440"\n')).toThrow(/service\.trustchain/);
    expect(() => parse('[service]\nadvertise = "[::1]:0"\n')).toThrow(/service\.advertise.*needs a port/);
    expect(() => parse('[service]\nlease_seconds = 2\n')).toThrow(/service\.lease_seconds.*out of range 5\.\.3600/);
    expect(() => parse('[servcie]\n')).toThrow(/servcie.*unknown section/);
  });
});

describe('RevocationSet', () => {
  let dir: string;
  let ca: DevCa;
  let other: DevCa;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stoq-rev-'));
    ca = await DevCa.openOrCreate(join(dir, 'ca'));
    other = await DevCa.openOrCreate(join(dir, 'other'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (fp: string) => ({ serial: '0a', fingerprint: fp, reason: 1, revokedAtMs: 5, service: 's', instance: 'i' });
  const list = (by: DevCa, version: number, fps: string[]) =>
    signRevocationList({ version, issuedAtMs: 1, entries: fps.map(entry) }, (d) => by.signClassical(d), (d) => by.signFalcon(d));

  it('takes newer lists signed by the root, reports what they newly revoke, ignores older ones', () => {
    const set = new RevocationSet(rootListVerifier(ca.rootDer));
    const a = 'aa'.repeat(32);
    const b = 'BB'.repeat(32);
    expect(set.apply(list(ca, 1, [a]))).toEqual([a]);
    expect(set.isRevoked(a)).toMatchObject({ serial: '0a', reason: 1 });
    expect(set.apply(list(ca, 2, [a, b]))).toEqual(['bb'.repeat(32)]);
    expect(set.isRevoked('bb'.repeat(32))).toBeDefined();
    // A replayed older list (without b) cannot un-revoke b.
    expect(set.apply(list(ca, 1, [a]))).toEqual([]);
    expect(set.isRevoked('bb'.repeat(32))).toBeDefined();
    expect(set.version).toBe(2);
  });

  it('refuses a list signed by another root or altered after signing', () => {
    const set = new RevocationSet(rootListVerifier(ca.rootDer));
    let err: unknown;
    try {
      set.apply(list(other, 1, ['cc'.repeat(32)]));
    } catch (e) {
      err = e;
    }
    expect(isServiceError(err, 'REVOCATION_LIST_INVALID')).toBe(true);
    const altered = { ...list(ca, 1, ['cc'.repeat(32)]), version: 9 };
    expect(() => set.apply(altered)).toThrow(/not signed by the pinned TrustChain root/);
    expect(set.version).toBe(0);
    expect(set.size).toBe(0);
  });

  it('takes a list signed by an intermediate of the root (signer_chain), and refuses one whose signer does not chain to it', async () => {
    // The root of `trustchain ca init` (pathLen 1) and an intermediate it signs.
    const root = await DevCa.openOrCreate(join(dir, 'root1'), { pathLen: 1 });
    const intermediateKey = generateClassicalKey('P-384');
    const intermediateFalcon = nativeFalcon.keypair();
    const cert = root.issueCaCertificate({ commonName: 'Test Intermediate', publicKey: intermediateKey.key, falconPublicKey: intermediateFalcon.publicKey, now: new Date(), lifetimeMs: 3600_000 });
    const intermediate = DevCa.fromIssuingCa(join(dir, 'int'), intermediateKey.key, intermediateFalcon, cert.der);
    const signedBy = (by: DevCa, version: number, chain: Uint8Array[]) =>
      signRevocationList({ version, issuedAtMs: 1, entries: [entry('dd'.repeat(32))] }, (d) => by.signClassical(d), (d) => by.signFalcon(d), chain);
    const set = new RevocationSet(rootListVerifier(root.rootDer));
    expect(set.apply(signedBy(intermediate, 1, [cert.der]))).toEqual(['dd'.repeat(32)]);
    // Signed by the intermediate but naming no signer: checked against the root's keys, refused.
    expect(() => set.apply(signedBy(intermediate, 2, []))).toThrow(/not signed by the pinned TrustChain root/);
    // An intermediate of another root.
    const otherRoot = await DevCa.openOrCreate(join(dir, 'root2'), { pathLen: 1 });
    const foreign = otherRoot.issueCaCertificate({ commonName: 'Test Intermediate', publicKey: intermediateKey.key, falconPublicKey: intermediateFalcon.publicKey, now: new Date(), lifetimeMs: 3600_000 });
    expect(() => set.apply(signedBy(DevCa.fromIssuingCa(join(dir, 'int2'), intermediateKey.key, intermediateFalcon, foreign.der), 3, [foreign.der]))).toThrow(/not signed by the pinned TrustChain root/);
    // A leaf of the root is not a CA: it cannot sign lists even though it chains to the root.
    const leaf = root.issueLeafCertificate({ service: 'caesar', instance: 'caesar-1', publicKey: intermediateKey.key, falconPublicKey: intermediateFalcon.publicKey });
    const leafList = signRevocationList({ version: 4, issuedAtMs: 1, entries: [] }, (d) => intermediate.signClassical(d), (d) => intermediate.signFalcon(d), [leaf.der]);
    expect(() => set.apply(leafList)).toThrow(/not signed by the pinned TrustChain root/);
    expect(set.version).toBe(1);
  });

  it('DevCa refuses to sign an intermediate under a root with pathLen 0', () => {
    const k = generateClassicalKey('P-384');
    expect(() => ca.issueCaCertificate({ commonName: 'X', publicKey: k.key, falconPublicKey: nativeFalcon.keypair().publicKey, now: new Date(), lifetimeMs: 3600_000 })).toThrow(/pathLenConstraint 0/);
  });
});

describe('RenewalScheduler', () => {
  it('retries after a tenth of the time left, between 1 s and 60 s', () => {
    expect(retryDelayMs(0, 5000)).toBe(1000);
    expect(retryDelayMs(0, 300_000)).toBe(30_000);
    expect(retryDelayMs(0, 86_400_000)).toBe(60_000);
  });

  it('renews at 2/3 of life, installs the new identity, and retries failures with backoff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stoq-renew-'));
    try {
      const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
      const ca = await DevCa.openOrCreate(join(dir, 'ca'), { now: new Date(clock.now() - 3600_000) });
      const load = () => NodeIdentity.loadOrCreate({ dataDir: join(dir, 'node'), service: 'svc', instance: 'svc-1', ca, lifetimeMs: 90_000, now: new Date(clock.now()) });
      const first = await load();
      const installed: string[] = [];
      let failNext = true;
      const renewal = new RenewalScheduler({
        current: first,
        reload: async () => {
          if (failNext) {
            failNext = false;
            throw new Error('TrustChain unreachable');
          }
          return load();
        },
        install: (next) => installed.push(next.fingerprint),
        logger: silent,
        clock,
      });
      renewal.start();
      clock.advance(first.renewAt.getTime() - clock.now() - 1);
      expect(installed).toEqual([]);
      clock.advance(1); // due: the first attempt fails, the retry comes 1 s later
      await renewal.renewNow().catch(() => undefined);
      expect(installed).toEqual([]);
      clock.advance(1000);
      await new Promise((r) => setImmediate(r));
      await renewal.renewNow();
      expect(installed).toHaveLength(1);
      expect(renewal.identity.fingerprint).toBe(installed[0]);
      expect(renewal.identity.fingerprint).not.toBe(first.fingerprint);
      expect(renewal.renewals).toBe(1);
      await renewal.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
