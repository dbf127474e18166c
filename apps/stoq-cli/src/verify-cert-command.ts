// `stoq verify-cert cert.pem`: audits a certificate the way an outsider would, trusting only the
// root it already has and the HyperMesh genesis file:
//   classical_chain, falcon_chain   checked here against the identity's trust roots;
//   validity, revocation, ct_inclusion   TrustChain's verdict (trustchain/validate_certificate:
//                                        it finds the leaf in its CT log and checks the SCT and
//                                        inclusion proof against its signed tree head);
//   consensus_approval              earned certificates: the block the ConsensusApproval names,
//                                    fetched from HyperMesh (any validator), certified by 2f+1 of
//                                    the genesis validators and holding this certificate's keys.
// TrustChain and HyperMesh are found by name through TrustChain DNS.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGenesis, type LoadedGenesis } from '@stoq/consensus';
import { ApprovalError, approvalOf, auditCertificateApproval, falconSignatureVerifier } from '@stoq/consensus-approval';
import { nativeFalcon, parseHybridCertificate, pemToDerList, verifyAltSignatureChain } from '@stoq/core';
import { findEcosystem } from '@stoq/client';
import { hypermesh, trustchain } from '@stoq/protos';
import { DnsSrvResolver, RpcClient, type Resolver } from '@stoq/rpc';
import { parseCommand } from './args';
import { CliError, usageError } from './cli-error';
import { HELP } from './help';
import { createClientTransport, loadClientIdentity } from './session';

