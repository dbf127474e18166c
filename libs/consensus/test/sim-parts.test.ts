import { SimDisk } from '../src/sim/disk';
import { EventQueue } from '../src/sim/event-queue';
import { Prng } from '../src/sim/prng';
import { main } from '../src/sim/cli';

describe('simulator parts', () => {
  test('the PRNG is a pure function of seed and stream', () => {
    const a = new Prng(5, 1);
    const b = new Prng(5, 1);
    const xs = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(xs);
    expect(new Prng(5, 2).u32()).not.toBe(xs[0]);
    expect(new Prng(6, 1).u32()).not.toBe(xs[0]);
    const p = new Prng(9);
    for (let i = 0; i < 1000; i++) {
      const n = p.int(3, 7);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(7);
    }
  });

  test('events at the same time run in scheduling order', () => {
    const q = new EventQueue<string>();
    q.push(5, 'c');
    q.push(1, 'a');
    q.push(5, 'd');
    q.push(3, 'b');
    const out: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e.event);
    expect(out).toEqual(['a', 'b', 'c', 'd']);
  });

  test('disk: unsynced appends are lost on a crash, torn writes are detected, the older state slot survives', () => {
    const prng = new Prng(1);
    const d = new SimDisk();
    d.persistState(new Uint8Array([1]));
    d.append(new Uint8Array([10]));
    d.persistState(new Uint8Array([2])); // syncs the append too
    d.append(new Uint8Array([11]));
    d.tornPersist(prng, new Uint8Array([3, 3, 3, 3]));
    d.crash(prng, 1);
    const r = d.recover();
    expect(Array.from(r.state!)).toEqual([2]);
    expect(r.log.map((x) => Array.from(x))).toEqual([[10]]);
  });

  test('the CLI reproduces a run and exits 0, or prints the seed and exits 1 on a violation', () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const e = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    try {
      expect(main(['--seed', '3', '--ticks', '2000'])).toBe(0);
      const summary = JSON.parse(out.join(''));
      expect(summary.seed).toBe(3);
      expect(summary.ok).toBe(true);
      out.length = 0;
      expect(main(['--seed', '2', '--ticks', '6000', '--byzantine', 'fork', '--mutation', 'ignore-lock-rule'])).toBe(1);
      expect(err.join('')).toMatch(/FAILED seed 2/);
      expect(main(['--seeds', '2', '--ticks', '1000'])).toBe(0);
      expect(main(['--bogus', '1'])).toBe(2);
    } finally {
      o.mockRestore();
      e.mockRestore();
      process.exitCode = 0;
    }
  });
});
