/**
 * @stoq/four-proof — PoSpace (where), PoStake (who), PoWork (what/how) and PoTime (when):
 * generation, verification, canonical protobuf encoding and the combined proof hash.
 * Pure library: no sockets, no clock (time is passed in), no disk.
 */
export { FourProofError, type FourProofErrorCode } from './errors';
export type {
  FourProofSet,
  OperationContext,
  PoSpaceProof,
  PoStakeProof,
  PoTimeProof,
  PoWorkProof,
  SignatureAlgorithm,
  SpaceOpening,
  StakeAttestation,
  BlockAnchor,
} from './types';
export { DEFAULT_PARAMS, LIMITS, resolveParams, type FourProofParams } from './params';
export { operationHash } from './context';
export { parseIpv6, formatIpv6 } from './ipv6';

export { createPlot, Plot, type PlotOptions } from './plot';
export { generatePoSpace, verifyPoSpace, spaceSeed, challengeIndex, type GeneratePoSpaceInput } from './pospace';
export { deriveBlock } from './plot-generate';
export { leafHash, nodeHash, MerkleTree } from './merkle';

export {
  signStakeAttestation,
  signStakeAttestationWith,
  verifyPoStake,
  stakeAttestationSigningBytes,
  FALCON_PUBLIC_KEY_BYTES,
  type LedgerPublicKey,
  type FalconLedgerKey,
  type VerifyPoStakeOptions,
} from './postake';

export { generatePoWork, verifyPoWork, powChallenge, type GeneratePoWorkOptions } from './powork';
export { leadingZeroBits, powHash } from './pow-search';

export { generatePoTime, verifyPoTime, vdfInput, type GeneratePoTimeInput, type VerifyPoTimeOptions, type AnchorCheck } from './potime';
export { CERTIFICATE_OPERATION, certificateKeyBinding, certificateRequestContext, checkCertificateRequestContext } from './certificate-request';
export {
  wesolowskiProve,
  wesolowskiVerify,
  hashToGroup,
  challengePrime,
  canonicalElement,
  type VdfOutput,
  type VdfImplementations,
} from './vdf';
export { RSA2048_MODULUS, RSA2048_ELEMENT_BYTES } from './rsa2048';
export { hashToPrime, isProbablePrime, MILLER_RABIN_BASES, type HashToPrimeFn } from './primes';
export { vdfVerify, type VdfVerifyFn } from './vdf-verify';
export { modPow, modPowBigInt } from './modpow';

export { referenceHotPaths, nativeHotPaths, defaultHotPaths, type HotPaths } from './hot-paths';
export { createNativeHotPaths, loadNativeHotPaths, type NativeHotPathBindings } from './native-hot-paths';
export { powSearch, type PowSearchFn } from './pow-search';
export { vdfEvaluate, vdfProve, type VdfEvaluateFn, type VdfProveFn } from './vdf-evaluate';
export { plotGenerate, type PlotGenerateFn } from './plot-generate';
export { pospaceVerifyOpenings, type PoSpaceOpeningsFn } from './pospace-openings';

export { encodeFourProofSet, decodeFourProofSet, encodeStakeAttestation, encodePoStakeProof, decodePoStakeProof, MAX_STAKE_PROOF_BYTES, PROTO_PACKAGE, type DecodeOptions } from './codec';
export {
  generateFourProofSet,
  verifyFourProofSet,
  fourProofSetHash,
  FOUR_PROOF_SET_VERSION,
  type GenerateFourProofSetInput,
  type VerifyFourProofSetOptions,
  type FourProofVerification,
} from './proof-set';
