// FileLogStorage open with checkpoint.bin + tree.idx + offsets.idx: the fast path, tail replay,
// torn tails after a checkpoint, and the full-scan fallback for every damaged or missing file.
// A "crash" here is kill -9 at that instant: the page cache survives, so the files are exactly
// as they are now (we snapshot the side files, close, and put the snapshot back; close never
// touches entries.log, so its mtime stays the crashed process's).
import fc from 'fast-check';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  CHECKPOINT_FILE,
  CorruptionError,
  decodeCheckpoint,
  ENTRIES_FILE,
  encodeFrame,
  FileLogStorage,
  MerkleTree,
  OFFSETS_FILE,
  sha256Hasher,
  TREE_INDEX_FILE,
  type FileLogStorageOptions,
  type StoredEntry,
} from '../src';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ct-ckpt-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Warning {
  msg: string;
  file?: string;
  reason?: string;
}

/** Entry i of a test log; `variant` makes a different log with entries of other lengths. */
function entry(i: number, variant = 0): StoredEntry {
  const leafInput = Buffer.from(`leaf-input ${variant} ${i} `.repeat(1 + (i % 5)));
  return { leafInput, leafHash: sha256Hasher.hashLeaf(leafInput), extraData: Buffer.from(`chain ${i}`.repeat(variant + 1)) };
}

function referenceRoot(size: number, variant = 0): Buffer {
  const t = new MerkleTree(sha256Hasher);
  for (let i = 0; i < size; i++) t.appendLeafHash(entry(i, variant).leafHash);
  return Buffer.from(t.rootAt(size));
}

interface Opened {
  storage: FileLogStorage;
  tree: MerkleTree;
  warnings: Warning[];
}

async function open(dir: string, opts: FileLogStorageOptions = {}): Promise<Opened> {
  const warnings: Warning[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Warning) });
  const storage = new FileLogStorage(dir, { logger, ...opts });
  const { tree } = await storage.open(sha256Hasher);
  return { storage, tree, warnings };
}

/** Appends entries [tree.size, tree.size + n) in batches, as CtLog does (tree after fsync). */
async function append(o: Opened, n: number, batch = 4, variant = 0): Promise<void> {
  for (let left = n; left > 0; ) {
    const k = Math.min(batch, left);
    const first = o.tree.size;
    const entries = Array.from({ length: k }, (_, j) => entry(first + j, variant));
    await o.storage.appendBatch({ firstIndex: first, timestamp: 1000 + first, entries });
    for (const e of entries) o.tree.appendLeafHash(e.leafHash);
    o.storage.onTreeAdvanced();
    left -= k;
  }
}

async function expectLog(o: Opened, size: number, variant = 0): Promise<void> {
  expect(o.tree.size).toBe(size);
  expect(Buffer.from(o.tree.rootAt(size))).toEqual(referenceRoot(size, variant));
  if (size === 0) return;
  const got = await o.storage.readEntries(0, size);
  expect(got.map((e) => Buffer.from(e.leafInput).toString())).toEqual(Array.from({ length: size }, (_, i) => entry(i, variant).leafInput.toString()));
  expect(Buffer.from(got[size - 1]!.extraData)).toEqual(entry(size - 1, variant).extraData);
}

async function logWith(n: number, opts: FileLogStorageOptions = {}, variant = 0): Promise<string> {
  const dir = tempDir();
  const o = await open(dir, opts);
  await append(o, n, 4, variant);
  await o.storage.close();
  return dir;
}

const SIDE = [CHECKPOINT_FILE, TREE_INDEX_FILE, OFFSETS_FILE];
type Snapshot = Map<string, Buffer>;
const snapshotSide = (dir: string): Snapshot => new Map(SIDE.filter((f) => existsSync(join(dir, f))).map((f) => [f, readFileSync(join(dir, f))]));
function restoreSide(dir: string, snap: Snapshot): void {
  for (const f of SIDE) {
    const b = snap.get(f);
    if (b) writeFileSync(join(dir, f), b);
    else rmSync(join(dir, f), { force: true });
  }
}
const checkpointAt = (dir: string): number => decodeCheckpoint(readFileSync(join(dir, CHECKPOINT_FILE)), CHECKPOINT_FILE).treeSize;
const flip = (file: string, at: number): void => {
  const b = readFileSync(file);
  b[at]! ^= 0x40;
  writeFileSync(file, b);
};

