import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, truncateSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CorruptionError,
  CtLog,
  CtLogError,
  decodeCertificateChain,
  decodeMerkleTreeLeaf,
  decodePrecertChainEntry,
  ENTRIES_FILE,
  encodeFrame,
  FileLogStorage,
  LogEntryType,
  LogSigningKey,
  sha256Hasher,
  STH_FILE,
  verifyConsistency,
  verifyInclusion,
  verifySct,
  verifySth,
  type CtLogOptions,
  type LogStorage,
  type StoredBatch,
} from '../src';
import { nobleSigner } from './helpers/falcon';
import { makePki } from './helpers/x509';

const pki = makePki('Log');
const signingKey = LogSigningKey.generate();
const falcon = nobleSigner();
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ct-log-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The real file storage, counting group commits (to observe batching). */
class CountingStorage extends FileLogStorage {
  batches: number[] = [];
  override appendBatch(batch: StoredBatch): Promise<void> {
    this.batches.push(batch.entries.length);
    return super.appendBatch(batch);
  }
}

function options(storage: LogStorage, extra: Partial<CtLogOptions> = {}): CtLogOptions {
  return { storage, signingKey, falcon, roots: [pki.root.der], ...extra };
}

const leafChain = (cn: string): Buffer[] => [pki.leaf(cn).der, pki.intermediate.der];

