// Staking as ledger transfers (stake, unstake into a locked pending transfer, withdraw after the
// unbonding period) and stake attestations signed and verified with real Ed25519 keys
// (node:crypto) through the injected signer/verifier interfaces (FALCON in production).
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import {
  AccountFlags,
  type AttestationSigner,
  type AttestationVerifier,
  decodeStakeAttestation,
  encodeStakeAttestation,
  issueStakeAttestation,
  Ledger,
  LedgerError,
  MAX_ATTESTATION_BYTES,
  stakeAccountId,
  stakeAccountInput,
  stakeEvent,
  stakeOf,
  type StakingConfig,
  type TransferInput,
  unstakeEvent,
  verifyStakeAttestation,
  withdrawEvent,
} from '../src';

const SECOND = 1_000_000_000n;
const T0 = 1_700_000_000_000_000_000n;
const config: StakingConfig = { ledger: 1, stakeAccountCode: 10, stakeCode: 11, unbondingCode: 12, unbondingPeriodNs: 3600n * SECOND };
const VALIDATOR = 7n;

function event(e: TransferInput | string): TransferInput {
  if (typeof e === 'string') throw new Error(`expected an event, got ${e}`);
  return e;
}

function setup(): Ledger {
  const ledger = new Ledger();
  expect(
    ledger.createAccounts(
      [
        { id: 100n, ledger: 1, code: 1, flags: AccountFlags.mint },
        { id: VALIDATOR, ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits },
        stakeAccountInput(VALIDATOR, config),
      ],
      T0,
    ).results,
  ).toEqual(['ok', 'ok', 'ok']);
  expect(ledger.createTransfers([{ id: 1n, debitAccountId: 100n, creditAccountId: VALIDATOR, amount: 1000n, ledger: 1, code: 1 }], T0).results).toEqual(['ok']);
  return ledger;
}

class Ed25519Keys implements AttestationSigner, AttestationVerifier {
  readonly keyId = Buffer.from('caesar-test-key-1');
  private readonly keys = generateKeyPairSync('ed25519');
  private readonly publicKey: KeyObject = this.keys.publicKey;
  sign(message: Uint8Array): Uint8Array {
    return sign(null, message, this.keys.privateKey);
  }
  knowsKey(keyId: Uint8Array): boolean {
    return Buffer.from(keyId).equals(this.keyId);
  }
  verify(_keyId: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return verify(null, message, this.publicKey, signature);
  }
}

