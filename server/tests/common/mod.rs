//! Shared harness of the integration tests: start the real `picket-server` binary (and, for
//! differential tests, Debian's `redis-server` 7.0) on a free port, and talk RESP to them with
//! a small blocking client that shows every reply exactly.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;

/// Picket's own directives (docs/failover-safety.md) and their defaults: `CONFIG GET *`
/// lists Redis 7.0's directives and these.
pub const PICKET_DIRECTIVES: &[(&str, &str)] = &[
    ("failover-epoch", "0"),
    ("failover-lease-ms", "500"),
    ("failover-safety", "classic"),
    ("lua-memory-limit", "1073741824"),
    ("tls-handshake-timeout", "10000"),
];

/// Picket's own commands (docs/failover-safety.md): `COMMAND LIST` lists Redis 7.0's
/// commands and these.
pub const PICKET_COMMANDS: &[&str] = &["replfence"];
use redis_protocol::resp3::decode::complete::decode_bytes_mut;
use redis_protocol::resp3::types::BytesFrame;

/// A reply, normalised for comparison (RESP2 and RESP3 types kept apart).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    NilArray,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    Double(String),
    Bool(bool),
    Verbatim(String, Vec<u8>),
    BigNumber(String),
}

impl Reply {
    pub fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(s.to_string())
    }
    pub fn ok() -> Reply {
        Reply::simple("OK")
    }
    pub fn err(s: &str) -> Reply {
        Reply::Error(s.to_string())
    }
    pub fn arr(v: Vec<Reply>) -> Reply {
        Reply::Array(v)
    }
    pub fn bulks(v: &[&str]) -> Reply {
        Reply::Array(v.iter().map(|s| Reply::bulk(s)).collect())
    }
    /// The text of a bulk, simple or verbatim string.
    pub fn text(&self) -> String {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Simple(s) | Reply::Error(s) | Reply::Double(s) => s.clone(),
            Reply::Int(n) => n.to_string(),
            other => panic!("not a string reply: {other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("not an integer reply: {other:?}"),
        }
    }
    pub fn items(&self) -> Vec<Reply> {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => v.clone(),
            Reply::Map(v) => v.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
            other => panic!("not a collection reply: {other:?}"),
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

fn convert(f: BytesFrame) -> Reply {
    match f {
        BytesFrame::SimpleString { data, .. } => {
            Reply::Simple(String::from_utf8_lossy(&data).into())
        }
        BytesFrame::SimpleError { data, .. } => Reply::Error(data.to_string()),
        BytesFrame::BlobError { data, .. } => Reply::Error(String::from_utf8_lossy(&data).into()),
        BytesFrame::Number { data, .. } => Reply::Int(data),
        BytesFrame::BlobString { data, .. } => Reply::Bulk(data.to_vec()),
        BytesFrame::Null => Reply::Nil,
        BytesFrame::Array { data, .. } => Reply::Array(data.into_iter().map(convert).collect()),
        BytesFrame::Set { data, .. } => Reply::Set(data.into_iter().map(convert).collect()),
        BytesFrame::Push { data, .. } => Reply::Push(data.into_iter().map(convert).collect()),
        BytesFrame::Map { data, .. } => Reply::Map(
            data.into_iter()
                .map(|(k, v)| (convert(k), convert(v)))
                .collect(),
        ),
        BytesFrame::Double { data, .. } => Reply::Double(format!("{data}")),
        BytesFrame::Boolean { data, .. } => Reply::Bool(data),
        BytesFrame::VerbatimString { data, format, .. } => {
            Reply::Verbatim(format!("{format:?}").to_lowercase(), data.to_vec())
        }
        BytesFrame::BigNumber { data, .. } => {
            Reply::BigNumber(String::from_utf8_lossy(&data).into())
        }
        other => panic!("unexpected frame {other:?}"),
    }
}

fn convert2(f: redis_protocol::resp2::types::BytesFrame) -> Reply {
    use redis_protocol::resp2::types::BytesFrame as F2;
    match f {
        F2::SimpleString(s) => Reply::Simple(String::from_utf8_lossy(&s).into()),
        F2::Error(e) => Reply::Error(e.to_string()),
        F2::Integer(n) => Reply::Int(n),
        F2::BulkString(b) => Reply::Bulk(b.to_vec()),
        F2::Null => Reply::Nil,
        F2::Array(v) => Reply::Array(v.into_iter().map(convert2).collect()),
    }
}

/// A blocking RESP connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Send a command (arguments as bytes) and read its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.read()
    }

    /// `c.q("SET k v")`: split on spaces (no quoting), send, read.
    pub fn q(&mut self, line: &str) -> Reply {
        let args: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
        self.cmd(&args)
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.stream
            .write_all(&picket_common::resp::encode_command(args))
            .expect("write");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Read one reply (RESP2 or RESP3).
    pub fn read(&mut self) -> Reply {
        self.try_read().expect("reply")
    }

    /// Read one reply, or None if the connection closed or nothing came within the timeout.
    pub fn try_read(&mut self) -> Option<Reply> {
        loop {
            if !self.buf.is_empty() {
                // A top-level null array stays distinct from a null bulk string.
                if self.buf.starts_with(b"*-1\r\n") {
                    let _ = self.buf.split_to(5);
                    return Some(Reply::NilArray);
                }
                // RESP2 first (it knows `$-1` and `*-1`, also nested); RESP3-only frames make
                // it fail, and then the RESP3 decoder reads them.
                match redis_protocol::resp2::decode::decode_bytes_mut(&mut self.buf) {
                    Ok(Some((frame, _, _))) => return Some(convert2(frame)),
                    Ok(None) => {}
                    Err(_) => {
                        if let Ok(Some((frame, _, _))) = decode_bytes_mut(&mut self.buf) {
                            return Some(convert(frame));
                        }
                    }
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Whether the server closed the connection (EOF or reset within 3 s; data before the
    /// close is drained).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .ok();
        let mut b = [0u8; 4096];
        loop {
            match self.stream.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    pub fn set_timeout(&self, d: Duration) {
        self.stream.set_read_timeout(Some(d)).ok();
    }
}

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub is_redis: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn wait_ready(port: u16, child: &mut Child, log: &PathBuf) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("server exited early ({status}):\n{text}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server on port {port} did not start");
}

pub fn picket_bin() -> &'static str {
    env!("CARGO_BIN_EXE_picket-server")
}

impl Server {
    /// Start picket-server with extra `--directive value` arguments.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_with(picket_bin(), None, extra, false, None, None)
    }

    /// Start picket-server (or redis-server, `redis`) with extra arguments under a
    /// descriptor limit (`RLIMIT_NOFILE` soft = hard = `nofile`, set in the child before it
    /// runs, as `ulimit -n`). None when `redis` and redis-server is not installed.
    pub fn start_with_nofile(extra: &[&str], redis: bool, nofile: u64) -> Option<Server> {
        if redis {
            let bin = which("redis-server")?;
            let mut args = vec!["--save", "", "--appendonly", "no"];
            args.extend_from_slice(extra);
            return Some(Self::start_with(
                &bin,
                None,
                &args,
                true,
                None,
                Some(nofile),
            ));
        }
        Some(Self::start_with(
            picket_bin(),
            None,
            extra,
            false,
            None,
            Some(nofile),
        ))
    }

    /// Start picket-server with a config file as first argument.
    pub fn start_with_file(file: &std::path::Path, extra: &[&str]) -> Server {
        Self::start_with(picket_bin(), Some(file), extra, false, None, None)
    }

    /// Start Debian's redis-server 7.0 with the same arguments, or None when it is not
    /// installed (a loud message; a failure under PICKET_REQUIRE_REDIS=1).
    pub fn redis(extra: &[&str]) -> Option<Server> {
        let bin = which("redis-server")?;
        let mut args = vec!["--save", "", "--appendonly", "no"];
        args.extend_from_slice(extra);
        Some(Self::start_with(&bin, None, &args, true, None, None))
    }

    /// Start picket-server on a given port (a restart where the old one ran).
    pub fn start_on_port(port: u16, extra: &[&str]) -> Server {
        Self::start_with(picket_bin(), None, extra, false, Some(port), None)
    }

    fn start_with(
        bin: &str,
        file: Option<&std::path::Path>,
        extra: &[&str],
        is_redis: bool,
        fixed_port: Option<u16>,
        nofile: Option<u64>,
    ) -> Server {
        for _attempt in 0..5 {
            let port = fixed_port.unwrap_or_else(free_port);
            let dir = tempfile::tempdir().expect("tempdir");
            let log = dir.path().join("server.log");
            let logf = std::fs::File::create(&log).expect("log");
            let mut cmd = Command::new(bin);
            if let Some(f) = file {
                cmd.arg(f);
            }
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--dir")
                .arg(dir.path())
                .args(extra)
                .stdout(Stdio::from(logf.try_clone().expect("log")))
                .stderr(Stdio::from(logf));
            if let Some(n) = nofile {
                set_nofile_in_child(&mut cmd, n);
            }
            let mut child = cmd.spawn().expect("spawn server");
            // Retry on a port race: the free port was taken before the server bound it.
            std::thread::sleep(Duration::from_millis(30));
            if let Ok(Some(_)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("in use") {
                    continue;
                }
            }
            wait_ready(port, &mut child, &log);
            return Server {
                child,
                port,
                dir,
                log,
                is_redis,
            };
        }
        panic!("could not start {bin}");
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Make the child start with `RLIMIT_NOFILE` soft = hard = `n` (`ulimit -n n`), and
/// without CAP_SYS_RESOURCE (dropped from its bounding set, so a root test run, as in CI,
/// gives a child that cannot raise the hard limit again, as an unprivileged one).
pub fn set_nofile_in_child(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: n as libc::rlim_t,
        rlim_max: n as libc::rlim_t,
    };
    // SAFETY: prctl and setrlimit are async-signal-safe and change only the child's own
    // capabilities and limit; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Fails (EPERM) without CAP_SETPCAP, when there is nothing to drop anyway.
            const CAP_SYS_RESOURCE: libc::c_ulong = 24;
            libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether a child may raise its hard descriptor limit again (CAP_SYS_RESOURCE): then a
/// low `ulimit -n` cannot be tested (said loudly).
pub fn children_may_raise_the_hard_limit() -> bool {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 100"]).stderr(Stdio::null());
    set_nofile_in_child(&mut cmd, 30);
    let raised = cmd.status().map(|s| s.success()).unwrap_or(false);
    if raised {
        eprintln!(
            "\n*** SKIPPING: this process has CAP_SYS_RESOURCE, a low ulimit can be raised ***\n"
        );
    }
    raised
}

/// The path of a program, or None with a loud message (or a panic when
/// PICKET_REQUIRE_REDIS=1, as in CI).
pub fn which(prog: &str) -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(prog))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    });
    if found.is_none() {
        if std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("{prog} is required (PICKET_REQUIRE_REDIS=1) but not installed: apt-get install redis-server redis-tools");
        }
        eprintln!("\n*** SKIPPING: {prog} not found; install redis-server and redis-tools (apt) to run the comparison with Redis 7.0 ***\n");
    }
    found
}

