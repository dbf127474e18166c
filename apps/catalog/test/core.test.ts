// The pure parts: Caesar owner tags, the billing plan, transfer ids, rate limits, u128/u64.
import { maxFee, PENDING, POST_PENDING, reservationTransfer, settlementTransfer, transferIdFrom, VOID_PENDING, voidTransfer } from '../src/core/billing';
import { inputHash } from '@stoq/catalog-receipt';
import { createHash } from 'node:crypto';
import { caesar } from '@stoq/protos';
import { attemptToStart, attemptTransferIds, closedAttempt } from '../src/core/request-attempts';
import { ownerTag } from '../src/core/owner-tag';
import { RateLimiter } from '../src/core/rate-limiter';
import { parseU128, u128Bytes, u128FromBytes } from '../src/core/u128';
import { fromU64, toU64 } from '@stoq/catalog-receipt';
import { CatalogError, rpcErrorOf } from '../src/errors';
import { RpcError, Status } from '@stoq/rpc';

const cfg = { ledger: 1, code: 700, feeAccountId: 700_000_001n, pricePerFuel: 3n, reservationTimeoutSeconds: 70 };

test('owner tags follow docs/caesar-api.md: SHA-256("caesar owner v1\\0" || service), bit 127 clear', () => {
  // Pinned: Caesar computes the same (apps/caesar/src/service/access-policy.ts).
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const h = createHash('sha256').update(Buffer.concat([Buffer.from('caesar owner v1\0', 'latin1'), Buffer.from('node')])).digest();
  const expected = BigInt(`0x${h.subarray(0, 16).toString('hex')}`) & ((1n << 127n) - 1n);
  expect(ownerTag('node')).toBe(expected);
  expect(ownerTag('node')).not.toBe(ownerTag('admin'));
  expect(ownerTag('catalog') < 1n << 127n).toBe(true);
});

test('the reservation holds fuel_limit × price; the settlement posts the fee or voids when it is 0', () => {
  expect(reservationTransfer(5n, 100n, 1000n, cfg)).toEqual({ id: '5', debitAccountId: '100', creditAccountId: '700000001', amount: '3000', ledger: 1, code: 700, flags: PENDING, timeout: 70 });
  expect(settlementTransfer(6n, 5n, 21n)).toEqual({ id: '6', pendingId: '5', amount: '21', flags: POST_PENDING });
  expect(settlementTransfer(6n, 5n, 0n)).toEqual({ id: '6', pendingId: '5', flags: VOID_PENDING });
  expect(voidTransfer(7n, 5n)).toEqual({ id: '7', pendingId: '5', flags: VOID_PENDING });
  expect(() => maxFee(1n << 100n, { ...cfg, pricePerFuel: 1n << 60n })).toThrow(CatalogError);
});

test('transfer ids are never 0 and never have bit 127 (Caesar\'s) set', () => {
  expect(transferIdFrom(Buffer.alloc(16))).toBe(1n);
  const max = transferIdFrom(Buffer.alloc(16, 0xff));
  expect(max).toBe((1n << 126n) - 1n);
});

test('the rate limiter allows a burst, then the rate, per caller', () => {
  const rl = new RateLimiter({ perSecond: 10, burst: 3 });
  expect([rl.take('a', 0), rl.take('a', 0), rl.take('a', 0), rl.take('a', 0)]).toEqual([true, true, true, false]);
  expect(rl.take('b', 0)).toBe(true);
  expect(rl.take('a', 50)).toBe(false);
  expect(rl.take('a', 100)).toBe(true);
  expect(rl.take('a', 100)).toBe(false);
  rl.take('c', 200_000);
  expect(rl.size).toBe(1); // idle buckets are swept
});

