// Errors a caller can tell apart by `code` (the TrustChain service maps them to RPC status codes).

export type CtLogErrorCode =
  | 'INVALID_ARGUMENT' // malformed request (bad chain, bad range, bad hash)
  | 'OUT_OF_RANGE' // a size or index past the current tree
  | 'NOT_FOUND' // e.g. a leaf hash the log does not hold
  | 'CORRUPT' // storage failed an integrity check; the log refuses to open
  | 'UNAVAILABLE' // the log is closed or a write failed and it stopped accepting entries
  | 'DECODE'; // a TLS / DER structure could not be decoded

export class CtLogError extends Error {
  constructor(
    readonly code: CtLogErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CtLogError';
  }
}

/** Storage that fails an integrity check: names the file and the byte offset. */
export class CorruptionError extends CtLogError {
  constructor(
    readonly file: string,
    readonly offset: number,
    detail: string,
  ) {
    super('CORRUPT', `${file}: corrupt at byte offset ${offset}: ${detail}`);
    this.name = 'CorruptionError';
  }
}
