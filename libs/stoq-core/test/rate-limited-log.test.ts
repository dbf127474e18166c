// RateLimitedLog with a manual clock: first occurrence logged, repeats folded into the next
// line after the interval, kinds independent.
import { captureLogs } from './support/net';
import { RateLimitedLog } from '../src/rate-limited-log';

test('one line per kind per interval, the next one saying how many were folded in', () => {
  let now = 1_000;
  const logs = captureLogs();
  const log = new RateLimitedLog(logs.logger, 10_000, { now: () => now });
  expect(log.record('limit', 'refused', { remote: 'a' })).toBe(true);
  for (let i = 0; i < 149; i++) expect(log.record('limit', 'refused', { remote: 'b' })).toBe(false);
  expect(log.record('tls', 'tls refused')).toBe(true); // another kind is not held back
  now += 9_999;
  expect(log.record('limit', 'refused')).toBe(false);
  now += 1;
  expect(log.record('limit', 'refused', { remote: 'c' })).toBe(true);
  const lines = logs.lines();
  expect(lines.map((l) => [l.kind, l.remote, l.suppressed])).toEqual([
    ['limit', 'a', undefined],
    ['tls', undefined, undefined],
    ['limit', 'c', 150],
  ]);
  expect(lines.every((l) => l.level === 40)).toBe(true);
});
