// The one error this package throws for bytes that are not the DER it reads. `code` is stable
// and `offset` is where in the input the bad element starts, so a caller wraps it in its own
// error type (naming what it was reading) without parsing the message.

export type DerErrorCode =
  /** The header or the length octets run past the end of the input or container. */
  | 'TRUNCATED'
  /** A tag number of 31 or more (multi-byte identifier): X.509 never needs one. */
  | 'MULTI_BYTE_TAG'
  /** The BER indefinite length form, which DER forbids. */
  | 'INDEFINITE_LENGTH'
  /** More length octets than this reader accepts (4). */
  | 'LENGTH_TOO_LONG'
  /** A length not in its shortest form. */
  | 'NON_MINIMAL_LENGTH'
  /** An element (or the whole input) larger than the caller's `maxLength`. */
  | 'TOO_LARGE'
  /** An element whose content runs past its container. */
  | 'OVERRUN'
  /** Bytes after the single element the input had to be. */
  | 'TRAILING_BYTES';

export class DerError extends Error {
  override readonly name = 'DerError';

  constructor(
    readonly code: DerErrorCode,
    /** Offset in the input of the element (or byte) at fault. */
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

export function isDerError(err: unknown, code?: DerErrorCode): err is DerError {
  return err instanceof DerError && (code === undefined || err.code === code);
}
