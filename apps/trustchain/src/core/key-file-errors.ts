// Errors of the password-encrypted key files (key-envelope.ts, encrypted-pkcs8.ts, password.ts).
// Pure modules throw these; ca/root-keys.ts turns them into TrustChainError naming the file.

export type KeyFileErrorCode =
  /** Not the expected structure (bad magic, bad DER, wrong PEM label). */
  | 'KEY_FILE_MALFORMED'
  /** Shorter than its structure says: a file cut off. */
  | 'KEY_FILE_TRUNCATED'
  /** Larger than any key file of this kind may be. */
  | 'KEY_FILE_TOO_LARGE'
  /** A version, algorithm or parameter this build does not read (or out of the accepted bounds). */
  | 'KEY_FILE_UNSUPPORTED'
  /** The password does not open the file (or the file was altered: AES-GCM cannot tell which). */
  | 'WRONG_PASSWORD'
  /** A password that cannot be used (empty, several lines, too long). */
  | 'PASSWORD_INVALID';

export class KeyFileError extends Error {
  constructor(
    readonly code: KeyFileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KeyFileError';
  }
}

export function isKeyFileError(err: unknown, code?: KeyFileErrorCode): err is KeyFileError {
  return err instanceof KeyFileError && (code === undefined || err.code === code);
}
