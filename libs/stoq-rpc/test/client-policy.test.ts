import fc from 'fast-check';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { TargetSet, backoffDelay, DEFAULT_RETRY_POLICY, isAuthorized } from '../src';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { generate } = require('../scripts/proto-ts.js') as { generate(o: object): string };

describe('backoffDelay', () => {
  it('stays within the exponential ceiling and never exceeds maxBackoffMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (retry, r) => {
        const d = backoffDelay(DEFAULT_RETRY_POLICY, retry, () => r);
        const ceiling = Math.min(DEFAULT_RETRY_POLICY.maxBackoffMs, DEFAULT_RETRY_POLICY.initialBackoffMs * 2 ** (retry - 1));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.max(1, ceiling));
      }),
    );
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 3, () => 0.5)).toBe(100);
  });
});

describe('TargetSet', () => {
  const t = (endpoint: string, priority = 0) => ({ endpoint, expectedService: 'svc', priority });

  it('round-robins over the best priority and skips ejected targets until their time is up', () => {
    const set = new TargetSet({ baseEjectionMs: 100, maxEjectionMs: 1000 });
    set.update([t('a'), t('b'), t('c', 1)]);
    expect([0, 0, 0, 0].map(() => set.pick(0)!.endpoint)).toEqual(['a', 'b', 'a', 'b']);
    set.reportFailure('a', 0);
    expect([0, 0].map(() => set.pick(50)!.endpoint)).toEqual(['b', 'b']);
    set.reportFailure('b', 0);
    expect(set.pick(50)!.endpoint).toBe('c'); // lower priority only when the best group is ejected
    expect(set.pick(100)!.endpoint).toMatch(/^[ab]$/);
  });

  it('doubles the ejection per consecutive failure, capped, and keeps state across updates', () => {
    const set = new TargetSet({ baseEjectionMs: 100, maxEjectionMs: 250 });
    set.update([t('a'), t('b')]);
    set.reportFailure('a', 0);
    set.reportFailure('a', 0);
    expect(set.isEjected('a', 199)).toBe(true);
    expect(set.isEjected('a', 200)).toBe(false);
    set.reportFailure('a', 0);
    expect(set.isEjected('a', 250)).toBe(false); // capped at 250
    set.reportFailure('a', 0);
    set.update([t('a'), t('d')]);
    expect(set.isEjected('a', 100)).toBe(true);
    set.reportSuccess('a');
    expect(set.isEjected('a', 100)).toBe(false);
  });

  it('splits picks by SRV weight, interleaved, within the best priority', () => {
    const set = new TargetSet();
    set.update([
      { endpoint: 'a', expectedService: 'svc', weight: 3 },
      { endpoint: 'b', expectedService: 'svc', weight: 1 },
      { endpoint: 'z', expectedService: 'svc', priority: 1, weight: 100 },
    ]);
    const picks = Array.from({ length: 8 }, () => set.pick(0)!.endpoint);
    expect(picks).toEqual(['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });

  it('gives every weight its share over many picks (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }), (weights) => {
        const set = new TargetSet();
        set.update(weights.map((w, i) => ({ endpoint: `t${i}`, expectedService: 'svc', weight: w })));
        const total = weights.reduce((a, b) => a + b, 0);
        const counts = new Map<string, number>();
        for (let i = 0; i < total * 5; i++) {
          const e = set.pick(0)!.endpoint;
          counts.set(e, (counts.get(e) ?? 0) + 1);
        }
        weights.forEach((w, i) => expect(counts.get(`t${i}`)).toBe(w * 5));
      }),
    );
  });

  it('falls back to the target whose ejection ends first when all are ejected', () => {
    const set = new TargetSet({ baseEjectionMs: 100, maxEjectionMs: 1000 });
    set.update([t('a'), t('b')]);
    set.reportFailure('a', 10);
    set.reportFailure('b', 0);
    expect(set.pick(20)!.endpoint).toBe('b');
  });
});

describe('isAuthorized', () => {
  it('denies by default and distinguishes anonymous callers', () => {
    expect(isAuthorized([], 'caesar')).toBe(false);
    expect(isAuthorized(['caesar'], 'caesar')).toBe(true);
    expect(isAuthorized(['caesar'], null)).toBe(false);
    expect(isAuthorized('any-authenticated', null)).toBe(false);
    expect(isAuthorized('any-authenticated', 'x')).toBe(true);
    expect(isAuthorized('unauthenticated', null)).toBe(true);
  });
});

describe('proto-ts generator', () => {
  it('src/proto/rpc.ts and the test fixture are up to date with their .proto files', () => {
    const root = path.join(__dirname, '..');
    const rpc = generate({ importFrom: '../method', files: [path.join(root, 'src/proto/rpc.proto')], serviceNames: {} });
    expect(fs.readFileSync(path.join(root, 'src/proto/rpc.ts'), 'utf8')).toBe(rpc);
    const bank = generate({ importFrom: '../../src', files: [path.join(root, 'test/fixtures/bank.proto')], serviceNames: {} });
    expect(fs.readFileSync(path.join(root, 'test/fixtures/bank.ts'), 'utf8')).toBe(bank);
    expect(bank).toContain("watch: defineMethod<WatchRequest, Event, 'server_streaming'>({ path: 'bank/watch'");
    expect(bank).toContain('idempotent: true');
  });
});
