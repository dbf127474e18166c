// Pay through Caesar with the typed client, and see the payment in NGauge.
//
//   npm start                          (in another terminal: the ecosystem)
//   node examples/pay-with-caesar.mjs
//
// Two identities: the ecosystem's cli identity (the default: `npm start` enrolls it as service
// `cli`) owns and pays from its accounts; TrustChain's administrator identity, asked for with
// { admin: true }, is the only one Caesar lets create a mint account and allocate from it.
// Account and transfer ids are client-chosen u128s (decimal strings), fresh on each run.
import { connect } from '@stoq/client';

// Account flags (docs/caesar-api.md, apps/caesar/README.md "The model").
const DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1;
const MINT = 1 << 14; // a supply source: may only be debited

const caesar = await connect('caesar');
const treasury = await connect('caesar', { admin: true });
const ngauge = await connect('ngauge');
try {
  const base = BigInt(Date.now()) * 1000n;
  const [mint, alice, bob] = [base + 1n, base + 2n, base + 3n].map(String);
  const minted = await treasury.createAccounts({ accounts: [{ id: mint, ledger: 1, code: 1, flags: MINT }] });
  const opened = await caesar.createAccounts({
    accounts: [
      { id: alice, ledger: 1, code: 10, flags: DEBITS_MUST_NOT_EXCEED_CREDITS },
      { id: bob, ledger: 1, code: 10, flags: DEBITS_MUST_NOT_EXCEED_CREDITS },
    ],
  });
  const allocated = await treasury.createTransfers({ transfers: [{ id: String(base + 11n), debitAccountId: mint, creditAccountId: alice, amount: '1000', ledger: 1, code: 1 }] });
  const paid = await caesar.createTransfers({ transfers: [{ id: String(base + 12n), debitAccountId: alice, creditAccountId: bob, amount: '250', ledger: 1, code: 2 }] });
  const accounts = { results: [...minted.results, ...opened.results] };
  const transfers = { results: [...allocated.results, ...paid.results] };
  const [a, b] = (await caesar.lookupAccounts({ ids: [alice, bob] })).accounts;
  const balance = (x) => BigInt(x.creditsPosted) - BigInt(x.debitsPosted);
  const caesarUp = (await ngauge.targets({})).targets.filter((t) => t.service === 'caesar').map((t) => `${t.instance} up=${t.up}`);
  console.log(JSON.stringify({ accounts: accounts.results, transfers: transfers.results, alice: String(balance(a)), bob: String(balance(b)), caesarInNGauge: caesarUp }));
} finally {
  await caesar.close();
  await treasury.close();
  await ngauge.close();
}