describe('CtLog over the file backend', () => {
  it('adds chains with SCTs that verify, group-commits concurrent calls, and proves inclusion under the STH', async () => {
    const dir = tempDir();
    const storage = new CountingStorage(dir);
    const log = await CtLog.open(options(storage));
    const chains = Array.from({ length: 40 }, (_, i) => leafChain(`host${i}.example`));
    const results = await Promise.all(chains.map((c) => log.addChain(c)));
    expect(results.map((r) => r.leafIndex).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // 40 concurrent submissions: the first batch takes what was queued, the rest ride the next fsync.
    expect(storage.batches.length).toBeLessThan(40);
    expect(storage.batches.reduce((a, b) => a + b, 0)).toBe(40);

    const sth = await log.getSth();
    expect(sth.treeSize).toBe(40);
    expect(verifySth(sth, signingKey.publicKeyDer, falcon)).toBe(true);
    for (const [i, r] of results.entries()) {
      const entry = { entryType: LogEntryType.x509_entry, certificate: chains[i]![0]! } as const;
      expect(verifySct(r.sct, entry, signingKey.publicKey)).toBe(true);
      const proof = log.getProofByHash(r.leafHash, sth.treeSize);
      expect(proof.leafIndex).toBe(r.leafIndex);
      expect(verifyInclusion(proof.leafIndex, sth.treeSize, r.leafHash, proof.auditPath, sth.rootHash)).toBe(true);
    }
    expect(sth.timestamp).toBeGreaterThanOrEqual(Math.max(...results.map((r) => r.sct.timestamp)));

    // get-entries returns the MerkleTreeLeaf the SCT was issued for, and the chain up to the root.
    const entries = await log.getEntries(0, 39);
    expect(entries).toHaveLength(40);
    const first = results.find((r) => r.leafIndex === 0)!;
    const leaf = decodeMerkleTreeLeaf(entries[0]!.leafInput);
    expect(leaf.timestampedEntry.timestamp).toBe(first.sct.timestamp);
    expect(Buffer.from(sha256Hasher.hashLeaf(entries[0]!.leafInput))).toEqual(Buffer.from(first.leafHash));
    expect(decodeCertificateChain(entries[0]!.extraData).map((c) => Buffer.from(c))).toEqual([pki.intermediate.der, pki.root.der]);
    expect(log.getRoots()).toEqual([pki.root.der]);
    await log.close();
  });

  it('logs precertificates with a PrecertChainEntry', async () => {
    const log = await CtLog.open(options(new FileLogStorage(tempDir())));
    const pre = pki.leaf('pre.example', true);
    const r = await log.addPreChain([pre.der, pki.intermediate.der]);
    const [e] = await log.getEntries(0, 0);
    const leaf = decodeMerkleTreeLeaf(e!.leafInput);
    expect(leaf.timestampedEntry.signedEntry.entryType).toBe(LogEntryType.precert_entry);
    expect(verifySct(r.sct, leaf.timestampedEntry.signedEntry, signingKey.publicKey)).toBe(true);
    const pce = decodePrecertChainEntry(e!.extraData);
    expect(Buffer.from(pce.preCertificate)).toEqual(pre.der);
    expect(pce.chain.map((c) => Buffer.from(c))).toEqual([pki.intermediate.der, pki.root.der]);
    await expect(log.addChain([pre.der, pki.intermediate.der])).rejects.toThrow(/addPreChain/);
    await log.close();
  });

  it('serves consistency proofs between STHs and validates every request with errors naming the values', async () => {
    const log = await CtLog.open(options(new FileLogStorage(tempDir()), { maxGetEntries: 5 }));
    await Promise.all([0, 1, 2].map((i) => log.addChain(leafChain(`a${i}`))));
    const sth1 = await log.getSth();
    await Promise.all([3, 4, 5, 6, 7, 8, 9].map((i) => log.addChain(leafChain(`a${i}`))));
    const sth2 = await log.getSth();
    const proof = log.getSthConsistency(sth1.treeSize, sth2.treeSize);
    expect(verifyConsistency(sth1.treeSize, sth2.treeSize, proof, sth1.rootHash, sth2.rootHash)).toBe(true);
    expect(await log.getSth()).toBe(sth2); // unchanged tree: same STH

    expect(() => log.getSthConsistency(3, 11)).toThrow('second (11) exceeds the tree size (10)');
    expect(() => log.getSthConsistency(7, 4)).toThrow('first (7) exceeds second (4)');
    expect(() => log.getSthConsistency(-1, 4)).toThrow('first must be a non-negative integer, got -1');
    expect(() => log.getSthConsistency(1.5, 4)).toThrow('first must be a non-negative integer, got 1.5');
    expect(() => log.getProofByHash(new Uint8Array(5), 3)).toThrow('hash must be 32 bytes, got 5');
    expect(() => log.getProofByHash(new Uint8Array(32), 3)).toThrow('no leaf with that hash');
    expect(() => log.getProofByHash(new Uint8Array(32), 12)).toThrow('tree_size (12) exceeds the tree size (10)');
    const last = (await log.getEntries(9, 9))[0]!;
    expect(() => log.getProofByHash(sha256Hasher.hashLeaf(last.leafInput), 5)).toThrow('leaf 9 is not in the tree of size 5');
    await expect(log.getEntries(4, 2)).rejects.toThrow('start (4) exceeds end (2)');
    await expect(log.getEntries(10, 12)).rejects.toThrow('start (10) is not below the tree size (10)');
    expect(await log.getEntries(2, 100)).toHaveLength(5); // bounded page
    expect(await log.getEntries(8, 100)).toHaveLength(2); // clamped to the tree
    try {
      log.getSthConsistency(0, 99);
    } catch (err) {
      expect(err).toBeInstanceOf(CtLogError);
      expect((err as CtLogError).code).toBe('OUT_OF_RANGE');
    }
    await log.close();
    await expect(log.addChain(leafChain('late'))).rejects.toThrow('log is closed');
  });

  it('reopens to the same tree and STH, and keeps appending consistently', async () => {
    const dir = tempDir();
    let log = await CtLog.open(options(new FileLogStorage(dir)));
    await Promise.all(Array.from({ length: 13 }, (_, i) => log.addChain(leafChain(`r${i}`))));
    const sth = await log.getSth();
    await log.close();
    log = await CtLog.open(options(new FileLogStorage(dir)));
    expect(log.treeSize).toBe(13);
    expect(log.lastSth?.rootHash).toEqual(sth.rootHash);
    expect(Buffer.from(log.rootAt(13))).toEqual(Buffer.from(sth.rootHash));
    await log.addChain(leafChain('after-reopen'));
    const sth2 = await log.getSth();
    expect(verifyConsistency(13, 14, log.getSthConsistency(13, 14), sth.rootHash, sth2.rootHash)).toBe(true);
    await log.close();
  });

  it('refuses a second open of the same directory while the first holds it', async () => {
    const dir = tempDir();
    const log = await CtLog.open(options(new FileLogStorage(dir)));
    await expect(CtLog.open(options(new FileLogStorage(dir)))).rejects.toThrow(/is in use by process/);
    await log.close();
  });

  it('rejects bad chains without consuming an index', async () => {
    const log = await CtLog.open(options(new FileLogStorage(tempDir())));
    await expect(log.addChain([Buffer.from('junk')])).rejects.toThrow(/chain\[0\] is not a parseable X.509 certificate/);
    await expect(log.addChain([makePki('Stranger').leaf('x').der])).rejects.toThrow(/accepted root/);
    expect(log.treeSize).toBe(0);
    await log.close();
  });
});

describe('file storage recovery', () => {
  async function logWithEntries(n: number, withSth: boolean): Promise<{ dir: string; rootAt: (s: number) => Uint8Array }> {
    const dir = tempDir();
    const log = await CtLog.open(options(new FileLogStorage(dir), { maxBatchEntries: 4 }));
    await Promise.all(Array.from({ length: n }, (_, i) => log.addChain(leafChain(`t${i}`))));
    if (withSth) await log.getSth();
    const roots = Array.from({ length: n + 1 }, (_, s) => log.rootAt(s));
    await log.close();
    return { dir, rootAt: (s) => roots[s]! };
  }

  it('truncates a torn final frame (partial header or payload) and keeps every earlier entry', async () => {
    const { dir, rootAt } = await logWithEntries(6, true);
    const file = join(dir, ENTRIES_FILE);
    const goodSize = statSync(file).size;
    const frame = encodeFrame({ firstIndex: 6, timestamp: 1, entries: [{ leafHash: Buffer.alloc(32, 1), leafInput: Buffer.alloc(50, 2), extraData: Buffer.alloc(10) }] });
    for (const cut of [3, 16, 40, frame.length - 1]) {
      appendFileSync(file, frame.subarray(0, cut));
      const log = await CtLog.open(options(new FileLogStorage(dir)));
      expect(log.treeSize).toBe(6);
      expect(Buffer.from(log.rootAt(6))).toEqual(Buffer.from(rootAt(6)));
      await log.close();
      expect(statSync(file).size).toBe(goodSize);
    }
    // Garbage where the next header should be (e.g. zero-filled blocks), nothing valid after it.
    appendFileSync(file, Buffer.alloc(300));
    const g = await CtLog.open(options(new FileLogStorage(dir)));
    expect(g.treeSize).toBe(6);
    await g.close();
    expect(statSync(file).size).toBe(goodSize);
    // A complete final frame whose payload never reached the disk (zeros) is torn too.
    const zeroed = Buffer.from(frame);
    zeroed.fill(0, 20);
    appendFileSync(file, zeroed);
    const log = await CtLog.open(options(new FileLogStorage(dir)));
    expect(log.treeSize).toBe(6);
    await log.close();
    expect(statSync(file).size).toBe(goodSize);
  });

  it('fails to open on a bad CRC in a non-final frame, naming the file and offset', async () => {
    const { dir } = await logWithEntries(9, false); // frames of 4, 4, 1 entries
    const file = join(dir, ENTRIES_FILE);
    const data = readFileSync(file);
    const firstLen = 16 + data.readUInt32BE(4);
    data[firstLen + 16 + 30] ^= 0xff; // inside the second frame's payload
    writeFileSync(file, data);
    const err = await CtLog.open(options(new FileLogStorage(dir))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).message).toBe(`${file}: corrupt at byte offset ${firstLen}: payload CRC mismatch in a non-final frame (${data.readUInt32BE(firstLen + 4)} bytes)`);
    expect((err as CorruptionError).offset).toBe(firstLen);
    // Nothing was truncated by the failed open.
    expect(statSync(file).size).toBe(data.length);
  });

  it('fails to open on a damaged header followed by valid frames', async () => {
    const { dir } = await logWithEntries(9, false);
    const file = join(dir, ENTRIES_FILE);
    const data = readFileSync(file);
    data[0] ^= 1; // magic of the first frame
    writeFileSync(file, data);
    await expect(CtLog.open(options(new FileLogStorage(dir)))).rejects.toThrow(`${file}: corrupt at byte offset 0: bad frame header (magic or header CRC) before the final frame`);
  });

  it('fails to open on a damaged STH file, naming it', async () => {
    const { dir } = await logWithEntries(3, true);
    const sthFile = join(dir, STH_FILE);
    const good = readFileSync(sthFile);
    const bad = Buffer.from(good);
    bad[40] ^= 1;
    writeFileSync(sthFile, bad);
    await expect(CtLog.open(options(new FileLogStorage(dir)))).rejects.toThrow(`${sthFile}: corrupt at byte offset 16: CRC mismatch`);
    writeFileSync(sthFile, good.subarray(0, 10));
    await expect(CtLog.open(options(new FileLogStorage(dir)))).rejects.toThrow(`${sthFile}: corrupt at byte offset 0: file is 10 bytes, shorter than its 16-byte header`);
    writeFileSync(sthFile, Buffer.concat([Buffer.from('XXXXXXXX'), good.subarray(8)]));
    await expect(CtLog.open(options(new FileLogStorage(dir)))).rejects.toThrow(`${sthFile}: corrupt at byte offset 0: bad magic`);
    writeFileSync(sthFile, good);
    const log = await CtLog.open(options(new FileLogStorage(dir)));
    expect(log.lastSth?.treeSize).toBe(3);
    await log.close();
  });

  it('fails to open when entries were lost below the last STH, or the STH was signed by another key', async () => {
    const { dir } = await logWithEntries(5, true);
    const file = join(dir, ENTRIES_FILE);
    const data = readFileSync(file);
    const firstLen = 16 + data.readUInt32BE(4);
    truncateSync(file, firstLen); // keep the first frame only: the STH claims 5
    await expect(CtLog.open(options(new FileLogStorage(dir)))).rejects.toThrow(/STH covers 5 entries but storage holds only [0-4]$/);
    writeFileSync(file, data);
    await expect(CtLog.open({ ...options(new FileLogStorage(dir)), signingKey: LogSigningKey.generate() })).rejects.toThrow(/tree_head_signature does not verify \(wrong key, or a damaged file\)/);
  });

  it('ignores a leftover STH temp file (never renamed, never published)', async () => {
    const { dir } = await logWithEntries(2, true);
    writeFileSync(join(dir, `${STH_FILE}.tmp`), 'partial');
    const log = await CtLog.open(options(new FileLogStorage(dir)));
    expect(log.lastSth?.treeSize).toBe(2);
    expect(existsSync(join(dir, `${STH_FILE}.tmp`))).toBe(false);
    await log.close();
  });
});

describe('write failures', () => {
  it('rejects the in-flight and queued entries and stops accepting more', async () => {
    class FailingStorage extends FileLogStorage {
      fail = false;
      override appendBatch(batch: StoredBatch): Promise<void> {
        return this.fail ? Promise.reject(new Error('EIO: simulated disk failure')) : super.appendBatch(batch);
      }
    }
    const storage = new FailingStorage(tempDir());
    const log = await CtLog.open(options(storage));
    await log.addChain(leafChain('ok'));
    storage.fail = true;
    const results = await Promise.allSettled([log.addChain(leafChain('x1')), log.addChain(leafChain('x2'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/log write failed \(EIO: simulated disk failure\); reopen the log to recover/);
    await expect(log.addChain(leafChain('x3'))).rejects.toThrow(/log is failed/);
    expect(log.treeSize).toBe(1);
    await log.close();
  });
});
