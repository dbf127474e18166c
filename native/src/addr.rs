//! IPv6-only socket address validation (pure).

use crate::error::{StoqError, INVALID_ADDRESS, IPV4_REFUSED};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

/// What the address is used for; dialing needs a concrete destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrUse {
    Bind,
    Connect,
}

/// Parses `[ipv6]:port`, refusing IPv4 and IPv4-mapped IPv6 addresses (STOQ is IPv6-only).
pub fn parse_ipv6_socket_addr(input: &str, usage: AddrUse) -> Result<SocketAddrV6, StoqError> {
    let trimmed = input.trim();
    let addr: SocketAddr = match trimmed.parse() {
        Ok(a) => a,
        Err(_) => {
            // A bare IP (no port) gets a precise message, IPv4 still gets the IPv4 code.
            let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
            return Err(match bare.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => StoqError::new(
                    IPV4_REFUSED,
                    format!("{input} is an IPv4 address; STOQ is IPv6-only"),
                ),
                Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => StoqError::new(
                    IPV4_REFUSED,
                    format!("{input} is IPv4-mapped; STOQ is IPv6-only"),
                ),
                Ok(IpAddr::V6(_)) => StoqError::new(
                    INVALID_ADDRESS,
                    format!("{input} has no port; expected \"[ipv6]:port\" such as \"[::1]:4433\""),
                ),
                Err(_) => StoqError::new(
                    INVALID_ADDRESS,
                    format!("{input:?} is not an IPv6 socket address; expected \"[ipv6]:port\" such as \"[::1]:4433\""),
                ),
            });
        }
    };
    let v6 = match addr {
        SocketAddr::V4(_) => {
            return Err(StoqError::new(
                IPV4_REFUSED,
                format!("{input} is an IPv4 address; STOQ is IPv6-only"),
            ))
        }
        SocketAddr::V6(v6) => v6,
    };
    if v6.ip().to_ipv4_mapped().is_some() {
        return Err(StoqError::new(
            IPV4_REFUSED,
            format!("{input} is IPv4-mapped; STOQ is IPv6-only"),
        ));
    }
    if usage == AddrUse::Connect {
        if v6.ip().is_unspecified() {
            return Err(StoqError::new(
                INVALID_ADDRESS,
                format!("{input} is the unspecified address and cannot be dialed"),
            ));
        }
        if v6.port() == 0 {
            return Err(StoqError::new(
                INVALID_ADDRESS,
                format!("{input} has port 0, which cannot be dialed"),
            ));
        }
    }
    Ok(v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str, usage: AddrUse) -> crate::error::Code {
        parse_ipv6_socket_addr(input, usage).unwrap_err().code
    }

    #[test]
    fn accepts_ipv6() {
        let a = parse_ipv6_socket_addr("[::1]:4433", AddrUse::Connect).unwrap();
        assert_eq!(a.port(), 4433);
        assert!(a.ip().is_loopback());
        let b = parse_ipv6_socket_addr("[::]:0", AddrUse::Bind).unwrap();
        assert!(b.ip().is_unspecified());
        assert!(parse_ipv6_socket_addr("[2001:db8::7]:1", AddrUse::Connect).is_ok());
        assert!(parse_ipv6_socket_addr("[fe80::1%2]:9", AddrUse::Connect).is_ok());
    }

    #[test]
    fn refuses_ipv4_and_mapped() {
        assert_eq!(code("127.0.0.1:4433", AddrUse::Bind), IPV4_REFUSED);
        assert_eq!(code("0.0.0.0:0", AddrUse::Bind), IPV4_REFUSED);
        assert_eq!(code("127.0.0.1", AddrUse::Connect), IPV4_REFUSED);
        assert_eq!(code("[::ffff:127.0.0.1]:1", AddrUse::Connect), IPV4_REFUSED);
        assert_eq!(code("[::ffff:7f00:1]:1", AddrUse::Bind), IPV4_REFUSED);
        let msg = parse_ipv6_socket_addr("[::ffff:127.0.0.1]:1", AddrUse::Bind).unwrap_err().to_string();
        assert!(msg.starts_with("IPV4_REFUSED: [::ffff:127.0.0.1]:1 is IPv4-mapped"), "{msg}");
        let msg = parse_ipv6_socket_addr("127.0.0.1:4433", AddrUse::Bind).unwrap_err().to_string();
        assert_eq!(msg, "IPV4_REFUSED: 127.0.0.1:4433 is an IPv4 address; STOQ is IPv6-only");
    }

    #[test]
    fn rejects_malformed_and_undialable() {
        assert_eq!(code("localhost:4433", AddrUse::Connect), INVALID_ADDRESS);
        assert_eq!(code("::1", AddrUse::Connect), INVALID_ADDRESS);
        assert_eq!(code("", AddrUse::Bind), INVALID_ADDRESS);
        assert_eq!(code("[::1]:70000", AddrUse::Bind), INVALID_ADDRESS);
        assert_eq!(code("[::]:4433", AddrUse::Connect), INVALID_ADDRESS);
        assert_eq!(code("[::1]:0", AddrUse::Connect), INVALID_ADDRESS);
    }
}
