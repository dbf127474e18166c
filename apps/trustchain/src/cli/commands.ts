// The admin commands: token create, certs list/show, revoke, ct sth, ca fingerprint / init /
// sign-intermediate / encrypt-root (the ca commands read and write files only; no server).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEV_CA_FILES, derToPem, nativeFalcon, pemToDer } from '@stoq/core';
import { trustchain } from '@stoq/protos';
import { DATA_DIR_LAYOUT } from '../ca/authority';
import { INTERMEDIATE_FILES, initCa, signIntermediate } from '../ca/ca-setup';
import { encryptRootSet } from '../ca/root-keys';
import { PASSWORD_FILE_ENV, passwordSource } from './root-password';
import { reasonName, parseReason, checkReason, normalizeSerial } from '../service/revocations';
import { TrustChainError } from '../core/errors';
import { dataDirOf, durationSeconds, noPositionals, parseCommand } from './args';
import { CliError, usageError } from './cli-error';
import { HELP } from './help';
import { withAdmin } from './admin-client';

const M = trustchain.TrustChainMethods;
type Out = (t: string) => void;
const iso = (ms: unknown): string => new Date(Number(ms ?? 0)).toISOString();

function subcommand(command: 'token' | 'certs' | 'ct' | 'ca', argv: string[], known: readonly string[], out: Out): string | null {
  const [sub] = argv;
  if (sub === undefined) throw usageError(`trustchain ${command} needs a subcommand: ${known.join(', ')} (see trustchain ${command} --help)`);
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out(`${HELP[command]}\n`);
    return null;
  }
  if (!known.includes(sub)) throw usageError(`unknown subcommand "trustchain ${command} ${sub}" (known: ${known.join(', ')})`);
  return sub;
}

