// The bounded in-memory time-series window: every series keeps its samples of the last
// `retentionMs` in sealed Gorilla chunks of `samplesPerChunk` plus one open chunk. Old chunks are
// dropped whole (so a series may hold up to one chunk more than the window); series with nothing
// left are forgotten. The number of series is capped: NGauge never grows without bound because
// a target invents labels. Pure: time comes in with every call.

import { ChunkEncoder, decodeChunk, type Sample, type SealedChunk } from './gorilla';
import { matches, seriesKey, type Labels } from './labels';

export interface SeriesWindowOptions {
  /** How far back samples are kept (ms). Default 1 h. */
  retentionMs?: number;
  /** Samples per chunk. Default 120 (two minutes at 1 s). */
  samplesPerChunk?: number;
  /** Most series held; appends that would create more are refused. Default 50,000. */
  maxSeries?: number;
}

export type AppendResult = 'ok' | 'out_of_order' | 'series_limit';

export interface SeriesSamples {
  readonly name: string;
  readonly labels: Labels;
  readonly samples: Sample[];
}

export interface WindowStats {
  readonly series: number;
  readonly samples: number;
  /** Bytes of encoded samples (sealed chunks exactly, open chunks by their buffers). */
  readonly bytes: number;
  readonly bytesPerSample: number;
  /** Appends refused because the series limit was reached. */
  readonly refusedSeries: number;
}

class Series {
  readonly sealed: SealedChunk[] = [];
  head = new ChunkEncoder();
  lastT = -1;
  lastV = NaN;
  /** Removed from the window (by compact): a cursor holding it must look the series up again. */
  dropped = false;
  readonly labelCount: number;

  constructor(
    readonly name: string,
    readonly labels: Labels,
  ) {
    this.labelCount = Object.keys(labels).length;
  }

  /** True when `name` and `labels` name this series (the same series key). */
  is(name: string, labels: Labels): boolean {
    if (this.dropped || name !== this.name) return false;
    let n = 0;
    for (const k in labels) {
      const v = labels[k];
      if (typeof v !== 'string' || this.labels[k] !== v || !Object.prototype.hasOwnProperty.call(labels, k)) return false;
      n++;
    }
    return n === this.labelCount;
  }

  get count(): number {
    return this.sealed.reduce((n, c) => n + c.count, 0) + this.head.count;
  }
}

/**
 * Remembers which series each sample of one source's batch went to (see `appendAll`). Per
 * source (a scrape target): its batches have the same shape from one scrape to the next.
 */
export class AppendCursor {
  /** @internal */
  readonly series: (Series | undefined)[] = [];
}

export class SeriesWindow {
  readonly retentionMs: number;
  private readonly samplesPerChunk: number;
  private readonly maxSeries: number;
  private readonly series = new Map<string, Series>();
  private refused = 0;

  constructor(opts: SeriesWindowOptions = {}) {
    this.retentionMs = opts.retentionMs ?? 3600_000;
    this.samplesPerChunk = opts.samplesPerChunk ?? 120;
    this.maxSeries = opts.maxSeries ?? 50_000;
  }

  append(name: string, labels: Labels, t: number, v: number): AppendResult {
    const s = this.lookup(name, labels);
    return s ? this.appendTo(s, t, v) : 'series_limit';
  }

