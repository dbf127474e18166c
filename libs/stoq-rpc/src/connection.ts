// The connection shape the RPC layer needs. A STOQ connection is authenticated (peer set);
// an enrollment listener may hand over connections whose peer presented no certificate
// (peer = null). Only methods registered with authorize 'unauthenticated' accept those.
import type { PeerIdentity, StoqConnection } from '@stoq/core';

export type RpcConnection = Omit<StoqConnection, 'peer'> & { readonly peer: PeerIdentity | null };

/** Application error codes for RESET_STREAM / STOP_SENDING on RPC streams (docs/wire-protocol.md (section 5)). */
export const StreamCode = {
  /** Normal completion: the receiver no longer needs the peer's bytes. */
  NO_ERROR: 0x00,
  /** The caller cancelled the call. */
  CANCELLED: 0x01,
  /** The peer broke the framing or sequencing rules; the call is abandoned. */
  PROTOCOL_ERROR: 0x02,
  /** The caller abandoned the call because its deadline passed. */
  DEADLINE_EXCEEDED: 0x03,
} as const;
