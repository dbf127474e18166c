// The stores a DurableLedger test runs against: SQLite in a temp dir, and PostgreSQL (one server
// per test file, each ledger in its own PostgreSQL schema) when it is installed (postgres-server.ts).
//   describe.each(ledgerBackends())('$name store', (backend) => { ... backend.open(backend.fresh(), { create: true }) ... });
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableLedger, type DurableLedgerOptions } from '../../src/store/durable-ledger';
import { type PostgresServer, usePostgres } from './postgres-server';

export interface LedgerBackend {
  readonly name: 'sqlite' | 'postgres';
  /** A reference to a ledger that does not exist yet (a path, or a PostgreSQL schema name). */
  fresh(): string;
  open(ref: string, options?: DurableLedgerOptions): Promise<DurableLedger>;
}

export interface LedgerBackends {
  readonly all: LedgerBackend[];
  readonly sqlite: LedgerBackend;
  /** Null when PostgreSQL is not installed. */
  readonly postgres: (LedgerBackend & { readonly server: PostgresServer }) | null;
}

/** Registers the temp dir and (if installed) the PostgreSQL server of the calling test file. */
export function ledgerBackends(): LedgerBackends {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'caesar-store-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const sqlite: LedgerBackend = {
    name: 'sqlite',
    fresh: () => join(dir, `ledger-${n++}.db`),
    open: async (ref, options) => DurableLedger.open(ref, options),
  };
  const pg = usePostgres();
  const postgres = pg
    ? {
        name: 'postgres' as const,
        get server(): PostgresServer {
          return pg.server;
        },
        fresh: () => `ledger_${n++}`,
        open: (ref: string, options?: DurableLedgerOptions) => DurableLedger.openPostgres({ url: pg.server.url(), password: pg.server.password, schema: ref }, options),
      }
    : null;
  return { all: postgres ? [sqlite, postgres] : [sqlite], sqlite, postgres };
}
