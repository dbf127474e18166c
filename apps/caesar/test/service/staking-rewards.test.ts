// caesar/stake, unstake, stake_of, attest_stake, reward_block and slash over real STOQ. QCs and
// equivocation evidence are signed with real Ed25519 keys (node:crypto) of an injected validator
// set; without a validator set (the default) both are refused, never taken on trust.
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { nativeFalcon } from '@stoq/core';
import { decodePoStakeProof, resolveParams, verifyPoStake } from '@stoq/four-proof';
import { caesar as proto } from '@stoq/protos';
import { Status, type RpcClient } from '@stoq/rpc';
import { decodeStakeAttestation, verifyStakeAttestation } from '../../src/core/attestation';
import { CREATE_TRANSFER_RESULTS } from '../../src/core/results';
import { AccountFlags } from '../../src/core/types';
import { ValidatorSetVerifier, voteSigningBytes, type Vote } from '../../src/service/proof-verifiers';
import { parseU64 } from '../../src/service/wire-integers';
import { BURN, LEDGER, MINT, UNBONDING_NS, economics, startHarness, type Harness } from './harness';

const M = proto.CaesarMethods;

interface Validator {
  readonly account: bigint;
  readonly key: KeyObject;
}
const validators: Validator[] = [31n, 32n, 33n, 34n].map((account) => ({ account, key: generateKeyPairSync('ed25519').privateKey }));
const ed25519 = { verify: (pub: Uint8Array, m: Uint8Array, s: Uint8Array) => verify(null, m, createPublicKey({ key: Buffer.from(pub), format: 'der', type: 'spki' }), s) };
const set = { keys: new Map(validators.map((v) => [v.account, new Uint8Array(createPublicKey(v.key).export({ format: 'der', type: 'spki' }))])), scheme: ed25519 };
const signVote = (v: Validator, vote: Vote): Uint8Array => new Uint8Array(sign(null, voteSigningBytes(vote), v.key));
const digest = (n: number): Uint8Array => new Uint8Array(32).fill(n);

let h: Harness;
let admin: RpcClient;
let hypermesh: RpcClient;
const owners: RpcClient[] = [];

const qc = (vote: Vote, signers: Validator[]): proto.QuorumCertificate => ({
  height: Number(vote.height), view: Number(vote.view), blockDigest: vote.blockDigest,
  signatures: signers.map((v) => ({ validatorAccountId: String(v.account), signature: signVote(v, vote) })),
});

beforeAll(async () => {
  h = await startHarness({ verifier: new ValidatorSetVerifier(set) });
  admin = await h.client('admin');
  hypermesh = await h.client('hypermesh');
  await admin.call(M.createAccounts, { accounts: [{ id: String(MINT), ledger: LEDGER, code: 1, flags: AccountFlags.mint }, { id: String(BURN), ledger: LEDGER, code: 1, flags: AccountFlags.burn }] });
  for (const v of validators) {
    const c = await h.client(`validator-${v.account}`);
    owners.push(c);
    await c.call(M.createAccounts, { accounts: [{ id: String(v.account), ledger: LEDGER, code: 1, flags: AccountFlags.debitsMustNotExceedCredits }] });
    await admin.call(M.createTransfers, { transfers: [{ id: String(v.account * 100n), debitAccountId: String(MINT), creditAccountId: String(v.account), amount: '1000', ledger: LEDGER, code: 1 }] });
  }
});

afterAll(async () => {
  await h.close();
});

