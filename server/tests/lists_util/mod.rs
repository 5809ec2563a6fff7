//! Helpers of the list test files (`lists*.rs`): a connection that returns each reply as its
//! exact wire bytes (so RESP2 and RESP3 shapes, nested nulls included, are compared byte for
//! byte), reply-by-reply comparison of picket with Redis 7.0, and a small seeded generator.
//! Self-contained: Cargo also builds this file as a (test-less) target of its own.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A connection that returns each reply as its exact bytes.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Where the frame starting at `at` ends, if `buf` holds all of it.
fn frame_end(buf: &[u8], at: usize) -> Option<usize> {
    let nl = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[at + 1..nl]).ok()?;
    let after = nl + 2;
    match *buf.get(at)? {
        b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => Some(after),
        b'$' | b'!' | b'=' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = line.parse().ok()?;
            let n = if buf[at] == b'%' || buf[at] == b'|' {
                n * 2
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..n.max(0) {
                pos = frame_end(buf, pos)?;
            }
            if buf[at] == b'|' {
                // An attribute precedes the reply it describes.
                return frame_end(buf, pos);
            }
            Some(pos)
        }
        other => panic!("unexpected RESP type byte {:?}", other as char),
    }
}

/// Encode a command as a RESP array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    picket_common::resp::encode_command(args).to_vec()
}

/// Split a line on spaces; `''` is an empty argument.
pub fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w == "''" {
                Vec::new()
            } else {
                w.as_bytes().to_vec()
            }
        })
        .collect()
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.stream.write_all(&encode(args)).expect("write");
    }

    /// Read one reply, its exact bytes.
    pub fn read(&mut self) -> Vec<u8> {
        self.try_read(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no reply; have {:?}", String::from_utf8_lossy(&self.buf)))
    }

    /// Read one reply, or None if none comes within `wait`.
    pub fn try_read(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            if !self.buf.is_empty() {
                if let Some(end) = frame_end(&self.buf, 0) {
                    return Some(self.buf.drain(..end).collect());
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).ok();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Send a command and read its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read()
    }

    /// `q("LPUSH k a")`: split on spaces, send, read; the reply as (lossy) text.
    pub fn q(&mut self, line: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&words(line))).into_owned()
    }
}

/// Show a reply for a failure message.
pub fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// One connection to picket and one to Redis, driven with the same commands.
pub struct Both {
    pub p: RawConn,
    pub r: RawConn,
}

impl Both {
    pub fn connect(picket: u16, redis: u16) -> Both {
        Both {
            p: RawConn::connect(picket),
            r: RawConn::connect(redis),
        }
    }

    /// Run a command on both and assert the replies are the same bytes; returns them.
    pub fn same<A: AsRef<[u8]>>(&mut self, args: &[A], ctx: &str) -> Vec<u8> {
        let a = self.p.cmd(args);
        let b = self.r.cmd(args);
        if a != b {
            let shown: Vec<String> = args
                .iter()
                .map(|x| String::from_utf8_lossy(x.as_ref()).into_owned())
                .collect();
            panic!(
                "{ctx}: {shown:?}\n  picket: {}\n  redis:  {}",
                show(&a),
                show(&b)
            );
        }
        a
    }

    /// `same` for a line split on spaces.
    pub fn line(&mut self, line: &str, ctx: &str) -> Vec<u8> {
        self.same(&words(line), ctx)
    }

    /// Run every line on both, comparing each reply.
    pub fn script(&mut self, lines: &[&str], ctx: &str) {
        for l in lines {
            self.line(l, ctx);
        }
    }
}

/// The workspace's seeded generator (`picket_common::ids::seeded`, Xoshiro256++), so a
/// seed replays the same cases.
pub struct Rng(pub picket_common::ids::Rng);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        rand::RngExt::random(&mut self.0)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Wait until INFO clients shows `n` blocked clients (so a test does not race a blocking
/// command it just sent).
pub fn wait_blocked(c: &mut RawConn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = c.q("INFO clients");
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {n} blocked clients:\n{info}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `rdb_changes_since_last_save` from INFO persistence.
pub fn dirty(c: &mut RawConn) -> i64 {
    let info = c.q("INFO persistence");
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save in INFO")
}
