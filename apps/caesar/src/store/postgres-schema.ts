// Caesar's tables in PostgreSQL (schema version 1 of the PostgreSQL store), in their own
// PostgreSQL schema (default `caesar`), so a database can hold other applications' tables.
//
//   meta(key, value)        format = 'caesar-ledger', store = 'postgresql', schema_version,
//                           ledger_id (random, fixed at creation), created_at, last_timestamp
//                           (the ledger clock, decimal ns), balances_as_of (the balance checkpoint)
//   accounts                one row per account; balances as of balances_as_of (a checkpoint,
//                           like SQLite's: every balance is also the sum of the account's transfers)
//   transfers               one row per transfer, keyed by its timestamp (unique, increasing: rows
//                           append), id UNIQUE (the database itself refuses a duplicate id)
//   pending_resolutions     one row when a pending transfer is posted (2), voided (3) or expires
//                           (4), with when; a transfer with the `pending` flag and no row is pending
//   account_balances        (account_id, timestamp) → the four balances after that change (history)
//
// 128-bit values (ids, amounts, balances, user_data_128) are `numeric(39,0)` constrained to
// 0..2^128-1 by the domain `u128` (u64: `u64`), not 16-byte bytea: exact either way, and numeric
// reads as a number in psql, sums and compares in SQL (`SELECT sum(amount) FROM caesar.transfers
// WHERE code = 7`), which is what a PostgreSQL user wants from their database. Timestamps are
// `bigint` (ns, < 2^63 until the year 2262). Small integers are integer / bigint with range checks.
// No index by account: queries by account are answered from memory (as with SQLite), so a commit
// pays one B-tree insert per transfer for its timestamp key and one for its id.

export const PG_SCHEMA_VERSION = 1;
export const PG_STORE = 'postgresql';
/** First key of the session advisory lock a Caesar holds on its ledger ("CSAR"); the second is hashtext(schema). */
export const ADVISORY_LOCK_KEY = 0x43534152;

/** A PostgreSQL schema name Caesar accepts (unquoted identifier rules, lower case; pg_ is reserved). */
export const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;

export function schemaDdl(s: string): string {
  return `
CREATE DOMAIN ${s}.u128 AS numeric(39,0) CHECK (VALUE >= 0 AND VALUE <= 340282366920938463463374607431768211455);
CREATE DOMAIN ${s}.u64 AS numeric(20,0) CHECK (VALUE >= 0 AND VALUE <= 18446744073709551615);
CREATE DOMAIN ${s}.u32 AS bigint CHECK (VALUE >= 0 AND VALUE <= 4294967295);
CREATE DOMAIN ${s}.u16 AS integer CHECK (VALUE >= 0 AND VALUE <= 65535);
CREATE TABLE ${s}.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE ${s}.accounts (
  id ${s}.u128 PRIMARY KEY,
  debits_pending ${s}.u128 NOT NULL,
  debits_posted ${s}.u128 NOT NULL,
  credits_pending ${s}.u128 NOT NULL,
  credits_posted ${s}.u128 NOT NULL,
  user_data_128 ${s}.u128 NOT NULL,
  user_data_64 ${s}.u64 NOT NULL,
  user_data_32 ${s}.u32 NOT NULL,
  ledger ${s}.u32 NOT NULL,
  code ${s}.u16 NOT NULL,
  flags ${s}.u16 NOT NULL,
  timestamp bigint NOT NULL UNIQUE CHECK (timestamp > 0)
);
CREATE TABLE ${s}.transfers (
  timestamp bigint PRIMARY KEY CHECK (timestamp > 0),
  id ${s}.u128 NOT NULL UNIQUE,
  debit_account_id ${s}.u128 NOT NULL,
  credit_account_id ${s}.u128 NOT NULL,
  amount ${s}.u128 NOT NULL,
  pending_id ${s}.u128 NOT NULL,
  user_data_128 ${s}.u128 NOT NULL,
  user_data_64 ${s}.u64 NOT NULL,
  user_data_32 ${s}.u32 NOT NULL,
  timeout ${s}.u32 NOT NULL,
  ledger ${s}.u32 NOT NULL,
  code ${s}.u16 NOT NULL,
  flags ${s}.u16 NOT NULL
);
CREATE TABLE ${s}.pending_resolutions (
  pending_id ${s}.u128 PRIMARY KEY,
  status smallint NOT NULL CHECK (status BETWEEN 2 AND 4),
  resolved_at bigint
);
CREATE TABLE ${s}.account_balances (
  account_id ${s}.u128 NOT NULL,
  timestamp bigint NOT NULL,
  debits_pending ${s}.u128 NOT NULL,
  debits_posted ${s}.u128 NOT NULL,
  credits_pending ${s}.u128 NOT NULL,
  credits_posted ${s}.u128 NOT NULL,
  PRIMARY KEY (account_id, timestamp)
);
`;
}

/** The statements of a group commit and of open; `s` is the quoted schema. Arrays go in through unnest (one statement per table per commit). */
export function statements(s: string) {
  const accountColumns = 'id, debits_pending, debits_posted, credits_pending, credits_posted, user_data_128, user_data_64, user_data_32, ledger, code, flags, timestamp';
  const transferColumns = 'timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags';
  const balanceColumns = 'account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted';
  return {
    insertTransfers: `INSERT INTO ${s}.transfers (${transferColumns})
      SELECT * FROM unnest($1::bigint[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::bigint[], $10::bigint[], $11::bigint[], $12::integer[], $13::integer[])`,
    insertResolutions: `INSERT INTO ${s}.pending_resolutions (pending_id, status, resolved_at) SELECT * FROM unnest($1::numeric[], $2::smallint[], $3::bigint[])`,
    insertBalances: `INSERT INTO ${s}.account_balances (${balanceColumns}) SELECT * FROM unnest($1::numeric[], $2::bigint[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[])`,
    insertAccounts: `INSERT INTO ${s}.accounts (${accountColumns})
      SELECT * FROM unnest($1::numeric[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::bigint[], $9::bigint[], $10::integer[], $11::integer[], $12::bigint[])`,
    setBalances: `UPDATE ${s}.accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo
      FROM unnest($1::numeric[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[]) AS v(id, dp, dpo, cp, cpo) WHERE a.id = v.id`,
    setMeta: `INSERT INTO ${s}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    allMeta: `SELECT key, value FROM ${s}.meta`,
    accountsPage: `SELECT ${accountColumns} FROM ${s}.accounts WHERE timestamp > $1 ORDER BY timestamp LIMIT $2`,
    transfersPage: `SELECT ${transferColumns} FROM ${s}.transfers WHERE timestamp > $1 ORDER BY timestamp LIMIT $2`,
    allResolutions: `SELECT pending_id, status, resolved_at FROM ${s}.pending_resolutions`,
    balancesAsc: `SELECT ${balanceColumns} FROM ${s}.account_balances WHERE account_id = $1 AND timestamp BETWEEN $2 AND $3 ORDER BY timestamp ASC LIMIT $4`,
    balancesDesc: `SELECT ${balanceColumns} FROM ${s}.account_balances WHERE account_id = $1 AND timestamp BETWEEN $2 AND $3 ORDER BY timestamp DESC LIMIT $4`,
  } as const;
}
