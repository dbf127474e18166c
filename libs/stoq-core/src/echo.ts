// The echo service of a bare STOQ node: every message on a stream comes back on that stream,
// every datagram comes back as a datagram. Used by `stoq node` and `stoq ping`, and the
// smallest real workload to test the transport with.
import type { Logger } from 'pino';
import type { StoqConnection, StoqStream } from './types';

export async function serveEcho(conn: StoqConnection, log?: Logger): Promise<void> {
  void echoDatagrams(conn);
  for (;;) {
    const stream = await conn.acceptStream();
    if (!stream) return;
    void echoStream(stream).catch((err: Error) => {
      log?.debug({ err: err.message, peer: conn.peer?.instance ?? 'anonymous' }, 'echo stream ended with error');
      stream.reset(1);
    });
  }
}

async function echoStream(stream: StoqStream): Promise<void> {
  for (;;) {
    const msg = await stream.receiveMessage();
    if (msg === null) break;
    await stream.sendMessage(msg);
  }
  stream.finish();
}

async function echoDatagrams(conn: StoqConnection): Promise<void> {
  for (;;) {
    const d = await conn.receiveDatagram().catch(() => null);
    if (!d) return;
    try {
      conn.sendDatagram(d);
    } catch {
      return; // connection closing
    }
  }
}
