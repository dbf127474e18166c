// A real PostgreSQL server for a test file, from Debian's package (PG_BIN, default the newest
// /usr/lib/postgresql/<major>/bin): initdb on a temp data dir (password authentication, scram), the
// server on [::1] at a free port with fsync and synchronous_commit on, stopped in afterAll. initdb
// refuses to run as root, so as root the cluster runs as the `postgres` user (setpriv, which execs
// in place: signals reach postgres itself).
//
// `usePostgres()` registers the server's beforeAll/afterAll in the calling file. Without
// PostgreSQL installed it returns null and logs why (the file's PostgreSQL tests are left out);
// with STOQ_REQUIRE_POSTGRES=1 (CI) a missing PostgreSQL fails the file instead.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** PG_BIN, else the newest Debian PostgreSQL (/usr/lib/postgresql/<major>/bin; 15 on bookworm). */
export const PG_BIN = process.env['PG_BIN'] ?? debianPgBin();

function debianPgBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^[0-9]+$/.test(d)).map(Number).sort((a, b) => b - a) : [];
  return join(root, String(majors[0] ?? 15), 'bin');
}
const REQUIRED = process.env['STOQ_REQUIRE_POSTGRES'] === '1';
const USER = 'caesar_test';

export function postgresInstalled(): boolean {
  return ['initdb', 'postgres', 'pg_isready'].every((b) => existsSync(join(PG_BIN, b)));
}

export class PostgresServer {
  private process: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  private stderr = '';
  readonly password = `pw-${process.pid}-${Date.now()}`;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly asRoot: boolean,
  ) {}

  /** initdb on a fresh temp dir, then start. */
  static async create(): Promise<PostgresServer> {
    const asRoot = process.getuid?.() === 0;
    const dir = mkdtempSync(join(tmpdir(), 'caesar-pg-'));
    chmodSync(dir, 0o700);
    const server = new PostgresServer(dir, await freePort(), asRoot);
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${server.password}\n`, { mode: 0o600 });
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
      chownSync(pwfile, uid, gid);
    }
    server.run(join(PG_BIN, 'initdb'), ['-D', server.data, '-U', USER, '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '--no-sync', '--no-instructions']);
    await server.start();
    return server;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  /** A URL without password (as Caesar is configured); pass `password` separately. */
  url(database = 'postgres'): string {
    return `postgresql://${USER}@[::1]:${this.port}/${database}`;
  }

  /** A connection as the superuser (test set-up, blocking locks, terminating backends). */
  async admin(database = 'postgres'): Promise<Client> {
    const c = new Client({ host: '::1', port: this.port, user: USER, database, password: this.password });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  /** Starts the server on the existing data dir; resolves once it accepts connections. */
  async start(): Promise<void> {
    const argv = [join(PG_BIN, 'postgres'), '-D', this.data, '-k', this.dir, '-p', String(this.port), '-c', 'listen_addresses=::1', '-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'max_connections=50', '-c', 'shared_buffers=32MB'];
    const child = this.asRoot ? spawn('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let gone = false;
    void this.exited.then(() => (gone = true));
    // Ready when pg_isready says so; a retry loop bounded by a deadline, not a guessed sleep.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (gone) throw new Error(`postgres exited before it was ready:\n${this.stderr}`);
      try {
        execFileSync(join(PG_BIN, 'pg_isready'), ['-q', '-h', '::1', '-p', String(this.port), '-t', '1'], { stdio: 'ignore' });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 60 s:\n${this.stderr}`);
        await new Promise((r) => setTimeout(r, 50)); // between readiness probes of a process we started
      }
    }
  }

  /** `fast`: clean shutdown (SIGINT); `immediate`: like a crash (SIGQUIT: no checkpoint, recovery at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await this.exited;
  }

  async close(): Promise<void> {
    await this.stop('fast');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(cmd: string, argv: string[]): void {
    if (this.asRoot) execFileSync('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...argv], { stdio: 'pipe' });
    else execFileSync(cmd, argv, { stdio: 'pipe' });
  }
}

/**
 * One PostgreSQL server for the calling test file (started in beforeAll, stopped in afterAll), or
 * null when PostgreSQL is not installed (logged; a failure under STOQ_REQUIRE_POSTGRES=1).
 */
export function usePostgres(): { readonly server: PostgresServer } | null {
  if (!postgresInstalled()) {
    const why = `PostgreSQL is not installed (no initdb/postgres in ${PG_BIN}; Debian: apt-get install postgresql, or set PG_BIN)`;
    if (REQUIRED) {
      test('PostgreSQL is installed (STOQ_REQUIRE_POSTGRES=1)', () => {
        throw new Error(why);
      });
    } else {
      console.warn(`SKIPPED: Caesar's PostgreSQL tests: ${why}`);
      test.skip(`PostgreSQL backend: ${why}`, () => undefined);
    }
    return null;
  }
  let server: PostgresServer | null = null;
  beforeAll(async () => {
    server = await PostgresServer.create();
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });
  return {
    get server(): PostgresServer {
      if (!server) throw new Error('the PostgreSQL server is not started (used outside a test?)');
      return server;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '::1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
