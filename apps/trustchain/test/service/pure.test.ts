// The service's pure parts: error → status mapping, reason codes, serials, the revocation list
// and CRL input, and the verdict rule.
import { Status } from '@stoq/rpc';
import { TrustChainError, type TrustChainErrorCode } from '../../src/core/errors';
import { ZoneError } from '../../src/dns/errors';
import { ERROR_CODE_METADATA, toRpcError, trustChainStatus } from '../../src/service/errors';
import { checkReason, crlInput, normalizeSerial, parseReason, unsignedRevocationList } from '../../src/service/revocations';
import { verdictOf } from '../../src/service/verdict';

const row = { serial: '0a', fingerprint: 'f'.repeat(64), service: 'caesar', instance: 'caesar-1', reason: 1, revokedAt: 1000, version: 3 };

describe('toRpcError', () => {
  it('maps codes to statuses, keeps the message and sends the code as metadata', () => {
    const e = toRpcError(new TrustChainError('TOKEN_USED', 'used'));
    expect([e.code, e.message, e.metadata[ERROR_CODE_METADATA]]).toEqual([Status.PERMISSION_DENIED, 'used', 'TOKEN_USED']);
    const cases: Array<[TrustChainErrorCode, Status]> = [
      ['CSR_REJECTED', Status.INVALID_ARGUMENT],
      ['CERTIFICATE_UNKNOWN', Status.NOT_FOUND],
      ['CERTIFICATE_EXPIRED', Status.FAILED_PRECONDITION],
      ['NO_VALIDATOR_SET', Status.FAILED_PRECONDITION],
      ['STATE_EXISTS', Status.ALREADY_EXISTS],
      ['STATE_DAMAGED', Status.INTERNAL],
    ];
    for (const [code, status] of cases) expect(trustChainStatus(code)).toBe(status);
    const z = toRpcError(new ZoneError('NAME_OF_OTHER_SERVICE', 'not yours', 'x'));
    expect([z.code, z.metadata[ERROR_CODE_METADATA]]).toEqual([Status.PERMISSION_DENIED, 'ZONE_NAME_OF_OTHER_SERVICE']);
    expect(toRpcError(new ZoneError('ZONE_FULL', 'full', 'x')).code).toBe(Status.RESOURCE_EXHAUSTED);
  });

  it('hides unexpected errors behind INTERNAL', () => {
    const e = toRpcError(new Error('secret path /etc/x'), undefined, 'trustchain/enroll');
    expect(e.code).toBe(Status.INTERNAL);
    expect(e.message).not.toMatch(/secret/);
  });
});

describe('reasons and serials', () => {
  it('accepts RFC 5280 reasons but 7, 8 and above 10', () => {
    for (const r of [0, 1, 2, 3, 4, 5, 6, 9, 10]) expect(checkReason(r)).toBe(r);
    for (const r of [7, 8, 11, -1, 1.5]) expect(() => checkReason(r)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(parseReason('key-compromise')).toBe(1);
    expect(parseReason('KEY_COMPROMISE')).toBe(1);
    expect(parseReason('4')).toBe(4);
    expect(parseReason('bogus')).toBeUndefined();
  });

  it('normalizes serials to even-length lowercase hex', () => {
    expect(normalizeSerial('AB:CD')).toBe('abcd');
    expect(normalizeSerial('abc')).toBe('0abc');
    expect(() => normalizeSerial('xyz')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => normalizeSerial('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('revocation list and CRL input', () => {
  it('carry the store rows and the version', () => {
    const list = unsignedRevocationList([row], 3, 5000);
    expect(list).toEqual({ version: 3, issuedAtMs: 5000, entries: [{ serial: '0a', fingerprint: row.fingerprint, reason: 1, revokedAtMs: 1000, service: 'caesar', instance: 'caesar-1' }] });
    const crl = crlInput([row], 3, 5000, { subjectDer: Uint8Array.of(0x30, 0) });
    expect(crl).toMatchObject({ crlNumber: 3, thisUpdate: 5000, nextUpdate: 5000 + 24 * 3600_000, entries: [{ serial: '0a', revokedAt: 1000, reason: 1 }] });
    expect(() => crlInput([{ ...row, reason: 7 }], 3, 5000, { subjectDer: Uint8Array.of(0x30, 0) })).toThrow(expect.objectContaining({ code: 'STATE_DAMAGED' }));
  });
});

describe('verdictOf', () => {
  it('is valid only when every check passed', () => {
    expect(verdictOf([{ check: 'validity', ok: true, detail: '' }]).valid).toBe(true);
    expect(verdictOf([{ check: 'validity', ok: true, detail: '' }, { check: 'revocation', ok: false, detail: '' }]).valid).toBe(false);
    expect(verdictOf([]).valid).toBe(false);
  });
});
