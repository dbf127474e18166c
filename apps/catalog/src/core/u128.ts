// u128 as Caesar writes it on the wire: a decimal string, digits only, at most 39 digits.
import { U128_MAX } from '@stoq/catalog-receipt';
import { CatalogError } from '../errors';

export { U128_MAX, u128Bytes, u128FromBytes } from '@stoq/catalog-receipt';

export function parseU128(v: string | null | undefined, field: string): bigint {
  const s = v ?? '';
  if (s === '') return 0n;
  if (!/^[0-9]{1,39}$/.test(s)) throw new CatalogError('INVALID_ARGUMENT', `${field}: expected a u128 as a decimal string, got ${JSON.stringify(s.slice(0, 48))}`);
  const n = BigInt(s);
  if (n > U128_MAX) throw new CatalogError('INVALID_ARGUMENT', `${field}: ${s} is above 2^128-1`);
  return n;
}
