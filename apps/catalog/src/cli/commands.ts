// The client commands: upload, run, programs, stats, verify-receipt. Exit 0: done; 1: Catalog
// refused (a status), could not be reached, or a receipt does not verify; 2: usage.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { nativeFalcon } from '@stoq/core';
import { watToWasm } from '@stoq/native';
import { catalog as proto } from '@stoq/protos';
import { isRpcError, statusName } from '@stoq/rpc';
import { isProgramHash } from '../core/program-hash';
import { executeJson, fromU64, SavedAnswerError, verifySavedAnswer } from '@stoq/catalog-receipt';
import { connectCatalog, type CatalogSession } from './catalog-client';
import { CliError, usage } from './cli-error';

const M = proto.CatalogMethods;

export const HELP = `catalog: sandboxed, metered WebAssembly execution paid for through Caesar

  catalog serve --config catalog.toml ...       run the service (catalog serve --help)
  catalog upload FILE.wasm|FILE.wat|FILE.js     store a program (.js: JavaScript, run on QuickJS); prints its hash
      [--language wasm|javascript] (default: from the file name)
  catalog run HASH|FILE --fuel N --payer ID     run it, paying from your Caesar account ID
      [--export NAME] (default _start)  [--arg I64]...  [--argv S]...
      [--request-id ID] (default: a fresh UUID; a retry with the same ID and request is answered
       from Catalog's store: same receipt, no second charge)
      [--input TEXT | --input @FILE]  [--memory BYTES]  [--seed HEX64]  [--json]
      [--stream] (the program's stdout/stderr to yours as it writes them; the summary to stderr)
  catalog programs [--owner SERVICE]            list stored programs
  catalog stats                                 runs, fuel, fees, workers
  catalog verify-receipt FILE.json [--key-id HEX]   check a saved \`catalog run --json\` answer

  connection: --identity DIR ($STOQ_IDENTITY), --dns [ADDR]:PORT ($STOQ_DNS) or --target [ADDR]:PORT;
  inside an \`npm start\` folder both default to the ecosystem's.`;

const CONNECT = { identity: { type: 'string' }, dns: { type: 'string' }, target: { type: 'string' }, json: { type: 'boolean', default: false } } as const;