/// A picket-server and a Redis 7.0 started with the same arguments, for differential tests.
pub struct Pair {
    pub picket: Server,
    pub redis: Server,
}

impl Pair {
    pub fn start(extra: &[&str]) -> Option<Pair> {
        let redis = Server::redis(extra)?;
        // The same arguments as the reference gets (persistence off), so defaults compare.
        let picket = Server::start(&[&["--save", "", "--appendonly", "no"], extra].concat());
        Some(Pair { picket, redis })
    }

    /// Run the same commands on both, over one connection each, and assert every reply is
    /// equal. Returns the replies.
    pub fn same(&self, cmds: &[&[&str]]) -> Vec<Reply> {
        let mut p = self.picket.conn();
        let mut r = self.redis.conn();
        let mut out = Vec::new();
        for c in cmds {
            let a = p.cmd(c);
            let b = r.cmd(c);
            assert_eq!(
                a, b,
                "command {c:?}: picket (left) and redis (right) differ"
            );
            out.push(a);
        }
        out
    }
}

/// Run `redis-cli` against a port; None when redis-cli is missing (see [`which`]).
pub fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let bin = which("redis-cli")?;
    let out = Command::new(bin)
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("run redis-cli");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A small seeded xorshift generator for the differential tests' random walks (the same
/// seed gives the same walk on every machine).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