describe('checkpointed open', () => {
  it('opens a directory written without checkpoints by a full scan, writes one, then opens from it', async () => {
    const dir = await logWith(50, { checkpoints: false });
    expect(readdirSync(dir).sort()).toEqual([ENTRIES_FILE]);
    const first = await open(dir);
    expect(first.warnings).toEqual([expect.objectContaining({ file: join(dir, CHECKPOINT_FILE), reason: expect.stringMatching(/^missing/) })]);
    await expectLog(first, 50);
    expect(checkpointAt(dir)).toBe(50);
    expect(statSync(join(dir, TREE_INDEX_FILE)).size).toBe((2 * 50 - 3) * 32); // popcount(50) = 3
    expect(statSync(join(dir, OFFSETS_FILE)).size).toBe(50 * 8);
    await first.storage.close();
    const second = await open(dir);
    expect(second.warnings).toEqual([]);
    await expectLog(second, 50);
    await append(second, 7);
    await second.storage.close();
    expect(checkpointAt(dir)).toBe(57);
    const third = await open(dir);
    expect(third.warnings).toEqual([]);
    await expectLog(third, 57);
    await third.storage.close();
  });

  it('never writes side files with checkpoints: false, and an empty log needs no checkpoint', async () => {
    const dir = tempDir();
    const o = await open(dir);
    expect(o.warnings).toEqual([]);
    await o.storage.close();
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false);
    const p = await open(await logWith(9, { checkpoints: false }), { checkpoints: false });
    expect(p.warnings).toEqual([]);
    await expectLog(p, 9);
    await p.storage.close();
  });

  const cases: { name: string; file: string; reason: RegExp; damage: (dir: string) => void; size?: number }[] = [
    { name: 'checkpoint.bin missing', file: CHECKPOINT_FILE, reason: /^missing/, damage: (d) => rmSync(join(d, CHECKPOINT_FILE)) },
    { name: 'checkpoint.bin bad CRC', file: CHECKPOINT_FILE, reason: /CRC mismatch$/, damage: (d) => flip(join(d, CHECKPOINT_FILE), 30) },
    { name: 'checkpoint.bin bad magic', file: CHECKPOINT_FILE, reason: /bad magic$/, damage: (d) => flip(join(d, CHECKPOINT_FILE), 1) },
    { name: 'checkpoint.bin truncated', file: CHECKPOINT_FILE, reason: /file size 50 do not match/, damage: (d) => truncateSync(join(d, CHECKPOINT_FILE), 50) },
    { name: 'tree.idx missing', file: TREE_INDEX_FILE, reason: /^0 bytes, the checkpoint covers/, damage: (d) => rmSync(join(d, TREE_INDEX_FILE)) },
    { name: 'tree.idx damaged', file: TREE_INDEX_FILE, reason: /CRC of the covered prefix/, damage: (d) => flip(join(d, TREE_INDEX_FILE), 100) },
    { name: 'tree.idx truncated', file: TREE_INDEX_FILE, reason: /bytes, the checkpoint covers/, damage: (d) => truncateSync(join(d, TREE_INDEX_FILE), 64) },
    { name: 'offsets.idx missing', file: OFFSETS_FILE, reason: /^0 bytes, the checkpoint covers 240$/, damage: (d) => rmSync(join(d, OFFSETS_FILE)) },
    { name: 'offsets.idx damaged', file: OFFSETS_FILE, reason: /CRC of the covered prefix|out of order/, damage: (d) => flip(join(d, OFFSETS_FILE), 8 * 7 + 7) },
    {
      name: 'entries.log rewritten in place (same length, new mtime)',
      file: ENTRIES_FILE,
      reason: /rewritten in place/,
      damage: (d) => utimesSync(join(d, ENTRIES_FILE), 1e9, 1e9),
    },
    {
      name: 'entries.log shorter than the checkpoint',
      file: ENTRIES_FILE,
      reason: /shorter than the checkpoint's/,
      damage: (d) => {
        const f = join(d, ENTRIES_FILE);
        truncateSync(f, 16 + readFileSync(f).readUInt32BE(4)); // first frame only
      },
      size: 4,
    },
  ];

  it.each(cases)('falls back to a full scan and rebuilds when $name', async ({ file, reason, damage, size = 30 }) => {
    const dir = await logWith(30);
    damage(dir);
    const o = await open(dir);
    expect(o.warnings[0]).toEqual(expect.objectContaining({ file: join(dir, file), reason: expect.stringMatching(reason) }));
    expect(o.warnings[0]!.msg).toMatch(/full|scanning all of entries.log/);
    await expectLog(o, size);
    await o.storage.close();
    const again = await open(dir);
    expect(again.warnings).toEqual([]);
    await expectLog(again, size);
    await again.storage.close();
  });

  it('falls back when the side files belong to another log', async () => {
    const dir = await logWith(30, {}, 1);
    const other = await logWith(30); // same count, shorter entries: its checkpoint ends inside ours
    restoreSide(dir, snapshotSide(other));
    const o = await open(dir);
    expect(o.warnings[0]).toEqual(expect.objectContaining({ file: join(dir, ENTRIES_FILE), reason: expect.stringMatching(/is not the final frame the checkpoint recorded/) }));
    await expectLog(o, 30, 1);
    await o.storage.close();
  });

  it('replays only the frames after an older checkpoint (the covered ones are not re-read)', async () => {
    const dir = await logWith(20);
    const old = snapshotSide(dir);
    const o = await open(dir);
    await append(o, 13);
    await o.storage.close();
    restoreSide(dir, old); // as if killed after appending 13 entries, before any new checkpoint
    // Damage entry 1's leaf input inside the covered first frame: open does not read that frame.
    const file = join(dir, ENTRIES_FILE);
    const data = readFileSync(file);
    const at = data.indexOf(entry(1).leafInput);
    data[at + 3]! ^= 1;
    writeFileSync(file, data);
    const r = await open(dir);
    expect(r.warnings).toEqual([]);
    expect(r.tree.size).toBe(33);
    expect(Buffer.from(r.tree.rootAt(33))).toEqual(referenceRoot(33));
    expect(checkpointAt(dir)).toBe(33); // open checkpointed the replayed tail
    // ...but serving it is checked against the tree.
    const err = await r.storage.readEntries(0, 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).message).toMatch(/entry 1 does not match its leaf hash in the tree$/);
    expect((await r.storage.readEntries(2, 33)).length).toBe(31);
    await r.storage.close();
  });

  it('truncates a torn tail after the checkpoint and keeps every checkpointed entry', async () => {
    const dir = await logWith(20);
    const file = join(dir, ENTRIES_FILE);
    const good = statSync(file).size;
    const frame = encodeFrame({ firstIndex: 20, timestamp: 5, entries: [entry(20), entry(21)] });
    for (const cut of [1, 15, 16, 40, frame.length - 1]) {
      appendFileSync(file, frame.subarray(0, cut));
      const o = await open(dir);
      expect(o.warnings.map((w) => w.msg)).toEqual(['truncating torn final frame (never acknowledged)']);
      await expectLog(o, 20);
      expect(statSync(file).size).toBe(good);
      await o.storage.close();
    }
    const clean = await open(dir); // the checkpoint was renewed after the truncation
    expect(clean.warnings).toEqual([]);
    await clean.storage.close();
  });

  it('replays complete frames and truncates a torn one after an older checkpoint', async () => {
    const dir = await logWith(12);
    const old = snapshotSide(dir);
    const o = await open(dir);
    await append(o, 9, 3);
    await o.storage.close();
    restoreSide(dir, old);
    appendFileSync(join(dir, ENTRIES_FILE), encodeFrame({ firstIndex: 21, timestamp: 5, entries: [entry(21)] }).subarray(0, 30));
    const r = await open(dir);
    expect(r.warnings.map((w) => w.msg)).toEqual(['truncating torn final frame (never acknowledged)']);
    await expectLog(r, 21);
    await r.storage.close();
  });

  it('fails open on a bad CRC in a non-final frame after the checkpoint, naming it', async () => {
    const dir = await logWith(8);
    const old = snapshotSide(dir);
    const o = await open(dir);
    await append(o, 8);
    await o.storage.close();
    restoreSide(dir, old);
    const file = join(dir, ENTRIES_FILE);
    const data = readFileSync(file);
    const end = decodeCheckpoint(old.get(CHECKPOINT_FILE)!, CHECKPOINT_FILE).entriesEnd;
    data[end + 16 + 25]! ^= 1; // payload of the first frame after the checkpoint
    writeFileSync(file, data);
    const err = await open(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).offset).toBe(end);
    expect((err as CorruptionError).message).toMatch(/payload CRC mismatch in a non-final frame/);
  });

  it('ignores and trims what an unfinished checkpoint appended', async () => {
    const dir = await logWith(10);
    const treeLen = statSync(join(dir, TREE_INDEX_FILE)).size;
    appendFileSync(join(dir, TREE_INDEX_FILE), Buffer.alloc(96, 9));
    appendFileSync(join(dir, OFFSETS_FILE), Buffer.alloc(24, 9));
    writeFileSync(join(dir, `${CHECKPOINT_FILE}.tmp`), 'half');
    const o = await open(dir);
    expect(o.warnings).toEqual([]);
    await expectLog(o, 10);
    expect(statSync(join(dir, TREE_INDEX_FILE)).size).toBe(treeLen);
    expect(statSync(join(dir, OFFSETS_FILE)).size).toBe(80);
    expect(existsSync(join(dir, `${CHECKPOINT_FILE}.tmp`))).toBe(false);
    await o.storage.close();
  });

  it('checkpoints every checkpointEvery entries in the background and recovers from it after a kill', async () => {
    const dir = tempDir();
    const o = await open(dir, { checkpointEvery: 8 });
    await append(o, 4);
    expect(await o.storage.whenCheckpointed()).toBe(0);
    await append(o, 4);
    expect(await o.storage.whenCheckpointed()).toBe(8);
    await append(o, 4);
    expect(await o.storage.whenCheckpointed()).toBe(8);
    // 12 -> 17 starts one at 17; 17 -> 22 finds it in flight and does not queue another.
    await append(o, 10, 5);
    expect(await o.storage.whenCheckpointed()).toBe(17);
    await append(o, 3, 3);
    expect(await o.storage.whenCheckpointed()).toBe(25);
    await append(o, 2, 2);
    expect(await o.storage.whenCheckpointed()).toBe(25);
    const killed = snapshotSide(dir);
    await o.storage.close();
    expect(checkpointAt(dir)).toBe(27);
    restoreSide(dir, killed);
    expect(checkpointAt(dir)).toBe(25);
    const r = await open(dir);
    expect(r.warnings).toEqual([]);
    await expectLog(r, 27);
    await r.storage.close();
  });
});

