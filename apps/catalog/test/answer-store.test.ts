// The answer store behind idempotent catalog/execute: durable puts survive a reopen, a torn last
// line is skipped, answers older than the window are gone (and their segments deleted), and the
// memory bounds drop the oldest first.
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnswerStore } from '../src/store/answer-store';

let dir: string;
let now: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'catalog-answers-'));
  now = 1_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = (windowMs = 60_000, maxEntries = 1000): AnswerStore => AnswerStore.open(dir, { windowMs, maxEntries, maxBytes: 1 << 20, now: () => now });

test('puts are durable across a reopen; a torn last line is skipped', async () => {
  const s = open();
  await Promise.all([s.put('k1', 'f1', Buffer.from('answer one')), s.put('k2', 'f2', Buffer.from('answer two'))]);
  expect(s.get('k1')?.answer.toString()).toBe('answer one');
  await s.close();
  const [segment] = readdirSync(dir);
  appendFileSync(join(dir, segment!), '{"k":"k3","f":"f3","t":10000'); // a crash mid-append
  const r = open();
  expect(r.get('k1')).toMatchObject({ fingerprint: 'f1' });
  expect(r.get('k2')?.answer.toString()).toBe('answer two');
  expect(r.get('k3')).toBeUndefined();
  await r.close();
});

test('answers older than the window are forgotten and their segments deleted', async () => {
  const s = open(60_000);
  await s.put('old', 'f', Buffer.from('a'));
  now += 61_000;
  expect(s.get('old')).toBeUndefined();
  await s.put('new', 'f', Buffer.from('b')); // a new segment; the old one is past the window
  now += 15_001;
  await s.put('newer', 'f', Buffer.from('c'));
  await s.close();
  expect(readdirSync(dir).length).toBe(2);
  const r = open(60_000);
  expect([r.get('old'), r.get('new')?.answer.toString(), r.get('newer')?.answer.toString()]).toEqual([undefined, 'b', 'c']);
  await r.close();
});

test('memory is bounded: the oldest answers go first', async () => {
  const s = open(60_000, 2);
  for (const k of ['a', 'b', 'c']) await s.put(k, 'f', Buffer.from(k));
  expect([s.get('a'), s.get('b')?.answer.toString(), s.get('c')?.answer.toString()]).toEqual([undefined, 'b', 'c']);
  expect(s.size).toBe(2);
  await s.close();
});

test('attempts are durable lines too; an answer keeps the attempt count; the window forgets both', async () => {
  const s = open();
  await s.putAttempt('k1', 'f1', 1);
  await s.putAttempt('k1', 'f1', 2);
  expect([s.lastAttempt('k1'), s.get('k1'), s.lastAttempt('other')]).toEqual([2, undefined, 0]);
  await s.put('k1', 'f1', Buffer.from('answer'));
  await s.close();
  const r = open();
  expect(r.lastAttempt('k1')).toBe(2);
  expect(r.get('k1')?.answer.toString()).toBe('answer');
  now += 61_000;
  expect([r.lastAttempt('k1'), r.get('k1')]).toEqual([0, undefined]);
  await r.close();
});
