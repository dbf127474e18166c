// The client commands: accounts create, transfer, balance, history, stake. Each parses its flags,
// calls Caesar once and prints a table (or JSON with --json). Exit 0: done (every event ok or
// exists); 1: Caesar refused something (a result code, a status) or could not be reached; 2: usage.
import { parseArgs } from 'node:util';
import { caesar as proto } from '@stoq/protos';
import { isRpcError, statusName } from '@stoq/rpc';
import { parseU128Flag } from './flag-values';
import { connectCaesar, type CaesarSession, type ConnectFlags } from './caesar-client';
import { CliError, usage } from './cli-error';
import { ACCOUNT_FLAG_NAMES, TRANSFER_FLAG_NAMES, accountJson, accountResultName, isoTime, parseFlags, transferJson, transferResultName, u64String } from './records';
import { table } from './table';

const M = proto.CaesarMethods;

export const CLIENT_OPTIONS = {
  identity: { type: 'string' },
  dns: { type: 'string' },
  target: { type: 'string' },
  timeout: { type: 'string', default: '10000' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; default?: string | boolean }>;

interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parse(command: string, argv: string[], options: Options): Parsed {
  try {
    return parseArgs({ args: argv, options: { ...CLIENT_OPTIONS, ...options }, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    throw usage(`caesar ${command}: ${(err as Error).message}`);
  }
}

const str = (p: Parsed, k: string): string | undefined => p.values[k] as string | undefined;
const id = (p: Parsed, k: string, required = true): string => {
  const v = str(p, k);
  if (v === undefined) {
    if (required) throw usage(`--${k} is required`);
    return '';
  }
  return parseU128Flag(v, `--${k}`, CliUsageError).toString();
};
class CliUsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
const uint = (p: Parsed, k: string, dflt?: number): number => {
  const v = str(p, k);
  if (v === undefined) {
    if (dflt === undefined) throw usage(`--${k} is required`);
    return dflt;
  }
  if (!/^[0-9]+$/.test(v) || Number(v) > 0xffff_ffff) throw usage(`--${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
};
const flagsOf = (p: Parsed, names: Readonly<Record<string, number>>): number => {
  const v = str(p, 'flags');
  if (v === undefined) return 0;
  const f = parseFlags(v, names);
  if (typeof f === 'string') throw usage(`--flags: ${f}`);
  return f;
};

async function withCaesar<T>(p: Parsed, run: (s: CaesarSession, timeoutMs: number) => Promise<T>): Promise<T> {
  const t = str(p, 'timeout') ?? '10000';
  if (!/^[0-9]+$/.test(t) || Number(t) < 1) throw usage(`--timeout must be milliseconds > 0, got ${JSON.stringify(t)}`);
  const timeoutMs = Number(t);
  const flags: ConnectFlags = { identity: str(p, 'identity'), dns: str(p, 'dns'), target: str(p, 'target'), timeoutMs };
  const session = await connectCaesar(flags);
  try {
    return await run(session, timeoutMs);
  } catch (err) {
    if (isRpcError(err)) throw new CliError('RPC_FAILED', `${statusName(err.code)}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await session.close();
  }
}

const out = (text: string): void => void process.stdout.write(text);
const json = (v: unknown): void => out(`${JSON.stringify(v)}\n`);

export const HELP = `usage: caesar <command> [options]

  serve --config caesar.toml        run the Caesar service (caesar serve --help)
  whoami                            your service name and owner tag
  accounts create --id ID --ledger L --code C [--flags debits_must_not_exceed_credits,history,...]
  accounts show ID...               (same as balance)
  transfer --id ID --from DEBIT --to CREDIT --amount N --ledger L --code C [--flags pending,linked,...] [--pending-timeout S]
  transfer --id ID --post PENDING_ID [--amount N]    post a pending transfer (amount 0/omitted: all)
  transfer --id ID --void PENDING_ID                  void a pending transfer
  balance ID...                     balances of accounts
  history ID [--limit N] [--code C] [--reversed]     the account's transfers
  stake show --account OWNER | stake add --account OWNER --amount N --id TID
  stake remove --account OWNER --amount N --id TID | stake withdraw --unbonding-id UID --id TID
  stake attest --account OWNER [--validity-seconds S]

client options: --identity DIR (an identity TrustChain issued; $CAESAR_IDENTITY)
  --dns "[ipv6]:port" (TrustChain's DNS, finds caesar by name; $STOQ_DNS) or --target "[ipv6]:port"
  --timeout MS (10000)  --json (machine-readable output)
exit codes: 0 done, 1 refused or unreachable, 2 usage`;

export async function whoami(argv: string[]): Promise<number> {
  const p = parse('whoami', argv, {});
  return withCaesar(p, async (s, timeoutMs) => {
    const r = await s.rpc.call(M.whoAmI, {}, { timeoutMs });
    if (p.values['json']) json({ service: r.service, ownerTag: r.ownerTag });
    else out(`${r.service}  owner tag ${r.ownerTag}\n`);
    return 0;
  });
}

export async function accountsCreate(argv: string[]): Promise<number> {
  const p = parse('accounts create', argv, { id: { type: 'string' }, ledger: { type: 'string' }, code: { type: 'string' }, flags: { type: 'string' }, 'user-data-64': { type: 'string' }, 'user-data-32': { type: 'string' } });
  const account: proto.NewAccount = { id: id(p, 'id'), ledger: uint(p, 'ledger'), code: uint(p, 'code'), flags: flagsOf(p, ACCOUNT_FLAG_NAMES), userData_32: uint(p, 'user-data-32', 0) };
  return withCaesar(p, async (s, timeoutMs) => {
    const r = await s.rpc.call(M.createAccounts, { accounts: [account] }, { timeoutMs });
    const result = accountResultName(r.results?.[0] ?? 0);
    if (p.values['json']) json({ results: [{ index: 0, id: account.id, result }] });
    else out(table(['id', 'result'], [[account.id!, result]]));
    return result === 'ok' || result === 'exists' ? 0 : 1;
  });
}

export async function transfer(argv: string[]): Promise<number> {
  const p = parse('transfer', argv, {
    id: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, amount: { type: 'string' }, ledger: { type: 'string' }, code: { type: 'string' },
    flags: { type: 'string' }, post: { type: 'string' }, void: { type: 'string' }, 'user-data-32': { type: 'string' }, 'pending-timeout': { type: 'string' },
  });
  let t: proto.NewTransfer;
  const settle = str(p, 'post') !== undefined ? 'post' : str(p, 'void') !== undefined ? 'void' : null;
  if (settle) {
    if (str(p, 'post') !== undefined && str(p, 'void') !== undefined) throw usage('give --post or --void, not both');
    t = { id: id(p, 'id'), pendingId: id(p, settle), amount: id(p, 'amount', false), flags: settle === 'post' ? TRANSFER_FLAG_NAMES['postPendingTransfer']! : TRANSFER_FLAG_NAMES['voidPendingTransfer']! };
  } else {
    t = {
      id: id(p, 'id'), debitAccountId: id(p, 'from'), creditAccountId: id(p, 'to'), amount: id(p, 'amount'), ledger: uint(p, 'ledger'), code: uint(p, 'code'),
      flags: flagsOf(p, TRANSFER_FLAG_NAMES), timeout: uint(p, 'pending-timeout', 0), userData_32: uint(p, 'user-data-32', 0),
    };
  }
  return withCaesar(p, async (s, timeoutMs) => {
    const r = await s.rpc.call(M.createTransfers, { transfers: [t] }, { timeoutMs });
    const result = transferResultName(r.results?.[0] ?? 0);
    if (p.values['json']) json({ results: [{ index: 0, id: t.id, result }] });
    else out(table(['id', 'result'], [[t.id!, result]]));
    return result === 'ok' || result === 'exists' ? 0 : 1;
  });
}

export async function balance(argv: string[]): Promise<number> {
  const p = parse('balance', argv, {});
  if (p.positionals.length === 0) throw usage('caesar balance needs at least one account id');
  const ids = p.positionals.map((v, i) => parseU128Flag(v, `account id ${i + 1}`, CliUsageError).toString());
  return withCaesar(p, async (s, timeoutMs) => {
    const r = await s.rpc.call(M.lookupAccounts, { ids }, { timeoutMs });
    const accounts = (r.accounts ?? []).map(accountJson);
    const missing = ids.filter((i) => !accounts.some((a) => a['id'] === i));
    if (p.values['json']) json({ accounts, missing });
    else {
      out(table(['id', 'ledger', 'code', 'balance', 'debits_posted', 'credits_posted', 'debits_pending', 'credits_pending', 'flags'], accounts.map((a) => [a['id'], a['ledger'], a['code'], a['balance'], a['debitsPosted'], a['creditsPosted'], a['debitsPending'], a['creditsPending'], (a['flags'] as string[]).join(',')].map(String))));
      for (const m of missing) process.stderr.write(`caesar: no account ${m}\n`);
    }
    return missing.length === 0 ? 0 : 1;
  });
}

export async function history(argv: string[]): Promise<number> {
  const p = parse('history', argv, { limit: { type: 'string' }, code: { type: 'string' }, reversed: { type: 'boolean', default: false }, after: { type: 'string' } });
  if (p.positionals.length !== 1) throw usage('caesar history needs exactly one account id');
  const accountId = parseU128Flag(p.positionals[0]!, 'account id', CliUsageError).toString();
  const filter: proto.AccountFilter = { accountId, limit: uint(p, 'limit', 100), code: uint(p, 'code', 0), reversed: Boolean(p.values['reversed']) };
  return withCaesar(p, async (s, timeoutMs) => {
    const r = await s.rpc.call(M.getAccountTransfers, filter, { timeoutMs });
    const transfers = (r.transfers ?? []).map(transferJson);
    if (p.values['json']) json({ transfers });
    else
      out(
        table(
          ['time', 'id', 'from', 'to', 'amount', 'direction', 'code', 'flags'],
          transfers.map((t) => [isoTime(String(t['timestamp'])), t['id'], t['debitAccountId'], t['creditAccountId'], t['amount'], t['debitAccountId'] === accountId ? 'out' : 'in', t['code'], (t['flags'] as string[]).join(',')].map(String)),
        ),
      );
    return 0;
  });
}

const STAKING_NAMES = Object.fromEntries(Object.entries(proto.StakingResult).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k.replace(/^STAKING_/, '').toLowerCase()])) as Record<number, string>;

export async function stake(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const p = parse(`stake ${sub ?? ''}`, rest, { account: { type: 'string' }, amount: { type: 'string' }, id: { type: 'string' }, 'unbonding-id': { type: 'string' }, 'validity-seconds': { type: 'string' } });
  if (sub === 'show') {
    const owner = id(p, 'account');
    return withCaesar(p, async (s, timeoutMs) => {
      const r = await s.rpc.call(M.stakeOf, { ownerAccountId: owner }, { timeoutMs });
      const v = { account: r.ownerAccountId, stakeAccount: r.stakeAccountId, bonded: r.bonded, unbonding: r.unbonding, total: r.total };
      if (p.values['json']) json(v);
      else out(table(['account', 'bonded', 'unbonding', 'total'], [[v.account ?? '', v.bonded ?? '0', v.unbonding ?? '0', v.total ?? '0']]));
      return 0;
    });
  }
  if (sub === 'attest') {
    const owner = id(p, 'account');
    return withCaesar(p, async (s, timeoutMs) => {
      const r = await s.rpc.call(M.attestStake, { ownerAccountId: owner, validitySeconds: uint(p, 'validity-seconds', 0) }, { timeoutMs });
      const v = { account: r.account, stakedAmount: r.stakedAmount, validFrom: u64String(r.validFrom), validUntil: u64String(r.validUntil), keyId: Buffer.from(r.keyId ?? []).toString('hex'), attestation: Buffer.from(r.encoded ?? []).toString('base64') };
      if (p.values['json']) json(v);
      else out(table(['account', 'staked', 'valid_from', 'valid_until', 'key_id'], [[v.account ?? '', v.stakedAmount ?? '', isoTime(v.validFrom), isoTime(v.validUntil), v.keyId.slice(0, 16)]]) + `attestation (base64): ${v.attestation}\n`);
      return 0;
    });
  }
  let call: (s: CaesarSession, timeoutMs: number) => Promise<proto.StakeResponse>;
  if (sub === 'add' || sub === 'remove') {
    const req: proto.StakeRequest = { ownerAccountId: id(p, 'account'), amount: id(p, 'amount'), transferId: id(p, 'id') };
    call = (s, timeoutMs) => s.rpc.call(sub === 'add' ? M.stake : M.unstake, req, { timeoutMs });
  } else if (sub === 'withdraw') {
    const req: proto.WithdrawRequest = { unbondingTransferId: id(p, 'unbonding-id'), transferId: id(p, 'id') };
    call = (s, timeoutMs) => s.rpc.call(M.withdraw, req, { timeoutMs });
  } else {
    throw usage(`caesar stake needs show, add, remove, withdraw or attest${sub ? `, not "${sub}"` : ''}`);
  }
  return withCaesar(p, async (s, timeoutMs) => {
    const r = await call(s, timeoutMs);
    const v = { result: STAKING_NAMES[r.result ?? 0] ?? String(r.result), transferResult: transferResultName(r.transferResult ?? 0), bonded: r.stake?.bonded ?? '0', unbonding: r.stake?.unbonding ?? '0', unbondingEndsAt: u64String(r.unbondingEndsAt) };
    if (p.values['json']) json(v);
    else out(table(['result', 'transfer_result', 'bonded', 'unbonding'], [[v.result, v.transferResult, v.bonded, v.unbonding]]));
    return v.result === 'ok' ? 0 : 1;
  });
}
