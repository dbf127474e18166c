// Which roots this side trusts, and what to tell a user whose peer is not from one of them.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pemToDerList, type NodeIdentity, type TransportIdentity } from '@stoq/core';
import { CliError } from './cli-error';

export interface TrustedRoot {
  /** SHA-256 of the root certificate's DER, lowercase hex. */
  fingerprint: string;
  /** Where it came from, e.g. "the development CA in /x/.stoq/dev-ca" or "--trust-root ca.pem". */
  from: string;
}

export function rootFingerprints(pem: string): string[] {
  return pemToDerList(pem, 'CERTIFICATE', 'trust roots').map((der) => createHash('sha256').update(der).digest('hex'));
}

/**
 * Reads an extra trust root (PEM). `what` names where the path came from (`--trust-root` or
 * `certificates.trust_root in /x/stoq.toml`), so a missing file says which setting to fix.
 */
export async function readTrustRoot(path: string, what: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (code ?? String(cause));
    throw new CliError('FILE_UNREADABLE', `${what}: cannot read trust root ${path}: ${why}`, { cause });
  }
  try {
    if (rootFingerprints(pem).length === 0) throw new Error('no CERTIFICATE block');
  } catch (cause) {
    throw new CliError('FILE_UNREADABLE', `${what}: ${path} is not a PEM certificate: ${(cause as Error).message}`, { cause });
  }
  return pem;
}

export interface UntrustedPeer {
  /** `local`: we refused the node's certificate; `remote`: the node refused ours. */
  refusedBy: 'local' | 'remote';
  /** The TLS stack's reason, e.g. "invalid peer certificate: BadSignature". */
  reason: string;
}

/**
 * Whether `err` says a certificate did not chain to a trusted root, and which side said so; null
 * for any other error. The native layer reports this only as text: rustls' "invalid peer
 * certificate: BadSignature" (the issuer's name matches but not its key, as between two
 * development CAs) or "UnknownIssuer", prefixed with the target when we refused the node, or with
 * "connection to server failed during the handshake:" when the node refused us. This is the one
 * place that matches on that text; switch it to the typed code once the native layer has one.
 */
export function untrustedPeerReason(err: unknown): UntrustedPeer | null {
  const message = err instanceof Error ? err.message : String(err);
  const m = /invalid peer certificate: (BadSignature|UnknownIssuer)\b/.exec(message);
  if (!m) return null;
  return { refusedBy: /failed during the handshake: invalid peer certificate/.test(message) ? 'remote' : 'local', reason: m[0] };
}

/** A user-facing explanation of a trust failure: what it means, which roots, how to fix it. */
export function untrustedPeerError(err: unknown, target: string, trusted: TrustedRoot[], dataDir: string): CliError {
  const found = untrustedPeerReason(err) ?? { refusedBy: 'local', reason: String(err) };
  const roots = trusted.map((r) => `  trusted root sha256:${r.fingerprint} (${r.from})`).join('\n');
  const what =
    found.refusedBy === 'local'
      ? `the node at ${target} presented a certificate that is not issued by a root this client trusts (TLS: ${found.reason}); ` +
        `it belongs to another CA, e.g. a node started with a different data dir.`
      : `the node at ${target} refused this client's certificate (TLS: ${found.reason}): the node does not trust the CA in ${dataDir}, ` +
        `e.g. because it was started with a different data dir.`;
  const fix =
    found.refusedBy === 'local'
      ? `use the node's data dir (--data-dir DIR or STOQ_DATA_DIR; this client used ${dataDir}), ` +
        `or pass --trust-root FILE with the node's root certificate (its <data dir>/dev-ca/root.pem)`
      : `use the node's data dir (--data-dir DIR or STOQ_DATA_DIR; this client used ${dataDir}), ` +
        `or start the node with --trust-root ${dataDir}/dev-ca/root.pem (or certificates.trust_root)`;
  return new CliError('UNTRUSTED_PEER', `${what}\n${roots}\n  fix: ${fix}; once TrustChain issues identities, enroll both with it.`, { cause: err });
}

/** The transport identity of `identity`, trusting `extraRootPem` (PEM, may be empty) as well. */
export function withExtraRoot(identity: NodeIdentity, extraRootPem: string): TransportIdentity {
  return {
    service: identity.service,
    instance: identity.instance,
    certChainPem: identity.certChainPem,
    keyPem: identity.keyPem,
    trustRootsPem: extraRootPem ? `${identity.trustRootsPem.trimEnd()}\n${extraRootPem}` : identity.trustRootsPem,
    falconPublicKey: identity.falconPublicKey,
    falconSecretKey: identity.falconSecretKey,
  };
}
