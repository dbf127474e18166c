// @stoq/hypermesh: the validator process (bin/hypermesh.js runs main). Exported for tests.
export { main } from './main';
export { HyperMeshError, isHyperMeshError, type HyperMeshErrorCode } from './errors';
export { loadGenesis, parseGenesis, genesisToJson, type GenesisFile, type GenesisValidator, type LoadedGenesis } from './genesis';
export { ValidatorStore, STORE_FILE, STORE_FORMAT } from './store/validator-store';
export { EffectRunner, type EffectSinks } from './effect-runner';
export { encodeOperation, decodeOperation, parseOperation, operationContent, OPERATION_LIMITS, ASSET_KINDS, type AssetKind, type Operation, type OperationBody } from './operations';
export { ProofVerifier, type ProofVerifierConfig, type ProofVerdict, type ChainView } from './proofs/proof-verifier';
export { parseFourProofConfig, loadFourProofConfig, FOUR_PROOF_CONFIG_FORMAT } from './proofs/four-proof-config';
export { applyOperation, type AssetRecord, type OperationResult } from './app/apply';
export { serve, type ServeOptions } from './serve';
export type { ConsensusOutbox } from './validator';
export { RewardSchedule, backoffDelay, type RewardScheduleOptions, type ReportAnswer } from './caesar/reward-schedule';
