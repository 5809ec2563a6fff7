//! Helpers shared by the sorted set tests (each includes this file with `#[path]`): a
//! picket-server and a Redis 7.0 on a port of 27600–27699, compared reply by reply, in RESP2
//! (decoded) or as raw bytes (exact RESP3 doubles).
#![allow(dead_code)]

#[path = "common/mod.rs"]
pub mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

/// A redis-server of ours, killed when dropped.
pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }
}

static NEXT: AtomicU16 = AtomicU16::new(0);

/// Start Debian's redis-server 7.0 on a free port in 27600–27699 (None, loudly, when it is not
/// installed).
pub fn start_redis(extra: &[&str]) -> Option<Redis> {
    let bin = common::which("redis-server")?;
    let base = (std::process::id() % 100) as u16;
    for _ in 0..200 {
        let port = 27600 + (base + NEXT.fetch_add(7, Ordering::Relaxed)) % 100;
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("redis.log");
        let mut child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut up = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                // Our server answers PING (not another process that took the port).
                let _ = s.write_all(b"PING\r\n");
                let mut b = [0u8; 7];
                s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                if s.read_exact(&mut b).is_ok() && &b == b"+PONG\r\n" {
                    up = true;
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if up && child.try_wait().ok().flatten().is_none() {
            return Some(Redis {
                child,
                port,
                _dir: dir,
            });
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("no free port for redis-server in 27600-27699");
}

/// A picket-server and a Redis 7.0 with the same arguments.
pub struct Duo {
    pub picket: Server,
    pub redis: Redis,
}

impl Duo {
    pub fn start(extra: &[&str]) -> Option<Duo> {
        let redis = start_redis(extra)?;
        let picket = Server::start(extra);
        Some(Duo { picket, redis })
    }

    pub fn conns(&self) -> Both {
        Both {
            p: self.picket.conn(),
            r: self.redis.conn(),
        }
    }
}

/// One connection to each server.
pub struct Both {
    pub p: Conn,
    pub r: Conn,
}

impl Both {
    /// Same command on both; the replies must be equal. Returns picket's.
    pub fn same<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let a = self.p.cmd(args);
        let b = self.r.cmd(args);
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect();
        assert_eq!(a, b, "{shown:?}: picket (left) and redis (right) differ");
        a
    }

    /// Each line a command split on single spaces (`''` is an empty argument).
    pub fn lines(&mut self, text: &str) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let args: Vec<&str> = line
                .split(' ')
                .map(|a| if a == "''" { "" } else { a })
                .collect();
            self.same(&args);
        }
    }

    /// Same command on both, compared as raw reply bytes (exact RESP3 doubles and types).
    pub fn raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let a = raw_reply(&mut self.p, args);
        let b = raw_reply(&mut self.r, args);
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "{shown:?}: picket (left) and redis (right) differ"
        );
        a
    }

    pub fn raw_lines(&mut self, text: &str) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let args: Vec<&str> = line.split(' ').collect();
            self.raw(&args);
        }
    }

    /// The same command on both, replies not compared (HELLO, CONFIG SET, DEBUG).
    pub fn both(&mut self, line: &str) {
        self.p.q(line);
        self.r.q(line);
    }
}

/// Send a command then PING, and return the bytes before PING's `+PONG`.
pub fn raw_reply<A: AsRef<[u8]>>(c: &mut Conn, args: &[A]) -> Vec<u8> {
    c.send(args);
    c.send(&["PING"]);
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    while !got.ends_with(b"+PONG\r\n") {
        let n = c.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&chunk[..n]);
    }
    got.truncate(got.len() - 7);
    got
}
