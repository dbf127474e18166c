// caesar/stake, unstake, stake_of, attest_stake, reward_block and slash over real STOQ. Blocks,
// QCs and equivocation evidence are HyperMesh's own (libs/consensus encodings, FALCON-1024
// signatures of a 4-validator genesis); without a genesis (the default) both are refused, never
// taken on trust.
import { computeBlockHash, encodeCommittedBlock, parseGenesis, voteSigningBytes, type Block, type QuorumCertificate } from '@stoq/consensus';
import { nativeFalcon } from '@stoq/core';
import { decodePoStakeProof, resolveParams, verifyPoStake } from '@stoq/four-proof';
import { caesar as proto } from '@stoq/protos';
import { Status, type RpcClient } from '@stoq/rpc';
import { decodeStakeAttestation, verifyStakeAttestation } from '../../src/core/attestation';
import { CREATE_TRANSFER_RESULTS } from '../../src/core/results';
import { AccountFlags } from '../../src/core/types';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { GenesisVerifier } from '../../src/service/proof-verifiers';
import { parseU64 } from '../../src/service/wire-integers';
import { BURN, LEDGER, MINT, UNBONDING_NS, economics, inStore, startHarness, type Harness } from './harness';
import { ledgerBackends } from '../helpers/ledger-backends';

const M = proto.CaesarMethods;

// Four genesis validators (FALCON-1024), staked by Caesar accounts 31..34; a fifth instance
// signs nothing of the genesis. The operator maps instances to accounts (--validator-account).
const keys = [0, 1, 2, 3].map(() => nativeFalcon.keypair());
const genesis = parseGenesis({
  format: 'hypermesh-genesis/1',
  chainId: 'caesar-test',
  validators: keys.map((k, id) => ({ id, instance: `hypermesh-${id + 1}`, falconPublicKey: Buffer.from(k.publicKey).toString('base64'), weight: 1 })),
});
const validators = [31n, 32n, 33n, 34n].map((account, id) => ({ account, id }));
const accounts = new Map(validators.map((v) => [`hypermesh-${v.id + 1}`, v.account]));
const zeroQc: QuorumCertificate = { view: 0, height: 0, blockHash: '00'.repeat(32), signatures: [] };

/** A committed block at `height` whose QC the given validators signed (encodeCommittedBlock bytes). */
function committedBlock(height: number, signers: number[], payload: Uint8Array[] = [Uint8Array.of(height)]): Uint8Array {
  const set = genesis.validatorSet;
  const block: Block = { height, view: height + 1, proposer: set.leader(height + 1), parentHash: zeroQc.blockHash, justify: zeroQc, payload };
  const hash = computeBlockHash(set.chainTag, block);
  const message = voteSigningBytes(set.chainTag, block.view, height, hash);
  const qc: QuorumCertificate = { view: block.view, height, blockHash: hash, signatures: signers.map((id) => ({ validator: id, signature: nativeFalcon.sign(keys[id]!.secretKey, message) })) };
  return encodeCommittedBlock({ block, hash, qc });
}

/** A signed vote statement of validator `id` for (view, height, hash). */
function voteOf(id: number, view: number, height: number, hash: string): proto.SignedStatement {
  return { height, blockHash: hash, signature: nativeFalcon.sign(keys[id]!.secretKey, voteSigningBytes(genesis.validatorSet.chainTag, view, height, hash)) };
}

const backends = ledgerBackends();

