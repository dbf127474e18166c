// TrustChain's Certificate Transparency log over STOQ RPC: the six `trustchain/ct/*` methods with
// RFC 6962 §4 semantics, decode → CtLog → encode, nothing else.
//
// Which server: `serviceOfPath('trustchain/ct/get_sth')` is `trustchain` (the first path segment),
// and an RpcServer answers for exactly one service name, which may not contain `/`. So these
// methods go on TrustChain's own `new RpcServer({ service: 'trustchain' })`, next to the CA
// methods; a separate `trustchain/ct` server cannot exist. One RpcServer serves a connection
// (serveConnection accepts every stream on it), so one server must carry all of TrustChain.
import { encodeDigitallySigned, encodeSct, CtLogError, type CtLog, type CtLogErrorCode, type LogEntry } from '@stoq/ct-log';
import { trustchain } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import type { Logger } from 'pino';

type Long = trustchain.Long;

export interface CtRpcDeps {
  readonly log: CtLog;
  readonly logger: Logger;
}

/** RPC status of each CtLog error code; exhaustive, so a new code fails to compile until mapped. */
export function ctStatus(code: CtLogErrorCode): Status {
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'DECODE': // what failed to decode is the caller's input (a chain, a hash)
      return Status.INVALID_ARGUMENT;
    case 'OUT_OF_RANGE':
      return Status.OUT_OF_RANGE;
    case 'NOT_FOUND':
      return Status.NOT_FOUND;
    case 'UNAVAILABLE':
      return Status.UNAVAILABLE;
    case 'CORRUPT':
      return Status.DATA_LOSS;
    default: {
      const unmapped: never = code;
      throw new TypeError(`unmapped CtLog error code ${String(unmapped)}`);
    }
  }
}

/**
 * Runs a CtLog call, turning its typed errors into RpcError by code. Anything else is a bug or an
 * I/O failure of ours: logged with its detail, reported as INTERNAL without it.
 */
async function ctCall<T>(deps: CtRpcDeps, method: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RpcError) throw err;
    if (err instanceof CtLogError) {
      const status = ctStatus(err.code);
      if (status === Status.DATA_LOSS || status === Status.UNAVAILABLE) deps.logger.error({ err, method }, 'CT log failure');
      throw new RpcError(status, err.message);
    }
    deps.logger.error({ err, method }, 'CT request failed unexpectedly');
    throw new RpcError(Status.INTERNAL, `${method} failed; see the TrustChain log`);
  }
}

/**
 * A uint64 request field as a safe integer. protobufjs decodes uint64 as a Long when the `long`
 * package is present and as a number otherwise; values past 2^53 cannot name a tree position.
 */
export function u64Field(name: string, v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RpcError(Status.INVALID_ARGUMENT, `${name} (${v}) is not a non-negative integer below 2^53`);
    return v;
  }
  const high = v.high >>> 0;
  const low = v.low >>> 0;
  if (high >= 0x200000 || (!v.unsigned && v.high < 0)) {
    throw new RpcError(Status.INVALID_ARGUMENT, `${name} (${v.toString()}) is not a non-negative integer below 2^53`);
  }
  return high * 2 ** 32 + low;
}

/** A bytes field as a Uint8Array: protobufjs leaves an absent one as its default (an empty array). */
function bytesField(v: Uint8Array | null | undefined): Uint8Array {
  return v instanceof Uint8Array ? v : Uint8Array.from(v ?? []);
}

/** Protobuf overhead per get_entries item: two tags with up-to-4-byte lengths, and the item's own tag and length. */
const ENTRY_OVERHEAD_BYTES = 16;

/**
 * The longest prefix of `entries` whose encoding stays within `maxBytes` (at least one entry, so
 * a reader always makes progress). RFC 6962 §4.6 lets a log return fewer entries than asked.
 */
export function pageWithinBytes(entries: readonly LogEntry[], maxBytes: number): LogEntry[] {
  let total = 0;
  let n = 0;
  for (const e of entries) {
    total += e.leafInput.length + e.extraData.length + ENTRY_OVERHEAD_BYTES;
    if (n > 0 && total > maxBytes) break;
    n++;
  }
  return entries.slice(0, n);
}

/**
 * Registers the CT methods on TrustChain's RpcServer (service `trustchain`). Reads are open to
 * anyone, unauthenticated connections included (a log is audited by strangers); add_chain needs
 * an authenticated peer (any service), which bounds who can grow the log.
 */
export function addCtMethods(server: RpcServer, deps: CtRpcDeps): void {
  const { log } = deps;
  const M = trustchain.CtMethods;
  // get_entries pages stay well under the server's message limit (the rest is framing slack).
  const maxPageBytes = Math.max(64 * 1024, server.limits.maxMessageBytes - 64 * 1024);

  server.addMethod(
    M.getSth,
    (): Promise<trustchain.SignedTreeHead> =>
      ctCall(deps, 'get_sth', async () => {
        const sth = await log.getSth();
        return {
          treeSize: sth.treeSize,
          timestamp: sth.timestamp,
          rootHash: sth.rootHash,
          signature: encodeDigitallySigned(sth.treeHeadSignature),
          falconSignature: sth.falconSignature,
        };
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.getSthConsistency,
    (req): Promise<trustchain.GetSthConsistencyResponse> =>
      ctCall(deps, 'get_sth_consistency', () => ({
        consistency: log.getSthConsistency(u64Field('first', req.first), u64Field('second', req.second)),
      })),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.getProofByHash,
    (req): Promise<trustchain.GetProofByHashResponse> =>
      ctCall(deps, 'get_proof_by_hash', () => {
        const { leafIndex, auditPath } = log.getProofByHash(bytesField(req.hash), u64Field('tree_size', req.treeSize));
        return { leafIndex, auditPath };
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.getEntries,
    (req): Promise<trustchain.GetEntriesResponse> =>
      ctCall(deps, 'get_entries', async () => {
        const entries = await log.getEntries(u64Field('start', req.start), u64Field('end', req.end));
        return { entries: pageWithinBytes(entries, maxPageBytes).map((e) => ({ leafInput: e.leafInput, extraData: e.extraData })) };
      }),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.getRoots,
    (): Promise<trustchain.GetRootsResponse> => ctCall(deps, 'get_roots', () => ({ certificates: log.getRoots() })),
    { authorize: 'unauthenticated' },
  );

  server.addMethod(
    M.addChain,
    (req, ctx): Promise<trustchain.AddChainResponse> =>
      ctCall(deps, 'add_chain', async () => {
        const r = await log.addChain(req.chain ?? []);
        ctx.logger.info({ leafIndex: r.leafIndex, peer: ctx.peer ? `${ctx.peer.service}/${ctx.peer.instance}` : null }, 'CT add_chain logged');
        return { sct: encodeSct(r.sct), leafIndex: r.leafIndex, leafHash: r.leafHash };
      }),
    { authorize: 'any-authenticated' },
  );
}