export interface Check {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

export async function runVerifyCert(argv: string[]): Promise<number> {
  const parsed = parseCommand('verify-cert', argv, {
    dns: { type: 'string' },
    identity: { type: 'string' },
    genesis: { type: 'string' },
    'trust-root': { type: 'string' },
    timeout: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  });
  if (!parsed) {
    process.stdout.write(`${HELP['verify-cert']}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw usageError('stoq verify-cert takes one PEM file: the certificate (leaf first; any intermediates after it)');
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 120_000) throw usageError(`--timeout must be milliseconds from 1 to 120000, got "${values.timeout}"`);
  const file = positionals[0]!;
  let chain: Uint8Array[];
  try {
    chain = pemToDerList(readFileSync(file, 'utf8'), 'CERTIFICATE', file);
  } catch (cause) {
    throw new CliError('FILE_UNREADABLE', `${file}: ${(cause as Error).message}`, { cause });
  }
  if (chain.length === 0) throw usageError(`${file} holds no PEM CERTIFICATE block`);
  const eco = findEcosystem(process.cwd());
  const dns = values.dns ?? (process.env.STOQ_DNS || undefined) ?? eco?.dns;
  if (!dns) throw usageError('give --dns "[ipv6]:port" (TrustChain\'s DNS, also $STOQ_DNS), or run inside a folder with an `npm start` ecosystem (.stoq/ecosystem)');
  const identityDir = values.identity ?? eco?.cli;
  if (!identityDir) throw usageError('give --identity DIR: an identity TrustChain issued (its trust roots are the roots this check trusts)');
  const genesisFile = values.genesis ?? (eco ? join(eco.dir, 'hypermesh-genesis.json') : undefined);

  const client = await loadClientIdentity({ identityDir, trustRoot: values['trust-root'] });
  const roots = pemToDerList(client.transportIdentity.trustRootsPem, 'CERTIFICATE', 'trust roots');
  const checks: Check[] = [classicalChain(chain, roots), falconChain(chain, roots)];
  const transport = createClientTransport(client);
  const resolver = new DnsSrvResolver({ server: dns });
  const rpc = new RpcClient({
    connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
    resolver,
    retry: { maxAttempts: 1 },
  });
  try {
    try {
      const verdict = await rpc.call(trustchain.TrustChainMethods.validateCertificate, { chain }, { timeoutMs });
      for (const c of verdict.checks ?? []) if (['validity', 'revocation', 'ct_inclusion'].includes(c.check ?? '')) checks.push({ check: c.check!, ok: !!c.ok, detail: c.detail ?? '' });
    } catch (err) {
      checks.push({ check: 'trustchain', ok: false, detail: `trustchain/validate_certificate failed: ${(err as Error).message}` });
    }
    checks.push(await consensusApproval(chain[0]!, genesisFile, rpc, resolver, timeoutMs));
  } finally {
    rpc.close();
    await transport.close();
  }
  const leaf = parseHybridCertificate(chain[0]!);
  if (values.json) process.stdout.write(`${JSON.stringify({ serial: leaf.serialNumber, fingerprint: leaf.fingerprintSha256, valid: checks.every((c) => c.ok), checks })}\n`);
  else process.stdout.write(table(leaf.serialNumber, checks));
  return checks.every((c) => c.ok) ? 0 : 1;
}

function classicalChain(chain: readonly Uint8Array[], roots: readonly Uint8Array[]): Check {
  try {
    const certs = [...chain, ...roots].map((d) => new X509Certificate(d));
    for (let i = 0; i < chain.length; i++) {
      const subject = certs[i]!;
      const issuer = certs.slice(i + 1).find((c) => subject.checkIssued(c) && subject.verify(c.publicKey));
      if (!issuer) return { check: 'classical_chain', ok: false, detail: `${subject.subject.replace(/\n/g, ', ')} is not signed by a certificate of the chain or a trusted root` };
      if (roots.some((r) => Buffer.from(r).equals(issuer.raw))) return { check: 'classical_chain', ok: true, detail: `signed up to the trusted root ${issuer.fingerprint256}` };
    }
    return { check: 'classical_chain', ok: false, detail: 'the chain does not end in a trusted root' };
  } catch (err) {
    return { check: 'classical_chain', ok: false, detail: (err as Error).message };
  }
}

function falconChain(chain: readonly Uint8Array[], roots: readonly Uint8Array[]): Check {
  try {
    verifyAltSignatureChain(chain, roots, nativeFalcon);
    return { check: 'falcon_chain', ok: true, detail: 'FALCON-1024 signatures verify up to the trusted root' };
  } catch (err) {
    return { check: 'falcon_chain', ok: false, detail: (err as Error).message };
  }
}

async function consensusApproval(leaf: Uint8Array, genesisFile: string | undefined, rpc: RpcClient, resolver: Resolver, timeoutMs: number): Promise<Check> {
  let height: number;
  try {
    height = approvalOf(leaf).blockHeight;
  } catch (err) {
    if (err instanceof ApprovalError && err.code === 'NOT_EARNED') return { check: 'consensus_approval', ok: true, detail: 'not an earned certificate (enrolled with a join token): nothing to audit' };
    return { check: 'consensus_approval', ok: false, detail: (err as Error).message };
  }
  if (!genesisFile || !existsSync(genesisFile)) return { check: 'consensus_approval', ok: false, detail: `block ${height} cannot be audited without the HyperMesh genesis: give --genesis FILE` };
  let genesis: LoadedGenesis;
  try {
    genesis = parseGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')), genesisFile);
  } catch (err) {
    return { check: 'consensus_approval', ok: false, detail: `${genesisFile}: ${(err as Error).message}` };
  }
  // Any validator will do (the block's QC is the evidence, not who serves it); one that has not
  // committed that height yet, or is down, is skipped for the next.
  let encoded: Uint8Array | null = null;
  const failures: string[] = [];
  const { targets } = await resolver.resolve('hypermesh');
  for (const t of targets) {
    try {
      const block = await rpc.call(hypermesh.ConsensusMethods.block, { height }, { timeoutMs, target: t.endpoint });
      encoded = block.encoded ?? new Uint8Array(0);
      break;
    } catch (err) {
      failures.push(`${t.endpoint}: ${(err as Error).message}`);
    }
  }
  if (!encoded) return { check: 'consensus_approval', ok: false, detail: `no HyperMesh validator served block ${height}${failures.length ? ` (${failures.join('; ')})` : ' (none registered in DNS)'}` };
  try {
    const a = auditCertificateApproval(leaf, encoded, genesis.validatorSet, falconSignatureVerifier(nativeFalcon));
    return { check: 'consensus_approval', ok: true, detail: `block ${a.blockHeight} (${a.blockHash.slice(0, 16)}…) of ${genesis.chainId}, certified by the genesis validators, holds this certificate's keys` };
  } catch (err) {
    return { check: 'consensus_approval', ok: false, detail: err instanceof ApprovalError ? `${err.code}: ${err.message}` : (err as Error).message };
  }
}

function table(serial: string, checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.check.length));
  const lines = checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.check.padEnd(width)}  ${c.detail}`);
  const failed = checks.filter((c) => !c.ok).length;
  return `${lines.join('\n')}\ncertificate ${serial}: ${failed === 0 ? 'valid' : `${failed} check(s) failed`}\n`;
}
