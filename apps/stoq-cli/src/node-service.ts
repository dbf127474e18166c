// The `node` RPC service of `stoq node`: echo (unary and streaming) and transport stats.
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import type { Logger } from 'pino';
import type { StoqTransport } from '@stoq/core';
import { NodeMethods, type EchoResponse, type StatsResponse } from './node.proto';

const MAX_STREAM_COUNT = 100_000;
const MAX_DELAY_MS = 60_000;

/** Adds the node/* methods to `server` (a server for service `node`). */
export function addNodeMethods(server: RpcServer, transport: StoqTransport, instance: string, logger: Logger): RpcServer {
  const started = Date.now();
  server.addMethod(
    NodeMethods.echo,
    async (req, ctx): Promise<EchoResponse> => {
      const delayMs = Number(req.delayMs ?? 0);
      if (delayMs > MAX_DELAY_MS) throw new RpcError(Status.INVALID_ARGUMENT, `delay_ms must be at most ${MAX_DELAY_MS}, got ${delayMs}`);
      if (delayMs > 0) await abortableDelay(delayMs, ctx.signal);
      return { payload: req.payload, text: req.text, instance };
    },
    { authorize: 'any-authenticated' },
  );
  server.addMethod(
    NodeMethods.setServing,
    (req) => {
      server.setServing(req.serving ?? false);
      logger.info({ serving: req.serving ?? false }, 'serving state changed');
      return { serving: req.serving ?? false };
    },
    { authorize: ['admin'] },
  );
  server.addMethod(
    NodeMethods.echoStream,
    async function* (req, ctx) {
      const count = Number(req.count ?? 0);
      if (!Number.isInteger(count) || count < 1 || count > MAX_STREAM_COUNT) {
        throw new RpcError(Status.INVALID_ARGUMENT, `count must be 1..${MAX_STREAM_COUNT}, got ${count}`);
      }
      for (let i = 0; i < count && !ctx.signal.aborted; i++) yield { text: `${req.text ?? ''} ${i + 1}`.trim(), instance };
    },
    { authorize: 'any-authenticated' },
  );
  server.addMethod(
    NodeMethods.stats,
    (): StatsResponse => {
      const s = transport.stats();
      return {
        openConnections: s.openConnections,
        acceptedConnections: s.acceptedConnections,
        authenticatedConnections: s.authenticatedConnections,
        handshakeFailures: s.handshakeFailures,
        authFailures: s.authFailures,
        bytesSent: s.bytesSent,
        bytesReceived: s.bytesReceived,
        uptimeSeconds: (Date.now() - started) / 1000,
      };
    },
    { authorize: 'any-authenticated' },
  );
  return server;
}

/** Waits `ms`, or rejects with the signal's reason as soon as the call is cancelled. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
