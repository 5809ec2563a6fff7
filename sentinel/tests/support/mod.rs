//! Shared helpers of the process-level sentinel tests: starting picket or Redis servers and
//! sentinels on free ports, a small RESP2/RESP3 client, event collection and waiting.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn sentinel_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_picket-sentinel"))
}

/// The picket-server binary: beside this package's binary (built on demand).
pub fn server_bin() -> PathBuf {
    let me = sentinel_bin();
    let p = me.with_file_name("picket-server");
    if !p.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "picket-server", "--bin", "picket-server"]);
        if me.parent().is_some_and(|d| d.ends_with("release")) {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("cargo build picket-server");
        assert!(st.success());
    }
    p
}

/// The Redis binary, None (loudly) when absent, a failure under PICKET_REQUIRE_REDIS=1.
pub fn redis_bin() -> Option<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("redis-server");
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("redis-server is required (PICKET_REQUIRE_REDIS=1) but not installed");
    }
    eprintln!(
        "\n!!! SKIPPED: redis-server (Redis 7.0) is not installed: apt-get install redis-server\n"
    );
    None
}

/// A throwaway CA and certificates in `dir` (`tools/gen-test-certs.sh`: ca.crt,
/// redis.{crt,key}, server.*, client.*); false, loudly, when openssl is absent (a failure
/// under PICKET_REQUIRE_REDIS=1).
pub fn test_certs(dir: &Path) -> bool {
    match picket_common::tls::gen_test_certs(dir, &[]) {
        Ok(true) => true,
        Ok(false) => {
            if std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1") {
                panic!("openssl is required (PICKET_REQUIRE_REDIS=1) to make the TLS tests' certificates");
            }
            eprintln!("\n!!! SKIPPED: openssl is not installed: the TLS tests need it to make certificates\n");
            false
        }
        Err(e) => panic!("tools/gen-test-certs.sh: {e}"),
    }
}

pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub conf: Option<PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn conf_text(&self) -> String {
        std::fs::read_to_string(self.conf.as_ref().expect("a config file")).unwrap_or_default()
    }

    /// The exit status if the process ended within `secs`.
    pub fn wait_exit(&mut self, secs: u64) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Keep the directory (config file and log) for a restart.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        self.kill9();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
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

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn spawn(
    bin: &Path,
    args: &[String],
    dir: tempfile::TempDir,
    port: u16,
    conf: Option<PathBuf>,
) -> Proc {
    spawn_with_nofile(bin, args, dir, port, conf, None)
}

