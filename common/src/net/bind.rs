//! The `bind` directive's entries, as Redis 7 reads them: `*` (every IPv4 address), `::*`
//! (every IPv6 address) or an IP address, and a leading `-` that makes the entry optional
//! (an address that cannot be bound is skipped rather than fatal). The default list,
//! `* -::*`, therefore listens on IPv6 only where the host has it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

/// One parsed `bind` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindAddr {
    pub ip: IpAddr,
    /// Written with a leading `-`: failing to bind it is not an error.
    pub optional: bool,
}

impl BindAddr {
    /// The address to listen on at `port`.
    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.ip, port)
    }
}

/// An entry that is not an address. Holds the entry without its `-`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad bind address {0}")]
pub struct BadBindAddress(pub String);

/// Parse one entry.
pub fn parse_bind(entry: &str) -> Result<BindAddr, BadBindAddress> {
    let (optional, addr) = match entry.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, entry),
    };
    let ip = match addr {
        "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "::*" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        other => other
            .parse()
            .map_err(|_| BadBindAddress(other.to_string()))?,
    };
    Ok(BindAddr { ip, optional })
}

/// Parse a whole `bind` list, stopping at the first bad entry.
pub fn parse_bind_list<S: AsRef<str>>(list: &[S]) -> Result<Vec<BindAddr>, BadBindAddress> {
    list.iter().map(|e| parse_bind(e.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ip: &str, optional: bool) -> BindAddr {
        BindAddr {
            ip: ip.parse().unwrap(),
            optional,
        }
    }

    #[test]
    fn entries() {
        assert_eq!(parse_bind("*"), Ok(b("0.0.0.0", false)));
        assert_eq!(parse_bind("-*"), Ok(b("0.0.0.0", true)));
        assert_eq!(parse_bind("::*"), Ok(b("::", false)));
        assert_eq!(parse_bind("-::*"), Ok(b("::", true)));
        assert_eq!(parse_bind("127.0.0.1"), Ok(b("127.0.0.1", false)));
        assert_eq!(parse_bind("-::1"), Ok(b("::1", true)));
        assert_eq!(parse_bind("fe80::1"), Ok(b("fe80::1", false)));
        assert_eq!(
            parse_bind("-::1").unwrap().socket_addr(7),
            "[::1]:7".parse().unwrap()
        );
    }

    #[test]
    fn bad_entries_name_the_address() {
        for (entry, shown) in [
            ("localhost", "localhost"),
            ("-nope", "nope"),
            ("", ""),
            ("-", ""),
            ("--::1", "-::1"),
            ("1.2.3.4:5", "1.2.3.4:5"),
            ("[::1]", "[::1]"),
            ("**", "**"),
        ] {
            let e = parse_bind(entry).unwrap_err();
            assert_eq!(e, BadBindAddress(shown.to_string()), "{entry}");
            assert_eq!(e.to_string(), format!("bad bind address {shown}"));
        }
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse_bind_list(&["*", "-::*"]),
            Ok(vec![b("0.0.0.0", false), b("::", true)])
        );
        assert_eq!(
            parse_bind_list(&["127.0.0.1", "x", "y"]),
            Err(BadBindAddress("x".into()))
        );
        assert_eq!(parse_bind_list::<&str>(&[]), Ok(vec![]));
    }
}
