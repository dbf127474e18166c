// Run a WebAssembly program in Catalog and pay for it through Caesar; check the signed receipt.
//
//   npm start                                  (in another terminal: the ecosystem)
//   node examples/pay-for-a-catalog-run.mjs
//
// The ecosystem's cli identity owns the paying account (Catalog checks the payer is the
// caller's); TrustChain's admin ({ admin: true }) funds it. Catalog reserves fuel_limit × price
// in Caesar before the run, posts the fee for the fuel used after it, and signs a receipt over
// program, input, output, fuel, fee and the Caesar transfer with its FALCON-1024 key.
import { checkExecuteResponse, outcomeName } from '@stoq/catalog';
import { connect } from '@stoq/client';
import { nativeFalcon } from '@stoq/core';
import { watToWasm } from '@stoq/native';

const MINT = 1 << 14;
const caesar = await connect('caesar');
const treasury = await connect('caesar', { admin: true });
const catalog = await connect('catalog');
try {
  const base = BigInt(Date.now()) * 1000n;
  const [mint, payer] = [base + 1n, base + 2n].map(String);
  await treasury.createAccounts({ accounts: [{ id: mint, ledger: 1, code: 1, flags: MINT }] });
  await caesar.createAccounts({ accounts: [{ id: payer, ledger: 1, code: 10 }] });
  await treasury.createTransfers({ transfers: [{ id: String(base + 3n), debitAccountId: mint, creditAccountId: payer, amount: '100000', ledger: 1, code: 1 }] });

  // A program that adds two numbers, uploaded by content address (a re-upload is a duplicate).
  const wasm = watToWasm('(module (func (export "add") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add))');
  const { program } = await catalog.uploadProgram({ module: wasm });
  const request = { programHash: program.hash, export: 'add', args: ['40', '2'], fuelLimit: 1000, payerAccountId: payer, requestId: `example-${base}` };
  const run = await catalog.execute(request);
  const receipt = checkExecuteResponse(run, (key, message, signature) => nativeFalcon.verify(key, message, signature));
  // A retry with the same request id (say the answer was lost) gets the stored answer: the same
  // receipt, and no second fee.
  const retry = await catalog.execute(request);
  const sameReceipt = Buffer.compare(Buffer.from(retry.receipt.encoded), Buffer.from(run.receipt.encoded)) === 0;
  const [account] = (await caesar.lookupAccounts({ ids: [payer] })).accounts;
  const balance = BigInt(account.creditsPosted) - BigInt(account.debitsPosted) - BigInt(account.debitsPending);
  console.log(JSON.stringify({ program: program.hash, outcome: outcomeName(run.outcome ?? 0), results: run.results, fuelUsed: String(run.fuelUsed), fee: run.fee, receiptValid: receipt.valid, retrySameReceipt: sameReceipt, payerBalance: String(balance) }));
} finally {
  await Promise.all([caesar.close(), treasury.close(), catalog.close()]);
}