  /**
   * Appends every sample at time `t`, as `append` one by one; returns how many were refused
   * (not 'ok'). With a cursor, a sample whose name and labels are those of the series the
   * sample at the same position went to last time goes there without building its series key
   * (the cost of an append was mostly that key: sorting, joining and hashing its labels).
   */
  appendAll(samples: readonly { readonly name: string; readonly labels: Labels; readonly value: number }[], t: number, cursor?: AppendCursor): number {
    let refused = 0;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i]!;
      let s = cursor?.series[i];
      if (s === undefined || !s.is(x.name, x.labels)) {
        s = this.lookup(x.name, x.labels);
        if (cursor) cursor.series[i] = s;
      }
      if (!s || this.appendTo(s, t, x.value) !== 'ok') refused++;
    }
    if (cursor && cursor.series.length > samples.length) cursor.series.length = samples.length;
    return refused;
  }

  /** The series `name`/`labels`, created if new; undefined when the series cap refuses it. */
  private lookup(name: string, labels: Labels): Series | undefined {
    const key = seriesKey(name, labels);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) {
        this.refused++;
        return undefined;
      }
      s = new Series(name, { ...labels });
      this.series.set(key, s);
    }
    return s;
  }

  private appendTo(s: Series, t: number, v: number): AppendResult {
    if (t <= s.lastT) return 'out_of_order';
    s.head.append(t, v);
    s.lastT = t;
    s.lastV = v;
    if (s.head.count >= this.samplesPerChunk) {
      s.sealed.push(s.head.seal());
      s.head = new ChunkEncoder();
    }
    return 'ok';
  }

  /** Drops chunks entirely older than the window and series left empty. */
  compact(now: number): void {
    const horizon = now - this.retentionMs;
    for (const [key, s] of this.series) {
      while (s.sealed.length > 0 && s.sealed[0]!.maxT < horizon) s.sealed.shift();
      if (s.sealed.length === 0 && (s.head.count === 0 || s.head.maxT < horizon)) {
        this.series.delete(key);
        s.dropped = true;
      }
    }
  }

  /** Samples in [from, to] of every series named `name` whose labels include `want`. */
  query(name: string, want: Labels, from: number, to: number): SeriesSamples[] {
    const out: SeriesSamples[] = [];
    for (const s of this.series.values()) {
      if (s.name !== name || !matches(s.labels, want)) continue;
      const samples: Sample[] = [];
      const chunks = s.head.count > 0 ? [...s.sealed, s.head.seal()] : s.sealed;
      for (const c of chunks) {
        if (c.maxT < from || c.minT > to) continue;
        for (const x of decodeChunk(c)) if (x.t >= from && x.t <= to) samples.push(x);
      }
      if (samples.length > 0) out.push({ name: s.name, labels: s.labels, samples });
    }
    return out;
  }

  /**
   * `query`, cut at `maxSamples` samples in all (series in the window's order, each from its
   * oldest sample): one request can never make NGauge copy its whole window.
   */
  queryBounded(name: string, want: Labels, from: number, to: number, maxSamples: number): { series: SeriesSamples[]; truncated: boolean } {
    let budget = maxSamples;
    let truncated = false;
    const series: SeriesSamples[] = [];
    for (const s of this.query(name, want, from, to)) {
      if (budget <= 0) {
        truncated = true;
        break;
      }
      const samples = s.samples.length > budget ? s.samples.slice(0, budget) : s.samples;
      truncated ||= samples.length < s.samples.length;
      budget -= samples.length;
      series.push({ ...s, samples });
    }
    return { series, truncated };
  }

  /** The newest sample of every series (what NGauge's /metrics exposes). */
  *latest(): Generator<{ name: string; labels: Labels; t: number; v: number }> {
    for (const s of this.series.values()) if (s.lastT >= 0) yield { name: s.name, labels: s.labels, t: s.lastT, v: s.lastV };
  }

  /** Series names and label sets, for the API. */
  names(): string[] {
    return [...new Set([...this.series.values()].map((s) => s.name))].sort();
  }

  stats(): WindowStats {
    let samples = 0;
    let bytes = 0;
    for (const s of this.series.values()) {
      samples += s.count;
      bytes += s.sealed.reduce((n, c) => n + c.bytes.length, 0) + (s.head.count > 0 ? s.head.byteSize : 0);
    }
    return { series: this.series.size, samples, bytes, bytesPerSample: samples > 0 ? bytes / samples : 0, refusedSeries: this.refused };
  }
}
