// @stoq/ct-log: an RFC 6962 Certificate Transparency log as a library.
export * from './hasher';
export { createNativeHasher, loadNativeHasher, type NativeMerkleBindings } from './native-hasher';
export * from './merkle';
export * from './errors';
export * from './structs';
export * from './keys';
export * from './sct';
export * from './sth';
export * from './sequencer';
export * from './storage';
export { FileLogStorage, ENTRIES_FILE, STH_FILE, MAX_FRAME_PAYLOAD, encodeFrame } from './file-storage';
export type { FileLogStorageOptions } from './file-storage';
export { parseCertificate, tbsWithoutPoison } from './der';
export { validateX509Chain, validatePrecertChain, parseRoots, IssuerCache } from './chain';
export type { AcceptedRoot, ValidatedSubmission } from './chain';
export { crc32c } from './crc32c';
export * from './log';
