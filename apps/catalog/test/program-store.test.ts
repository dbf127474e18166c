// The program store: durable add, reopen, duplicate, listing, and refusing damaged state.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programHash } from '../src/core/program-hash';
import { ProgramStore, type ProgramRecord } from '../src/store/program-store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'catalog-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rec = (module: Buffer, owner = 'node/node-1'): ProgramRecord => ({ hash: programHash(module), size: module.length, owner, uploadedAtNs: '1', exports: [{ name: 'f', params: ['i32'], results: [] }], imports: [], assetId: '', assetHeight: '0' });

test('adds durably, survives reopening, refuses duplicates, lists in hash order', async () => {
  const store = ProgramStore.open(dir);
  const mods = [Buffer.from('one'), Buffer.from('two'), Buffer.from('three')];
  for (const m of mods) expect(store.add(rec(m), m)).toBe(true);
  expect(store.add(rec(mods[0]!), mods[0]!)).toBe(false);
  const again = ProgramStore.open(dir);
  expect(again.size).toBe(3);
  expect(await again.module(programHash(mods[1]!))).toEqual(mods[1]);
  const sorted = mods.map(programHash).sort();
  expect(again.list('', 2, () => true).map((r) => r.hash)).toEqual(sorted.slice(0, 2));
  expect(again.list(sorted[1]!, 10, () => true).map((r) => r.hash)).toEqual(sorted.slice(2));
  again.update({ ...again.get(sorted[0]!)!, assetId: 'program:x', assetHeight: '9' });
  expect(ProgramStore.open(dir).get(sorted[0]!)).toMatchObject({ assetId: 'program:x', assetHeight: '9' });
});

test('an upload cut short before its record was written is removed, not served', () => {
  const m = Buffer.from('half');
  writeFileSync(join(dir, `${programHash(m)}.wasm`), m);
  writeFileSync(join(dir, `.${programHash(m)}.json.tmp`), '{');
  const store = ProgramStore.open(dir);
  expect(store.size).toBe(0);
  expect(readdirSync(dir)).toEqual([]);
});

test('damaged state is refused, naming the file', () => {
  const m = Buffer.from('good');
  ProgramStore.open(dir).add(rec(m), m);
  writeFileSync(join(dir, `${programHash(m)}.wasm`), 'evil');
  expect(() => ProgramStore.open(dir)).toThrow(/hash to .*not to its name/);
  rmSync(join(dir, `${programHash(m)}.wasm`));
  expect(() => ProgramStore.open(dir)).toThrow(/module .*\.wasm is missing/);
});
