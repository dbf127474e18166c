// caesar/create_accounts, create_transfers, lookup_*, get_account_*, watch, supply, who_am_i.
import type { CallContext, RpcServer } from '@stoq/rpc';
import { formatU128, invalid } from './wire-integers';
import { batchOf, decodeFilter, decodeIds, decodeNewAccount, decodeNewTransfer, encodeAccount, encodeBalance, encodeTransfer } from './wire-records';
import { ANY, M, accountResult, transferResult, type MethodContext } from './method-context';

export function addLedgerMethods(rpc: RpcServer, mc: MethodContext): void {
  const { ledger, policy, feed, logger } = mc.deps;
  const { mapped } = mc;
  const any = ANY;

  rpc.addMethod(
    M.createAccounts,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const events = batchOf(req.accounts, 'accounts').map((a, i) => decodeNewAccount(a, `accounts[${i}]`));
        const results = await ledger.createAccounts(policy.prepareAccounts(events, caller));
        return { results: results.map(accountResult) };
      }),
    any,
  );

  rpc.addMethod(
    M.createTransfers,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const events = batchOf(req.transfers, 'transfers').map((t, i) => decodeNewTransfer(t, `transfers[${i}]`));
        policy.checkTransfersStatically(events);
        const supplyMoves: number[] = [];
        const results = await ledger.createTransfers(events, { admit: policy.admitTransfers(events, caller, (i) => supplyMoves.push(i)) });
        for (const i of supplyMoves) {
          const t = events[i]!;
          logger.warn({ by: `${caller.service}/${caller.instance}`, transfer: String(t.id), debit: String(t.debitAccountId), credit: String(t.creditAccountId), amount: String(t.amount), result: results[i] }, 'caesar admin supply transfer');
        }
        return { results: results.map(transferResult) };
      }),
    any,
  );

  rpc.addMethod(M.lookupAccounts, (req, ctx) => mapped(async () => (policy.caller(ctx.peer), { accounts: (await ledger.lookupAccounts(decodeIds(req.ids, 'ids'))).map(encodeAccount) })), any);
  rpc.addMethod(M.lookupTransfers, (req, ctx) => mapped(async () => (policy.caller(ctx.peer), { transfers: (await ledger.lookupTransfers(decodeIds(req.ids, 'ids'))).map(encodeTransfer) })), any);
  rpc.addMethod(M.getAccountTransfers, (req, ctx) => mapped(async () => (policy.caller(ctx.peer), { transfers: (await ledger.getAccountTransfers(decodeFilter(req))).map(encodeTransfer) })), any);
  rpc.addMethod(M.getAccountBalances, (req, ctx) => mapped(async () => (policy.caller(ctx.peer), { balances: (await ledger.getAccountBalances(decodeFilter(req))).map(encodeBalance) })), any);

  rpc.addMethod(
    M.watch,
    (req, ctx: CallContext) => {
      policy.caller(ctx.peer);
      const ids = decodeIds(req.accountIds, 'account_ids');
      return feed.watch(ids.length === 0 ? null : new Set(ids), ledger.lastTimestamp, ctx.signal);
    },
    any,
  );

  rpc.addMethod(
    M.supply,
    (req, ctx) =>
      mapped(async () => {
        policy.caller(ctx.peer);
        const ledgerNo = req.ledger ?? 0;
        if (ledgerNo === 0) throw invalid('ledger', 'is required');
        const s = await ledger.supply(ledgerNo);
        return { ledger: ledgerNo, minted: formatU128(s.minted), burnt: formatU128(s.burnt), circulating: formatU128(s.circulating) };
      }),
    any,
  );

  rpc.addMethod(
    M.whoAmI,
    (_req, ctx) => {
      const c = policy.caller(ctx.peer);
      return { service: c.service, ownerTag: formatU128(c.tag) };
    },
    any,
  );
}
