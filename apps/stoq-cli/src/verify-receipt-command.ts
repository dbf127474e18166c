// `stoq verify-receipt answer.json [--key-id HEX]`: checks a Catalog run's receipt from a saved
// `catalog run --json` answer, as `catalog verify-receipt` does and with the same library
// (@stoq/catalog-receipt): the receipt's layout, its FALCON-1024 signature by the key it names,
// that key's id (when --key-id pins the Catalog instance) and that the output shown next to the
// receipt is the output it signs. Offline: nothing is asked of any service.
import { readFileSync } from 'node:fs';
import { SavedAnswerError, verifySavedAnswer } from '@stoq/catalog-receipt';
import { nativeFalcon } from '@stoq/core';
import { parseCommand } from './args';
import { CliError, usageError } from './cli-error';
import { HELP } from './help';

export async function runVerifyReceipt(argv: string[], write: (text: string) => void): Promise<number> {
  const parsed = parseCommand('verify-receipt', argv, { 'key-id': { type: 'string' }, json: { type: 'boolean', default: false } });
  if (!parsed) {
    write(`${HELP['verify-receipt']}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw usageError('stoq verify-receipt takes one FILE.json: an answer saved with `catalog run --json`');
  const keyId = values['key-id'];
  if (keyId !== undefined && !/^[0-9a-fA-F]{64}$/.test(keyId)) throw usageError('--key-id is 64 hex digits (SHA-256 of the Catalog instance\'s FALCON public key)');
  const file = positionals[0]!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new CliError('FILE_UNREADABLE', `${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
  let verdict;
  try {
    verdict = verifySavedAnswer(text, (k, m, s) => nativeFalcon.verify(k, m, s), keyId ? Buffer.from(keyId, 'hex') : undefined);
  } catch (cause) {
    if (cause instanceof SavedAnswerError) throw new CliError('INVALID_RECEIPT', `${file}: ${cause.message}`, { cause });
    throw cause;
  }
  if (!verdict.valid) {
    if (values.json) write(`${JSON.stringify({ valid: false, reason: verdict.reason })}\n`);
    throw new CliError('INVALID_RECEIPT', `receipt does not verify: ${verdict.reason}`);
  }
  const f = verdict.fields;
  const summary = {
    valid: true,
    programHash: Buffer.from(f.programHash).toString('hex'),
    inputHash: Buffer.from(f.inputHash).toString('hex'),
    outputHash: Buffer.from(f.outputHash).toString('hex'),
    fuelUsed: String(f.fuelUsed),
    fee: String(f.fee),
    transferId: String(f.transferId),
    keyId: Buffer.from(f.keyId).toString('hex'),
  };
  write(values.json ? `${JSON.stringify(summary)}\n` : `receipt valid: program ${summary.programHash}, fuel ${summary.fuelUsed}, fee ${summary.fee}, transfer ${summary.transferId}, signed by key ${summary.keyId}\n`);
  return 0;
}
