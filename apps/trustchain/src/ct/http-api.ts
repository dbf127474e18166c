// The RFC 6962 §4 v1 HTTP read API of TrustChain's CT log, for auditors and monitors that speak
// plain RFC 6962 (certificate-transparency-go, ct-woodpecker, ...): GET /ct/v1/get-sth,
// get-sth-consistency, get-proof-by-hash, get-entries, get-roots, get-entry-and-proof. Writes go
// over STOQ (`trustchain/ct/add_chain`); add-chain and add-pre-chain answer 405.
//
// IPv6 only (an IPv4 or IPv4-mapped bind is refused). Every input is bounded: the request line,
// the headers, each query parameter (decimal integers below 2^53, a 32-byte base64 hash), the
// get-entries page (entries and bytes) and the number of get-entries reads in flight. Errors are
// the JSON body the RFC 6962 reference server sent and clients parse:
// `{"error_message": "...", "success": false}`, 400 for a bad request, 404 for a hash the log
// does not hold or an unknown path.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseIpv6Endpoint } from '@stoq/core';
import { CtLogError, encodeDigitallySigned, type CtLog, type CtLogErrorCode } from '@stoq/ct-log';
import type { Logger } from 'pino';
import { pageWithinBytes } from './ct-rpc';

export interface CtHttpServerOptions {
  readonly log: CtLog;
  /** `[addr]:port` on IPv6; port 0 picks a free port. */
  readonly bind: string;
  readonly logger: Logger;
  /** Most entries per get-entries answer (the log's own maxGetEntries also applies). Default 256. */
  readonly maxEntriesPerRequest?: number;
  /** Most leaf_input + extra_data bytes per get-entries answer (at least one entry is sent). Default 2 MiB. */
  readonly maxEntriesBytes?: number;
  /** get-entries reads served at once; more get 503. Default 16. */
  readonly maxConcurrentReads?: number;
  /** Open connections; more are refused by the socket layer. Default 256. */
  readonly maxConnections?: number;
}

export interface CtHttpServer {
  /** `[addr]:port` the API answers on. */
  readonly address: string;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** The request target is short (the longest is a 44-character hash and a size). */
const MAX_URL_LENGTH = 1024;
const PREFIX = '/ct/v1/';

/** An answer other than 200, with the RFC 6962 JSON error body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** HTTP status for each CtLog error code; exhaustive. */
export function ctHttpStatus(code: CtLogErrorCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'DECODE':
    case 'OUT_OF_RANGE': // RFC 6962 clients expect 400 for a size or index past the tree
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'UNAVAILABLE':
      return 503;
    case 'CORRUPT':
      return 500;
    default: {
      const unmapped: never = code;
      throw new TypeError(`unmapped CtLog error code ${String(unmapped)}`);
    }
  }
}

type Query = URLSearchParams;

/** The one value of a required parameter. */
function param(q: Query, name: string): string {
  const all = q.getAll(name);
  if (all.length === 0) throw new HttpError(400, `missing parameter ${name}`);
  if (all.length > 1) throw new HttpError(400, `parameter ${name} is given ${all.length} times`);
  return all[0]!;
}

