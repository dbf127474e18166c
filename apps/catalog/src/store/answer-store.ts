// Durable answers of catalog/execute by request key, for idempotent retries. Why hand-written: an
// append-only log with a time window is all it needs (no queries, no updates).
//
// <dir>/answers-<startMs>.log segments of JSON lines {k, f, t, a} or {k, f, t, n}: the request
// key (hex), the request's fingerprint (hex), the time (ms) and either the encoded
// ExecuteResponse (base64) or the number of an attempt about to reserve its fee
// (core/request-attempts.ts). `put` and `putAttempt` append and resolve after an fdatasync; appends that arrive while a sync runs are written and
// synced together (group commit), so concurrent runs share one sync. A new segment is started
// every window/4; segments whose every entry is older than the window are deleted. Opening reads
// the segments in the window (a torn last line from a crash is skipped: it was never
// acknowledged) into memory. Memory is bounded by maxEntries and maxBytes (oldest dropped first).
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoredAnswer {
  readonly fingerprint: string;
  readonly answer: Buffer;
  readonly atMs: number;
}

export interface AnswerStoreOptions {
  /** How long an answer is kept (ms). */
  readonly windowMs: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly now: () => number;
}

interface Entry {
  readonly key: string;
  readonly fingerprint: string;
  readonly atMs: number;
  /** Null until the request has its answer. */
  readonly answer: Buffer | null;
  /** The last attempt recorded (0: none). */
  readonly attempt: number;
}

const SEGMENT = /^answers-([0-9]{1,16})\.log$/;

export class AnswerStore {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private segment: { startMs: number; file: FileHandle } | null = null;
  private queue: { line: string; done: () => void; fail: (e: unknown) => void }[] = [];
  private writing: Promise<void> | null = null;
  private draining = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly opts: AnswerStoreOptions,
  ) {}

  static open(dir: string, opts: AnswerStoreOptions): AnswerStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new AnswerStore(dir, opts);
    const cutoff = opts.now() - opts.windowMs;
    const segments = readdirSync(dir)
      .map((n) => ({ n, m: SEGMENT.exec(n) }))
      .filter((x) => x.m !== null)
      .map((x) => ({ name: x.n, startMs: Number(x.m![1]) }))
      .sort((a, b) => a.startMs - b.startMs);
    const period = store.segmentPeriod();
    for (const s of segments) {
      if (s.startMs + period < cutoff) {
        unlinkSync(join(dir, s.name)); // every entry in it is older than the window
        continue;
      }
      const lines = readFileSync(join(dir, s.name), 'utf8').split('\n');
      for (const line of lines) {
        if (line === '') continue;
        let e: { k: string; f: string; t: number; a?: string; n?: number };
        try {
          e = JSON.parse(line) as typeof e;
        } catch {
          continue; // a torn append (crash mid-write): never acknowledged
        }
        if (e.t >= cutoff) store.remember({ key: e.k, fingerprint: e.f, atMs: e.t, answer: typeof e.a === 'string' ? Buffer.from(e.a, 'base64') : null, attempt: e.n ?? 0 });
      }
    }
    return store;
  }

  private segmentPeriod(): number {
    return Math.max(1000, Math.floor(this.opts.windowMs / 4));
  }

  get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    return e === undefined || e.atMs < this.opts.now() - this.opts.windowMs ? undefined : e;
  }

  get(key: string): StoredAnswer | undefined {
    const e = this.live(key);
    return e === undefined || e.answer === null ? undefined : { fingerprint: e.fingerprint, answer: e.answer, atMs: e.atMs };
  }

  /** The last attempt recorded for `key` within the window (0: none). */
  lastAttempt(key: string): number {
    return this.live(key)?.attempt ?? 0;
  }

  /** The last attempt recorded for `key` within the window and the request it was for, if any. */
  attemptOf(key: string): { attempt: number; fingerprint: string } | undefined {
    const e = this.live(key);
    return e === undefined || e.attempt === 0 ? undefined : { attempt: e.attempt, fingerprint: e.fingerprint };
  }

  /** An entry's memory cost: its answer, or a line's worth for an attempt. */
  private static cost(e: Entry): number {
    return e.answer?.length ?? 128;
  }

  private remember(e: Entry): void {
    const old = this.entries.get(e.key);
    let merged = e;
    if (old) {
      this.bytes -= AnswerStore.cost(old);
      this.entries.delete(e.key);
      merged = { ...e, answer: e.answer ?? old.answer, attempt: Math.max(e.attempt, old.attempt) };
    }
    this.entries.set(e.key, merged); // re-inserted: the map stays in time order
    this.bytes += AnswerStore.cost(merged);
    while (this.entries.size > this.opts.maxEntries || this.bytes > this.opts.maxBytes) {
      const [k, oldest] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(k);
      this.bytes -= AnswerStore.cost(oldest);
    }
  }

  /** Stores an answer; resolves once it is on disk (fdatasync). */
  put(key: string, fingerprint: string, answer: Buffer): Promise<void> {
    return this.append({ key, fingerprint, atMs: this.opts.now(), answer, attempt: 0 });
  }

  /** Records that attempt `n` of `key` is about to reserve its fee; resolves once on disk. */
  putAttempt(key: string, fingerprint: string, n: number): Promise<void> {
    return this.append({ key, fingerprint, atMs: this.opts.now(), answer: null, attempt: n });
  }

  private append(e: Entry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the answer store is closed'));
    const line = `${JSON.stringify(e.answer === null ? { k: e.key, f: e.fingerprint, t: e.atMs, n: e.attempt } : { k: e.key, f: e.fingerprint, t: e.atMs, a: e.answer.toString('base64') })}\n`;
    return new Promise<void>((done, fail) => {
      this.queue.push({
        line,
        done: () => {
          this.remember(e);
          done();
        },
        fail,
      });
      if (!this.draining) {
        this.draining = true;
        this.writing = this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const file = await this.currentSegment();
          await file.appendFile(batch.map((b) => b.line).join(''));
          await file.datasync();
          for (const b of batch) b.done();
        } catch (err) {
          for (const b of batch) b.fail(err);
        }
      }
    } finally {
      // Runs synchronously after the last look at the queue (no await between): a put from
      // now on starts a new drain.
      this.draining = false;
    }
  }

  private async currentSegment(): Promise<FileHandle> {
    const now = this.opts.now();
    if (this.segment && now - this.segment.startMs < this.segmentPeriod()) return this.segment.file;
    if (this.segment) await this.segment.file.close();
    const name = `answers-${now}.log`;
    const file = await open(join(this.dir, name), 'a', 0o600);
    // The new name must be durable too: sync the directory once per segment.
    const d = openSync(this.dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
    this.segment = { startMs: now, file };
    this.prune(now);
    return file;
  }

  /** Deletes segments whose every entry is older than the window. */
  private prune(now: number): void {
    const cutoff = now - this.opts.windowMs;
    for (const n of readdirSync(this.dir)) {
      const m = SEGMENT.exec(n);
      if (m && Number(m[1]) + this.segmentPeriod() < cutoff && this.segment?.startMs !== Number(m[1])) unlinkSync(join(this.dir, n));
    }
    for (const [k, e] of this.entries) {
      if (e.atMs >= cutoff) break; // insertion order is time order
      this.entries.delete(k);
      this.bytes -= AnswerStore.cost(e);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    await this.segment?.file.close();
    this.segment = null;
  }
}
