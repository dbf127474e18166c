// Pay through Caesar with the typed client, and see the payment in NGauge.
//
//   npm start                          (in another terminal: the ecosystem)
//   node examples/pay-with-caesar.mjs
//
// Runs as TrustChain's administrator identity (the ecosystem's default for @stoq/client), which
// Caesar lets create a mint account and allocate from it. Account and transfer ids are
// client-chosen u128s (decimal strings); this program picks fresh ones on each run.
import { connect } from '@stoq/client';

const caesar = await connect('caesar');
const ngauge = await connect('ngauge');
try {
  const base = BigInt(Date.now()) * 1000n; // fresh ids on each run
  const [mint, alice, bob] = [base + 1n, base + 2n, base + 3n].map(String);
  const accounts = await caesar.createAccounts({
    accounts: [
      { id: mint, ledger: 1, code: 1, flags: 1 << 14 }, // mint: a supply source
      { id: alice, ledger: 1, code: 10, flags: 2 }, // debits must not exceed credits
      { id: bob, ledger: 1, code: 10, flags: 2 },
    ],
  });
  const transfers = await caesar.createTransfers({
    transfers: [
      { id: String(base + 11n), debitAccountId: mint, creditAccountId: alice, amount: '1000', ledger: 1, code: 1 },
      { id: String(base + 12n), debitAccountId: alice, creditAccountId: bob, amount: '250', ledger: 1, code: 2 },
    ],
  });
  const [a, b] = (await caesar.lookupAccounts({ ids: [alice, bob] })).accounts;
  const balance = (x) => BigInt(x.creditsPosted) - BigInt(x.debitsPosted);
  const caesarUp = (await ngauge.targets({})).targets.filter((t) => t.service === 'caesar').map((t) => `${t.instance} up=${t.up}`);
  console.log(JSON.stringify({ accounts: accounts.results, transfers: transfers.results, alice: String(balance(a)), bob: String(balance(b)), caesarInNGauge: caesarUp }));
} finally {
  await caesar.close();
  await ngauge.close();
}
