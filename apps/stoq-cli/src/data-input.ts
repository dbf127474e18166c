// `stoq call --data`: inline JSON, `@FILE` or `-` (stdin), for payloads too large for a shell
// argument. Syntax errors are usage errors naming where the text came from.
import { readFile } from 'node:fs/promises';
import { CliError, usageError } from './cli-error';

/** Largest --data document read (the RPC frame limit is 16 MiB by default; base64 adds a third). */
export const MAX_DATA_BYTES = 64 * 1024 * 1024;

export async function readDataArgument(arg: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<unknown> {
  let text: string;
  let from: string;
  if (arg === '-') {
    from = '--data - (stdin)';
    text = await readAll(stdin, from);
  } else if (arg.startsWith('@')) {
    const file = arg.slice(1);
    from = `--data @${file}`;
    try {
      const buf = await readFile(file);
      if (buf.length > MAX_DATA_BYTES) throw usageError(`${from}: ${buf.length} bytes is more than the ${MAX_DATA_BYTES} --data takes`);
      text = buf.toString('utf8');
    } catch (cause) {
      if (cause instanceof CliError) throw cause;
      const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
      throw new CliError('FILE_UNREADABLE', `${from}: cannot read ${file}: ${code}`, { cause });
    }
  } else {
    from = '--data';
    text = arg;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${from} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readAll(stream: NodeJS.ReadableStream, from: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > MAX_DATA_BYTES) throw usageError(`${from}: more than the ${MAX_DATA_BYTES} bytes --data takes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