describe('staking', () => {
  test('stake, unstake into locked funds, withdraw only after the unbonding period', () => {
    const ledger = setup();
    expect(ledger.createTransfers([event(stakeEvent(VALIDATOR, 600n, 2n, config))], T0).results).toEqual(['ok']);
    expect(stakeOf(ledger, VALIDATOR)).toEqual({ bonded: 600n, unbonding: 0n, total: 600n });
    expect(stakeEvent(VALIDATOR, 0n, 3n, config)).toBe('amount_must_not_be_zero');
    // Staking more than the liquid balance is the ledger's exceeds_credits.
    expect(ledger.createTransfers([event(stakeEvent(VALIDATOR, 401n, 3n, config))], T0).results).toEqual(['exceeds_credits']);

    expect(unstakeEvent(ledger, VALIDATOR, 601n, 4n, config)).toBe('exceeds_bonded_stake');
    expect(ledger.createTransfers([event(unstakeEvent(ledger, VALIDATOR, 250n, 4n, config))], T0 + SECOND).results).toEqual(['ok']);
    expect(stakeOf(ledger, VALIDATOR)).toEqual({ bonded: 350n, unbonding: 250n, total: 600n });
    expect(unstakeEvent(ledger, VALIDATOR, 351n, 5n, config)).toBe('exceeds_bonded_stake');
    expect(ledger.lookupAccount(VALIDATOR)!.creditsPending).toBe(250n); // on its way back, not spendable:
    expect(ledger.createTransfers([event(stakeEvent(VALIDATOR, 401n, 6n, config))], T0 + SECOND).results).toEqual(['exceeds_credits']);

    const unbonding = ledger.lookupTransfer(4n)!;
    const endsAt = unbonding.timestamp + config.unbondingPeriodNs;
    expect(withdrawEvent(unbonding, 7n, endsAt - 1n, config)).toBe('unbonding_not_finished');
    expect(withdrawEvent(ledger.lookupTransfer(2n)!, 7n, endsAt, config)).toBe('not_an_unbonding_transfer');
    expect(ledger.createTransfers([event(withdrawEvent(unbonding, 7n, endsAt, config))], endsAt).results).toEqual(['ok']);
    expect(stakeOf(ledger, VALIDATOR)).toEqual({ bonded: 350n, unbonding: 0n, total: 350n });
    expect(ledger.lookupAccount(VALIDATOR)).toMatchObject({ creditsPosted: 1250n, debitsPosted: 600n, creditsPending: 0n });
    ledger.verifyInvariants();
  });

  test('stake accounts live in the reserved id range', () => {
    expect(stakeAccountId(VALIDATOR)).toBe(VALIDATOR | (1n << 127n));
    expect(stakeEvent(1n << 127n, 5n, 1n, config)).toBe('reserved_account_id');
    expect(() => stakeAccountId(0n)).toThrow(LedgerError);
    expect(stakeOf(new Ledger(), VALIDATOR)).toEqual({ bonded: 0n, unbonding: 0n, total: 0n });
  });
});