test('stake, unstake (locked for the unbonding period), stake_of; only the owner may', async () => {
  const [c31, c32] = owners;
  const r = await c31!.call(M.stake, { ownerAccountId: '31', amount: '600', transferId: '3101' });
  expect(r).toMatchObject({ result: proto.StakingResult.STAKING_OK, stake: { bonded: '600', unbonding: '0', total: '600' } });
  // Resubmitted: the ledger's idempotency, nothing staked twice.
  expect(await c31!.call(M.stake, { ownerAccountId: '31', amount: '600', transferId: '3101' })).toMatchObject({ result: proto.StakingResult.STAKING_OK, transferResult: proto.CreateTransferResult.CREATE_TRANSFER_EXISTS, stake: { bonded: '600' } });
  await expect(c32!.call(M.stake, { ownerAccountId: '31', amount: '1', transferId: '3102' })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
  expect(await c31!.call(M.stake, { ownerAccountId: '31', amount: '5000', transferId: '3103' })).toMatchObject({ result: proto.StakingResult.STAKING_TRANSFER_FAILED, transferResult: proto.CreateTransferResult.CREATE_TRANSFER_EXCEEDS_CREDITS });
  const un = await c31!.call(M.unstake, { ownerAccountId: '31', amount: '100', transferId: '3104' });
  expect(un).toMatchObject({ result: proto.StakingResult.STAKING_OK, stake: { bonded: '500', unbonding: '100', total: '600' } });
  expect(parseU64(un.unbondingEndsAt, 'x')).toBeGreaterThan(0n);
  expect(await c31!.call(M.unstake, { ownerAccountId: '31', amount: '501', transferId: '3105' })).toMatchObject({ result: proto.StakingResult.STAKING_EXCEEDS_BONDED_STAKE });
  expect(await c31!.call(M.withdraw, { unbondingTransferId: '3104', transferId: '3106' })).toMatchObject({ result: proto.StakingResult.STAKING_UNBONDING_NOT_FINISHED });
  // Stake accounts are not reachable through create_transfers.
  const stakeAccount = (1n << 127n) | 31n;
  await expect(c31!.call(M.createTransfers, { transfers: [{ id: '3107', debitAccountId: String(stakeAccount), creditAccountId: '31', amount: '1', ledger: LEDGER, code: 1 }] })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
  expect(await c32!.call(M.stakeOf, { ownerAccountId: '31' })).toMatchObject({ bonded: '500', unbonding: '100', stakeAccountId: String(stakeAccount) });
  for (const [i, v] of validators.slice(1).entries()) await owners[i + 1]!.call(M.stake, { ownerAccountId: String(v.account), amount: '500', transferId: String(v.account * 100n + 1n) });
});

test('attest_stake: signed with Caesar\'s FALCON key, verifiable offline; no stake, no attestation', async () => {
  const a = await owners[1]!.call(M.attestStake, { ownerAccountId: '31', validitySeconds: 600 });
  const decoded = decodeStakeAttestation(a.encoded!);
  expect(decoded.stakedAmount).toBe(500n);
  const verifier = { knowsKey: () => true, verify: (_k: Uint8Array, m: Uint8Array, s: Uint8Array) => nativeFalcon.verify(h.caesarFalconPublicKey, m, s) };
  const now = BigInt(Date.now()) * 1_000_000n;
  const config = economics().staking;
  expect(verifyStakeAttestation(decoded, verifier, { now, ledger: LEDGER, maxValidityNs: config.unbondingPeriodNs, minStake: 500n })).toBe('ok');
  const forged = { ...decoded, stakedAmount: 5000n };
  expect(verifyStakeAttestation(forged, verifier, { now, ledger: LEDGER, maxValidityNs: config.unbondingPeriodNs, minStake: 1n })).toBe('bad_signature');
  await expect(owners[1]!.call(M.attestStake, { ownerAccountId: '999' })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION });
  await expect(owners[1]!.call(M.attestStake, { ownerAccountId: '31', validitySeconds: Number(UNBONDING_NS / 1_000_000_000n) + 1 })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('validity_seconds') });
});

test('attest_stake with a node id: a four-proof PoStake signed by Caesar\'s FALCON key, bound to the node; only the owner may bind', async () => {
  const nodeId = new Uint8Array(32).fill(9);
  const a = await owners[0]!.call(M.attestStake, { ownerAccountId: '31', validitySeconds: 600, nodeId });
  const stake = decodePoStakeProof(a.fourProofStake!);
  expect(stake).toMatchObject({ algorithm: 'falcon-1024', attestation: { account: '31', amount: 500n, nodeId } });
  expect(stake.attestation.expiresAtMs - stake.attestation.issuedAtMs).toBe(600_000);
  const key = { algorithm: 'falcon-1024' as const, publicKey: h.caesarFalconPublicKey };
  const context = { operation: 'hypermesh/assets/register', assetId: 'node:9', nodeId };
  const now = Date.now();
  expect(() => verifyPoStake(stake, context, { ledgerPublicKey: key, now, params: resolveParams({ minStake: 500n }) })).not.toThrow();
  expect(() => verifyPoStake(stake, { ...context, nodeId: new Uint8Array(32).fill(8) }, { ledgerPublicKey: key, now, params: resolveParams() })).toThrow(/OPERATION_MISMATCH/);
  // Without a node id nothing four-proof is signed; another service may not bind 31's stake.
  expect((await owners[0]!.call(M.attestStake, { ownerAccountId: '31' })).fourProofStake).toHaveLength(0);
  await expect(owners[1]!.call(M.attestStake, { ownerAccountId: '31', nodeId })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED, message: expect.stringContaining('bind') });
  await expect(owners[0]!.call(M.attestStake, { ownerAccountId: '31', nodeId: new Uint8Array(65) })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('node_id') });
});

