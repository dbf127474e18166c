// Test helpers for the CA tests: temp dirs, a capturing logger, real openssl, real identities
// (ECDSA P-256 + native FALCON-1024) and a whole CA (store + root + CT log + issuer) on a ManualClock.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { ManualClock, createCsr, falconCsrMessage, nativeFalcon, type FalconKeypair } from '@stoq/core';
import { CtLog } from '@stoq/ct-log';
import { Authority, DATA_DIR_LAYOUT } from '../../src/ca/authority';
import { Issuer } from '../../src/ca/issuer';
import { TrustChainError, type TrustChainErrorCode } from '../../src/core/errors';
import { checkTtl, hashToken, newToken } from '../../src/core/tokens';
import { CaStore } from '../../src/store/ca-store';

/** A fixed start (2030-01-01) so certificate times, openssl -attime and Go's -time agree. */
export const START_MS = Date.UTC(2030, 0, 1);

const dirs: string[] = [];

/** A fresh private temp dir, removed after the test file. */
export function tempDir(prefix = 'trustchain-ca-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A pino logger whose lines are kept (parsed) for assertions. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** The TrustChainError code `fn` throws (or the promise rejects with), and its message. */
export async function tcError(fn: () => unknown): Promise<{ code: TrustChainErrorCode; message: string }> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof TrustChainError) return { code: err.code, message: err.message };
    throw new Error(`expected a TrustChainError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a TrustChainError, but nothing was thrown');
}

/** Runs a real command; resolves with stdout then stderr (openssl says "verify OK" on stderr), rejects with both in the message. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'utf8', ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
      else resolve(stdout + stderr);
    }),
  );
}

export const openssl = (args: readonly string[]): Promise<string> => run('openssl', args);

export interface NodeKeys {
  readonly tlsKey: KeyObject;
  readonly falcon: FalconKeypair;
}

export function nodeKeys(): NodeKeys {
  return { tlsKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, falcon: nativeFalcon.keypair() };
}

export interface SignedCsr {
  readonly der: Uint8Array;
  readonly falconSignature: Uint8Array;
}

/** A real STOQ CSR and its FALCON proof of possession. */
export function signedCsr(keys: NodeKeys, service: string, instance: string, ipAddresses: string[] = []): SignedCsr {
  const der = createCsr({ service, instance, tlsKey: keys.tlsKey, falconPublicKey: keys.falcon.publicKey, ipAddresses });
  return { der, falconSignature: nativeFalcon.sign(keys.falcon.secretKey, falconCsrMessage(der)) };
}

export interface TestCa {
  readonly dir: string;
  readonly clock: ManualClock;
  readonly store: CaStore;
  readonly authority: Authority;
  readonly ct: CtLog;
  readonly issuer: Issuer;
  readonly lines: LogLine[];
  close(): Promise<void>;
}

export interface TestCaOptions {
  dir?: string;
  clock?: ManualClock;
  maxGetEntries?: number;
}

/** A whole CA in a data dir, on a manual clock. */
export async function openCa(opts: TestCaOptions = {}): Promise<TestCa> {
  const dir = opts.dir ?? tempDir();
  const clock = opts.clock ?? new ManualClock(START_MS);
  const { logger, lines } = captureLogger();
  const store = CaStore.open(join(dir, DATA_DIR_LAYOUT.db), { create: true });
  const now = (): number => clock.now();
  const authority = await Authority.open(dir, store, logger, nativeFalcon, now);
  const ct = await CtLog.openInDirectory({
    dataDir: join(dir, DATA_DIR_LAYOUT.ct),
    signingKey: authority.logKey,
    falcon: authority.logFalcon,
    roots: [authority.rootDer],
    clock: now,
    ...(opts.maxGetEntries !== undefined ? { maxGetEntries: opts.maxGetEntries } : {}),
  });
  const issuer = new Issuer({ store, authority, ct, logger, now });
  return {
    dir,
    clock,
    store,
    authority,
    ct,
    issuer,
    lines,
    async close() {
      await ct.close();
      store.close();
    },
  };
}

/** Mints a join token the way `trustchain token create` would: only its hash is stored. */
export function mintToken(store: CaStore, service: string, now: number, ttlSeconds = 3600): string {
  const token = newToken();
  store.addToken(hashToken(token), service, now, now + checkTtl(ttlSeconds) * 1000);
  return token;
}

/** PEM of a DER certificate. */
export function certPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/**
 * Runs a Go program against certificates with Go's crypto/x509 (`go run` in a temp dir, offline):
 * `main` is the program's `func main() {...}`; a `load(path) *x509.Certificate` helper and the
 * imports crypto/x509, encoding/pem, fmt, os, time are provided. Resolves with its stdout; rejects
 * with `refusal` and Go's output when it fails (or `go` is missing).
 */
export async function goX509(main: string, args: readonly string[], cwd: string, refusal: string): Promise<string> {
  writeFileSync(join(cwd, 'go.mod'), 'module trustchain.test/verify\n\ngo 1.21\n');
  writeFileSync(
    join(cwd, 'main.go'),
    `package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

var _ = time.Now

func load(path string) *x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil { panic(err) }
	block, _ := pem.Decode(data)
	if block == nil { fmt.Println("FAIL: no PEM in", path); os.Exit(1) }
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil { fmt.Println("FAIL: parse", path, err); os.Exit(1) }
	return cert
}

${main}
`,
  );
  const env = { ...process.env, GOFLAGS: '', GO111MODULE: 'on', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOWORK: 'off' };
  return run('go', ['run', '.', ...args], { cwd, env }).catch((err: Error) => {
    throw new Error(`${refusal} (or \`go\` is not installed):\n${err.message}`);
  });
}
