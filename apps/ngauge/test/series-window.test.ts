// The window answers range queries exactly as a plain list of samples would, forgets what is
// older than its retention, caps the number of series, and stays near Prometheus' TSDB density.
import fc from 'fast-check';
import { AppendCursor, SeriesWindow } from '../src/core/series-window';

describe('SeriesWindow', () => {
  it('answers range queries like a plain list of samples, across chunk boundaries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 1, max: 3000 }), fc.double({ noNaN: true })), { maxLength: 400 }),
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 0, max: 400_000 }),
        (appends, x, y) => {
          const w = new SeriesWindow({ samplesPerChunk: 7, retentionMs: 10 ** 9 });
          const plain = new Map<string, { t: number; v: number }[]>();
          const clock = new Map<string, number>();
          for (const [inst, gap, v] of appends) {
            const t = (clock.get(inst) ?? 0) + gap;
            clock.set(inst, t);
            expect(w.append('m', { instance: inst }, t, v)).toBe('ok');
            plain.set(inst, [...(plain.get(inst) ?? []), { t, v }]);
          }
          const [from, to] = x <= y ? [x, y] : [y, x];
          const got = new Map(w.query('m', {}, from, to).map((s) => [s.labels.instance!, s.samples]));
          for (const [inst, list] of plain) {
            const want = list.filter((s) => s.t >= from && s.t <= to);
            expect(got.get(inst) ?? []).toEqual(want);
          }
          expect(w.query('m', { instance: 'zzz' }, from, to)).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('appendAll with a cursor stores exactly what append does, whatever the batches look like', () => {
    // Batches from one source whose shape changes (labels added, renamed, reordered, values
    // changed, samples moved), with compaction dropping series in between and a series cap.
    const label = fc.constantFrom('a', 'b', 'c', 'le');
    const value = fc.constantFrom('1', '2', 'x"y', '');
    const sample = fc.record({ name: fc.constantFrom('m', 'n'), labels: fc.dictionary(label, value, { maxKeys: 3 }), value: fc.double() });
    // A few batch shapes a source alternates between, with gaps long enough for compaction to
    // drop the series of a shape not seen for a while (the cursor must not write to those).
    const shapes = fc.array(fc.array(sample, { maxLength: 12 }), { minLength: 1, maxLength: 4 });
    const batch = fc.tuple(fc.nat(3), fc.integer({ min: 1, max: 100_000 }), fc.boolean());
    fc.assert(
      fc.property(shapes, fc.array(batch, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 40 }), (kinds, batches, maxSeries) => {
        const opts = { retentionMs: 60_000, samplesPerChunk: 3, maxSeries };
        const [one, all] = [new SeriesWindow(opts), new SeriesWindow(opts)];
        const cursor = new AppendCursor();
        let t = 0;
        for (const [kind, gap, compact] of batches) {
          const samples = kinds[kind % kinds.length]!;
          t += gap;
          if (compact) {
            one.compact(t);
            all.compact(t);
          }
          // The batch, then the same batch again a millisecond later: the cursor hits for every sample.
          for (const at of [t, t + 1]) {
            const refused = samples.filter((x) => one.append(x.name, x.labels, at, x.value) !== 'ok').length;
            expect(all.appendAll(samples, at, cursor)).toBe(refused);
          }
          t += 1;
        }
        expect(all.stats()).toEqual(one.stats());
        for (const name of ['m', 'n']) expect(all.query(name, {}, 0, t)).toEqual(one.query(name, {}, 0, t));
      }),
      { numRuns: 300 },
    );
  });

  it('queryBounded cuts a large answer at the sample limit and says so', () => {
    const w = new SeriesWindow();
    for (let i = 0; i < 5; i++) for (let s = 0; s < 100; s++) w.append('m', { i: String(i) }, s * 1000, s);
    const all = w.queryBounded('m', {}, 0, 10 ** 9, 10_000);
    expect(all.truncated).toBe(false);
    expect(all.series.reduce((n, x) => n + x.samples.length, 0)).toBe(500);
    const cut = w.queryBounded('m', {}, 0, 10 ** 9, 250);
    expect(cut.truncated).toBe(true);
    expect(cut.series.reduce((n, x) => n + x.samples.length, 0)).toBe(250);
  });

  it('refuses samples out of order and series beyond the cap', () => {
    const w = new SeriesWindow({ maxSeries: 2 });
    expect(w.append('m', { i: '1' }, 1000, 1)).toBe('ok');
    expect(w.append('m', { i: '1' }, 1000, 2)).toBe('out_of_order');
    expect(w.append('m', { i: '2' }, 1000, 1)).toBe('ok');
    expect(w.append('m', { i: '3' }, 1000, 1)).toBe('series_limit');
    expect(w.stats()).toMatchObject({ series: 2, samples: 2, refusedSeries: 1 });
  });

  it('drops whole chunks older than the retention and forgets empty series', () => {
    const w = new SeriesWindow({ retentionMs: 60_000, samplesPerChunk: 10 });
    for (let s = 0; s < 120; s++) w.append('m', { i: 'old' }, s * 1000, s);
    for (let s = 0; s < 30; s++) w.append('m', { i: 'gone' }, s * 1000, s);
    w.compact(120_000);
    const [old] = w.query('m', { i: 'old' }, 0, 200_000);
    expect(old!.samples[0]!.t).toBeGreaterThanOrEqual(50_000); // at most one chunk beyond the window
    expect(old!.samples.at(-1)!.t).toBe(119_000);
    expect(w.query('m', { i: 'gone' }, 0, 200_000)).toEqual([]);
    expect(w.stats().series).toBe(1);
  });

  it('stores counters and steady gauges under 2 bytes per sample; noisy floats cost more', () => {
    // Samples carry the scheduled tick time (the scheduler aligns them, as Prometheus' scrape
    // timestamp tolerance does), so a steady series' timestamps cost a bit each.
    const steady = new SeriesWindow();
    const noisy = new SeriesWindow();
    let calls = 0;
    for (let s = 0; s < 3600; s++) {
      const t = 1_700_000_000_000 + s * 1000;
      calls += s % 3;
      steady.append('stoq_rpc_server_started_total', { method: 'x' }, t, calls);
      steady.append('stoq_rpc_server_in_flight', { method: 'x' }, t, s % 50 === 0 ? 1 : 0);
      steady.append('up', { method: 'x' }, t, 1);
      noisy.append('scrape_duration_seconds', { method: 'x' }, t, 0.002 + Math.abs(Math.sin(s)) / 1000);
    }
    expect(steady.stats().samples).toBe(3 * 3600);
    expect(steady.stats().bytesPerSample).toBeLessThan(2);
    // A float with a fresh mantissa every second: about 8 bytes, as in any Gorilla store.
    expect(noisy.stats().bytesPerSample).toBeLessThan(9);
  });
});
