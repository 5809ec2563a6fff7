//! Sentinels and servers as real processes over TCP: discovery, kill -9 of the master and a
//! full failover with every event in order, the old master rejoining as a replica, no
//! failover without quorum, manual failover, a restarted sentinel keeping its state, and
//! interoperability with Redis 7.0 (redis-server and redis-server --sentinel) both ways.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The picket-server binary: beside this package's binary (built on demand).
fn server_bin() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_picket-sentinel"));
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
fn redis_bin() -> Option<PathBuf> {
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

struct Proc {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    conf: Option<PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(
    bin: &Path,
    args: &[String],
    dir: tempfile::TempDir,
    port: u16,
    conf: Option<PathBuf>,
) -> Proc {
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn");
    wait_port(port);
    Proc {
        child,
        port,
        dir,
        conf,
    }
}

/// A data server (picket, or Redis with `redis`), optionally a replica of `master`.
fn server(redis: Option<&Path>, port: u16, master: Option<u16>) -> Proc {
    let dir = tempfile::tempdir().unwrap();
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
    let bin = redis.map(Path::to_path_buf).unwrap_or_else(server_bin);
    spawn(&bin, &args, dir, port, None)
}

/// A sentinel (picket, or `redis-server --sentinel`) monitoring `master`.
fn sentinel(
    redis: Option<&Path>,
    port: u16,
    master: u16,
    quorum: u32,
    dir: Option<tempfile::TempDir>,
) -> Proc {
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let conf = dir.path().join("sentinel.conf");
    if !conf.exists() {
        std::fs::write(
            &conf,
            format!(
                "# test sentinel\nport {port}\nsentinel monitor mymaster 127.0.0.1 {master} {quorum}\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n"
            ),
        )
        .unwrap();
    }
    let (bin, mut args) = match redis {
        Some(r) => (
            r.to_path_buf(),
            vec![conf.display().to_string(), "--sentinel".into()],
        ),
        None => (
            PathBuf::from(env!("CARGO_BIN_EXE_picket-sentinel")),
            vec![conf.display().to_string()],
        ),
    };
    args.extend(["--dir".into(), dir.path().display().to_string()]);
    spawn(&bin, &args, dir, port, Some(conf))
}

/// A tiny RESP client.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

#[derive(Debug, Clone, PartialEq)]
enum R {
    S(String),
    E(String),
    I(i64),
    B(Option<String>),
    A(Vec<R>),
}

impl R {
    fn s(&self) -> String {
        match self {
            R::S(s) | R::E(s) | R::B(Some(s)) => s.clone(),
            R::I(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    }
    fn items(&self) -> Vec<R> {
        match self {
            R::A(v) => v.clone(),
            other => panic!("not an array: {other:?}"),
        }
    }
    /// A flat field list as pairs.
    fn field(&self, name: &str) -> Option<String> {
        let v = self.items();
        v.chunks(2).find(|p| p[0].s() == name).map(|p| p[1].s())
    }
}

impl Client {
    fn connect(port: u16) -> Client {
        let w = TcpStream::connect(("127.0.0.1", port)).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }
    fn send(&mut self, args: &[&str]) {
        let mut b = format!("*{}\r\n", args.len());
        for a in args {
            b.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.w.write_all(b.as_bytes()).unwrap();
    }
    fn read(&mut self) -> Option<R> {
        let mut line = String::new();
        if self.r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        let (t, rest) = line.split_at(1);
        Some(match t {
            "+" => R::S(rest.into()),
            "-" => R::E(rest.into()),
            ":" => R::I(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    R::B(None)
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.r.read_exact(&mut b).ok()?;
                    b.truncate(n as usize);
                    R::B(Some(String::from_utf8_lossy(&b).into_owned()))
                }
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                let mut v = Vec::new();
                for _ in 0..n.max(0) {
                    v.push(self.read()?);
                }
                R::A(v)
            }
            _ => panic!("bad reply line {line:?}"),
        })
    }
    fn cmd(&mut self, args: &[&str]) -> R {
        self.send(args);
        self.read().expect("reply")
    }
}

/// Collect every event a sentinel publishes, in order, on a thread.
fn events(port: u16) -> mpsc::Receiver<(String, String)> {
    let (tx, rx) = mpsc::channel();
    let mut c = Client::connect(port);
    c.w.set_read_timeout(None).ok();
    c.r.get_ref().set_read_timeout(None).ok();
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

fn master_addr(port: u16) -> String {
    let r = Client::connect(port).cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
    r.items()
        .iter()
        .map(|x| x.s())
        .collect::<Vec<_>>()
        .join(":")
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn info_field(port: u16, field: &str) -> String {
    let t = Client::connect(port).cmd(&["INFO"]).s();
    t.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Three servers and three sentinels; `redis_servers` / `redis_sentinels` pick Redis for
/// either side (and for one sentinel only with `mixed`).
struct Deployment {
    servers: Vec<Proc>,
    sentinels: Vec<Proc>,
}

fn deploy(
    redis_servers: Option<&Path>,
    sentinel_kinds: [Option<&Path>; 3],
    quorum: u32,
) -> Deployment {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut servers = vec![server(redis_servers, ports[0], None)];
    for p in &ports[1..] {
        servers.push(server(redis_servers, *p, Some(ports[0])));
    }
    for p in &ports[1..] {
        wait_for("replica link", 20, || {
            info_field(*p, "master_link_status") == "up"
        });
    }
    let sentinels: Vec<Proc> = sentinel_kinds
        .iter()
        .map(|k| sentinel(*k, free_port(), ports[0], quorum, None))
        .collect();
    let d = Deployment { servers, sentinels };
    // Discovery: every sentinel knows both replicas and the two other sentinels.
    for s in &d.sentinels {
        wait_for("discovery", 30, || {
            let m = Client::connect(s.port).cmd(&["SENTINEL", "master", "mymaster"]);
            m.field("num-slaves").as_deref() == Some("2")
                && m.field("num-other-sentinels").as_deref() == Some("2")
        });
    }
    d
}

const LEADER_ORDER: &[&str] = &[
    "+sdown",
    "+odown",
    "+new-epoch",
    "+try-failover",
    "+vote-for-leader",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
    "+failover-state-reconf-slaves",
    "+slave-reconf-sent",
    "+slave-reconf-inprog",
    "+slave-reconf-done",
    "+failover-end",
    "+switch-master",
];

/// Kill the master, wait until every sentinel points elsewhere; returns the new address
/// and each sentinel's events.
fn kill_and_failover(d: &mut Deployment) -> (String, Vec<Vec<(String, String)>>) {
    let rxs: Vec<_> = d.sentinels.iter().map(|s| events(s.port)).collect();
    let old = format!("127.0.0.1:{}", d.servers[0].port);
    d.servers[0].kill9();
    let t = Instant::now();
    for s in &d.sentinels {
        wait_for("+switch-master", 60, || master_addr(s.port) != old);
    }
    eprintln!("failover took {:?}", t.elapsed());
    let new = master_addr(d.sentinels[0].port);
    for s in &d.sentinels {
        assert_eq!(master_addr(s.port), new);
    }
    // The leader announces the new address before it finishes reconfiguring the replicas:
    // wait for its own +switch-master (after +failover-end).
    let mut evs: Vec<Vec<(String, String)>> = vec![Vec::new(); rxs.len()];
    wait_for("the leader's +failover-end and +switch-master", 60, || {
        for (i, rx) in rxs.iter().enumerate() {
            evs[i].extend(rx.try_iter());
        }
        evs.iter().any(|e| {
            let mut it = e.iter();
            it.any(|(k, _)| k == "+failover-end") && it.any(|(k, _)| k == "+switch-master")
        })
    });
    (new, evs)
}

fn assert_leader_events(evs: &[Vec<(String, String)>]) {
    let leader = evs
        .iter()
        .find(|e| e.iter().any(|(k, _)| k == "+elected-leader"))
        .unwrap_or_else(|| panic!("no sentinel was elected: {evs:#?}"));
    let mut it = leader.iter();
    for want in LEADER_ORDER {
        assert!(
            it.any(|(k, _)| k == want),
            "event {want} missing or out of order in {leader:#?}"
        );
    }
    let (_, sw) = leader.iter().find(|(k, _)| k == "+switch-master").unwrap();
    let parts: Vec<&str> = sw.split(' ').collect();
    assert_eq!(parts.len(), 5, "{sw}");
    assert_eq!(parts[0], "mymaster");
}

#[test]
fn failover_after_kill_9_with_every_event_and_the_old_master_rejoins() {
    let mut d = deploy(None, [None, None, None], 2);
    let mut c = Client::connect(d.servers[0].port);
    c.cmd(&["SET", "before", "1"]);
    c.cmd(&["WAIT", "2", "1000"]);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let port: u16 = new.rsplit(':').next().unwrap().parse().unwrap();
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["ROLE"]).items()[0].s(), "master");
    assert_eq!(c.cmd(&["GET", "before"]).s(), "1");
    assert_eq!(c.cmd(&["SET", "after", "2"]).s(), "OK");
    // The old master comes back (as a master, from its empty config) and is converted.
    let old_port = d.servers[0].port;
    let rxs: Vec<_> = d.sentinels.iter().map(|s| events(s.port)).collect();
    d.servers[0] = server(None, old_port, None);
    wait_for("old master demoted", 40, || {
        info_field(old_port, "role") == "slave"
            && info_field(old_port, "master_link_status") == "up"
    });
    // Some sentinel converted it.
    assert!(rxs
        .iter()
        .any(|rx| rx.try_iter().any(|(k, _)| k == "+convert-to-slave")));
    assert_eq!(Client::connect(old_port).cmd(&["GET", "after"]).s(), "2");
    // The sentinels' state files hold the new master.
    let conf = std::fs::read_to_string(d.sentinels[0].conf.as_ref().unwrap()).unwrap();
    assert!(
        conf.contains(&format!("sentinel monitor mymaster 127.0.0.1 {port} 2")),
        "{conf}"
    );
    assert!(conf.starts_with("# test sentinel\n"), "{conf}");
    assert!(conf.contains("sentinel known-sentinel mymaster"), "{conf}");
}

#[test]
fn no_failover_without_quorum() {
    let mut d = deploy(None, [None, None, None], 4);
    let rx = events(d.sentinels[0].port);
    let old = master_addr(d.sentinels[0].port);
    d.servers[0].kill9();
    std::thread::sleep(Duration::from_secs(5));
    let evs: Vec<_> = rx.try_iter().collect();
    assert!(evs.iter().any(|(k, _)| k == "+sdown"), "{evs:?}");
    assert!(!evs.iter().any(|(k, _)| k == "+odown"), "{evs:?}");
    assert_eq!(master_addr(d.sentinels[0].port), old);
    let r = Client::connect(d.sentinels[0].port).cmd(&["SENTINEL", "ckquorum", "mymaster"]);
    assert!(r.s().starts_with("NOQUORUM"), "{r:?}");
}

#[test]
fn manual_failover_and_sentinel_commands() {
    let d = deploy(None, [None, None, None], 2);
    let s = d.sentinels[0].port;
    let mut c = Client::connect(s);
    assert_eq!(
        c.cmd(&["SENTINEL", "ckquorum", "mymaster"]).s(),
        "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "master", "nosuch"]),
        R::E("ERR No such master with that name".into())
    );
    // A null array (our client reads `*-1` as an empty one).
    assert_eq!(
        c.cmd(&["SENTINEL", "get-master-addr-by-name", "nosuch"]),
        R::A(vec![])
    );
    assert_eq!(
        c.cmd(&["PUBLISH", "other", "x"]),
        R::E("ERR Only HELLO messages are accepted by Sentinel instances.".into())
    );
    assert_eq!(c.cmd(&["ROLE"]).items()[0].s(), "sentinel");
    let m = c.cmd(&["SENTINEL", "master", "mymaster"]);
    let names: Vec<String> = m.items().chunks(2).map(|p| p[0].s()).collect();
    assert_eq!(
        &names[..7],
        &[
            "name",
            "ip",
            "port",
            "runid",
            "flags",
            "link-pending-commands",
            "link-refcount"
        ]
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "set", "mymaster", "quorum", "0"]).s(),
        "ERR Invalid argument '0' for SENTINEL SET 'quorum'"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "set", "mymaster", "bogus", "1"]).s(),
        "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "set", "mymaster", "parallel-syncs", "2"])
            .s(),
        "OK"
    );
    let old = master_addr(s);
    assert_eq!(c.cmd(&["SENTINEL", "failover", "mymaster"]).s(), "OK");
    wait_for("manual failover", 30, || master_addr(s) != old);
    for x in &d.sentinels {
        wait_for("others follow", 30, || {
            master_addr(x.port) == master_addr(s)
        });
    }
}

#[test]
fn restarted_sentinel_keeps_its_state() {
    let mut d = deploy(None, [None, None, None], 2);
    let s0 = d.sentinels.remove(0);
    let myid = Client::connect(s0.port).cmd(&["SENTINEL", "myid"]).s();
    let port = s0.port;
    let conf = s0.conf.clone().unwrap();
    // Stop it (its state is in the file), keep the directory.
    let mut s0 = s0;
    s0.kill9();
    let dir = std::mem::replace(&mut s0.dir, tempfile::tempdir().unwrap());
    drop(s0);
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains(&format!("sentinel myid {myid}")), "{text}");
    assert!(text.contains("sentinel known-replica mymaster"), "{text}");
    let s = sentinel(None, port, 0, 2, Some(dir));
    let mut c = Client::connect(s.port);
    assert_eq!(c.cmd(&["SENTINEL", "myid"]).s(), myid);
    let m = c.cmd(&["SENTINEL", "master", "mymaster"]);
    assert_eq!(m.field("num-slaves").as_deref(), Some("2"));
    assert_eq!(m.field("num-other-sentinels").as_deref(), Some("2"));
    drop(d);
}

