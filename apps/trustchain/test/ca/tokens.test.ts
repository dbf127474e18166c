// Join tokens: their format, that only the hash is kept, TTL bounds, and the typed refusals a
// caller acts on (used, expired, another service, unknown).
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  DEFAULT_TOKEN_TTL_S,
  MAX_TOKEN_TTL_S,
  TOKEN_PREFIX,
  checkTokenService,
  checkTokenTarget,
  checkTokenUsable,
  checkTtl,
  hashToken,
  newToken,
  tokenHashOf,
  type TokenRecord,
} from '../../src/core/tokens';
import { tcError } from './support';

const NOW = Date.UTC(2030, 0, 1);

function record(overrides: Partial<TokenRecord> = {}): TokenRecord {
  return { hash: 'h', service: 'caesar', createdAt: NOW - 1000, expiresAt: NOW + 3600_000, usedAt: null, ...overrides };
}

describe('join token format', () => {
  it('is stoqjt_ followed by 43 base64url characters (32 random bytes), never repeating', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = newToken();
      expect(t).toMatch(/^stoqjt_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
      seen.add(t);
    }
    expect(seen.size).toBe(200);
  });

  it('is stored as its SHA-256 (hex), which does not contain the token', () => {
    const t = newToken();
    const h = tokenHashOf(t);
    expect(h).toBe(createHash('sha256').update(t).digest('hex'));
    expect(h).toBe(hashToken(t));
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toContain(t.slice(TOKEN_PREFIX.length));
  });

  it('refuses anything that is not a token as TOKEN_UNKNOWN without echoing it, and says how to mint one', async () => {
    const good = newToken();
    for (const bad of ['', good.slice(0, -1), `${good}A`, good.replace('stoqjt_', 'stoqjx_'), `${good.slice(0, -1)}=`, ` ${good}`]) {
      const e = await tcError(() => tokenHashOf(bad));
      expect(e.code).toBe('TOKEN_UNKNOWN');
      expect(e.message).toContain('trustchain token create');
      if (bad.length > 10) expect(e.message).not.toContain(bad.slice(7));
    }
  });

  it('accepts every well-formed token (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const t = TOKEN_PREFIX + Buffer.from(bytes).toString('base64url');
        expect(tokenHashOf(t)).toBe(hashToken(t));
      }),
    );
  });
});

describe('token TTL', () => {
  it('defaults to 1 h when not given (or 0, the protobuf default)', () => {
    expect(checkTtl(undefined)).toBe(DEFAULT_TOKEN_TTL_S);
    expect(checkTtl(0)).toBe(3600);
  });

  it('accepts 1 s .. 7 days', () => {
    expect(checkTtl(1)).toBe(1);
    expect(checkTtl(MAX_TOKEN_TTL_S)).toBe(7 * 24 * 3600);
  });

  it('refuses out-of-range or fractional TTLs with INVALID_ARGUMENT naming the range', async () => {
    for (const bad of [-1, MAX_TOKEN_TTL_S + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = await tcError(() => checkTtl(bad));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain(`1 .. ${MAX_TOKEN_TTL_S} seconds`);
    }
  });
});

describe('token checks', () => {
  it('passes a known, unused, unexpired token', () => {
    const r = record();
    expect(checkTokenUsable(r, NOW)).toBe(r);
    expect(() => checkTokenService(r, 'caesar', 'caesar-1')).not.toThrow();
  });

  it('refuses an unknown token with TOKEN_UNKNOWN', async () => {
    const e = await tcError(() => checkTokenUsable(undefined, NOW));
    expect(e.code).toBe('TOKEN_UNKNOWN');
    expect(e.message).toMatch(/mint one/);
  });

  it('refuses a used token with TOKEN_USED, saying when and to mint a new one', async () => {
    const e = await tcError(() => checkTokenUsable(record({ usedAt: NOW - 5000 }), NOW));
    expect(e.code).toBe('TOKEN_USED');
    expect(e.message).toContain(new Date(NOW - 5000).toISOString());
    expect(e.message).toMatch(/single-use, mint a new one/);
  });

  it('reports a used token as used even after it expired (the more useful reason)', async () => {
    expect((await tcError(() => checkTokenUsable(record({ usedAt: NOW - 5000, expiresAt: NOW - 1 }), NOW))).code).toBe('TOKEN_USED');
  });

  it('refuses a token from its expiry instant on with TOKEN_EXPIRED', async () => {
    const r = record({ expiresAt: NOW });
    expect(() => checkTokenUsable(r, NOW - 1)).not.toThrow();
    const e = await tcError(() => checkTokenUsable(r, NOW));
    expect(e.code).toBe('TOKEN_EXPIRED');
    expect(e.message).toContain(new Date(NOW).toISOString());
    expect(e.message).toMatch(/mint a new one/);
  });

  it('refuses a token for another service with TOKEN_WRONG_SERVICE naming both', async () => {
    const e = await tcError(() => checkTokenService(record({ service: 'caesar' }), 'catalog', 'catalog-1'));
    expect(e.code).toBe('TOKEN_WRONG_SERVICE');
    expect(e.message).toContain('"caesar"');
    expect(e.message).toContain('"catalog"');
  });

  it("lets an admin token enroll any instance but TrustChain's own admin", async () => {
    const admin = record({ service: 'admin' });
    expect(() => checkTokenService(admin, 'admin', 'admin-cli')).not.toThrow();
    const e = await tcError(() => checkTokenService(admin, 'admin', 'admin'));
    expect(e.code).toBe('NAME_NOT_ALLOWED');
    expect(e.message).toMatch(/another instance name/);
  });
});

describe('token targets', () => {
  it('never mints a token for TrustChain itself', async () => {
    for (const admin of [false, true]) expect((await tcError(() => checkTokenTarget('trustchain', admin))).code).toBe('INVALID_ARGUMENT');
  });

  it('mints an admin token only when asked for explicitly, and admin: true only for service admin', async () => {
    const e = await tcError(() => checkTokenTarget('admin', false));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/trustchain token create --admin/);
    expect(() => checkTokenTarget('admin', true)).not.toThrow();
    expect((await tcError(() => checkTokenTarget('caesar', true))).message).toMatch(/not "caesar"/);
    expect(() => checkTokenTarget('caesar', false)).not.toThrow();
  });
});
