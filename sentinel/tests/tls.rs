//! Sentinels over TLS, on real processes: a TLS-only Redis 7.0 master and replica (Debian's
//! redis-server, built with TLS: `port 0`, `tls-port`, `tls-replication yes`), monitored
//! by picket-sentinels that listen on `tls-port` only (`port 0`) and open every link with
//! TLS (`tls-replication yes`), as Redis's sentinel does. They find each other through
//! hellos announcing their TLS ports, fail over when the master is killed, and answer
//! `redis-cli --tls`; a real redis-sentinel among them agrees (wire compatibility over
//! TLS); redis-py's Sentinel client with `ssl=True` follows the failover.

mod support;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use picket_common::tls::{Tls, TlsSettings};
use support::*;

/// The throwaway PKI of one test.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Option<Pki> {
        let dir = tempfile::tempdir().expect("temp dir");
        test_certs(dir.path()).then_some(Pki { dir })
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The `tls-*` lines every process of the deployment shares.
    fn conf_lines(&self) -> String {
        format!(
            "tls-replication yes\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n",
            self.file("redis.crt"),
            self.file("redis.key"),
            self.file("ca.crt")
        )
    }

    /// A client's configuration: trusts the CA, presents the client certificate.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        Tls::configure(&TlsSettings {
            cert_file: Some(self.file("redis.crt")),
            key_file: Some(self.file("redis.key")),
            client_cert_file: Some(self.file("client.crt")),
            client_key_file: Some(self.file("client.key")),
            ca_cert_file: Some(self.file("ca.crt")),
            ..TlsSettings::default()
        })
        .expect("the test certificates load")
        .client_config()
        .expect("a CA is configured")
    }
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A blocking RESP client over TLS.
struct TlsClient {
    s: BufReader<TlsStream>,
}

impl TlsClient {
    fn connect(cfg: &Arc<rustls::ClientConfig>, port: u16) -> std::io::Result<TlsClient> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let conn =
            rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
        Ok(TlsClient {
            s: BufReader::new(rustls::StreamOwned::new(conn, tcp)),
        })
    }

    fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        let w = self.s.get_mut();
        w.write_all(&picket_common::resp::encode_command(args))?;
        w.flush()
    }

    fn read(&mut self) -> Option<R> {
        read_reply(&mut self.s)
    }

    fn cmd(&mut self, args: &[&str]) -> Option<R> {
        self.send(args).ok()?;
        self.read()
    }
}

/// One command on a fresh TLS connection (None when it fails).
fn tls_cmd(cfg: &Arc<rustls::ClientConfig>, port: u16, args: &[&str]) -> Option<R> {
    TlsClient::connect(cfg, port).ok()?.cmd(args)
}

fn tls_master_addr(cfg: &Arc<rustls::ClientConfig>, port: u16) -> Option<String> {
    let r = tls_cmd(
        cfg,
        port,
        &["SENTINEL", "get-master-addr-by-name", "mymaster"],
    )?;
    let v = match r {
        R::A(v) => v,
        _ => return None,
    };
    Some(v.iter().map(R::s).collect::<Vec<_>>().join(":"))
}

