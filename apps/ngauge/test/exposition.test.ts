// The exposition text is what Prometheus parses: checked by `promtool check metrics` (Debian's
// prometheus package) when it is installed, and by its structure always.
import { spawnSync } from 'node:child_process';
import { renderExposition } from '../src/core/exposition';
import { SCRAPE_FAMILIES, scrapeSamples } from '../src/core/rpc-metrics';

const promtool = spawnSync('promtool', ['--version']).status === 0;

function sample() {
  return scrapeSamples(
    { service: 'caesar', instance: 'caesar-1' },
    {
      up: true,
      health: 'SERVING',
      durationMs: 3.2,
      methods: [
        {
          path: 'caesar/create_transfers',
          started: 12,
          inFlight: 1,
          completed: { OK: 10, INVALID_ARGUMENT: 1 },
          latency: { boundsMs: [0.5, 1, 2.5], counts: [4, 5, 1, 1], sumMs: 9.5, count: 11 },
        },
      ],
    },
  );
}

describe('exposition', () => {
  it('groups samples into typed families with cumulative histogram buckets', () => {
    const text = renderExposition(sample(), SCRAPE_FAMILIES);
    expect(text).toContain('# TYPE stoq_rpc_server_handling_seconds histogram');
    expect(text).toContain('stoq_rpc_server_handling_seconds_bucket{instance="caesar-1",le="0.001",method="caesar/create_transfers",service="caesar"} 9');
    expect(text).toContain('stoq_rpc_server_handling_seconds_bucket{instance="caesar-1",le="+Inf",method="caesar/create_transfers",service="caesar"} 11');
    expect(text).toContain('stoq_rpc_server_handled_total{code="INVALID_ARGUMENT",instance="caesar-1",method="caesar/create_transfers",service="caesar"} 1');
    expect(text).toContain('up{instance="caesar-1",service="caesar"} 1');
    // Each family's TYPE line comes once, before its samples.
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE'));
    expect(new Set(types).size).toBe(types.length);
  });

  it('escapes label values and writes special floats as Prometheus does', () => {
    const text = renderExposition([{ name: 'x', labels: { a: 'q"\\\nz' }, value: NaN }, { name: 'y', labels: {}, value: -Infinity }], []);
    expect(text).toBe('# TYPE x untyped\nx{a="q\\"\\\\\\nz"} NaN\n# TYPE y untyped\ny -Inf\n');
  });

  (promtool ? it : it.skip)('passes promtool check metrics', () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: renderExposition(sample(), SCRAPE_FAMILIES), encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