export async function runToken(argv: string[], out: Out): Promise<number> {
  if (subcommand('token', argv, ['create'], out) === null) return 0;
  const parsed = parseCommand('token', argv.slice(1), { service: { type: 'string' }, admin: { type: 'boolean' }, ttl: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' } });
  if (!parsed) {
    out(`${HELP.token}\n`);
    return 0;
  }
  noPositionals('token create', parsed.positionals);
  const v = parsed.values;
  // --admin mints a token for service "admin" (an administrator identity); it must be asked for by
  // that flag, never by passing "admin" as a service name.
  if (v.admin && v.service !== undefined && v.service !== 'admin') throw usageError(`--admin mints a token for service "admin"; drop --service ${v.service}`);
  const service = v.admin ? 'admin' : v.service;
  if (!service) throw usageError('trustchain token create needs --service NAME, or --admin for an administrator (see trustchain token --help)');
  const ttlSeconds = v.ttl === undefined ? 0 : durationSeconds(v.ttl, '--ttl');
  const r = await withAdmin(dataDirOf(v['data-dir']), (rpc) => rpc.call(M.createToken, { service, ttlSeconds, admin: v.admin === true }));
  if (v.json) out(`${JSON.stringify({ token: r.token, service: r.service, expires_at: iso(r.expiresAtMs) })}\n`);
  else out(`${r.token}\n`);
  return 0;
}

function certLine(c: trustchain.CertificateRecord): string {
  const status = c.revoked ? `revoked ${iso(c.revokedAtMs)} (${reasonName(Number(c.revocationReason ?? 0))})` : Number(c.notAfterMs) <= Date.now() ? 'expired' : 'valid';
  return `${(c.serial ?? '').padEnd(40)}  ${`${c.service}/${c.instance}`.padEnd(28)}  ${(c.kind ?? '').padEnd(6)}  ${iso(c.notAfterMs)}  ${status}`;
}

function certJson(c: trustchain.CertificateRecord, withPem: boolean): Record<string, unknown> {
  return {
    serial: c.serial,
    fingerprint: c.fingerprint,
    service: c.service,
    instance: c.instance,
    kind: c.kind,
    not_before: iso(c.notBeforeMs),
    not_after: iso(c.notAfterMs),
    issued_at: iso(c.issuedAtMs),
    revoked: c.revoked ?? false,
    ...(c.revoked ? { revoked_at: iso(c.revokedAtMs), revocation_reason: reasonName(Number(c.revocationReason ?? 0)) } : {}),
    ...(withPem && c.der ? { pem: derToPem(c.der, 'CERTIFICATE') } : {}),
  };
}

export async function runCerts(argv: string[], out: Out): Promise<number> {
  const sub = subcommand('certs', argv, ['list', 'show'], out);
  if (sub === null) return 0;
  const parsed = parseCommand('certs', argv.slice(1), { service: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' } });
  if (!parsed) {
    out(`${HELP.certs}\n`);
    return 0;
  }
  const v = parsed.values;
  const dataDir = dataDirOf(v['data-dir']);
  if (sub === 'list') {
    noPositionals('certs list', parsed.positionals);
    let limit = 0;
    if (v.limit !== undefined) {
      limit = /^\d+$/.test(v.limit) ? Number(v.limit) : NaN;
      if (!(limit >= 1 && limit <= 1000)) throw usageError(`--limit must be an integer from 1 to 1000, got "${v.limit}"`);
    }
    const r = await withAdmin(dataDir, (rpc) => rpc.call(M.listCertificates, { service: v.service ?? '', limit }));
    const certs = r.certificates ?? [];
    if (v.json) out(`${JSON.stringify(certs.map((c) => certJson(c, false)), null, 2)}\n`);
    else {
      out(`${'SERIAL'.padEnd(40)}  ${'SERVICE/INSTANCE'.padEnd(28)}  ${'KIND'.padEnd(6)}  ${'NOT AFTER'.padEnd(24)}  STATUS\n`);
      for (const c of certs) out(`${certLine(c)}\n`);
    }
    return 0;
  }
  if (parsed.positionals.length !== 1) throw usageError('trustchain certs show takes one SERIAL or FINGERPRINT (see trustchain certs --help)');
  const id = parsed.positionals[0]!;
  const c = await withAdmin(dataDir, (rpc) => rpc.call(M.getCertificate, { id }));
  const j = certJson(c, true);
  if (v.json) out(`${JSON.stringify(j, null, 2)}\n`);
  else {
    for (const [k, val] of Object.entries(j)) if (k !== 'pem') out(`${k.padEnd(18)} ${String(val)}\n`);
    out(String(j.pem ?? ''));
  }
  return 0;
}

export async function runRevoke(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand('revoke', argv, { reason: { type: 'string' }, 'data-dir': { type: 'string' } });
  if (!parsed) {
    out(`${HELP.revoke}\n`);
    return 0;
  }
  if (parsed.positionals.length !== 1) throw usageError('trustchain revoke takes one SERIAL (see trustchain revoke --help)');
  let serial: string;
  let reason = 0;
  try {
    serial = normalizeSerial(parsed.positionals[0]!);
    if (parsed.values.reason !== undefined) {
      const r = parseReason(parsed.values.reason);
      if (r === undefined) throw new TrustChainError('INVALID_ARGUMENT', `--reason ${JSON.stringify(parsed.values.reason)} is not a revocation reason (see trustchain revoke --help)`);
      reason = checkReason(r);
    }
  } catch (err) {
    if (err instanceof TrustChainError) throw usageError(err.message);
    throw err;
  }
  const r = await withAdmin(dataDirOf(parsed.values['data-dir']), (rpc) => rpc.call(M.revokeCertificate, { serial, reason: reason as trustchain.RevocationReason }));
  out(`revoked ${serial} (${reasonName(reason)}) at ${iso(r.revokedAtMs)}; revocation list version ${Number(r.version)}\n`);
  return 0;
}

export async function runCt(argv: string[], out: Out): Promise<number> {
  if (subcommand('ct', argv, ['sth'], out) === null) return 0;
  const parsed = parseCommand('ct', argv.slice(1), { 'data-dir': { type: 'string' } });
  if (!parsed) {
    out(`${HELP.ct}\n`);
    return 0;
  }
  noPositionals('ct sth', parsed.positionals);
  const sth = await withAdmin(dataDirOf(parsed.values['data-dir']), (rpc) => rpc.call(trustchain.CtMethods.getSth, {}));
  const b64 = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? []).toString('base64');
  out(
    `${JSON.stringify(
      { tree_size: Number(sth.treeSize ?? 0), timestamp: Number(sth.timestamp ?? 0), sha256_root_hash: b64(sth.rootHash), tree_head_signature: b64(sth.signature), falcon_signature: b64(sth.falconSignature) },
      null,
      2,
    )}\n`,
  );
  return 0;
}

export async function runCa(argv: string[], out: Out): Promise<number> {
  const sub = subcommand('ca', argv, ['fingerprint', 'init', 'sign-intermediate', 'encrypt-root'], out);
  if (sub === null) return 0;
  const parsed = parseCommand('ca', argv.slice(1), {
    'data-dir': { type: 'string' },
    'root-offline': { type: 'boolean' },
    'root-dir': { type: 'string' },
    'password-file': { type: 'string' },
    'insecure-no-password': { type: 'boolean' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (!parsed) {
    out(`${HELP.ca}\n`);
    return 0;
  }
  noPositionals(`ca ${sub}`, parsed.positionals);
  const v = parsed.values;
  const dataDir = dataDirOf(v['data-dir']);
  if (sub !== 'init' && v['root-offline']) throw usageError(`--root-offline is an option of \`trustchain ca init\` (see trustchain ca --help)`);
  if (sub !== 'init' && v['insecure-no-password']) throw usageError(`--insecure-no-password is an option of \`trustchain ca init --root-offline\` (see trustchain ca --help)`);
  if (sub !== 'encrypt-root' && v.out !== undefined) throw usageError('--out is an option of `trustchain ca encrypt-root` (see trustchain ca --help)');
  if (sub === 'fingerprint' && (v['root-dir'] !== undefined || v.json || v['password-file'] !== undefined)) throw usageError('trustchain ca fingerprint takes only --data-dir (see trustchain ca --help)');
  const choice = { ...(v['password-file'] !== undefined ? { file: v['password-file'] } : {}) };
  if (sub === 'init') {
    if (v['root-dir'] !== undefined && !v['root-offline']) throw usageError('--root-dir goes with --root-offline: without it the root stays in <data-dir>/ca/ (see trustchain ca --help)');
    if (!v['root-offline'] && v['password-file'] !== undefined) throw usageError('--password-file goes with --root-offline: a root in <data-dir>/ca/ is read by every `serve` start, which cannot ask for a password');
    if (!v['root-offline'] && v['insecure-no-password']) throw usageError('--insecure-no-password goes with --root-offline (see trustchain ca --help)');
    let rootKeys: { password: Uint8Array } | { insecureNoPassword: true } | undefined;
    if (v['root-offline']) {
      const source = passwordSource(choice, 'new');
      if (v['insecure-no-password'] && (v['password-file'] !== undefined || process.env[PASSWORD_FILE_ENV])) {
        throw usageError(`--insecure-no-password contradicts ${v['password-file'] !== undefined ? '--password-file' : `$${PASSWORD_FILE_ENV}`}: choose one`);
      }
      if (v['insecure-no-password']) rootKeys = { insecureNoPassword: true };
      else if (source) rootKeys = { password: await source() };
      else {
        throw usageError(
          `--root-offline writes the root keys password-encrypted: pass --password-file FILE (or set $${PASSWORD_FILE_ENV}; on a terminal you are asked), or --insecure-no-password for plain 0600 key files (see trustchain ca --help)`,
        );
      }
    }
    const r = await initCa({ dataDir, rootOffline: v['root-offline'] ?? false, ...(v['root-dir'] !== undefined ? { rootDir: resolve(v['root-dir']) } : {}), ...(rootKeys ? { rootKeys } : {}) });
    if (v.json) {
      out(`${JSON.stringify({ root_fingerprint: r.rootFingerprint, root_dir: r.rootDir, root_offline: r.rootOffline, root_encrypted: r.rootEncrypted, intermediate_dir: r.intermediateDir, intermediate_fingerprint: r.intermediateFingerprint })}\n`);
      return 0;
    }
    out(`root fingerprint       ${r.rootFingerprint}   (pin this in every service: certificates.root_fingerprint)\n`);
    out(`root                   ${r.rootDir}${r.rootOffline ? (r.rootEncrypted ? '   (keys password-encrypted)' : '   (keys NOT encrypted: --insecure-no-password)') : ''}\n`);
    out(`intermediate           ${r.intermediateDir}   (signs every certificate \`trustchain serve --data-dir ${dataDir}\` issues)\n`);
    if (r.rootOffline) {
      out(`\nThe root key is NOT in ${dataDir}: \`serve\` runs with the intermediate only.\n`);
      out(`Move ${r.rootDir} to offline storage now (an encrypted USB stick, a safe)${r.rootEncrypted ? ', and keep the password apart from it' : ''}. You need it again only for\n`);
      out(`\`trustchain ca sign-intermediate --data-dir ${dataDir} --root-dir <where it is>${r.rootEncrypted ? ' --password-file FILE' : ''}\`.\n`);
    }
    return 0;
  }
  if (sub === 'sign-intermediate') {
    const source = passwordSource(choice, 'open');
    const r = await signIntermediate({ dataDir, ...(v['root-dir'] !== undefined ? { rootDir: resolve(v['root-dir']) } : {}), ...(source ? { password: source } : {}) });
    if (v.json) out(`${JSON.stringify({ root_fingerprint: r.rootFingerprint, root_encrypted: r.rootEncrypted, intermediate_dir: r.intermediateDir, intermediate_fingerprint: r.intermediateFingerprint })}\n`);
    else {
      out(`intermediate ${r.intermediateFingerprint} signed by root ${r.rootFingerprint} in ${r.intermediateDir}; restart \`trustchain serve\` to use it\n`);
      if (!r.rootEncrypted && v['password-file'] !== undefined) out(`note: the root's key files are not password-encrypted (the password was not needed); \`trustchain ca encrypt-root\` makes an encrypted copy\n`);
    }
    return 0;
  }
  if (sub === 'encrypt-root') {
    if (v['root-dir'] === undefined || v.out === undefined) throw usageError('trustchain ca encrypt-root needs --root-dir DIR (the plain root set) and --out NEWDIR (where the encrypted copy goes; must not exist) (see trustchain ca --help)');
    const source = passwordSource(choice, 'new');
    if (!source) throw usageError(`trustchain ca encrypt-root needs the new password: --password-file FILE (or $${PASSWORD_FILE_ENV}; on a terminal you are asked)`);
    const from = resolve(v['root-dir']);
    const to = resolve(v.out);
    const r = await encryptRootSet(from, to, await source(), { label: 'TrustChain root CA', falcon: nativeFalcon });
    if (v.json) out(`${JSON.stringify({ root_fingerprint: r.fingerprint, root_dir: to, root_encrypted: true, plain_root_dir: from })}\n`);
    else {
      out(`root ${r.fingerprint}: encrypted copy in ${to} (opened again with the password and checked)\n`);
      out(`${from} is unchanged and still holds the plain keys: once ${to} is backed up, delete it (shred -u ${from}/root.key ${from}/root-falcon.key)\n`);
    }
    return 0;
  }
  const candidates = [join(dataDir, DATA_DIR_LAYOUT.ca, DEV_CA_FILES.cert), join(dataDir, DATA_DIR_LAYOUT.intermediate, INTERMEDIATE_FILES.root)];
  const path = candidates.find((p) => existsSync(p)) ?? candidates[0]!;
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError('DATA_DIR', `${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): no TrustChain root in ${dataDir}; \`trustchain serve\` creates it on first start (or \`trustchain ca init\`)`, { cause: err });
  }
  let der: Uint8Array;
  try {
    der = pemToDer(pem, 'CERTIFICATE', path);
  } catch (err) {
    throw new CliError('DATA_DIR', `${path} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  out(`${createHash('sha256').update(der).digest('hex')}\n`);
  return 0;
}
