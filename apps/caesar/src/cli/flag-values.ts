// Values given on the command line.
import { U128_MAX } from '../core/integers';

/** A u128 written in decimal; throws `make(message)` otherwise. */
export function parseU128Flag<E extends Error>(v: string, flag: string, make: new (message: string) => E): bigint {
  if (!/^[0-9]{1,39}$/.test(v) || BigInt(v) > U128_MAX) throw new make(`${flag} must be a u128 in decimal (0..${U128_MAX}), got ${JSON.stringify(v)}`);
  return BigInt(v);
}
