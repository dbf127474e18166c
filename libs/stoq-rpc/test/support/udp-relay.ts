// A UDP relay on [::1] between one client and a server, for tests of dead peers: `cut()` drops
// every datagram from then on, as a peer killed with SIGKILL (no CONNECTION_CLOSE, no ICMP) looks
// to the client; `restore()` forwards again (the peer back at the same address).
import { createSocket, type RemoteInfo } from 'node:dgram';

export interface UdpRelay {
  /** `[::1]:port` to dial instead of the server. */
  address: string;
  cut(): void;
  restore(): void;
  close(): void;
}

export function udpRelay(server: string): Promise<UdpRelay> {
  const port = Number(server.slice(server.lastIndexOf(':') + 1));
  const front = createSocket('udp6');
  const back = createSocket('udp6');
  let client: RemoteInfo | null = null;
  let open = true;
  front.on('message', (msg, from) => {
    client = from;
    if (open) back.send(msg, port, '::1');
  });
  back.on('message', (msg) => {
    if (open && client) front.send(msg, client.port, client.address);
  });
  return new Promise((resolve) => {
    back.bind(0, '::1', () =>
      front.bind(0, '::1', () =>
        resolve({
          address: `[::1]:${front.address().port}`,
          cut: () => (open = false),
          restore: () => (open = true),
          close: () => (front.close(), back.close()),
        }),
      ),
    );
  });
}
