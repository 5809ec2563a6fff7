//! Helpers shared by the server-core test files (connection, client, pubsub, transactions,
//! server_cmds, protocol, limits, info): raw byte exchanges, scenario comparison with Redis,
//! reply normalisation.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use super::common::{Conn, Pair, Reply, Server};

/// What a raw exchange produced: every byte received, and whether the server closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

impl Raw {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Read whatever arrives until the peer closes or nothing comes for `quiet`.
pub fn drain(s: &mut TcpStream, quiet: Duration) -> Raw {
    s.set_read_timeout(Some(quiet)).expect("timeout");
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => {
                return Raw {
                    bytes,
                    closed: true,
                }
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return Raw {
                    bytes,
                    closed: false,
                }
            }
            // A reset after the reply (Redis closes with unread input): closed.
            Err(_) => {
                return Raw {
                    bytes,
                    closed: true,
                }
            }
        }
    }
}

/// Open a connection, write `payload` (ignoring a write refused because the server already
/// closed), and collect the answer.
pub fn raw(port: u16, payload: &[u8]) -> Raw {
    raw_quiet(port, payload, Duration::from_millis(400))
}

/// [`raw`] with a chosen quiet time.
pub fn raw_quiet(port: u16, payload: &[u8], quiet: Duration) -> Raw {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).ok();
    let _ = s.write_all(payload);
    drain(&mut s, quiet)
}

/// The same raw exchange on both servers must give the same bytes and the same close.
pub fn same_raw(pair: &Pair, payload: &[u8]) -> Raw {
    let p = raw(pair.picket.port, payload);
    let r = raw(pair.redis.port, payload);
    assert_eq!(
        (p.text(), p.closed),
        (r.text(), r.closed),
        "payload {:?}: picket (left) and redis (right) differ",
        String::from_utf8_lossy(&payload[..payload.len().min(200)])
    );
    p
}

/// Run a scenario (a function of the port that returns observations) on both servers and
/// require the same observations.
pub fn same_scenario<T: PartialEq + std::fmt::Debug>(pair: &Pair, f: impl Fn(u16) -> T) -> T {
    let r = f(pair.redis.port);
    let p = f(pair.picket.port);
    assert_eq!(p, r, "picket (left) and redis (right) differ");
    p
}

/// Replace the value after an `id` key of a HELLO reply (client ids differ between servers).
pub fn mask_hello_id(r: Reply) -> Reply {
    let r = sorted_maps(r);
    fn fix(items: Vec<Reply>) -> Vec<Reply> {
        let mut out = items;
        for i in 0..out.len().saturating_sub(1) {
            if out[i] == Reply::bulk("id") {
                out[i + 1] = Reply::Int(0);
            }
        }
        out
    }
    match r {
        Reply::Array(v) => Reply::Array(fix(v)),
        Reply::Map(v) => Reply::Map(
            v.into_iter()
                .map(|(k, val)| {
                    if k == Reply::bulk("id") {
                        (k, Reply::Int(0))
                    } else {
                        (k, val)
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

/// A reply with every map's entries and set's members sorted, recursively (RESP3 maps and
/// sets decode in hash order).
pub fn sorted_maps(r: Reply) -> Reply {
    match r {
        Reply::Map(v) => {
            let mut v: Vec<(Reply, Reply)> = v
                .into_iter()
                .map(|(k, val)| (sorted_maps(k), sorted_maps(val)))
                .collect();
            v.sort_by_key(|(k, val)| format!("{k:?}{val:?}"));
            Reply::Map(v)
        }
        Reply::Array(v) => Reply::Array(v.into_iter().map(sorted_maps).collect()),
        Reply::Set(v) => {
            let mut v: Vec<Reply> = v.into_iter().map(sorted_maps).collect();
            v.sort_by_key(|r| format!("{r:?}"));
            Reply::Set(v)
        }
        Reply::Push(v) => Reply::Push(v.into_iter().map(sorted_maps).collect()),
        other => other,
    }
}

/// The `name=value` fields of a CLIENT LIST / CLIENT INFO line, in order.
pub fn client_fields(line: &str) -> Vec<(String, String)> {
    line.trim_end()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// One field of this connection's CLIENT INFO.
pub fn my_field(c: &mut Conn, name: &str) -> String {
    let line = c.q("CLIENT INFO").text();
    client_fields(&line)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// Lines of CLIENT LIST.
pub fn client_lines(c: &mut Conn) -> Vec<String> {
    c.q("CLIENT LIST")
        .text()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Poll until `f` holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `field:value` lines of an INFO reply, section headers and blank lines left out.
pub fn info_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn info_field(c: &mut Conn, section: &str, name: &str) -> String {
    let text = c.cmd(&["INFO", section]).text();
    info_fields(&text)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// A non-loopback IPv4 address of this machine, from `hostname -I`, if any.
pub fn local_non_loopback_ip() -> Option<IpAddr> {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
}

/// A connection to `ip:port` from an optional source address.
pub fn connect_from(src: Option<IpAddr>, ip: IpAddr, port: u16) -> std::io::Result<TcpStream> {
    match src {
        None => TcpStream::connect((ip, port)),
        Some(src) => {
            // std has no bind-before-connect; use libc for the source address.
            use std::os::fd::FromRawFd;
            let IpAddr::V4(src4) = src else {
                return Err(std::io::Error::other("IPv4 only"));
            };
            let IpAddr::V4(dst4) = ip else {
                return Err(std::io::Error::other("IPv4 only"));
            };
            // SAFETY: plain socket calls on a descriptor we own; sockaddr_in is zeroed first.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_addr.s_addr = u32::from(src4).to_be();
                let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                if libc::bind(fd, &sa as *const _ as *const libc::sockaddr, len) != 0 {
                    let e = std::io::Error::last_os_error();
                    libc::close(fd);
                    return Err(e);
                }
                let mut da: libc::sockaddr_in = std::mem::zeroed();
                da.sin_family = libc::AF_INET as libc::sa_family_t;
                da.sin_port = port.to_be();
                da.sin_addr.s_addr = u32::from(dst4).to_be();
                if libc::connect(fd, &da as *const _ as *const libc::sockaddr, len) != 0 {
                    let e = std::io::Error::last_os_error();
                    libc::close(fd);
                    return Err(e);
                }
                Ok(TcpStream::from_raw_fd(fd))
            }
        }
    }
}

/// Start the pair, or None (with the harness's loud skip message) without redis-server.
pub fn pair(extra: &[&str]) -> Option<Pair> {
    Pair::start(extra)
}

/// Start a Redis alone (for scenarios that need one server at a time), or None.
pub fn redis(extra: &[&str]) -> Option<Server> {
    Server::redis(extra)
}

/// A bulk-string array of the words of a line.
pub fn words(line: &str) -> Vec<&str> {
    line.split(' ').filter(|s| !s.is_empty()).collect()
}
