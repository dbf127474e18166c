'use strict';
// Test-side adapter over the native stream mux (src/stream_mux.rs): gives tests open()/accept()
// and stream objects with read()/readAll()/write()/finish()/reset()/stopSending()/pause(), and
// lets them await a particular event on a stream. Every event and operation is also appended
// to the mux's `log` with a process-wide sequence number, so tests can assert what happened
// before what (e.g. "the server saw FIN on stream 1 before stream 3 arrived").
//
// Deliberately thin: no buffering policy, no write window. Received data is kept until read.

const KIND = Object.freeze({
  INCOMING: 0, DATA: 1, FIN: 2, DATA_FIN: 3, RESET: 4, STOPPED: 5, SENT: 6, ERROR: 7, CLOSED: 8,
});
const KIND_NAME = Object.fromEntries(Object.entries(KIND).map(([name, k]) => [k, name]));
const EMPTY = Buffer.alloc(0);

let seq = 0;
const muxes = new WeakMap();

/** The mux of `conn`, started on first use (startStreams may be called only once). */
function muxOf(conn) {
  let mux = muxes.get(conn);
  if (mux === undefined) {
    mux = new Mux(conn);
    muxes.set(conn, mux);
  }
  return mux;
}

class Mux {
  constructor(conn) {
    this.conn = conn;
    this.streams = new Map();
    this.nextKey = 0;
    this.incoming = [];
    this.acceptors = [];
    /** [{ seq, op?: string, kind?: string, key, value }] in the order things happened here. */
    this.log = [];
    /** Events for keys this mux does not know (would point at a native routing bug). */
    this.strays = [];
    /** The CLOSED event's message once it arrived. */
    this.closeMessage = null;
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    conn.startStreams((batch) => this.route(batch));
  }

  /** Opens our next stream (even key) with `data` and maybe FIN, as one streamOpen call. */
  open(data = EMPTY, fin = false) {
    const key = this.nextKey;
    this.nextKey += 2;
    const stream = new MuxStream(this, key);
    this.streams.set(key, stream);
    this.record({ op: 'open', key, value: { bytes: data.length, fin } });
    this.conn.streamOpen(key, data, fin);
    return stream;
  }

  /** Next stream the peer opened; null once the connection has ended. */
  accept() {
    if (this.incoming.length > 0) return Promise.resolve(this.incoming.shift());
    if (this.closeMessage !== null) return Promise.resolve(null);
    return new Promise((resolve) => this.acceptors.push(resolve));
  }

  /** Log entries (events and ops) matching `pred`. */
  find(pred) {
    return this.log.filter(pred);
  }

  record(entry) {
    const e = { seq: ++seq, ...entry };
    this.log.push(e);
    return e;
  }

  route(batch) {
    if (batch.length % 3 !== 0) throw new Error(`event batch of length ${batch.length} is not [kind, key, value]*`);
    for (let i = 0; i < batch.length; i += 3) {
      const kind = batch[i];
      const key = batch[i + 1];
      // ERROR and CLOSED carry coded Error objects; tests compare them as "CODE: message".
      const raw = batch[i + 2];
      const value = raw instanceof Error ? `${raw.code}: ${raw.message}` : raw;
      const summary = Buffer.isBuffer(value) ? value.length : value;
      this.record({ kind: KIND_NAME[kind] ?? `UNKNOWN(${kind})`, key, value: summary });
      if (kind === KIND.INCOMING) {
        const stream = new MuxStream(this, key);
        this.streams.set(key, stream);
        if (this.acceptors.length > 0) this.acceptors.shift()(stream);
        else this.incoming.push(stream);
      } else if (kind === KIND.CLOSED) {
        this.closeMessage = value;
        for (const s of this.streams.values()) s.connectionClosed(value);
        for (const a of this.acceptors.splice(0)) a(null);
        this.resolveClosed(value);
      } else {
        const stream = this.streams.get(key);
        if (stream === undefined) this.strays.push({ kind, key, value });
        else stream.onEvent(kind, value);
      }
    }
  }
}

class MuxStream {
  constructor(mux, key) {
    this.mux = mux;
    this.key = key;
    /** Every event of this stream, in order: { kind, value }. */
    this.events = [];
    this.chunks = [];
    /** Bytes received so far (DATA and DATA_FIN). */
    this.received = 0;
    /** Sum of SENT events. */
    this.sent = 0;
    this.ended = false;
    /** Why reading fails: RESET, ERROR or the connection's end. */
    this.error = null;
    this.readers = [];
    this.watchers = [];
  }

