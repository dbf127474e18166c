// Caesar's owner tag of a service (docs/caesar-api.md, "Authorization"): the first 16 bytes of
// SHA-256("caesar owner v1\0" || service), bit 127 cleared (0 becomes 1). Catalog debits payers'
// accounts as a Caesar operator, so it must itself check that the payer is the caller's: an
// account is the caller's when its user_data_128 is the caller's tag. Restated here from the
// documented definition because apps do not import one another; a test pins it to known values.
import { createHash } from 'node:crypto';

const OWNER_CONTEXT = Buffer.from('caesar owner v1\0', 'latin1');
const BIT_127 = 1n << 127n;

export function ownerTag(service: string): bigint {
  const h = createHash('sha256').update(OWNER_CONTEXT).update(service, 'utf8').digest();
  const tag = ((h.readBigUInt64BE(0) << 64n) | h.readBigUInt64BE(8)) & ~BIT_127;
  return tag === 0n ? 1n : tag;
}
