// @stoq/caesar: Caesar's double-entry ledger. The pure core (Ledger) and its durable store
// (DurableLedger: SQLite WAL + synchronous=FULL with group commit).
export { InvariantViolationError, LedgerError } from './errors';
export type { InvariantName, LedgerErrorCode } from './errors';
export { MAX_BATCH_EVENTS } from './core/batch-input';
export { U128_MAX, U64_MAX } from './core/integers';
export { Ledger } from './core/ledger';
export type { BatchOutcome, LedgerOptions } from './core/ledger';
export { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS } from './core/results';
export type { CreateAccountResult, CreateTransferResult } from './core/results';
export { AccountFlags, TransferFlags } from './core/types';
export type { Account, AccountBalance, AccountInput, LedgerChanges, LedgerSnapshot, PendingStatus, PendingStatusChange, Transfer, TransferInput } from './core/types';
export { isReservedAccountId, stakeAccountId, stakeAccountInput, stakeEvent, stakeOf, unbondingEndsAt, unstakeEvent, withdrawEvent } from './core/staking';
export type { AccountReader, StakeOf, StakingConfig, StakingResult } from './core/staking';
export { decodeStakeAttestation, encodeStakeAttestation, issueStakeAttestation, MAX_ATTESTATION_BYTES, verifyStakeAttestation } from './core/attestation';
export type { AttestationSigner, AttestationVerdict, AttestationVerifier, IssueRequest, StakeAttestation, VerifyOptions } from './core/attestation';
export { derivedChainOutcome, derivedTransferId, isReservedTransferId } from './core/derived-ids';
export type { DerivedChainOutcome, DerivedIdPurpose } from './core/derived-ids';
export { proportionalShares, rewardEvents } from './core/rewards';
export type { Payout, RewardConfig } from './core/rewards';
export { slashEvents } from './core/slashing';
export type { SlashConfig, SlashPlan } from './core/slashing';
export { DurableLedger } from './store/durable-ledger';
export type { AdmissionCheck, DurableLedgerOptions, GroupCommitStats, LedgerClock, LedgerReader } from './store/durable-ledger';
export { APPLICATION_ID, LEDGER_FORMAT, SCHEMA_VERSION } from './store/ledger-database';
export type { AccountFilter, LedgerDatabaseOptions } from './store/ledger-database';