test('u128 and u64 helpers', () => {
  expect(parseU128('340282366920938463463374607431768211455', 'x')).toBe((1n << 128n) - 1n);
  expect(() => parseU128('340282366920938463463374607431768211456', 'x')).toThrow(/above 2\^128-1/);
  expect(() => parseU128('-1', 'payer')).toThrow(/payer: expected a u128/);
  expect(u128FromBytes(u128Bytes((1n << 127n) + 5n))).toBe((1n << 127n) + 5n);
  expect(fromU64(toU64(1_765_000_000_123_456_789n))).toBe(1_765_000_000_123_456_789n);
});

test('errors map to stable statuses with the code in the message', () => {
  const e = rpcErrorOf(new CatalogError('NOT_PAYERS_OWNER', 'x')) as RpcError;
  expect([e.code, e.message]).toEqual([Status.PERMISSION_DENIED, 'NOT_PAYERS_OWNER: x']);
  const engine = rpcErrorOf(Object.assign(new Error('full'), { code: 'POOL_FULL' })) as RpcError;
  expect(engine.code).toBe(Status.RESOURCE_EXHAUSTED);
  const other = new Error('plain');
  expect(rpcErrorOf(other)).toBe(other);
});

test('idempotent runs: transfer ids derive from the request key and the attempt (stable, distinct per role, key and attempt)', () => {
  const key = Buffer.alloc(32, 7);
  const a = attemptTransferIds(key, 1);
  expect(attemptTransferIds(Buffer.from(key), 1)).toEqual(a);
  expect(new Set([a.reserve, a.settle, a.release]).size).toBe(3);
  expect(attemptTransferIds(Buffer.alloc(32, 8), 1).reserve).not.toBe(a.reserve);
  const ids = [1, 2, 3, 1000].flatMap((n) => Object.values(attemptTransferIds(key, n)));
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) expect(id > 0n && id < 1n << 127n).toBe(true);
  // attempt 1 keeps the single-attempt derivation (a request reserved before attempts were numbered)
  const v1 = transferIdFrom(createHash('sha256').update('catalog transfer v1\0reserve\0').update(key).digest().subarray(0, 16));
  expect(a.reserve).toBe(v1);
  expect(() => attemptTransferIds(key, 0)).toThrow(RangeError);
});

test('closing an earlier attempt: Caesar\'s answer to its void says whether it was charged', () => {
  const R = caesar.CreateTransferResult;
  for (const r of [R.CREATE_TRANSFER_OK, R.CREATE_TRANSFER_EXISTS, R.CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED, R.CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED]) expect(closedAttempt(r)).toBe('uncharged');
  expect(closedAttempt(R.CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND)).toBe('unused');
  expect(closedAttempt(R.CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED)).toBe('charged');
  expect(closedAttempt(R.CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_PENDING_ID)).toBe('refused');
  expect(attemptToStart(0, null)).toBe(1);
  expect(attemptToStart(3, 'uncharged')).toBe(4);
  // An attempt that never reserved is started again under its own number: the counter moves
  // only past attempts that hold a reservation, so attempt 1 holds one once anything was charged.
  expect(attemptToStart(1, 'unused')).toBe(1);
  expect(attemptToStart(3, 'unused')).toBe(3);
  expect(() => attemptToStart(2, null)).toThrow(/must be closed/);
});

test('a JavaScript run\'s input hash pins the QuickJS runtime; a wasm run\'s is unchanged', () => {
  const base = { exportName: '', args: [], argv: [], stdin: Buffer.alloc(0), seed: Buffer.alloc(32), clockStartNs: 1n, fuelLimit: 10n, memoryLimitBytes: 1n << 20n };
  const plain = inputHash(base);
  expect(inputHash({ ...base, runtimeHash: Buffer.alloc(32, 1) })).not.toEqual(plain);
  expect(inputHash({ ...base, runtimeHash: Buffer.alloc(32, 1) })).not.toEqual(inputHash({ ...base, runtimeHash: Buffer.alloc(32, 2) }));
  expect(inputHash({ ...base })).toEqual(plain);
});
