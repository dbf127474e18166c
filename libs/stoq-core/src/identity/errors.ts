// Typed refusals of identity and CA state on disk. A node's keys are data: when what it finds is
// partial, damaged or exposed it refuses to start (and writes nothing) rather than replace them.
// Callers branch on `code`; `paths` names every file or directory at fault; the message says
// what was found and what to do. A StoqError like every other failure of stoq-core.
import { StoqError } from '../errors';

export type IdentityErrorCode =
  /** Some files of a key set are missing (the others are present). */
  | 'IDENTITY_INCOMPLETE'
  /** A file is present but unreadable: empty, truncated, garbage, wrong kind, or not matching its pair. */
  | 'IDENTITY_DAMAGED'
  /** A private key file group/others can access, or a file or directory others can write. */
  | 'IDENTITY_PERMISSIONS'
  /** A temporary file or directory left by an interrupted write (never used; reported, not adopted). */
  | 'IDENTITY_TEMP_LEFTOVER';

export interface IdentityErrorOptions {
  cause?: unknown;
  details?: Readonly<Record<string, unknown>>;
}

export class IdentityError extends StoqError {
  override readonly name: string = 'IdentityError';
  declare readonly code: IdentityErrorCode;
  /** The files or directories at fault, absolute or as given. */
  readonly paths: readonly string[];

  constructor(code: IdentityErrorCode, paths: readonly string[], message: string, options: IdentityErrorOptions = {}) {
    super(code, message, options);
    this.paths = [...paths];
  }
}

/** True when `err` is an IdentityError, optionally with the given code. */
export function isIdentityError(err: unknown, code?: IdentityErrorCode): err is IdentityError {
  return err instanceof IdentityError && (code === undefined || err.code === code);
}
