// The root key password as given in a file (--password-file, $STOQ_ROOT_PASSWORD_FILE) or typed.
// Same reading as `openssl -passin file:FILE`, which takes the first line without its line end,
// so the files we encrypt open with openssl and the same password file. We refuse what openssl
// would silently cut (a second line, more than 1023 bytes) instead of guessing.
import { KeyFileError } from './key-file-errors';

/** openssl reads at most APP_PASS_LEN - 1 = 1023 bytes of a password. */
export const MAX_PASSWORD_BYTES = 1023;
/** Largest password file read (a line end and some slack above the password limit). */
export const MAX_PASSWORD_FILE_BYTES = 4096;

/** The password in a password file's bytes: one line, its "\n" or "\r\n" end removed, not empty. */
export function passwordFromFile(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length > MAX_PASSWORD_FILE_BYTES) throw new KeyFileError('PASSWORD_INVALID', `${what} is ${bytes.length} bytes; a password file holds one line of at most ${MAX_PASSWORD_BYTES} bytes`);
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const password = bytes.subarray(0, end);
  if (password.includes(0x0a) || password.includes(0x0d)) throw new KeyFileError('PASSWORD_INVALID', `${what} holds more than one line; it must hold the password alone (openssl would read the first line only)`);
  return checkPassword(password, what);
}

/** A typed or given password: not empty, at most MAX_PASSWORD_BYTES, no NUL (openssl stops there). */
export function checkPassword(password: Uint8Array, what: string): Uint8Array {
  if (password.length === 0) throw new KeyFileError('PASSWORD_INVALID', `${what}: the password is empty`);
  if (password.length > MAX_PASSWORD_BYTES) throw new KeyFileError('PASSWORD_INVALID', `${what}: the password is ${password.length} bytes, more than the ${MAX_PASSWORD_BYTES} openssl reads`);
  if (password.includes(0)) throw new KeyFileError('PASSWORD_INVALID', `${what}: the password contains a NUL byte`);
  return password;
}
