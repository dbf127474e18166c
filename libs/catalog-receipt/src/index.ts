// @stoq/catalog-receipt: what anyone needs to check a Catalog run's receipt — the receipt layout
// and signature check, the input/output digests, run outcomes, the `catalog run --json` format
// and the check of a saved answer. Catalog signs with it; `catalog verify-receipt` and
// `stoq verify-receipt` verify with it.
export { decodeReceipt, encodeReceipt, keyIdOf, RECEIPT_BYTES, RECEIPT_MAGIC, signReceipt, verifyReceipt } from './receipt';
export type { FalconVerify, ReceiptFields, ReceiptSigner, ReceiptVerdict, SignedReceipt } from './receipt';
export { inputHash, outputHash } from './run-digests';
export type { RunInput, RunOutput } from './run-digests';
export { RUN_OUTCOMES, outcomeName, outcomeNumber } from './outcome';
export type { RunOutcomeName } from './outcome';
export { checkExecuteResponse } from './check-response';
export { executeFromJson, executeJson } from './response-json';
export type { ExecuteJson, ReceiptJson } from './response-json';
export { fromU64, toU64 } from './u64';
export { U128_MAX, u128Bytes, u128FromBytes } from './u128-bytes';
export { SavedAnswerError, verifySavedAnswer } from './verify-answer';
