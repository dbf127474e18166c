// Join tokens: one-time secrets that let a genesis-set service enroll. Only the SHA-256 of a
// token is stored, so a copy of the database does not enroll anyone. Pure: times are passed in.
import { createHash, randomBytes } from 'node:crypto';
import { TrustChainError } from './errors';

/** Tokens look like `stoqjt_<43 base64url chars>` (32 random bytes). */
export const TOKEN_PREFIX = 'stoqjt_';
export const DEFAULT_TOKEN_TTL_S = 3600;
export const MAX_TOKEN_TTL_S = 7 * 24 * 3600;
const TOKEN_RE = /^stoqjt_[A-Za-z0-9_-]{43}$/;

export interface TokenRecord {
  readonly hash: string;
  readonly service: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function checkTtl(ttlSeconds: number | undefined): number {
  const ttl = ttlSeconds === undefined || ttlSeconds === 0 ? DEFAULT_TOKEN_TTL_S : ttlSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_S) {
    throw new TrustChainError('INVALID_ARGUMENT', `token ttl ${ttlSeconds} s is out of range: give 1 .. ${MAX_TOKEN_TTL_S} seconds (7 days)`);
  }
  return ttl;
}

/** The token's hash if it is well formed; otherwise a TOKEN_UNKNOWN error (never echoing it). */
export function tokenHashOf(token: string): string {
  if (typeof token !== 'string' || !TOKEN_RE.test(token)) {
    throw new TrustChainError('TOKEN_UNKNOWN', `the join token is not a TrustChain token (expected ${TOKEN_PREFIX} followed by 43 characters); mint one with \`trustchain token create --service <name>\``);
  }
  return hashToken(token);
}

/** Throws unless `record` is a token that can still be used at `now` (known, unused, unexpired). */
export function checkTokenUsable(record: TokenRecord | undefined, now: number): TokenRecord {
  if (!record) throw new TrustChainError('TOKEN_UNKNOWN', 'the join token is unknown to this TrustChain (minted by another CA, or mistyped); mint one with `trustchain token create`');
  if (record.usedAt !== null) {
    throw new TrustChainError('TOKEN_USED', `the join token was already used at ${new Date(record.usedAt).toISOString()}; tokens are single-use, mint a new one`);
  }
  if (now >= record.expiresAt) {
    throw new TrustChainError('TOKEN_EXPIRED', `the join token expired at ${new Date(record.expiresAt).toISOString()}; mint a new one`);
  }
  return record;
}

/**
 * The names of TrustChain's own administrator identity (`<data-dir>/admin`, which `trustchain
 * serve` issues itself). An admin token enrolls another administrator under another instance name,
 * so that each can be told apart in logs and revoked alone.
 */
export const OWN_ADMIN = { service: 'admin', instance: 'admin' } as const;

/** Throws unless the usable token `record` enrolls `service`, and `instance` is not TrustChain's own admin. */
export function checkTokenService(record: TokenRecord, service: string, instance: string): void {
  if (record.service !== service) {
    throw new TrustChainError('TOKEN_WRONG_SERVICE', `the join token enrolls service "${record.service}", but the CSR asks for service "${service}"`);
  }
  if (service === OWN_ADMIN.service && instance === OWN_ADMIN.instance) {
    throw new TrustChainError('NAME_NOT_ALLOWED', `instance "${OWN_ADMIN.instance}" is TrustChain's own administrator identity; enroll the admin token under another instance name (e.g. admin-cli)`);
  }
}

/**
 * Throws unless a token may be minted for `service`: never for "trustchain" (TrustChain's own
 * identity), and for "admin" only when asked for explicitly (`admin`), since an admin identity
 * may mint tokens, list and revoke any certificate, and administer every service.
 */
export function checkTokenTarget(service: string, admin: boolean): void {
  if (service === 'trustchain') throw new TrustChainError('INVALID_ARGUMENT', `"trustchain" is TrustChain's own identity; no token may enroll it`);
  if (service === OWN_ADMIN.service && !admin) {
    throw new TrustChainError('INVALID_ARGUMENT', 'a token for service "admin" enrolls an administrator (it may mint tokens, revoke any certificate and administer every service); ask for it explicitly: `trustchain token create --admin` (admin: true)');
  }
  if (admin && service !== OWN_ADMIN.service) throw new TrustChainError('INVALID_ARGUMENT', `admin: true mints a token for service "admin", not "${service}"`);
}