fn tls_info_field(cfg: &Arc<rustls::ClientConfig>, port: u16, field: &str) -> String {
    let Some(t) = tls_cmd(cfg, port, &["INFO"]) else {
        return String::new();
    };
    t.s()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Every event a sentinel publishes, read over TLS on a thread.
fn tls_events(cfg: &Arc<rustls::ClientConfig>, port: u16) -> mpsc::Receiver<(String, String)> {
    let (tx, rx) = mpsc::channel();
    let mut c = TlsClient::connect(cfg, port).expect("connect to the sentinel's TLS port");
    c.s.get_ref().sock.set_read_timeout(None).ok();
    c.send(&["PSUBSCRIBE", "*"]).expect("subscribe");
    assert!(c.read().is_some(), "PSUBSCRIBE confirmed");
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

/// A TLS-only Redis server (`port 0`), optionally a replica of `master`.
fn redis_tls(redis: &Path, pki: &Pki, port: u16, master: Option<u16>) -> Proc {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<String> = vec![
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        port.to_string(),
        "--tls-replication".into(),
        "yes".into(),
        "--tls-cert-file".into(),
        pki.file("redis.crt"),
        "--tls-key-file".into(),
        pki.file("redis.key"),
        "--tls-ca-cert-file".into(),
        pki.file("ca.crt"),
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
    spawn(redis, &args, dir, port, None)
}

/// A sentinel (picket, or Redis's with `redis`) on `tls-port` only, TLS links.
fn sentinel_tls(redis: Option<&Path>, pki: &Pki, port: u16, master: u16) -> Proc {
    let text = format!(
        "port 0\ntls-port {port}\n{}sentinel monitor mymaster 127.0.0.1 {master} 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n",
        pki.conf_lines()
    );
    sentinel_from(redis, port, "sentinel.conf", &text, None)
}

/// A TLS master and its replica, the replica's link up.
fn tls_servers(redis: &Path, pki: &Pki, cfg: &Arc<rustls::ClientConfig>) -> Vec<Proc> {
    let (m, r) = (free_port(), free_port());
    let master = redis_tls(redis, pki, m, None);
    let replica = redis_tls(redis, pki, r, Some(m));
    wait_for("the replica's TLS link", 30, || {
        tls_info_field(cfg, r, "master_link_status") == "up"
    });
    vec![master, replica]
}

/// Each sentinel knows the replica and the two others, at their TLS ports, its links to
/// them up.
fn wait_tls_discovery(cfg: &Arc<rustls::ClientConfig>, sentinels: &[&Proc]) {
    for s in sentinels {
        wait_for("discovery over TLS", 60, || {
            let Some(m) = tls_cmd(cfg, s.port, &["SENTINEL", "master", "mymaster"]) else {
                return false;
            };
            m.field("num-slaves").as_deref() == Some("1")
                && m.field("num-other-sentinels").as_deref() == Some("2")
        });
        wait_for("links up to the other sentinels", 30, || {
            tls_cmd(cfg, s.port, &["SENTINEL", "sentinels", "mymaster"]).is_some_and(|r| {
                r.items()
                    .iter()
                    .all(|o| o.field("flags").as_deref() == Some("sentinel"))
            })
        });
        let others = tls_cmd(cfg, s.port, &["SENTINEL", "sentinels", "mymaster"])
            .expect("SENTINEL SENTINELS")
            .items();
        let mut ports: Vec<u16> = others
            .iter()
            .filter_map(|o| o.field("port").and_then(|p| p.parse().ok()))
            .collect();
        ports.sort_unstable();
        let mut want: Vec<u16> = sentinels
            .iter()
            .filter(|o| o.port != s.port)
            .map(|o| o.port)
            .collect();
        want.sort_unstable();
        assert_eq!(
            ports, want,
            "sentinel {} knows the others by their TLS ports",
            s.port
        );
    }
}

/// Every sentinel names the same new master (not `old`); it.
fn wait_tls_switch(cfg: &Arc<rustls::ClientConfig>, sentinels: &[&Proc], old: &str) -> String {
    for s in sentinels {
        wait_for("+switch-master on every sentinel", 90, || {
            tls_master_addr(cfg, s.port).is_some_and(|a| a != old)
        });
    }
    let new = tls_master_addr(cfg, sentinels[0].port).expect("an address");
    for s in sentinels {
        assert_eq!(tls_master_addr(cfg, s.port).as_deref(), Some(new.as_str()));
    }
    new
}

fn redis_cli() -> Option<PathBuf> {
    let found = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join("redis-cli"))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("PICKET_REQUIRE_REDIS").as_deref() != Ok("1"),
            "redis-cli is required (PICKET_REQUIRE_REDIS=1): apt-get install redis-tools"
        );
        eprintln!("\n!!! SKIPPED the redis-cli --tls check: redis-cli is not installed\n");
    }
    found
}

/// `redis-cli --tls` on a sentinel's TLS port: SENTINEL get-master-addr-by-name.
fn redis_cli_master_addr(cli: &Path, pki: &Pki, port: u16) -> String {
    let out = Command::new(cli)
        .args(["--tls", "--cacert", &pki.file("ca.crt")])
        .args(["--cert", &pki.file("client.crt")])
        .args(["--key", &pki.file("client.key")])
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["SENTINEL", "get-master-addr-by-name", "mymaster"])
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(":")
}

/// The promoted replica takes writes, over TLS.
fn assert_writable(cfg: &Arc<rustls::ClientConfig>, addr: &str) {
    let port = port_of(addr);
    wait_for("the new master to take writes", 30, || {
        tls_cmd(cfg, port, &["SET", "after-failover", "1"]).is_some_and(|r| r.s() == "OK")
    });
    let role = tls_cmd(cfg, port, &["ROLE"]).expect("ROLE").items();
    assert_eq!(role[0].s(), "master");
}