test('reward_block: only hypermesh, only with a QC that verifies, a block never rewarded twice', async () => {
  const vote = { height: 7n, view: 9n, blockDigest: digest(7) };
  const good = qc(vote, validators.slice(0, 3));
  await expect(owners[0]!.call(M.rewardBlock, { qc: good })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
  // Two of four is no quorum; a signature over another block does not verify.
  await expect(hypermesh.call(M.rewardBlock, { qc: qc(vote, validators.slice(0, 2)) })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('two thirds') });
  const forged = { ...good, signatures: [...good.signatures!.slice(0, 2), { validatorAccountId: '33', signature: signVote(validators[2]!, { ...vote, blockDigest: digest(8) }) }] };
  await expect(hypermesh.call(M.rewardBlock, { qc: forged })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('signatures[2]') });
  const before = await admin.call(M.supply, { ledger: LEDGER });
  const r = await hypermesh.call(M.rewardBlock, { qc: good });
  expect(r.outcome).toBe(proto.RewardOutcome.REWARD_APPLIED);
  // 900 split by bonded stake 500 : 500 : 500.
  expect(r.payouts).toEqual([{ accountId: '31', amount: '300' }, { accountId: '32', amount: '300' }, { accountId: '33', amount: '300' }]);
  expect((await hypermesh.call(M.rewardBlock, { qc: good })).outcome).toBe(proto.RewardOutcome.REWARD_ALREADY_APPLIED);
  const after = await admin.call(M.supply, { ledger: LEDGER });
  expect(BigInt(after.minted!) - BigInt(before.minted!)).toBe(900n);
});

test('slash: evidence verified from the signatures alone, burns once per offence', async () => {
  const v = validators[3]!;
  const a = { height: 11n, view: 2n, blockDigest: digest(1) };
  const b = { height: 11n, view: 2n, blockDigest: digest(2) };
  const vote = (x: Vote, s: Uint8Array): proto.SignedVote => ({ height: Number(x.height), view: Number(x.view), blockDigest: x.blockDigest, signature: s });
  const evidence = { validatorAccountId: String(v.account), first: vote(a, signVote(v, a)), second: vote(b, signVote(v, b)) };
  // Signed by someone else: refused, nothing burnt.
  const framed = { ...evidence, second: vote(b, signVote(validators[0]!, b)) };
  await expect(owners[0]!.call(M.slash, { evidence: framed })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('second.signature') });
  await expect(owners[0]!.call(M.slash, { evidence: { ...evidence, second: evidence.first } })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
  const r = await owners[0]!.call(M.slash, { evidence });
  expect(r).toMatchObject({ outcome: proto.SlashOutcome.SLASH_APPLIED, burnt: '50' });
  // The same offence with the votes swapped is the same offence.
  expect(await owners[1]!.call(M.slash, { evidence: { ...evidence, first: evidence.second, second: evidence.first } })).toMatchObject({ outcome: proto.SlashOutcome.SLASH_ALREADY_APPLIED, burnt: '0' });
  expect(await admin.call(M.stakeOf, { ownerAccountId: String(v.account) })).toMatchObject({ total: '450' });
  expect(await admin.call(M.supply, { ledger: LEDGER })).toMatchObject({ burnt: '50' });
  expect((r.results ?? []).map((n) => CREATE_TRANSFER_RESULTS[n])).toEqual(['ok']);
});

test('without a validator set, reward_block and slash are refused (FAILED_PRECONDITION), nothing moves', async () => {
  const bare = await startHarness();
  try {
    const hm = await bare.client('hypermesh');
    const vote = { height: 1n, view: 1n, blockDigest: digest(3) };
    await expect(hm.call(M.rewardBlock, { qc: qc(vote, validators) })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION, message: expect.stringContaining('validator set') });
    await expect(hm.call(M.slash, { evidence: { validatorAccountId: '31', first: { height: 1, view: 1, blockDigest: digest(1), signature: new Uint8Array([1]) }, second: { height: 1, view: 1, blockDigest: digest(2), signature: new Uint8Array([1]) } } })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION });
    await expect(hm.call(M.rewardBlock, { qc: { ...qc(vote, validators), blockDigest: new Uint8Array(5) } })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('qc.block_digest') });
  } finally {
    await bare.close();
  }
});