// Every method against each store (SQLite, and PostgreSQL when installed).
describe.each(backends.all)('$name store', (backend) => {
  let h: Harness;
  let admin: RpcClient;
  let hypermesh: RpcClient;
  const owners: RpcClient[] = [];

  beforeAll(async () => {
    h = await startHarness({ ...inStore(backend), verifier: new GenesisVerifier({ genesis: () => genesis, accounts }, falconSignatureVerifier(nativeFalcon)) });
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

  test('reward_block: only hypermesh, only a committed block whose QC the genesis validators signed, a block never rewarded twice', async () => {
    const good = committedBlock(7, [0, 1, 2]);
    await expect(owners[0]!.call(M.rewardBlock, { committedBlock: good })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    // Two of four is no quorum; a block whose bytes were changed is not the block the QC certifies.
    await expect(hypermesh.call(M.rewardBlock, { committedBlock: committedBlock(8, [0, 1]) })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('committed_block') });
    const tampered = Uint8Array.from(good);
    tampered[20] ^= 1;
    await expect(hypermesh.call(M.rewardBlock, { committedBlock: tampered })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
    await expect(hypermesh.call(M.rewardBlock, { committedBlock: Uint8Array.of(1, 2, 3) })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('MALFORMED') });
    await expect(hypermesh.call(M.rewardBlock, {})).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('committed_block') });
    const before = await admin.call(M.supply, { ledger: LEDGER });
    const r = await hypermesh.call(M.rewardBlock, { committedBlock: good });
    expect(r.outcome).toBe(proto.RewardOutcome.REWARD_APPLIED);
    // 900 split by bonded stake 500 : 500 : 500 among the QC's signers.
    expect(r.payouts).toEqual([{ accountId: '31', amount: '300' }, { accountId: '32', amount: '300' }, { accountId: '33', amount: '300' }]);
    expect((await hypermesh.call(M.rewardBlock, { committedBlock: good })).outcome).toBe(proto.RewardOutcome.REWARD_ALREADY_APPLIED);
    const after = await admin.call(M.supply, { ledger: LEDGER });
    expect(BigInt(after.minted!) - BigInt(before.minted!)).toBe(900n);
  });

  test('slash: evidence verified from the signatures alone, burns once per offence', async () => {
    const v = validators[3]!;
    const hashA = '0a'.repeat(32);
    const hashB = '0b'.repeat(32);
    const evidence = { kind: 'vote', validator: v.id, view: 2, first: voteOf(v.id, 2, 11, hashA), second: voteOf(v.id, 2, 11, hashB) };
    // The second statement signed by someone else (framing): refused, nothing burnt.
    const framed = { ...evidence, second: voteOf(0, 2, 11, hashB) };
    await expect(owners[0]!.call(M.slash, { evidence: framed })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('BAD_SIGNATURE') });
    await expect(owners[0]!.call(M.slash, { evidence: { ...evidence, second: evidence.first } })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
    await expect(owners[0]!.call(M.slash, { evidence: { ...evidence, kind: 'gossip' } })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, message: expect.stringContaining('evidence.kind') });
    const r = await owners[0]!.call(M.slash, { evidence });
    expect(r).toMatchObject({ outcome: proto.SlashOutcome.SLASH_APPLIED, burnt: '50' });
    // The same offence, statements swapped or re-signed, is the same offence.
    expect(await owners[1]!.call(M.slash, { evidence: { ...evidence, first: evidence.second, second: evidence.first } })).toMatchObject({ outcome: proto.SlashOutcome.SLASH_ALREADY_APPLIED, burnt: '0' });
    expect(await owners[1]!.call(M.slash, { evidence: { ...evidence, second: voteOf(v.id, 2, 11, '0c'.repeat(32)) } })).toMatchObject({ outcome: proto.SlashOutcome.SLASH_ALREADY_APPLIED });
    expect(await admin.call(M.stakeOf, { ownerAccountId: String(v.account) })).toMatchObject({ total: '450' });
    expect(await admin.call(M.supply, { ledger: LEDGER })).toMatchObject({ burnt: '50' });
    expect((r.results ?? []).map((n) => CREATE_TRANSFER_RESULTS[n])).toEqual(['ok']);
  });

  test('without a genesis, reward_block and slash are refused (FAILED_PRECONDITION), nothing moves', async () => {
    const bare = await startHarness(inStore(backend));
    try {
      const hm = await bare.client('hypermesh');
      await expect(hm.call(M.rewardBlock, { committedBlock: committedBlock(1, [0, 1, 2]) })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION, message: expect.stringContaining('genesis') });
      await expect(hm.call(M.slash, { evidence: { kind: 'vote', validator: 0, view: 1, first: voteOf(0, 1, 1, '0a'.repeat(32)), second: voteOf(0, 1, 1, '0b'.repeat(32)) } })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION });
    } finally {
      await bare.close();
    }
  });
});
