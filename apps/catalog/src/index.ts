// @stoq/catalog: sandboxed, metered WebAssembly execution paid for through Caesar. The pure parts
// (receipts, run digests, billing plans, rate limits) and the durable program store.
export { CatalogError, CATALOG_ERROR_CODES, rpcErrorOf } from './errors';
export type { CatalogErrorCode } from './errors';
export { decodeReceipt, encodeReceipt, keyIdOf, RECEIPT_BYTES, RECEIPT_MAGIC, signReceipt, verifyReceipt } from '@stoq/catalog-receipt';
export type { FalconVerify, ReceiptFields, ReceiptSigner, ReceiptVerdict, SignedReceipt } from '@stoq/catalog-receipt';
export { inputHash, outputHash } from '@stoq/catalog-receipt';
export type { RunInput, RunOutput } from '@stoq/catalog-receipt';
export { maxFee, reservationTransfer, settlementTransfer, transferIdFrom, voidTransfer } from './core/billing';
export type { BillingConfig } from './core/billing';
export { ownerTag } from './core/owner-tag';
export { RUN_OUTCOMES, outcomeName, outcomeNumber } from '@stoq/catalog-receipt';
export type { RunOutcomeName } from '@stoq/catalog-receipt';
export { RateLimiter } from './core/rate-limiter';
export type { RateLimit } from './core/rate-limiter';
export { programHash } from './core/program-hash';
export { ProgramStore } from './store/program-store';
export type { ExportRecord, ProgramRecord } from './store/program-store';
export { checkExecuteResponse } from '@stoq/catalog-receipt';
