import { BlockFetcher } from '../src/catch-up';

describe('BlockFetcher', () => {
  const h = (i: number) => i.toString(16).padStart(64, '0');

  test('one request in flight per block; retries rotate peers, skip self, and give up', () => {
    const f = new BlockFetcher(0, 4, 64, 100);
    expect(f.request(h(1), 2, 0)).toEqual({ to: 2, request: { type: 'block-request', blockHash: h(1), maxBlocks: 64 } });
    expect(f.request(h(1), 2, 50)).toBeNull(); // in flight
    expect(f.retry(50, () => false)).toEqual([]); // not yet due
    const peers: number[] = [];
    for (let t = 100; t <= 2000; t += 100) for (const r of f.retry(t, () => false)) peers.push(r.to);
    expect(peers.slice(0, 4)).toEqual([3, 1, 2, 3]);
    expect(peers).not.toContain(0);
    expect(peers.length).toBe(7); // 8 attempts in all, then dropped
    expect(f.isOutstanding(h(1))).toBe(false);
  });

  test('a block that arrived is not asked for again; the table is bounded', () => {
    const f = new BlockFetcher(1, 4, 64, 100);
    f.request(h(1), 0, 0);
    expect(f.retry(200, (x) => x === h(1))).toEqual([]);
    expect(f.isOutstanding(h(1))).toBe(false);
    for (let i = 0; i < 40; i++) f.request(h(100 + i), 0, 0);
    expect([...Array(40).keys()].filter((i) => f.isOutstanding(h(100 + i))).length).toBe(16);
  });
});
