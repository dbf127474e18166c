// Where the `ca` commands get the root key password: --password-file FILE, else
// $STOQ_ROOT_PASSWORD_FILE, else a prompt when stdin is a terminal (echo off), else none.
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MAX_PASSWORD_FILE_BYTES, checkPassword, passwordFromFile } from '../core/password';
import { isKeyFileError } from '../core/key-file-errors';
import { TrustChainError } from '../core/errors';
import type { PasswordSource } from '../ca/root-keys';

export const PASSWORD_FILE_ENV = 'STOQ_ROOT_PASSWORD_FILE';

/** Reads a password file (bounded: a pipe or /dev/fd works too) and checks it (password.ts). */
export async function readPasswordFile(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_PASSWORD_FILE_BYTES + 1);
      let n = 0;
      while (n < buf.length) {
        const { bytesRead } = await handle.read(buf, n, buf.length - n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      bytes = buf.subarray(0, n);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new TrustChainError('INVALID_ARGUMENT', `password file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  return asTrustChain(() => passwordFromFile(bytes, `password file ${path}`));
}

function asTrustChain<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (isKeyFileError(err)) throw new TrustChainError('INVALID_ARGUMENT', err.message, { cause: err });
    throw err;
  }
}

/**
 * Reads one line per prompt from the terminal without echo, in one raw-mode session (so lines
 * typed ahead are not lost between prompts). Ctrl-C, or Ctrl-D on an empty line, cancels.
 */
export function promptPasswords(prompts: readonly string[], input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<Uint8Array[]> {
  return new Promise((resolvePrompt, reject) => {
    const lines: Uint8Array[] = [];
    let bytes: number[] = [];
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      if (err) {
        output.write('\n');
        reject(err);
      } else resolvePrompt(lines);
    };
    const onData = (chunk: Buffer): void => {
      for (const b of chunk) {
        if (b === 0x0d || b === 0x0a) {
          output.write('\n');
          lines.push(Uint8Array.from(bytes));
          bytes = [];
          if (lines.length === prompts.length) return finish();
          output.write(prompts[lines.length]!);
        } else if (b === 0x03 || (b === 0x04 && bytes.length === 0)) {
          return finish(new TrustChainError('INVALID_ARGUMENT', 'password entry cancelled; nothing was written'));
        } else if (b === 0x7f || b === 0x08) {
          // Remove one UTF-8 character: its continuation bytes, then its lead byte.
          while (bytes.length > 0 && (bytes[bytes.length - 1]! & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
        } else if (b >= 0x20 || b === 0x09) bytes.push(b);
      }
    };
    input.setRawMode(true); // before the prompt: what is typed after it is never echoed
    input.on('data', onData);
    input.resume();
    output.write(prompts[0]!);
  });
}

export interface PasswordChoice {
  /** --password-file's value, if given. */
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Whether a prompt may be shown (stdin is a terminal). */
  readonly interactive?: boolean;
}

/** Where a password would come from, or undefined when there is none (no file, no terminal). */
export function passwordSource(choice: PasswordChoice, mode: 'open' | 'new'): PasswordSource | undefined {
  const file = choice.file ?? (choice.env ?? process.env)[PASSWORD_FILE_ENV];
  if (file !== undefined && file !== '') {
    const path = resolve(file);
    return () => readPasswordFile(path);
  }
  if (!(choice.interactive ?? process.stdin.isTTY === true)) return undefined;
  return async () => {
    const [first, again] = await promptPasswords(mode === 'new' ? ['new root key password: ', 'the same password again: '] : ['root key password: ']);
    asTrustChain(() => checkPassword(first!, 'the typed password'));
    if (again !== undefined && !Buffer.from(first!).equals(Buffer.from(again))) throw new TrustChainError('INVALID_ARGUMENT', 'the two passwords differ; nothing was written');
    return first!;
  };
}