describe('stake attestations', () => {
  const keys = new Ed25519Keys();
  const validity = 600n * SECOND;
  const options = { ledger: 1, maxValidityNs: config.unbondingPeriodNs };

  function staked(): Ledger {
    const ledger = setup();
    expect(ledger.createTransfers([event(stakeEvent(VALIDATOR, 600n, 2n, config))], T0).results).toEqual(['ok']);
    expect(ledger.createTransfers([event(unstakeEvent(ledger, VALIDATOR, 100n, 3n, config))], T0).results).toEqual(['ok']);
    return ledger;
  }

  test('issue, encode, decode and verify offline; the bonded stake is what is attested', () => {
    const ledger = staked();
    const a = issueStakeAttestation(ledger, { account: VALIDATOR, now: T0, validityNs: validity }, config, keys);
    expect(a).toMatchObject({ ledger: 1, account: VALIDATOR, stakedAmount: 500n, validFrom: T0, validUntil: T0 + validity });
    const bytes = encodeStakeAttestation(a);
    expect(bytes.length).toBeLessThanOrEqual(MAX_ATTESTATION_BYTES);
    const decoded = decodeStakeAttestation(bytes);
    expect(decoded).toEqual(a);
    expect(verifyStakeAttestation(decoded, keys, { ...options, now: T0 + 1n })).toBe('ok');
    expect(verifyStakeAttestation(decoded, keys, { ...options, now: T0 + 1n, minStake: 501n })).toBe('insufficient_stake');
  });

  test('forged, expired, early, foreign-key, wrong-ledger, too-long and revoked attestations fail', () => {
    const ledger = staked();
    const a = issueStakeAttestation(ledger, { account: VALIDATOR, now: T0, validityNs: validity }, config, keys);
    const now = T0 + 10n * SECOND;
    expect(verifyStakeAttestation({ ...a, stakedAmount: 5000n }, keys, { ...options, now })).toBe('bad_signature');
    expect(verifyStakeAttestation({ ...a, account: 8n }, keys, { ...options, now })).toBe('bad_signature');
    expect(verifyStakeAttestation({ ...a, validUntil: a.validUntil + SECOND }, keys, { ...options, now })).toBe('bad_signature');
    const flipped = Uint8Array.from(a.signature);
    flipped[3]! ^= 1;
    expect(verifyStakeAttestation({ ...a, signature: flipped }, keys, { ...options, now })).toBe('bad_signature');
    expect(verifyStakeAttestation(a, keys, { ...options, now: a.validUntil })).toBe('expired');
    expect(verifyStakeAttestation(a, keys, { ...options, now: T0 - 1n })).toBe('not_yet_valid');
    expect(verifyStakeAttestation({ ...a, keyId: Buffer.from('other') }, keys, { ...options, now })).toBe('unknown_key');
    const stranger = new Ed25519Keys();
    const forged = issueStakeAttestation(ledger, { account: VALIDATOR, now: T0, validityNs: validity }, config, stranger);
    expect(verifyStakeAttestation(forged, keys, { ...options, now })).toBe('bad_signature'); // same key id, other key
    expect(verifyStakeAttestation(a, keys, { ...options, now, ledger: 2 })).toBe('wrong_ledger');
    expect(verifyStakeAttestation(a, keys, { ...options, now, maxValidityNs: validity - 1n })).toBe('validity_too_long');
    expect(verifyStakeAttestation(a, keys, { ...options, now, isRevoked: (x) => x.account === VALIDATOR })).toBe('revoked');
    expect(verifyStakeAttestation({ ...a, signature: new Uint8Array(0) }, keys, { ...options, now })).toBe('malformed');
    expect(verifyStakeAttestation({ ...a, account: -1n }, keys, { ...options, now })).toBe('malformed');
  });

  test('issuing refuses validity past the unbonding period and accounts without stake', () => {
    const ledger = staked();
    expect(() => issueStakeAttestation(ledger, { account: VALIDATOR, now: T0, validityNs: config.unbondingPeriodNs + 1n }, config, keys)).toThrow(/unbonding period/);
    expect(() => issueStakeAttestation(ledger, { account: 9n, now: T0, validityNs: validity }, config, keys)).toThrow(/no bonded stake/);
  });

  test('flipping any bit of an encoded attestation makes it undecodable or unverifiable', () => {
    const ledger = staked();
    const bytes = Buffer.from(encodeStakeAttestation(issueStakeAttestation(ledger, { account: VALIDATOR, now: T0, validityNs: validity }, config, keys)));
    fc.assert(
      fc.property(fc.nat({ max: bytes.length * 8 - 1 }), (bit) => {
        const mutated = Buffer.from(bytes);
        mutated[bit >> 3]! ^= 1 << (bit & 7);
        let verdict: string;
        try {
          verdict = verifyStakeAttestation(decodeStakeAttestation(mutated), keys, { ...options, now: T0 + 1n });
        } catch (err) {
          expect(err).toBeInstanceOf(LedgerError);
          return;
        }
        expect(verdict).not.toBe('ok');
      }),
      { numRuns: 300 },
    );
  });

  test('the decoder refuses anything but one well-formed attestation, with size limits', () => {
    const ledger = staked();
    const bytes = Buffer.from(encodeStakeAttestation(issueStakeAttestation(ledger, { account: VALIDATOR, now: T0, validityNs: validity }, config, keys)));
    const refuses = (b: Uint8Array): void => expect(() => decodeStakeAttestation(b)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    refuses(Buffer.alloc(0));
    refuses(bytes.subarray(0, bytes.length - 1));
    refuses(Buffer.concat([bytes, Buffer.from([0])]));
    refuses(Buffer.alloc(MAX_ATTESTATION_BYTES + 1));
    const badMagic = Buffer.from(bytes);
    badMagic[0] = 0;
    refuses(badMagic);
    const badKeyLen = Buffer.from(bytes);
    badKeyLen[60] = 0;
    refuses(badKeyLen);
    const hugeSig = Buffer.from(bytes);
    hugeSig.writeUInt16BE(5000, 60 + 1 + bytes[60]!);
    refuses(hugeSig);
  });
});
