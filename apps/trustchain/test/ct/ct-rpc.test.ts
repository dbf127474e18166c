// The trustchain/ct/* RPC methods over the real STOQ transport (QUIC on [::1], TLS + FALCON):
// an authenticated client (service caesar) and an anonymous one, against a file-backed CtLog
// accepting a foreign CA's root. Every answer is checked the way an auditor checks it (SCT and
// STH signatures, inclusion and consistency proofs), and every bad input gets its status.
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport } from '@stoq/core';
import {
  CtLog,
  CtLogError,
  decodeDigitallySigned,
  decodeMerkleTreeLeaf,
  decodeSct,
  LogEntryType,
  sha256Hasher,
  verifyConsistency,
  verifyInclusion,
  verifySct,
  verifySth,
  type CtLogErrorCode,
  type SignedTreeHead,
} from '@stoq/ct-log';
import { trustchain } from '@stoq/protos';
import { RpcClient, RpcError, RpcServer, StaticResolver, Status } from '@stoq/rpc';
import * as protobuf from 'protobufjs';
import { addCtMethods, ctStatus } from '../../src/ct';
import { pageWithinBytes, u64Field } from '../../src/ct/ct-rpc';
import { captureLogger, tempDir } from '../ca/support';
import { makePki, openLog, type TestLog } from './support';

/** protobufjs's Long constructor, with the static helpers its own typing leaves out (it is the `long` package). */
const LongCtor = protobuf.util.Long as unknown as typeof import('long');

const M = trustchain.CtMethods;
const pki = makePki('Foreign');
const stranger = makePki('Stranger');
const { logger, lines } = captureLogger();

let t: TestLog;
const transports: StoqTransport[] = [];
const servers: RpcServer[] = [];
const clients: RpcClient[] = [];
let authed: RpcClient; // service caesar
let anon: RpcClient; // no certificate
let ca: DevCa;

/** A StOQ server for `server` and an authenticated + an anonymous client of it. */
async function serve(server: RpcServer, name: string): Promise<{ authed: RpcClient; anon: RpcClient; listener: StoqTransport }> {
  const dir = tempDir('trustchain-ct-rpc-');
  const serverId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'tc'), service: 'trustchain', instance: `trustchain-${name}`, ca });
  const clientId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'caesar'), service: 'caesar', instance: 'caesar-1', ca });
  const l = StoqTransport.listen({ identity: serverId, bind: '[::1]:0', acceptAnonymousClients: true });
  const dialer = StoqTransport.create({ identity: clientId, bind: '[::1]:0' });
  const anonDialer = StoqTransport.create({ identity: { enrolling: true, trustRootsPem: ca.rootPem }, bind: '[::1]:0' });
  transports.push(l, dialer, anonDialer);
  servers.push(server);
  void (async () => {
    for (let conn = await l.accept(); conn; conn = await l.accept()) void server.serveConnection(conn);
  })();
  const resolver = new StaticResolver({ trustchain: [l.localAddress] });
  const a = new RpcClient({ connector: (ep, o) => dialer.connect(ep, o), resolver });
  const n = new RpcClient({ connector: (ep, o) => anonDialer.connect(ep, o), resolver });
  clients.push(a, n);
  return { authed: a, anon: n, listener: l };
}

beforeAll(async () => {
  ca = await DevCa.openOrCreate(join(tempDir('trustchain-ct-ca-'), 'ca'));
  t = await openLog([pki.root], logger, { maxGetEntries: 16 });
  const server = new RpcServer({ service: 'trustchain', logger });
  addCtMethods(server, { log: t.log, logger });
  ({ authed, anon } = await serve(server, 'main'));
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  await Promise.allSettled(transports.map((x) => x.close()));
  await t.log.close();
});