  // ---- operations ----

  write(data, fin = false) {
    this.mux.record({ op: 'send', key: this.key, value: { bytes: data.length, fin } });
    this.mux.conn.streamSend(this.key, data, fin);
  }

  finish() {
    this.write(EMPTY, true);
  }

  reset(code) {
    this.mux.record({ op: 'reset', key: this.key, value: code });
    this.mux.conn.streamReset(this.key, code);
  }

  stopSending(code) {
    this.mux.record({ op: 'stop', key: this.key, value: code });
    this.mux.conn.streamStop(this.key, code);
  }

  pause(paused) {
    this.mux.record({ op: paused ? 'pause' : 'resume', key: this.key });
    this.mux.conn.streamPause(this.key, paused);
  }

  // ---- reading ----

  /** Next received chunk; null after FIN; rejects after RESET / ERROR / connection end. */
  read() {
    if (this.chunks.length > 0) return Promise.resolve(this.chunks.shift());
    if (this.ended) return Promise.resolve(null);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  async readAll() {
    const parts = [];
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return Buffer.concat(parts);
      parts.push(chunk);
    }
  }

  // ---- waiting for events ----

  /** Resolves with the value of the first `kind` event (past or future). */
  event(kind) {
    return this.until(() => this.events.find((e) => e.kind === kind), `a ${KIND_NAME[kind]} event`)
      .then((e) => e.value);
  }

  /** Resolves with cond()'s result once it is truthy, re-checked after each event of this stream. */
  until(cond, what = 'a condition') {
    const now = cond();
    if (now) return Promise.resolve(now);
    if (this.mux.closeMessage !== null) return Promise.reject(this.closedBefore(what));
    return new Promise((resolve, reject) => this.watchers.push({ cond, what, resolve, reject }));
  }

  // ---- from the mux ----

  onEvent(kind, value) {
    this.events.push({ kind, value });
    switch (kind) {
      case KIND.DATA:
      case KIND.DATA_FIN:
        this.received += value.length;
        if (value.length > 0) this.chunks.push(value);
        if (kind === KIND.DATA_FIN) this.ended = true;
        break;
      case KIND.FIN:
        this.ended = true;
        break;
      case KIND.RESET:
        this.error = Object.assign(new Error(`stream ${this.key}: peer reset it with code ${value}`), { code: value });
        break;
      case KIND.ERROR:
        this.error = new Error(`stream ${this.key}: ${value}`);
        break;
      case KIND.SENT:
        this.sent += value;
        break;
    }
    this.serveReaders();
    this.watchers = this.watchers.filter((w) => {
      const v = w.cond();
      if (v) w.resolve(v);
      return !v;
    });
  }

  connectionClosed(message) {
    if (!this.ended && !this.error) this.error = new Error(`stream ${this.key}: ${message}`);
    this.serveReaders();
    for (const w of this.watchers.splice(0)) {
      const v = w.cond();
      if (v) w.resolve(v);
      else w.reject(this.closedBefore(w.what));
    }
  }

  closedBefore(what) {
    return new Error(`stream ${this.key}: connection closed (${this.mux.closeMessage}) before ${what}; events: ${
      JSON.stringify(this.events.map((e) => [KIND_NAME[e.kind], Buffer.isBuffer(e.value) ? e.value.length : e.value]))}`);
  }

  serveReaders() {
    while (this.readers.length > 0) {
      if (this.chunks.length > 0) this.readers.shift().resolve(this.chunks.shift());
      else if (this.ended) this.readers.shift().resolve(null);
      else if (this.error) this.readers.shift().reject(this.error);
      else return;
    }
  }
}

/** Serves every incoming stream of `conn` as an echo: each chunk back as it comes, FIN after FIN. */
function echoStreams(conn) {
  const mux = muxOf(conn);
  (async () => {
    for (;;) {
      const s = await mux.accept();
      if (s === null) return;
      (async () => {
        for (;;) {
          const chunk = await s.read();
          if (chunk === null) break;
          s.write(chunk);
        }
        s.finish();
      })().catch(() => { /* peer reset or connection ended: nothing to echo */ });
    }
  })();
  return mux;
}

module.exports = { KIND, muxOf, echoStreams };
