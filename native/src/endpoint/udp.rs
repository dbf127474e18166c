//! The endpoint's UDP socket: quinn's tokio socket, with GSO sends kept within what Linux takes.
//!
//! quinn batches up to 10 same-size datagrams into one GSO `sendmsg`. Once path-MTU discovery
//! has raised the datagram size (a large `maxUdpPayload`, e.g. on loopback), such a batch can
//! exceed the 64 KiB an IPv6 UDP send may carry; the kernel refuses it with EMSGSIZE, which
//! quinn-udp silently treats as a lost MTU probe. The whole batch would be lost and black-hole
//! detection would drop the MTU back to 1200. This wrapper sends such a batch as several
//! smaller GSO sends instead.

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, Runtime, UdpPoller};
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Largest UDP payload of one IPv6 send without jumbograms (65535 minus the UDP header);
/// with GSO this bounds the sum of all segments.
const MAX_SEND: usize = 65_527;

pub struct GsoBoundedSocket {
    inner: Arc<dyn AsyncUdpSocket>,
}

impl GsoBoundedSocket {
    pub fn wrap(runtime: &dyn Runtime, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        Ok(Arc::new(Self { inner: runtime.wrap_udp_socket(socket)? }))
    }
}

impl fmt::Debug for GsoBoundedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GsoBoundedSocket").field("inner", &self.inner).finish()
    }
}

/// Byte ranges of `len` bytes of `segment`-sized datagrams, each range at most MAX_SEND long
/// and a whole number of segments (the last segment may be short).
pub fn send_chunks(len: usize, segment: usize) -> impl Iterator<Item = (usize, usize)> {
    let per_send = (MAX_SEND / segment.max(1)).max(1) * segment.max(1);
    (0..len).step_by(per_send).map(move |start| (start, (start + per_send).min(len)))
}

impl AsyncUdpSocket for GsoBoundedSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let Some(segment) = transmit.segment_size.filter(|_| transmit.contents.len() > MAX_SEND) else {
            return self.inner.try_send(transmit);
        };
        // If a later part would block, the whole transmit is retried: the parts already sent
        // then arrive twice, and the receiver drops the duplicate packet numbers.
        for (start, end) in send_chunks(transmit.contents.len(), segment) {
            let contents = &transmit.contents[start..end];
            self.inner.try_send(&Transmit {
                destination: transmit.destination,
                ecn: transmit.ecn,
                contents,
                segment_size: (contents.len() > segment).then_some(segment),
                src_ip: transmit.src_ip,
            })?;
        }
        Ok(())
    }

    fn poll_recv(&self, cx: &mut Context, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> Poll<io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_batches_are_one_send() {
        assert_eq!(send_chunks(10 * 1452, 1452).collect::<Vec<_>>(), vec![(0, 14520)]);
    }

    #[test]
    fn large_batches_split_on_segment_boundaries_within_the_limit() {
        let len = 9 * 9000 + 100; // 9 full segments and a short last one
        let chunks: Vec<_> = send_chunks(len, 9000).collect();
        assert_eq!(chunks, vec![(0, 63000), (63000, len)]);
        for (s, e) in &chunks {
            assert!(e - s <= MAX_SEND);
            assert_eq!(s % 9000, 0);
        }
    }

    #[test]
    fn a_segment_near_the_limit_is_sent_alone() {
        let chunks: Vec<_> = send_chunks(3 * 40_000, 40_000).collect();
        assert_eq!(chunks, vec![(0, 40_000), (40_000, 80_000), (80_000, 120_000)]);
    }
}