/** A decimal integer parameter in 0..2^53-1 (no sign, no spaces, no exponent). */
function intParam(q: Query, name: string): number {
  const text = param(q, name);
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new HttpError(400, `${name} must be a decimal integer in 0..${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Number(text);
}

/** The base64 (standard alphabet, padded) SHA-256 leaf hash. */
function hashParam(q: Query, name: string): Buffer {
  // A literal '+' in a query string decodes as a space; base64 has no spaces, so it meant '+'.
  const text = param(q, name).replace(/ /g, '+');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    throw new HttpError(400, `${name} must be a base64 SHA-256 hash (44 characters), got ${JSON.stringify(text.slice(0, 60))}`);
  }
  return Buffer.from(text, 'base64');
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

interface Limits {
  readonly maxEntries: number;
  readonly maxEntriesBytes: number;
  readonly maxConcurrentReads: number;
}

class CtHttpApi {
  private readsInFlight = 0;

  constructor(
    private readonly log: CtLog,
    private readonly logger: Logger,
    private readonly limits: Limits,
  ) {}

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let status = 200;
    let body: unknown;
    const rawUrl = req.url ?? '';
    try {
      body = await this.route(req, rawUrl);
    } catch (err) {
      // Our own errors say what was wrong with the request; anything else stays in our log.
      let message = 'internal error; see the TrustChain log';
      status = 500;
      if (err instanceof HttpError) {
        status = err.status;
        message = err.message;
      } else if (err instanceof CtLogError) {
        status = ctHttpStatus(err.code);
        message = err.message;
      }
      if (status >= 500) this.logger.error({ err, url: rawUrl.slice(0, 200) }, 'CT HTTP request failed');
      else this.logger.debug({ status, url: rawUrl.slice(0, 200), reason: message }, 'CT HTTP request refused');
      body = { error_message: message, success: false };
      if (status === 405) res.setHeader('Allow', 'GET');
      if (status === 503) res.setHeader('Retry-After', '1');
    }
    const json = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store' });
    res.end(json);
  }

  private async route(req: http.IncomingMessage, rawUrl: string): Promise<unknown> {
    if (rawUrl.length > MAX_URL_LENGTH) throw new HttpError(414, `request target is longer than ${MAX_URL_LENGTH} bytes`);
    let url: URL;
    try {
      url = new URL(rawUrl, 'http://ct.invalid');
    } catch {
      throw new HttpError(400, 'malformed request target');
    }
    if (!url.pathname.startsWith(PREFIX)) throw new HttpError(404, `no such endpoint ${JSON.stringify(url.pathname.slice(0, 80))}; the API is under ${PREFIX}`);
    const op = url.pathname.slice(PREFIX.length);
    if (op === 'add-chain' || op === 'add-pre-chain') {
      throw new HttpError(405, `${op} is not served over HTTP; submit chains with the STOQ RPC trustchain/ct/add_chain`);
    }
    const q = url.searchParams;
    const read = (): void => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${op} takes GET, not ${req.method ?? '?'}`);
    };
    switch (op) {
      case 'get-sth': {
        read();
        const sth = await this.log.getSth();
        return {
          tree_size: sth.treeSize,
          timestamp: sth.timestamp,
          sha256_root_hash: b64(sth.rootHash),
          tree_head_signature: b64(encodeDigitallySigned(sth.treeHeadSignature)),
          // Not in RFC 6962 (clients ignore unknown fields): the log's FALCON-1024 signature over
          // the same TreeHeadSignature bytes, for post-quantum verifiers.
          falcon_signature: b64(sth.falconSignature),
        };
      }
      case 'get-sth-consistency': {
        read();
        const first = intParam(q, 'first');
        const second = intParam(q, 'second');
        return { consistency: this.log.getSthConsistency(first, second).map(b64) };
      }
      case 'get-proof-by-hash': {
        read();
        const hash = hashParam(q, 'hash');
        const treeSize = intParam(q, 'tree_size');
        const { leafIndex, auditPath } = this.log.getProofByHash(hash, treeSize);
        return { leaf_index: leafIndex, audit_path: auditPath.map(b64) };
      }
      case 'get-entries': {
        read();
        const start = intParam(q, 'start');
        const end = intParam(q, 'end');
        if (start > end) throw new HttpError(400, `start (${start}) exceeds end (${end})`);
        const last = Math.min(end, start + this.limits.maxEntries - 1);
        const entries = await this.limitedRead(() => this.log.getEntries(start, last));
        return { entries: pageWithinBytes(entries, this.limits.maxEntriesBytes).map((e) => ({ leaf_input: b64(e.leafInput), extra_data: b64(e.extraData) })) };
      }
      case 'get-roots': {
        read();
        return { certificates: this.log.getRoots().map(b64) };
      }
      case 'get-entry-and-proof': {
        read();
        const leafIndex = intParam(q, 'leaf_index');
        const treeSize = intParam(q, 'tree_size');
        const auditPath = this.log.getProofByIndex(leafIndex, treeSize);
        const [entry] = await this.limitedRead(() => this.log.getEntries(leafIndex, leafIndex));
        if (!entry) throw new HttpError(500, `entry ${leafIndex} could not be read`);
        return { leaf_input: b64(entry.leafInput), extra_data: b64(entry.extraData), audit_path: auditPath.map(b64) };
      }
      default:
        throw new HttpError(404, `no such endpoint ${JSON.stringify(url.pathname.slice(0, 80))}`);
    }
  }

  /** Entry reads hit the disk and hold pages in memory: only so many at once. */
  private async limitedRead<T>(fn: () => Promise<T>): Promise<T> {
    if (this.readsInFlight >= this.limits.maxConcurrentReads) {
      throw new HttpError(503, `too many get-entries requests in progress (limit ${this.limits.maxConcurrentReads}); retry`);
    }
    this.readsInFlight++;
    try {
      return await fn();
    } finally {
      this.readsInFlight--;
    }
  }
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer, got ${String(v)}`);
  return n;
}

/**
 * Serves the RFC 6962 v1 read API of `log` on `bind` (IPv6 only). Throws StoqError IPV4_REFUSED /
 * INVALID_ADDRESS for a bind address that is not IPv6, and the listen error (EADDRINUSE, ...).
 */
export async function startCtHttpServer(opts: CtHttpServerOptions): Promise<CtHttpServer> {
  const { address, port } = parseIpv6Endpoint(opts.bind);
  const limits: Limits = {
    maxEntries: positiveInt('maxEntriesPerRequest', opts.maxEntriesPerRequest, 256),
    maxEntriesBytes: positiveInt('maxEntriesBytes', opts.maxEntriesBytes, 2 * 1024 * 1024),
    maxConcurrentReads: positiveInt('maxConcurrentReads', opts.maxConcurrentReads, 16),
  };
  const api = new CtHttpApi(opts.log, opts.logger, limits);
  const server = http.createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    api.handle(req, res).catch((err: unknown) => {
      opts.logger.error({ err }, 'CT HTTP response failed');
      res.destroy();
    });
  });
  server.maxConnections = positiveInt('maxConnections', opts.maxConnections, 256);
  server.on('clientError', (err, socket) => {
    // Malformed HTTP (bad request line, oversized headers): answer 400 if the socket can still take it.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
    opts.logger.debug({ err }, 'CT HTTP malformed request');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, ipv6Only: true, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.warn({ err }, 'CT HTTP server error'));
  const bound = (server.address() as AddressInfo).port;
  const endpoint = `[${address}]:${bound}`;
  opts.logger.info({ endpoint }, 'CT HTTP API listening (RFC 6962 v1, read-only)');
  return {
    address: endpoint,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