type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; default?: string | boolean }>;
interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parse(command: string, argv: string[], options: Options): Parsed {
  try {
    return parseArgs({ args: argv, options: { ...CONNECT, ...options }, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    throw usage(`catalog ${command}: ${(err as Error).message}`);
  }
}

const str = (p: Parsed, k: string): string | undefined => p.values[k] as string | undefined;

async function session<T>(p: Parsed, body: (s: CatalogSession) => Promise<T>): Promise<T> {
  const s = await connectCatalog({ identity: str(p, 'identity'), dns: str(p, 'dns'), target: str(p, 'target') });
  try {
    return await body(s);
  } catch (err) {
    if (isRpcError(err)) throw new CliError('RPC_FAILED', `${statusName(err.code)}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await s.close();
  }
}

type Language = 'wasm' | 'javascript';

function languageOf(file: string, given: string | undefined): Language {
  if (given !== undefined) {
    if (given !== 'wasm' && given !== 'javascript') throw usage('--language is wasm or javascript');
    return given;
  }
  return /\.(js|mjs|cjs)$/i.test(file) ? 'javascript' : 'wasm';
}

function uploadRequest(module: Buffer, language: Language): proto.UploadProgramRequest {
  return { module, language: language === 'javascript' ? proto.ProgramLanguage.PROGRAM_JAVASCRIPT : proto.ProgramLanguage.PROGRAM_WASM };
}

async function readModule(file: string, language: Language = 'wasm'): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new CliError('FILE', `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
  if (language === 'javascript' || !file.endsWith('.wat')) return bytes;
  try {
    return watToWasm(bytes.toString('utf8'));
  } catch (cause) {
    throw new CliError('FILE', `${file}: not valid WebAssembly text: ${(cause as Error).message}`, { cause });
  }
}

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

export async function upload(argv: string[]): Promise<number> {
  const p = parse('upload', argv, { language: { type: 'string' } });
  const file = p.positionals[0];
  if (!file || p.positionals.length > 1) throw usage('catalog upload takes one FILE.wasm, FILE.wat or FILE.js');
  const language = languageOf(file, str(p, 'language'));
  const module = await readModule(file, language);
  return session(p, async (s) => {
    const r = await s.rpc.call(M.uploadProgram, uploadRequest(module, language));
    const prog = r.program!;
    if (p.values['json']) out(JSON.stringify({ hash: prog.hash, size: prog.size, duplicate: r.duplicate ?? false, language, exports: prog.exports, assetId: prog.assetId }));
    else if (language === 'javascript') out(`${prog.hash}${r.duplicate ? ' (already stored)' : ''}\n  JavaScript, runs on QuickJS runtime ${prog.runtimeHash}`);
    else out(`${prog.hash}${r.duplicate ? ' (already stored)' : ''}\n  exports: ${(prog.exports ?? []).map((e) => `${e.name}(${(e.params ?? []).join(', ')}) -> ${(e.results ?? []).join(', ') || '()'}`).join('; ')}`);
    return 0;
  });
}

export async function run(argv: string[]): Promise<number> {
  const p = parse('run', argv, { fuel: { type: 'string' }, payer: { type: 'string' }, export: { type: 'string' }, arg: { type: 'string', multiple: true }, argv: { type: 'string', multiple: true }, input: { type: 'string' }, memory: { type: 'string' }, seed: { type: 'string' }, stream: { type: 'boolean', default: false }, language: { type: 'string' }, 'request-id': { type: 'string' } });
  const target = p.positionals[0];
  if (!target || p.positionals.length > 1) throw usage('catalog run takes one HASH or FILE');
  const fuel = str(p, 'fuel');
  if (!fuel || !/^[1-9][0-9]{0,15}$/.test(fuel)) throw usage('catalog run: --fuel N (a positive integer) is required');
  const payer = str(p, 'payer') ?? process.env['CATALOG_PAYER'];
  if (!payer) throw usage('catalog run: --payer ACCOUNT_ID (your Caesar account; also $CATALOG_PAYER) is required');
  const input = str(p, 'input');
  const stdin = input === undefined ? Buffer.alloc(0) : input.startsWith('@') ? await readFile(input.slice(1)) : Buffer.from(input, 'utf8');
  const seedHex = str(p, 'seed');
  if (seedHex !== undefined && !/^[0-9a-fA-F]{64}$/.test(seedHex)) throw usage('catalog run: --seed is 64 hex characters');
  const requestId = str(p, 'request-id') ?? randomUUID();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(requestId)) throw usage('catalog run: --request-id is 1-64 characters of [A-Za-z0-9._-]');
  return session(p, async (s) => {
    let hash = target.toLowerCase();
    if (!isProgramHash(hash)) {
      const language = languageOf(target, str(p, 'language'));
      hash = (await s.rpc.call(M.uploadProgram, uploadRequest(await readModule(target, language), language))).program!.hash!;
    }
    const request: proto.ExecuteRequest = {
      programHash: hash,
      export: str(p, 'export') ?? '',
      args: (p.values['arg'] as string[] | undefined) ?? [],
      argv: (p.values['argv'] as string[] | undefined) ?? [],
      stdin,
      fuelLimit: Number(fuel),
      memoryLimitBytes: Number(str(p, 'memory') ?? 0),
      payerAccountId: payer,
      seed: seedHex ? Buffer.from(seedHex, 'hex') : new Uint8Array(),
      requestId,
    };
    let res: proto.ExecuteResponse | null = null;
    if (p.values['stream']) {
      for await (const ev of s.rpc.serverStream(M.executeStream, request, { timeoutMs: 120_000 })) {
        if (ev.stdout && ev.stdout.length > 0) process.stdout.write(ev.stdout);
        if (ev.stderr && ev.stderr.length > 0) process.stderr.write(ev.stderr);
        if (ev.result) res = ev.result;
      }
      if (res === null) throw new CliError('RPC_FAILED', 'the stream ended without a result');
    } else {
      res = await s.rpc.call(M.execute, request, { timeoutMs: 120_000 });
    }
    const j = executeJson(res);
    const summary = p.values['stream'] ? (t: string) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`) : out;
    if (p.values['json']) {
      summary(JSON.stringify(j));
    } else {
      const lines = [
        ['outcome', j.outcome + (j.message ? ` (${j.message})` : '')],
        ['results', j.results.join(' ') || '-'],
        ...(j.exitCode !== null ? [['exit code', String(j.exitCode)]] : []),
        ['stdout', JSON.stringify(Buffer.from(j.stdout, 'base64').toString('utf8')) + (j.stdoutTruncated ? ' (truncated)' : '')],
        ['stderr', JSON.stringify(Buffer.from(j.stderr, 'base64').toString('utf8')) + (j.stderrTruncated ? ' (truncated)' : '')],
        ['fuel used', j.fuelUsed],
        ['fee', j.fee],
        ['transfer', j.receipt?.transferId ?? '-'],
        ['receipt', j.receipt ? `key ${j.receipt.keyId.slice(0, 16)}…, ${Buffer.from(j.receipt.signature, 'base64').length}-byte FALCON-1024 signature (save with --json, check with catalog verify-receipt)` : '-'],
      ];
      summary(lines.map(([k, v]) => `${k!.padEnd(10)} ${v}`).join('\n'));
    }
    return 0;
  });
}

export async function programs(argv: string[]): Promise<number> {
  const p = parse('programs', argv, { owner: { type: 'string' } });
  return session(p, async (s) => {
    const all: proto.Program[] = [];
    let token = '';
    do {
      const page = await s.rpc.call(M.listPrograms, { owner: str(p, 'owner') ?? '', pageSize: 1000, pageToken: token });
      all.push(...(page.programs ?? []));
      token = page.nextPageToken ?? '';
    } while (token !== '');
    if (p.values['json']) out(JSON.stringify({ programs: all.map((x) => ({ hash: x.hash, size: Number(x.size), owner: x.owner, language: x.language === proto.ProgramLanguage.PROGRAM_JAVASCRIPT ? 'javascript' : 'wasm', exports: (x.exports ?? []).map((e) => e.name), assetId: x.assetId })) }));
    else out([`${'hash'.padEnd(64)}  ${'size'.padStart(8)}  owner  exports`, ...all.map((x) => `${x.hash}  ${String(x.size).padStart(8)}  ${x.owner}  ${(x.exports ?? []).map((e) => e.name).join(',')}`)].join('\n'));
    return 0;
  });
}

export async function stats(argv: string[]): Promise<number> {
  const p = parse('stats', argv, {});
  return session(p, async (s) => {
    const r = await s.rpc.call(M.stats, {});
    out(JSON.stringify({ programs: String(fromU64(r.programs)), runs: String(fromU64(r.runs)), fuelUsed: String(fromU64(r.fuelUsed)), fees: r.fees, workers: r.workers, inFlight: r.inFlight, refused: String(fromU64(r.refused)), feeAccountId: r.feeAccountId, pricePerFuel: r.pricePerFuel }));
    return 0;
  });
}

export async function verifyReceiptCommand(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parseArgs({ args: argv, options: { 'key-id': { type: 'string' } }, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    throw usage(`catalog verify-receipt: ${(err as Error).message}`);
  }
  const file = p.positionals[0];
  if (!file || p.positionals.length > 1) throw usage('catalog verify-receipt takes one FILE.json (saved from catalog run --json)');
  const keyId = str(p, 'key-id');
  if (keyId !== undefined && !/^[0-9a-fA-F]{64}$/.test(keyId)) throw usage('--key-id is 64 hex characters (SHA-256 of the Catalog instance\'s FALCON public key)');
  let verdict;
  try {
    verdict = verifySavedAnswer(await readFile(file, 'utf8'), (k, m, s) => nativeFalcon.verify(k, m, s), keyId ? Buffer.from(keyId, 'hex') : undefined);
  } catch (cause) {
    const why = cause instanceof SavedAnswerError ? cause.message : `cannot read it: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`;
    throw new CliError('FILE', `${file}: ${why}`, { cause });
  }
  if (!verdict.valid) throw new CliError('INVALID_RECEIPT', `receipt does not verify: ${verdict.reason}`);
  const f = verdict.fields;
  out(`receipt valid: program ${Buffer.from(f.programHash).toString('hex')}, fuel ${f.fuelUsed}, fee ${f.fee}, transfer ${f.transferId}, signed by key ${Buffer.from(f.keyId).toString('hex')}`);
  return 0;
}
