// The wire format's integers and result codes: u128 decimal strings parsed strictly, u64 exact
// beyond 2^53, and the proto enums numbered exactly as the core's result lists.
import { caesar as proto } from '@stoq/protos';
import { Status } from '@stoq/rpc';
import { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS } from '../../src/core/results';
import { parseU128, parseU64, parseUint, toU64 } from '../../src/service/wire-integers';

test('proto result enums are the core lists, index for index', () => {
  CREATE_ACCOUNT_RESULTS.forEach((name, i) => expect(proto.CreateAccountResult[i]).toBe(`CREATE_ACCOUNT_${name.toUpperCase()}`));
  CREATE_TRANSFER_RESULTS.forEach((name, i) => expect(proto.CreateTransferResult[i]).toBe(`CREATE_TRANSFER_${name.toUpperCase()}`));
  expect(Object.keys(proto.CreateTransferResult).filter((k) => !/^\d+$/.test(k))).toHaveLength(CREATE_TRANSFER_RESULTS.length);
});

test('u128 decimal strings: digits only, up to 2^128 - 1; errors name the field', () => {
  expect(parseU128('', 'f')).toBe(0n);
  expect(parseU128('340282366920938463463374607431768211455', 'f')).toBe((1n << 128n) - 1n);
  for (const bad of ['340282366920938463463374607431768211456', '-1', '1.0', '1e3', ' 1', '0x10', '+1', '1'.repeat(40)]) {
    expect(() => parseU128(bad, 'transfers[2].amount')).toThrow(expect.objectContaining({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('transfers[2].amount') }));
  }
});

test('u64 round-trips exactly through protobuf', () => {
  const max = (1n << 64n) - 1n;
  for (const n of [0n, 1n, 2n ** 53n + 1n, 1_765_000_000_123_456_789n, max]) {
    const bytes = proto.TransferType.encode({ timestamp: toU64(n) }).finish();
    expect(parseU64(proto.TransferType.decode(bytes).toJSON()['timestamp'] as string, 't')).toBe(n);
    expect(parseU64((proto.TransferType.decode(bytes) as unknown as proto.Transfer).timestamp, 't')).toBe(n);
  }
  expect(() => parseUint(70_000, 'transfers[0].code', 16)).toThrow('transfers[0].code');
});