type Op =
  | { kind: 'append'; n: number; batch: number }
  | { kind: 'close' }
  | { kind: 'crash' }
  | { kind: 'torn'; cut: number }
  | { kind: 'stale' }
  | { kind: 'damage'; file: number; at: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 12 }), batch: fc.integer({ min: 1, max: 5 }) }) },
  fc.record({ kind: fc.constant('close' as const) }),
  fc.record({ kind: fc.constant('crash' as const) }),
  fc.record({ kind: fc.constant('torn' as const), cut: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
  fc.record({ kind: fc.constant('stale' as const) }),
  fc.record({ kind: fc.constant('damage' as const), file: fc.integer({ min: 0, max: 2 }), at: fc.nat() }),
);

describe('checkpointed recovery (property)', () => {
  it('random append / close / kill / torn write / stale or damaged side files give the from-scratch root', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1, 3, 8), fc.array(opArb, { minLength: 1, maxLength: 12 }), async (every, ops) => {
        const dir = tempDir();
        let o = await open(dir, { checkpointEvery: every });
        let stale: Snapshot = snapshotSide(dir);
        let size = 0;
        const reopen = async (between?: () => void, snap?: Snapshot): Promise<void> => {
          await o.storage.close();
          if (snap) restoreSide(dir, snap);
          between?.();
          o = await open(dir, { checkpointEvery: every });
          await expectLog(o, size);
        };
        try {
          for (const op of ops) {
            switch (op.kind) {
              case 'append':
                await append(o, op.n, op.batch);
                size += op.n;
                break;
              case 'close':
                stale = snapshotSide(dir);
                await reopen();
                break;
              case 'crash':
                await reopen(undefined, snapshotSide(dir)); // mid-checkpoint, possibly
                break;
              case 'torn': {
                const frame = encodeFrame({ firstIndex: size, timestamp: 9, entries: [entry(size), entry(size + 1)] });
                await reopen(() => appendFileSync(join(dir, ENTRIES_FILE), frame.subarray(0, Math.max(1, Math.floor(op.cut * frame.length)))), snapshotSide(dir));
                break;
              }
              case 'stale':
                await reopen(undefined, stale);
                break;
              case 'damage':
                await reopen(() => {
                  const f = join(dir, SIDE[op.file]!);
                  if (existsSync(f) && statSync(f).size > 0) flip(f, op.at % statSync(f).size);
                });
                break;
            }
          }
          await reopen();
        } finally {
          await o.storage.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