/** The RpcError a call rejects with. */
async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(err)}`);
  return err;
}

const num = (v: number | protobuf.Long | null | undefined): number => u64Field('test', v);

function sthOf(res: trustchain.SignedTreeHead): SignedTreeHead {
  return {
    treeSize: num(res.treeSize),
    timestamp: num(res.timestamp),
    rootHash: res.rootHash!,
    treeHeadSignature: decodeDigitallySigned(res.signature!),
    falconSignature: res.falconSignature!,
  };
}

async function getSth(client: RpcClient = anon): Promise<SignedTreeHead> {
  const sth = sthOf(await client.call(M.getSth, {}));
  expect(verifySth(sth, t.signingKey.publicKey, { verify: t.falcon.verify })).toBe(true);
  return sth;
}

const leafChain = (name: string): Uint8Array[] => [pki.leaf(name), pki.intermediate];

describe('registration', () => {
  it('puts the six methods on the trustchain server (service of trustchain/ct/* is trustchain)', () => {
    const paths = servers[0]!.paths();
    for (const def of Object.values(M)) expect(paths).toContain(def.path);
  });

  it('refuses a server whose service is not trustchain (the CT paths belong to it)', () => {
    expect(() => addCtMethods(new RpcServer({ service: 'ct' }), { log: t.log, logger })).toThrow(/does not belong to service "ct"/);
  });
});

describe('get_roots and get_sth', () => {
  it('returns the accepted roots to an anonymous caller', async () => {
    const res = await anon.call(M.getRoots, {});
    expect(res.certificates?.map((c) => Buffer.from(c).toString('hex'))).toEqual([Buffer.from(pki.root).toString('hex')]);
  });

  it('signs an STH for the empty tree (ECDSA and FALCON verify)', async () => {
    const sth = await getSth();
    expect(sth.treeSize).toBe(0);
    expect(Buffer.from(sth.rootHash).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('add_chain', () => {
  it('logs a foreign CA’s chain (with or without its root) and returns an SCT that verifies', async () => {
    const chain = leafChain('alpha');
    const res = await authed.call(M.addChain, { chain });
    const sct = decodeSct(res.sct!);
    expect(Buffer.from(sct.logId).equals(t.signingKey.logId)).toBe(true);
    expect(verifySct(sct, { entryType: LogEntryType.x509_entry, certificate: chain[0]! }, t.signingKey.publicKey)).toBe(true);
    const index = num(res.leafIndex);
    const withRoot = await authed.call(M.addChain, { chain: [pki.leaf('beta'), pki.intermediate, pki.root] });
    expect(num(withRoot.leafIndex)).toBe(index + 1);
    const sth = await getSth();
    const proof = await anon.call(M.getProofByHash, { hash: res.leafHash!, treeSize: sth.treeSize });
    expect(num(proof.leafIndex)).toBe(index);
    expect(verifyInclusion(index, sth.treeSize, res.leafHash!, proof.auditPath!, sth.rootHash)).toBe(true);
  });

  it('refuses an anonymous caller with UNAUTHENTICATED and logs nothing', async () => {
    const before = t.log.treeSize;
    const err = await rpcError(anon.call(M.addChain, { chain: leafChain('anon') }));
    expect(err.code).toBe(Status.UNAUTHENTICATED);
    expect(t.log.treeSize).toBe(before);
  });

  it.each([
    ['a chain to a root the log does not accept', () => [stranger.leaf('x'), stranger.intermediate, stranger.root], /does not lead to an accepted root/],
    ['a leaf without its intermediate', () => [pki.leaf('orphan')], /does not lead to an accepted root/],
    ['an empty chain', () => [], /chain is empty/],
    ['garbage bytes', () => [Buffer.from('not a certificate at all')], /chain\[0\] is not a parseable X\.509 certificate/],
    ['an empty certificate', () => [new Uint8Array(0)], /chain\[0\] is 0 bytes/],
    ['the intermediate and leaf swapped', () => [pki.intermediate, pki.leaf('swapped')], /chain\[1\] [\s\S]* is not a CA certificate/],
    ['a leaf claimed by the wrong intermediate', () => [pki.leaf('wrong'), stranger.intermediate], /is not issued and signed by chain\[1\]/],
    ['more certificates than the longest accepted chain', () => Array.from({ length: 11 }, () => pki.intermediate), /at most 10 accepted/],
  ])('refuses %s with INVALID_ARGUMENT naming the reason', async (_what, chain, message) => {
    const before = t.log.treeSize;
    const err = await rpcError(authed.call(M.addChain, { chain: chain() }));
    expect(err.code).toBe(Status.INVALID_ARGUMENT);
    expect(err.message).toMatch(message);
    expect(t.log.treeSize).toBe(before);
  });
});

describe('proofs and entries over a grown log', () => {
  const logged: { index: number; hash: Uint8Array; cert: Uint8Array }[] = [];
  let sthA: SignedTreeHead;
  let sthB: SignedTreeHead;

  beforeAll(async () => {
    sthA = await getSth(authed);
    const chains = Array.from({ length: 40 }, (_, i) => leafChain(`grow-${i}`));
    const results = await Promise.all(chains.map((chain) => authed.call(M.addChain, { chain })));
    results.forEach((r, i) => logged.push({ index: num(r.leafIndex), hash: r.leafHash!, cert: chains[i]![0]! }));
    // Concurrent calls may be sequenced in any order: index order, so logged[i] is entry first + i.
    logged.sort((a, b) => a.index - b.index);
    sthB = await getSth();
  });

  it('proves every new entry included under the new STH', async () => {
    expect(sthB.treeSize).toBe(sthA.treeSize + 40);
    for (const e of logged) {
      const p = await anon.call(M.getProofByHash, { hash: e.hash, treeSize: sthB.treeSize });
      expect(num(p.leafIndex)).toBe(e.index);
      expect(verifyInclusion(e.index, sthB.treeSize, e.hash, p.auditPath!, sthB.rootHash)).toBe(true);
      // The same proof does not prove the leaf at another position.
      expect(verifyInclusion(e.index ^ 1, sthB.treeSize, e.hash, p.auditPath!, sthB.rootHash)).toBe(false);
    }
  });

  it('proves the old STH consistent with the new one, and every intermediate size', async () => {
    const res = await anon.call(M.getSthConsistency, { first: sthA.treeSize, second: sthB.treeSize });
    expect(verifyConsistency(sthA.treeSize, sthB.treeSize, res.consistency!, sthA.rootHash, sthB.rootHash)).toBe(true);
    for (let m = 1; m <= sthB.treeSize; m += 7) {
      const p = await anon.call(M.getSthConsistency, { first: m, second: sthB.treeSize });
      expect(verifyConsistency(m, sthB.treeSize, p.consistency!, t.log.rootAt(m), sthB.rootHash)).toBe(true);
    }
    const same = await anon.call(M.getSthConsistency, { first: sthB.treeSize, second: sthB.treeSize });
    expect(same.consistency ?? []).toEqual([]);
  });

  it('returns entries start..end inclusive, whose leaves hash to the logged leaf hashes', async () => {
    const first = logged[0]!.index;
    const res = await anon.call(M.getEntries, { start: first, end: first + 4 });
    expect(res.entries).toHaveLength(5);
    res.entries!.forEach((e, i) => {
      expect(Buffer.from(sha256Hasher.hashLeaf(e.leafInput!)).equals(Buffer.from(logged[i]!.hash))).toBe(true);
      const leaf = decodeMerkleTreeLeaf(e.leafInput!);
      const entry = leaf.timestampedEntry.signedEntry;
      expect(entry.entryType).toBe(LogEntryType.x509_entry);
      if (entry.entryType === LogEntryType.x509_entry) expect(Buffer.from(entry.certificate).equals(Buffer.from(logged[i]!.cert))).toBe(true);
    });
    const one = await anon.call(M.getEntries, { start: first, end: first });
    expect(one.entries).toHaveLength(1);
  });

  it('answers a range larger than a page with one page (RFC 6962 allows fewer), clipped at the tree end', async () => {
    const page = await anon.call(M.getEntries, { start: 0, end: 1_000_000 });
    expect(page.entries).toHaveLength(16); // the log's maxGetEntries
    const tail = await anon.call(M.getEntries, { start: sthB.treeSize - 3, end: sthB.treeSize + 100 });
    expect(tail.entries).toHaveLength(3);
  });

  it.each<[string, () => Promise<unknown>, Status, RegExp]>([
    ['consistency with first > second', () => anon.call(M.getSthConsistency, { first: 5, second: 2 }), Status.INVALID_ARGUMENT, /first \(5\) exceeds second \(2\)/],
    ['consistency with second beyond the tree', () => anon.call(M.getSthConsistency, { first: 1, second: t.log.treeSize + 1 }), Status.OUT_OF_RANGE, /exceeds the tree size/],
    ['proof with tree_size beyond the tree', () => anon.call(M.getProofByHash, { hash: logged[0]!.hash, treeSize: t.log.treeSize + 1 }), Status.OUT_OF_RANGE, /exceeds the tree size/],
    ['proof with tree_size 0', () => anon.call(M.getProofByHash, { hash: logged[0]!.hash, treeSize: 0 }), Status.INVALID_ARGUMENT, /holds no leaves/],
    ['proof of a hash never logged', () => anon.call(M.getProofByHash, { hash: new Uint8Array(32).fill(7), treeSize: 1 }), Status.NOT_FOUND, /no leaf with that hash/],
    ['proof of a leaf not yet in the asked tree', () => anon.call(M.getProofByHash, { hash: logged[39]!.hash, treeSize: logged[39]!.index }), Status.NOT_FOUND, /is not in the tree of size/],
    ['proof with a 31-byte hash', () => anon.call(M.getProofByHash, { hash: new Uint8Array(31), treeSize: 1 }), Status.INVALID_ARGUMENT, /hash must be 32 bytes, got 31/],
    ['proof with no hash', () => anon.call(M.getProofByHash, { treeSize: 1 }), Status.INVALID_ARGUMENT, /hash must be 32 bytes, got 0/],
    ['entries with start > end', () => anon.call(M.getEntries, { start: 9, end: 3 }), Status.INVALID_ARGUMENT, /start \(9\) exceeds end \(3\)/],
    ['entries from beyond the tree', () => anon.call(M.getEntries, { start: t.log.treeSize, end: t.log.treeSize + 5 }), Status.OUT_OF_RANGE, /is not below the tree size/],
    ['a uint64 past 2^53', () => anon.call(M.getEntries, { start: LongCtor.fromString('18446744073709551615', true), end: 1 }), Status.INVALID_ARGUMENT, /start \(18446744073709551615\) is not a non-negative integer below 2\^53/],
  ])('%s', async (_what, call, code, message) => {
    const err = await rpcError(call());
    expect({ code: err.code, message: err.message }).toMatchObject({ code, message: expect.stringMatching(message) as unknown as string });
  });
});

describe('get_entries pages by bytes under the message limit', () => {
  it('returns fewer entries than asked when a full page would not fit in one message', async () => {
    // A server with a small message limit: 128 KiB leaves 64 KiB for the page; each entry is a
    // hybrid leaf plus intermediate and root (several KB with their FALCON keys and signatures).
    const small = new RpcServer({ service: 'trustchain', logger, limits: { maxMessageBytes: 128 * 1024 } });
    addCtMethods(small, { log: t.log, logger });
    const c = await serve(small, 'small');
    const res = await c.anon.call(M.getEntries, { start: 0, end: 15 });
    const bytes = res.entries!.reduce((n, e) => n + e.leafInput!.length + e.extraData!.length, 0);
    expect(res.entries!.length).toBeGreaterThan(0);
    expect(res.entries!.length).toBeLessThan(16);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('pageWithinBytes keeps the longest prefix within the budget, and always one entry', () => {
    const e = (n: number): { leafInput: Uint8Array; extraData: Uint8Array } => ({ leafInput: new Uint8Array(n), extraData: new Uint8Array(0) });
    expect(pageWithinBytes([e(100), e(100), e(100)], 250)).toHaveLength(2);
    expect(pageWithinBytes([e(1000)], 10)).toHaveLength(1);
    expect(pageWithinBytes([], 10)).toHaveLength(0);
  });
});

describe('error mapping (by code, never by message)', () => {
  it('maps every CtLog code to its status', () => {
    const expected: Record<CtLogErrorCode, Status> = {
      INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
      DECODE: Status.INVALID_ARGUMENT,
      OUT_OF_RANGE: Status.OUT_OF_RANGE,
      NOT_FOUND: Status.NOT_FOUND,
      UNAVAILABLE: Status.UNAVAILABLE,
      CORRUPT: Status.DATA_LOSS,
    };
    for (const [code, status] of Object.entries(expected)) expect(ctStatus(code as CtLogErrorCode)).toBe(status);
  });

  it('reports a CtLogError by its code whatever its message, and hides the detail of anything else', async () => {
    // A stand-in log whose reads fail the ways a real one can (and one way it should not).
    const failures: Record<string, () => never> = {
      corrupt: () => {
        throw new CtLogError('CORRUPT', 'entries.log: corrupt at byte offset 7');
      },
      misleading: () => {
        throw new CtLogError('NOT_FOUND', 'invalid argument, out of range (the words do not matter)');
      },
      bug: () => {
        throw new TypeError('secret internal detail');
      },
    };
    let mode = 'corrupt';
    const stub = { getRoots: () => failures[mode]!() } as unknown as CtLog;
    const server = new RpcServer({ service: 'trustchain', logger });
    addCtMethods(server, { log: stub, logger });
    const c = await serve(server, 'stub');
    expect((await rpcError(c.anon.call(M.getRoots, {}))).code).toBe(Status.DATA_LOSS);
    mode = 'misleading';
    expect((await rpcError(c.anon.call(M.getRoots, {}))).code).toBe(Status.NOT_FOUND);
    mode = 'bug';
    const bug = await rpcError(c.anon.call(M.getRoots, {}));
    expect(bug.code).toBe(Status.INTERNAL);
    expect(bug.message).not.toMatch(/secret/);
    expect(lines.some((l) => l.msg === 'CT request failed unexpectedly' && JSON.stringify(l).includes('secret internal detail'))).toBe(true);
  });

  it('answers UNAVAILABLE once the log is closed', async () => {
    const closed = await openLog([pki.root], logger);
    await closed.log.close();
    const server = new RpcServer({ service: 'trustchain', logger });
    addCtMethods(server, { log: closed.log, logger });
    const c = await serve(server, 'closed');
    const err = await rpcError(c.authed.call(M.addChain, { chain: leafChain('late') }));
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.message).toMatch(/log is closed/);
  });
});

describe('u64Field', () => {
  it('accepts numbers and Longs up to 2^53-1 and refuses the rest', () => {
    const L = LongCtor;
    expect(u64Field('x', undefined)).toBe(0);
    expect(u64Field('x', 42)).toBe(42);
    expect(u64Field('x', L.fromNumber(Number.MAX_SAFE_INTEGER, true))).toBe(Number.MAX_SAFE_INTEGER);
    expect(u64Field('x', L.fromString('4294967296', true))).toBe(4294967296);
    expect(() => u64Field('x', L.fromString('9007199254740992', true))).toThrow(/below 2\^53/);
    expect(() => u64Field('x', -1)).toThrow(/non-negative/);
    expect(() => u64Field('x', 1.5)).toThrow(/non-negative integer/);
  });
});
