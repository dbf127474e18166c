// `stoq enroll`: gets an identity from TrustChain with a one-time join token, for a client that
// is no service (the CLI itself, scripts, `@stoq/client` programs): the same enrollment a service
// does on its first start (PKCS#10 CSR + FALCON proof over a connection pinning the root), stored
// in a data dir that `--identity DIR` (and `@stoq/client`'s `identity`) then uses. An existing
// identity's keys are never replaced: run on a dir that holds one, the command renews its
// certificate once it is past 2/3 of its life (with the current certificate, no token) and
// otherwise only reports it.
import { NodeIdentity } from '@stoq/core';
import { TrustChainSource } from '@stoq/service';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pino from 'pino';
import { parseCommand } from './args';
import { CliError, usageError } from './cli-error';
import { HELP } from './help';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export async function runEnroll(argv: string[]): Promise<number> {
  const parsed = parseCommand('enroll', argv, {
    trustchain: { type: 'string' },
    'root-fingerprint': { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    service: { type: 'string', default: 'cli' },
    instance: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (!parsed) {
    process.stdout.write(`${HELP.enroll}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw usageError(`stoq enroll takes no positional arguments, got "${positionals[0]}"`);
  if (!values.trustchain) throw usageError('--trustchain "[ipv6]:port" (TrustChain\'s STOQ address) is required');
  if (!values['data-dir']) throw usageError('--data-dir DIR (where the identity is kept) is required');
  const service = values.service;
  const instance = values.instance ?? `${service}-1`;
  if (!LABEL.test(service) || !LABEL.test(instance)) throw usageError(`--service "${service}" and --instance "${instance}" must be lowercase DNS labels`);
  const pin = values['root-fingerprint']?.replace(/:/g, '').toLowerCase();
  if (pin !== undefined && !/^[0-9a-f]{64}$/.test(pin)) throw usageError('--root-fingerprint must be 64 hex digits (trustchain ca fingerprint prints it)');
  const dataDir = resolve(values['data-dir']);
  const tokenFile = values['token-file'];
  const source = new TrustChainSource({
    trustchain: values.trustchain,
    rootFingerprint: pin ?? null,
    logger: pino({ level: 'warn' }, pino.destination(2)),
    joinToken: async () => {
      if (values.token) return values.token.trim();
      if (process.env.STOQ_JOIN_TOKEN) return process.env.STOQ_JOIN_TOKEN.trim();
      if (!tokenFile) return null;
      try {
        return (await readFile(tokenFile, 'utf8')).trim();
      } catch (cause) {
        throw new CliError('FILE_UNREADABLE', `--token-file ${tokenFile}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
      }
    },
  });
  const identity = await NodeIdentity.loadOrCreate({ dataDir, service, instance, ca: source });
  const out = { service: identity.service, instance: identity.instance, fingerprint: identity.fingerprint, notAfter: identity.notAfter.toISOString(), dataDir };
  process.stdout.write(values.json ? `${JSON.stringify(out)}\n` : `enrolled ${out.service}/${out.instance} (certificate sha256:${out.fingerprint}, until ${out.notAfter}) in ${dataDir}\n`);
  return 0;
}
