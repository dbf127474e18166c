// Test helpers for the DNS tests: a manual clock, dig, and queries built with dns-packet.
import { execFile } from 'node:child_process';
import * as dnsPacket from 'dns-packet';
import type { Clock, TimerHandle } from '@stoq/core';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A Clock whose time moves only when the test says so; due timers fire in order. */
export class ManualClock implements Clock {
  private time = 1_000_000;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return t as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as unknown as Timer).cancelled = true;
  }

  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.time = Math.max(this.time, due.at);
      due.cancelled = true;
      this.timers = this.timers.filter((t) => !t.cancelled);
      due.fn();
    }
    this.time = target;
  }
}

export interface QueryOptions {
  id?: number;
  type?: dnsPacket.RecordType;
  /** EDNS0 UDP payload size; undefined = no OPT record. */
  edns?: number;
  dnssecOk?: boolean;
  ednsVersion?: number;
  rd?: boolean;
}

export function query(name: string, opts: QueryOptions = {}): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (opts.edns !== undefined) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: opts.edns,
      extendedRcode: 0,
      ednsVersion: opts.ednsVersion ?? 0,
      flags: opts.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
      flag_do: opts.dnssecOk ?? false,
      options: [],
    });
  }
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 0x1234,
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: opts.type ?? 'SRV', class: 'IN' }],
    additionals,
  });
}

export interface DigResult {
  readonly stdout: string;
  readonly status: string;
  readonly flags: string[];
  /** Records of a section as dig prints them: [name, ttl, class, type, ...data]. */
  section(name: 'ANSWER' | 'AUTHORITY' | 'ADDITIONAL'): string[][];
}

let digChecked = false;

/** Runs the real `dig` (Debian's bind9-dnsutils); fails with a clear message when it is not installed. */
export async function dig(args: readonly string[]): Promise<DigResult> {
  if (!digChecked) {
    await new Promise<void>((resolve, reject) =>
      execFile('dig', ['-v'], (err) =>
        err && (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? reject(new Error('`dig` is not on PATH: install it with `apt-get install -y bind9-dnsutils` (Debian) to run the DNS integration tests'))
          : resolve(),
      ),
    );
    digChecked = true;
  }
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile('dig', ['+tries=1', '+time=3', ...args], { timeout: 20_000 }, (err, out, errOut) => {
      if (err && out.length === 0) reject(new Error(`dig ${args.join(' ')} failed: ${err.message} ${errOut}`));
      else resolve(out);
    }),
  );
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? '';
  const flags = (/;; flags: ([a-z ]*);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/).filter((f) => f.length > 0);
  return {
    stdout,
    status,
    flags,
    section(name) {
      const lines = stdout.split('\n');
      const start = lines.findIndex((l) => l.startsWith(`;; ${name} SECTION:`));
      if (start < 0) return [];
      const out: string[][] = [];
      for (let i = start + 1; i < lines.length && lines[i]!.trim() !== ''; i++) out.push(lines[i]!.trim().split(/\s+/));
      return out;
    },
  };
}