#[test]
fn picket_sentinels_manage_redis_servers() {
    let Some(redis) = redis_bin() else { return };
    let mut d = deploy(Some(&redis), [None, None, None], 2);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let port: u16 = new.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        Client::connect(port).cmd(&["ROLE"]).items()[0].s(),
        "master"
    );
}

#[test]
fn redis_sentinels_manage_picket_servers() {
    let Some(redis) = redis_bin() else { return };
    let r = Some(redis.as_path());
    let mut d = deploy(None, [r, r, r], 2);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let port: u16 = new.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        Client::connect(port).cmd(&["ROLE"]).items()[0].s(),
        "master"
    );
    // The other replica follows the new master.
    for s in &d.servers[1..] {
        if s.port != port {
            wait_for("replica follows", 30, || {
                info_field(s.port, "master_port") == port.to_string()
                    && info_field(s.port, "master_link_status") == "up"
            });
        }
    }
}

#[test]
fn mixed_picket_and_redis_sentinels_agree_on_one_failover() {
    let Some(redis) = redis_bin() else { return };
    let r = Some(redis.as_path());
    let mut d = deploy(None, [None, r, None], 2);
    let (new, evs) = kill_and_failover(&mut d);
    assert_leader_events(&evs);
    let epochs: Vec<String> = d
        .sentinels
        .iter()
        .map(|s| {
            Client::connect(s.port)
                .cmd(&["SENTINEL", "master", "mymaster"])
                .field("config-epoch")
                .unwrap()
        })
        .collect();
    assert!(
        epochs.iter().all(|e| *e == epochs[0] && e != "0"),
        "{epochs:?}"
    );
    let _ = new;
    for s in &d.sentinels {
        let _ = s.log();
    }
}