/// [`spawn`] with `RLIMIT_NOFILE` soft = hard = `nofile` in the child (`ulimit -n`).
pub fn spawn_with_nofile(
    bin: &Path,
    args: &[String],
    dir: tempfile::TempDir,
    port: u16,
    conf: Option<PathBuf>,
    nofile: Option<u64>,
) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("log"))
        .unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    if let Some(n) = nofile {
        set_nofile_in_child(&mut cmd, n);
    }
    let child = cmd.spawn().expect("spawn");
    let mut p = Proc {
        child,
        port,
        dir,
        conf,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = p.child.try_wait() {
            panic!("{} exited ({st}) at start: {}", bin.display(), p.log());
        }
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// A data server (picket, or Redis with `redis`), optionally a replica of `master`, with
/// extra `--name value` arguments.
pub fn server(redis: Option<&Path>, port: u16, master: Option<u16>, extra: &[&str]) -> Proc {
    server_in(redis, port, master, extra, tempfile::tempdir().unwrap())
}

pub fn server_in(
    redis: Option<&Path>,
    port: u16,
    master: Option<u16>,
    extra: &[&str],
    dir: tempfile::TempDir,
) -> Proc {
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--dir".into(),
        dir.path().display().to_string(),
        "--save".into(),
        "".into(),
        "--repl-diskless-sync-delay".into(),
        "0".into(),
    ];
    if let Some(m) = master {
        args.extend(["--replicaof".into(), "127.0.0.1".into(), m.to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let bin = redis.map(Path::to_path_buf).unwrap_or_else(server_bin);
    spawn(&bin, &args, dir, port, None)
}

/// The usual test config: `mymaster` at `master` with quorum, 1 s down-after, 10 s
/// failover timeout, plus `extra` lines.
pub fn sentinel_conf(port: u16, master: u16, quorum: u32, extra: &str) -> String {
    format!(
        "# test sentinel\nport {port}\nsentinel monitor mymaster 127.0.0.1 {master} {quorum}\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n{extra}"
    )
}

/// A sentinel (picket, or `redis-server --sentinel`) from config text written to
/// `file_name` in `dir` (unless the file is there already: a restart).
pub fn sentinel_from(
    redis: Option<&Path>,
    port: u16,
    file_name: &str,
    text: &str,
    dir: Option<tempfile::TempDir>,
) -> Proc {
    sentinel_from_with_nofile(redis, port, file_name, text, dir, None)
}

/// [`sentinel_from`] under a descriptor limit (`ulimit -n nofile`).
pub fn sentinel_from_with_nofile(
    redis: Option<&Path>,
    port: u16,
    file_name: &str,
    text: &str,
    dir: Option<tempfile::TempDir>,
    nofile: Option<u64>,
) -> Proc {
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let conf = dir.path().join(file_name);
    if !conf.exists() {
        std::fs::write(&conf, text).unwrap();
    }
    let (bin, mut args) = match redis {
        Some(r) => (
            r.to_path_buf(),
            vec![conf.display().to_string(), "--sentinel".into()],
        ),
        None => (sentinel_bin(), vec![conf.display().to_string()]),
    };
    args.extend(["--dir".into(), dir.path().display().to_string()]);
    spawn_with_nofile(&bin, &args, dir, port, Some(conf), nofile)
}

pub fn sentinel(redis: Option<&Path>, port: u16, master: u16, quorum: u32, extra: &str) -> Proc {
    sentinel_from(
        redis,
        port,
        "sentinel.conf",
        &sentinel_conf(port, master, quorum, extra),
        None,
    )
}

/// A reply, RESP2 or RESP3.
#[derive(Debug, Clone, PartialEq)]
pub enum R {
    S(String),
    E(String),
    I(i64),
    B(Option<String>),
    A(Vec<R>),
    /// RESP3 map, in order.
    M(Vec<(R, R)>),
    /// RESP3 null (`_`), and RESP2 null arrays (`*-1`).
    Nil,
    /// RESP3 verbatim string (format, text).
    V(String, String),
    /// RESP3 push.
    P(Vec<R>),
}

impl R {
    pub fn s(&self) -> String {
        match self {
            R::S(s) | R::E(s) | R::B(Some(s)) | R::V(_, s) => s.clone(),
            R::I(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    }

    pub fn items(&self) -> Vec<R> {
        match self {
            R::A(v) | R::P(v) => v.clone(),
            R::M(v) => v.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
            other => panic!("not an array: {other:?}"),
        }
    }

    /// A field of a flat field list (RESP2) or a map (RESP3).
    pub fn field(&self, name: &str) -> Option<String> {
        let v = self.items();
        v.chunks(2).find(|p| p[0].s() == name).map(|p| p[1].s())
    }

    pub fn keys(&self) -> Vec<String> {
        self.items().chunks(2).map(|p| p[0].s()).collect()
    }
}

/// A tiny RESP client.
pub struct Client {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let w = TcpStream::connect(("127.0.0.1", port)).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    pub fn send(&mut self, args: &[&str]) {
        self.w
            .write_all(&picket_common::resp::encode_command(args))
            .unwrap();
    }

    pub fn read(&mut self) -> Option<R> {
        read_reply(&mut self.r)
    }

    pub fn cmd(&mut self, args: &[&str]) -> R {
        self.send(args);
        self.read().expect("reply")
    }
}

fn read_bulk<B: BufRead>(r: &mut B, n: i64) -> Option<String> {
    let mut b = vec![0u8; n as usize + 2];
    r.read_exact(&mut b).ok()?;
    b.truncate(n as usize);
    Some(String::from_utf8_lossy(&b).into_owned())
}

/// One RESP2 or RESP3 reply from any buffered stream (a TLS one too); None at its end.
pub fn read_reply<B: BufRead>(r: &mut B) -> Option<R> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    let (t, rest) = line.split_at(1);
    let n = || rest.parse::<i64>().unwrap();
    Some(match t {
        "+" => R::S(rest.into()),
        "-" => R::E(rest.into()),
        ":" => R::I(n()),
        "_" => R::Nil,
        "$" if n() < 0 => R::B(None),
        "$" => R::B(Some(read_bulk(r, n())?)),
        "=" => {
            let s = read_bulk(r, n())?;
            R::V(s[..3].to_string(), s[4..].to_string())
        }
        "*" if n() < 0 => R::Nil,
        "*" | ">" | "~" => {
            let mut v = Vec::new();
            for _ in 0..n() {
                v.push(read_reply(r)?);
            }
            if t == ">" {
                R::P(v)
            } else {
                R::A(v)
            }
        }
        "%" => {
            let mut v = Vec::new();
            for _ in 0..n() {
                let k = read_reply(r)?;
                v.push((k, read_reply(r)?));
            }
            R::M(v)
        }
        _ => panic!("bad reply line {line:?}"),
    })
}

/// One command on a fresh connection.
pub fn cmd(port: u16, args: &[&str]) -> R {
    Client::connect(port).cmd(args)
}

/// Collect every event a sentinel publishes, in order, on a thread.
pub fn events(port: u16) -> mpsc::Receiver<(String, String)> {
    let (tx, rx) = mpsc::channel();
    let mut c = Client::connect(port);
    c.w.set_read_timeout(None).ok();
    c.send(&["PSUBSCRIBE", "*"]);
    c.read();
    std::thread::spawn(move || {
        while let Some(m) = c.read() {
            let v = m.items();
            if v.len() == 4 && tx.send((v[2].s(), v[3].s())).is_err() {
                return;
            }
        }
    });
    rx
}

/// Wait for an event of `kind` (whose payload satisfies `f`), keeping what was read.
pub fn wait_event(
    rx: &mpsc::Receiver<(String, String)>,
    seen: &mut Vec<(String, String)>,
    kind: &str,
    secs: u64,
    f: impl Fn(&str) -> bool,
) -> String {
    if let Some((_, m)) = seen.iter().find(|(k, m)| k == kind && f(m)) {
        return m.clone();
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((k, m)) => {
                seen.push((k.clone(), m.clone()));
                if k == kind && f(&m) {
                    return m;
                }
            }
            Err(_) => panic!("no {kind} event within {secs}s; seen: {seen:#?}"),
        }
    }
}

pub fn master_addr(port: u16) -> String {
    let r = cmd(port, &["SENTINEL", "get-master-addr-by-name", "mymaster"]);
    r.items()
        .iter()
        .map(|x| x.s())
        .collect::<Vec<_>>()
        .join(":")
}

pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn info_field(port: u16, field: &str) -> String {
    let t = cmd(port, &["INFO"]).s();
    t.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A master and two replicas.
pub fn servers(redis: Option<&Path>, extra: &[&str]) -> Vec<Proc> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut v = vec![server(redis, ports[0], None, extra)];
    for p in &ports[1..] {
        v.push(server(redis, *p, Some(ports[0]), extra));
    }
    for p in &ports[1..] {
        wait_for("replica link", 20, || {
            info_field(*p, "master_link_status") == "up"
        });
    }
    v
}

/// Every sentinel knows both replicas and the two other sentinels.
pub fn wait_discovery(sentinels: &[Proc]) {
    for s in sentinels {
        wait_for("discovery", 30, || {
            let m = cmd(s.port, &["SENTINEL", "master", "mymaster"]);
            m.field("num-slaves").as_deref() == Some("2")
                && m.field("num-other-sentinels").as_deref() == Some("2")
        });
    }
}

/// Three servers and three picket sentinels (`extra` config lines for each).
pub struct Deployment {
    pub servers: Vec<Proc>,
    pub sentinels: Vec<Proc>,
}

pub fn deploy(redis_servers: Option<&Path>, server_args: &[&str], extra: &str) -> Deployment {
    let servers = servers(redis_servers, server_args);
    let master = servers[0].port;
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel(None, free_port(), master, 2, extra))
        .collect();
    wait_discovery(&sentinels);
    Deployment { servers, sentinels }
}

/// Wait until every running sentinel points away from the killed master; returns the new
/// `ip:port`.
pub fn wait_switch(sentinels: &[&Proc], old: &str, secs: u64) -> String {
    for s in sentinels {
        wait_for("+switch-master", secs, || master_addr(s.port) != old);
    }
    let new = master_addr(sentinels[0].port);
    for s in sentinels {
        assert_eq!(master_addr(s.port), new);
    }
    new
}

pub fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}