#[test]
fn picket_sentinels_monitor_and_fail_over_a_tls_only_deployment() {
    let Some(redis) = redis_bin() else { return };
    let Some(pki) = Pki::new() else { return };
    let cfg = pki.client_config();
    let mut servers = tls_servers(&redis, &pki, &cfg);
    let master = servers[0].port;
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel_tls(None, &pki, free_port(), master))
        .collect();
    let refs: Vec<&Proc> = sentinels.iter().collect();
    wait_tls_discovery(&cfg, &refs);
    // No plain listener: port 0 is TLS only, and INFO says so as Redis
    // (`tcp_port` is the TLS port then).
    let s0 = sentinels[0].port;
    assert_eq!(tls_info_field(&cfg, s0, "tcp_port"), s0.to_string());
    let old = format!("127.0.0.1:{master}");
    assert_eq!(tls_master_addr(&cfg, s0).as_deref(), Some(old.as_str()));
    // A plain client on the TLS port gets no reply, only (at most) a TLS alert.
    let mut plain = TcpStream::connect(("127.0.0.1", s0)).expect("connect");
    plain.set_read_timeout(Some(Duration::from_secs(15))).ok();
    plain.write_all(b"PING\r\n").expect("write");
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut got);
    assert!(!String::from_utf8_lossy(&got).contains("PONG"), "{got:?}");

    // Events over TLS: each sentinel's, on its TLS port.
    let events: Vec<_> = sentinels.iter().map(|s| tls_events(&cfg, s.port)).collect();
    let mut seen = Vec::new();
    servers[0].kill9();
    let m = wait_event(&events[0], &mut seen, "+switch-master", 90, |_| true);
    let new = wait_tls_switch(&cfg, &refs, &old);
    assert_eq!(new, format!("127.0.0.1:{}", servers[1].port));
    assert!(
        m.ends_with(&format!("{master} 127.0.0.1 {}", servers[1].port)),
        "{m}"
    );
    // The leader saw the master objectively down (the others may learn of the new master
    // from its hellos first).
    for rx in &events[1..] {
        seen.extend(rx.try_iter());
    }
    assert!(seen.iter().any(|(k, _)| k == "+odown"), "{seen:?}");
    assert_writable(&cfg, &new);
    if let Some(cli) = redis_cli() {
        for s in &sentinels {
            assert_eq!(redis_cli_master_addr(&cli, &pki, s.port), new);
        }
    }
}

#[test]
fn a_redis_sentinel_and_picket_sentinels_agree_over_tls() {
    let Some(redis) = redis_bin() else { return };
    let Some(pki) = Pki::new() else { return };
    let cfg = pki.client_config();
    let mut servers = tls_servers(&redis, &pki, &cfg);
    let master = servers[0].port;
    let sentinels = [
        sentinel_tls(Some(&redis), &pki, free_port(), master),
        sentinel_tls(None, &pki, free_port(), master),
        sentinel_tls(None, &pki, free_port(), master),
    ];
    let refs: Vec<&Proc> = sentinels.iter().collect();
    wait_tls_discovery(&cfg, &refs);
    // The Redis sentinel heard the picket ones' hellos (their TLS ports) and reached
    // them: their links are up in its view.
    let others = tls_cmd(
        &cfg,
        sentinels[0].port,
        &["SENTINEL", "sentinels", "mymaster"],
    )
    .expect("SENTINEL SENTINELS")
    .items();
    for o in &others {
        assert!(
            o.field("last-ok-ping-reply")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|ms| ms < 10_000),
            "the Redis sentinel pings the picket one over TLS: {o:?}"
        );
        assert!(o.field("runid").is_some_and(|id| id.len() == 40), "{o:?}");
    }
    let old = format!("127.0.0.1:{master}");
    servers[0].kill9();
    let new = wait_tls_switch(&cfg, &refs, &old);
    assert_eq!(new, format!("127.0.0.1:{}", servers[1].port));
    // One epoch for all three.
    let epochs: Vec<Option<String>> = sentinels
        .iter()
        .map(|s| {
            tls_cmd(&cfg, s.port, &["SENTINEL", "master", "mymaster"])
                .and_then(|m| m.field("config-epoch"))
        })
        .collect();
    assert!(epochs[0].as_deref().is_some_and(|e| e != "0"), "{epochs:?}");
    assert!(epochs.windows(2).all(|w| w[0] == w[1]), "{epochs:?}");
    assert_writable(&cfg, &new);
}

