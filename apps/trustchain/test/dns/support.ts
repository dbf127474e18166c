// Test helpers for the DNS tests: dig, and queries built with dns-packet (the manual clock is @stoq/core's).
import { execFile } from 'node:child_process';
import * as dnsPacket from 'dns-packet';

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