/// redis-py's Sentinel client over TLS: discover, write, follow the failover (protocol:
/// DISCOVERED <addr>, wait for `go` on stdin, then FOLLOWED <addr>).
const REDIS_PY: &str = r#"
import sys, time
from redis.sentinel import Sentinel
ports = [int(p) for p in sys.argv[1].split(",")]
ca, cert, key = sys.argv[2], sys.argv[3], sys.argv[4]
tls = dict(ssl=True, ssl_ca_certs=ca, ssl_certfile=cert, ssl_keyfile=key)
sentinel = Sentinel([("127.0.0.1", p) for p in ports],
                    sentinel_kwargs=dict(socket_timeout=2, **tls),
                    socket_timeout=2, **tls)
master = sentinel.master_for("mymaster")
master.set("py:before", "1")
print("DISCOVERED %s:%d" % sentinel.discover_master("mymaster"), flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit("expected go")
deadline = time.time() + 90
while True:
    try:
        master.set("py:after", "1")
        break
    except Exception as e:
        if time.time() > deadline:
            print("NOT FOLLOWED: %r" % e, flush=True)
            sys.exit(1)
        time.sleep(0.2)
print("FOLLOWED %s:%d" % sentinel.discover_master("mymaster"), flush=True)
"#;

fn python_with_redis_py() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import redis.sentinel, ssl"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("PICKET_REQUIRE_REDIS").as_deref() != Ok("1"),
            "python3 with redis-py is required (PICKET_REQUIRE_REDIS=1): .ci/run installs it"
        );
        eprintln!("\n!!! SKIPPED: python3 has no redis-py (pip install redis)\n");
    }
    ok
}

#[test]
fn redis_py_finds_the_master_through_tls_sentinels_and_follows_the_failover() {
    let Some(redis) = redis_bin() else { return };
    if !python_with_redis_py() {
        return;
    }
    let Some(pki) = Pki::new() else { return };
    let cfg = pki.client_config();
    let mut servers = tls_servers(&redis, &pki, &cfg);
    let master = servers[0].port;
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel_tls(None, &pki, free_port(), master))
        .collect();
    let refs: Vec<&Proc> = sentinels.iter().collect();
    wait_tls_discovery(&cfg, &refs);
    let work = tempfile::tempdir().expect("temp dir");
    let script = work.path().join("follow_tls.py");
    std::fs::write(&script, REDIS_PY).expect("write the script");
    let ports: Vec<String> = sentinels.iter().map(|s| s.port.to_string()).collect();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(ports.join(","))
        .args([
            pki.file("ca.crt"),
            pki.file("client.crt"),
            pki.file("client.key"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run python3");
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if l.starts_with(what) => return l,
                Ok(l) => eprintln!("python: {l}"),
                Err(_) => panic!("no {what} line from the redis-py client"),
            }
        }
    };
    let old = format!("127.0.0.1:{master}");
    assert_eq!(next("DISCOVERED"), format!("DISCOVERED {old}"));
    servers[0].kill9();
    let new = wait_tls_switch(&cfg, &refs, &old);
    let mut stdin = child.stdin.take().expect("piped stdin");
    writeln!(stdin, "go").expect("tell the client to go on");
    assert_eq!(next("FOLLOWED"), format!("FOLLOWED {new}"));
    assert!(child.wait().expect("python3 ends").success());
    let got = tls_cmd(&cfg, port_of(&new), &["GET", "py:after"]).expect("GET");
    assert_eq!(got.s(), "1");
}

#[test]
fn a_stalled_handshake_is_dropped_and_refusals_come_over_tls() {
    let Some(pki) = Pki::new() else { return };
    let cfg = pki.client_config();
    let port = free_port();
    let text = format!(
        "port 0\ntls-port {port}\nmaxclients 1\n{}sentinel monitor mymaster 127.0.0.1 {} 2\n",
        pki.conf_lines(),
        free_port()
    );
    let _s = sentinel_from(None, port, "sentinel.conf", &text, None);
    // spawn() connected once to see the port open: wait until that client is gone.
    wait_for("the start-up probe to leave", 30, || {
        tls_cmd(&cfg, port, &["PING"]).is_some_and(|r| r.s() == "PONG")
    });
    // A client that connects and never starts its handshake takes the only slot...
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    // ...so a TLS client is refused, with Redis's error, over TLS.
    let refused = tls_cmd(&cfg, port, &["PING"]);
    assert_eq!(
        refused,
        Some(R::E("ERR max number of clients reached".into())),
        "{refused:?}"
    );
    // The handshake's deadline closes the stalled connection and gives its slot back.
    stalled
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut b = [0u8; 16];
    let n = std::io::Read::read(&mut stalled, &mut b).unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    wait_for("the slot to be free again", 30, || {
        tls_cmd(&cfg, port, &["PING"]).is_some_and(|r| r.s() == "PONG")
    });
}
