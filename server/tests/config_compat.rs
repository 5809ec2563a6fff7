//! Redis 7.0's whole directive set: CONFIG GET * equal to redis-server's, Debian's stock
//! redis.conf, `daemonize`, `supervised systemd`, `rename-command`, `tcp-backlog`,
//! `shutdown-on-sigterm`, the directives picket refuses, Redis's error texts for bad
//! values, and CONFIG REWRITE of the new directives.

mod common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, picket_bin, which, Conn, Pair, Reply, Server};

/// CONFIG GET * as a name -> value map.
fn config_all(c: &mut Conn) -> BTreeMap<String, String> {
    c.q("CONFIG GET *")
        .items()
        .chunks(2)
        .map(|kv| (kv[0].text(), kv[1].text()))
        .collect()
}

/// Send the same commands to both and require equal replies.
fn same(pair: &Pair, cmds: &[&[&str]]) {
    pair.same(cmds);
}

/// Wait until something accepts connections on `port`.
fn wait_port(port: u16) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        assert!(Instant::now() < end, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process started by a test (not through the harness), killed when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(args: &[&str], env: &[(&str, &str)], log: &Path) -> Proc {
        let f = std::fs::File::create(log).expect("log");
        let mut cmd = Command::new(picket_bin());
        // Only what the test sets: the runner may itself be supervised.
        cmd.env_remove("NOTIFY_SOCKET").env_remove("UPSTART_JOB");
        cmd.args(args)
            .stdout(Stdio::from(f.try_clone().expect("log")))
            .stderr(Stdio::from(f));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Proc {
            child: cmd.spawn().expect("spawn picket-server"),
            log: log.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon (not our child), stopped with SIGKILL when dropped if still there.
struct Daemon(u32);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Run picket-server to completion: (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(picket_bin())
        .args(args)
        .output()
        .expect("run picket-server");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ------------------------------------------------------------------------------ CONFIG GET *

#[test]
fn config_get_star_equals_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut ours = config_all(&mut pair.picket.conn());
    let theirs = config_all(&mut pair.redis.conn());
    // Picket's own directives, at their defaults: the rest is Redis's list exactly.
    for (name, default) in common::PICKET_DIRECTIVES {
        assert_eq!(
            ours.remove(*name).as_deref(),
            Some(*default),
            "CONFIG GET {name}"
        );
    }
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "CONFIG GET * lists other names than Redis 7.0 (and picket's own)"
    );
    // Values that must differ: each server got its own port and temporary directory.
    const DIFFERENT: &[&str] = &["port", "dir"];
    for (name, value) in &theirs {
        if DIFFERENT.contains(&name.as_str()) {
            continue;
        }
        assert_eq!(&ours[name], value, "CONFIG GET {name}");
    }
    assert_eq!(ours.len(), 192);
}

#[test]
fn config_set_errors_and_values_of_new_directives_equal_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let cmds: &[&[&str]] = &[
        // Immutable, protected-free, file-only.
        &["CONFIG", "SET", "tcp-backlog", "128"],
        &["CONFIG", "SET", "daemonize", "yes"],
        &["CONFIG", "SET", "supervised", "systemd"],
        &["CONFIG", "SET", "unixsocket", "/tmp/x.sock"],
        &["CONFIG", "SET", "cluster-enabled", "yes"],
        &["CONFIG", "SET", "rename-command", "get foo"],
        &["CONFIG", "SET", "loadmodule", "/x.so"],
        &["CONFIG", "GET", "rename-command"],
        &["CONFIG", "GET", "user"],
        // Types and ranges.
        &["CONFIG", "SET", "active-defrag-cycle-max", "100"],
        &["CONFIG", "SET", "active-defrag-ignore-bytes", "0"],
        &["CONFIG", "SET", "hll-sparse-max-bytes", "1.5"],
        &["CONFIG", "SET", "lazyfree-lazy-user-del", "maybe"],
        &["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"],
        &["CONFIG", "GET", "lazyfree-lazy-user-del"],
        &["CONFIG", "SET", "acl-pubsub-default", "none"],
        &["CONFIG", "SET", "tls-session-cache-size", "-1"],
        &["CONFIG", "SET", "lua-time-limit", "100"],
        &["CONFIG", "GET", "busy-reply-threshold"],
        &["CONFIG", "SET", "cluster-slave-validity-factor", "3"],
        &["CONFIG", "GET", "cluster-replica-validity-factor"],
        // Special kinds.
        // (With oom-score-adj on, Redis applies the values to itself; picket does not.)
        &["CONFIG", "SET", "oom-score-adj-values", "0 200 x"],
        &["CONFIG", "SET", "oom-score-adj-values", "1 2"],
        &["CONFIG", "SET", "oom-score-adj-values", "-2000 +1 2000"],
        &["CONFIG", "GET", "oom-score-adj-values"],
        &["CONFIG", "SET", "oom-score-adj-values", "0 200 800"],
        &["CONFIG", "SET", "oom-score-adj", "relative"],
        &["CONFIG", "GET", "oom-score-adj"],
        &["CONFIG", "SET", "oom-score-adj", "bogus"],
        &["CONFIG", "SET", "oom-score-adj", "no"],
        &["CONFIG", "SET", "maxmemory-clients", "101%"],
        &["CONFIG", "SET", "maxmemory-clients", "1.5%"],
        &["CONFIG", "SET", "maxmemory-clients", "10%"],
        &["CONFIG", "GET", "maxmemory-clients"],
        &["CONFIG", "SET", "maxmemory-clients", "1k"],
        &["CONFIG", "GET", "maxmemory-clients"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "200"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "abc"],
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "33.333333333 99.90000 1e1",
        ],
        &["CONFIG", "GET", "latency-tracking-info-percentiles"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", ""],
        &["CONFIG", "GET", "latency-tracking-info-percentiles"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "save nosave"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "later"],
        &["CONFIG", "SET", "shutdown-on-sigterm", "force NOW save"],
        &["CONFIG", "GET", "shutdown-on-sigterm"],
        &["CONFIG", "SET", "shutdown-on-sigint", "default"],
        &["CONFIG", "GET", "shutdown-on-sigint"],
        &["CONFIG", "SET", "shutdown-timeout", "-1"],
        &["CONFIG", "SET", "proc-title-template", "{title}"],
        &["CONFIG", "SET", "proc-title-template", "{title} {nosuch}"],
        &["CONFIG", "SET", "proc-title-template", "{title} {port}"],
        &["CONFIG", "GET", "proc-title-template"],
        &["CONFIG", "SET", "cluster-announce-hostname", "a_b"],
        &["CONFIG", "SET", "activedefrag", "yes"],
        &["CONFIG", "GET", "activedefrag"],
        // All or nothing across old and new directives.
        &[
            "CONFIG",
            "SET",
            "timeout",
            "5",
            "stream-node-max-entries",
            "x",
        ],
        &["CONFIG", "GET", "timeout"],
    ];
    same(&pair, cmds);
}

#[test]
fn bad_values_at_start_up_give_redis_reasons() {
    let Some(redis) = which("redis-server") else {
        return;
    };
    for args in [
        &["--tcp-backlog", "-1"][..],
        &["--unixsocketperm", "800"],
        &["--unixsocketperm", "1777"],
        &["--supervised", "bogus"],
        &["--syslog-facility", "local9"],
        &["--rename-command", "nosuch", "x"],
        &["--rename-command", "get", "set"],
        &["--maxmemory-clients", "101%"],
        &["--oom-score-adj-values", "1 2"],
        &["--activedefrag", "yes"],
    ] {
        let port = free_port().to_string();
        let mut full = vec!["--port", &port, "--save", ""];
        full.extend_from_slice(args);
        let out = Command::new(&redis)
            .args(&full)
            .output()
            .expect("run redis-server");
        assert_eq!(out.status.code(), Some(1), "redis-server {args:?}");
        let reason = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string();
        let (code, err) = run(&full);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("'{}': {reason}", &args[0][2..])),
            "{args:?}: picket says {err:?}, Redis {reason:?}"
        );
    }
}

// ------------------------------------------------------------------------------ refused

#[test]
fn unsupported_directives_refuse_to_start_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (line, directive) in [
        ("unixsocket /run/redis/redis-server.sock", "unixsocket"),
        ("cluster-enabled yes", "cluster-enabled"),
        (
            "loadmodule /usr/lib/redis/modules/redisbloom.so",
            "loadmodule",
        ),
    ] {
        let path = dir.path().join("refused.conf");
        std::fs::write(&path, format!("# comment\nport {}\n{line}\n", free_port())).unwrap();
        let (code, err) = run(&[path.to_str().unwrap()]);
        assert_eq!(code, 1, "{line}: {err}");
        let err = err.trim();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!(
                "{}:3: '{directive}': not supported by picket",
                path.display()
            )),
            "{err}"
        );
        // The same on the command line.
        let mut args = vec!["--port".to_string(), free_port().to_string()];
        let mut words = line.split(' ');
        args.push(format!("--{}", words.next().unwrap()));
        args.extend(words.map(str::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = run(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("command line: '"), "{err}");
        assert!(err.contains("not supported by picket"), "{err}");
    }
    // Their harmless values are accepted.
    let s = Server::start(&[
        "--unixsocket",
        "",
        "--cluster-enabled",
        "no",
        "--aclfile",
        "",
    ]);
    let mut c = s.conn();
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    // TLS is supported (server/tests/tls.rs): without a certificate, opening the TLS port
    // is refused as Redis refuses it.
    assert_eq!(
        c.q("CONFIG SET tls-port 6380").text(),
        "ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to update TLS configuration. Check server logs."
    );
    assert_eq!(c.q("CONFIG GET tls-port").items()[1], Reply::bulk("0"));
}

// ------------------------------------------------------------------------------ Debian's file

/// Debian's /etc/redis/redis.conf with only port, dir, logfile, pidfile and daemonize
/// rewritten, or None (loudly; a failure under PICKET_REQUIRE_REDIS=1) without it.
fn debian_conf(dir: &Path, port: u16) -> Option<PathBuf> {
    let stock = Path::new("/etc/redis/redis.conf");
    let Ok(text) = std::fs::read_to_string(stock) else {
        if std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("/etc/redis/redis.conf is required (PICKET_REQUIRE_REDIS=1): apt-get install redis-server");
        }
        eprintln!("\n*** SKIPPING: /etc/redis/redis.conf not found; install redis-server (apt) to test Debian's stock configuration ***\n");
        return None;
    };
    let mut rewritten = 0;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let key = l.split_whitespace().next().unwrap_or_default();
            let new = match key {
                "port" => format!("port {port}"),
                "dir" => format!("dir {}", dir.display()),
                "logfile" => format!("logfile {}", dir.join("redis.log").display()),
                "pidfile" => format!("pidfile {}", dir.join("redis.pid").display()),
                "daemonize" => "daemonize no".to_string(),
                _ => return l.to_string(),
            };
            rewritten += 1;
            new
        })
        .collect();
    assert_eq!(
        rewritten, 5,
        "Debian's file has one line of each of the five"
    );
    let path = dir.join("redis.conf");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    Some(path)
}

#[test]
fn debian_stock_redis_conf_starts_serves_and_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let Some(conf) = debian_conf(dir.path(), port) else {
        return;
    };
    let p = Proc::spawn(&[conf.to_str().unwrap()], &[], &dir.path().join("out.log"));
    assert!(wait_port(port), "not listening: {}", p.log());
    let mut c = Conn::connect(port);
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    assert_eq!(c.q("SET k v"), Reply::ok());
    assert_eq!(c.q("GET k"), Reply::bulk("v"));
    let all = config_all(&mut c);
    assert_eq!(all["tcp-backlog"], "511");
    assert_eq!(all["bind"], "127.0.0.1 -::1");
    assert_eq!(
        all["proc-title-template"],
        "{title} {listen-addr} {server-mode}"
    );
    assert_eq!(all["oom-score-adj-values"], "0 200 800");
    let pid = std::fs::read_to_string(dir.path().join("redis.pid")).unwrap();
    assert_eq!(pid.trim(), p.child.id().to_string());
    // CONFIG REWRITE of the stock file keeps the new directives.
    assert_eq!(c.q("CONFIG SET lazyfree-lazy-user-del yes"), Reply::ok());
    assert_eq!(c.q("CONFIG SET shutdown-on-sigterm nosave"), Reply::ok());
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.lines().any(|l| l == "lazyfree-lazy-user-del yes"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "shutdown-on-sigterm nosave"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "tcp-backlog 511"), "{text}");
    assert!(!text.contains("# ???"), "{text}");
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.try_read().is_none(), "SHUTDOWN does not reply");
    drop(c);
    let mut p = p;
    assert_eq!(wait_exit(&mut p.child).code(), Some(0));
    drop(p);
    // It starts again from the rewritten file with the same settings.
    let p = Proc::spawn(&[conf.to_str().unwrap()], &[], &dir.path().join("out2.log"));
    assert!(wait_port(port), "not listening: {}", p.log());
    let again = config_all(&mut Conn::connect(port));
    assert_eq!(again["lazyfree-lazy-user-del"], "yes");
    for (k, v) in &all {
        if !matches!(k.as_str(), "lazyfree-lazy-user-del" | "shutdown-on-sigterm") {
            assert_eq!(&again[k], v, "{k} after CONFIG REWRITE");
        }
    }
}

// ------------------------------------------------------------------------------ daemonize

#[test]
fn daemonize_detaches_and_writes_the_pidfile() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pidfile = dir.path().join("picket.pid");
    let logfile = dir.path().join("picket.log");
    let port_s = port.to_string();
    let args = [
        "--port",
        &port_s,
        "--dir",
        dir.path().to_str().unwrap(),
        "--daemonize",
        "yes",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--logfile",
        logfile.to_str().unwrap(),
        "--save",
        "",
    ];
    // The launcher returns at once with 0, its output closed (Command::output waits for
    // the pipes too: the daemon must not hold them).
    let started = Instant::now();
    let out = Command::new(picket_bin())
        .args(args)
        .output()
        .expect("run picket-server");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(wait_port(port), "the daemon does not listen");
    let mut c = Conn::connect(port);
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .expect("pidfile")
        .trim()
        .parse()
        .expect("a pid");
    let _guard = Daemon(pid);
    let info = c.q("INFO server").text();
    assert!(info.contains(&format!("process_id:{pid}\r\n")), "{info}");
    // As Redis: CONFIG GET shows the directive as configured.
    assert_eq!(c.q("CONFIG GET daemonize").items()[1], Reply::bulk("yes"));
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.try_read().is_none(), "SHUTDOWN does not reply");
    let end = Instant::now() + Duration::from_secs(10);
    while pidfile.exists() || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < end, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains(&format!("pid={pid}")), "{log}");
}

#[test]
fn a_daemon_without_pidfile_uses_the_default_path() {
    // Only where it cannot take over a real server's file.
    if Path::new("/var/run/picket.pid").exists() {
        eprintln!("*** SKIPPING: /var/run/picket.pid exists ***");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_s = port.to_string();
    let st = Command::new(picket_bin())
        .args([
            "--port",
            &port_s,
            "--dir",
            dir.path().to_str().unwrap(),
            "--daemonize",
            "yes",
            "--save",
            "",
            "--bind",
            "127.0.0.1",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(wait_port(port));
    let mut c = Conn::connect(port);
    let info = c.q("INFO server").text();
    let pid: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("process_id");
    let _guard = Daemon(pid);
    assert_eq!(
        c.q("CONFIG GET pidfile").items()[1],
        Reply::bulk("/var/run/picket.pid")
    );
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.try_read().is_none());
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < end, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------------------ supervised

fn notify_socket(dir: &Path) -> (std::os::unix::net::UnixDatagram, PathBuf) {
    let path = dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (sock, path)
}

fn recv(sock: &std::os::unix::net::UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn supervised_systemd_notifies_ready_and_stopping() {
    for mode in ["systemd", "auto"] {
        let dir = tempfile::tempdir().unwrap();
        let (sock, path) = notify_socket(dir.path());
        let port = free_port();
        let port_s = port.to_string();
        // daemonize yes is ignored under systemd, as in Redis: the process stays ours.
        let mut p = Proc::spawn(
            &[
                "--port",
                &port_s,
                "--dir",
                dir.path().to_str().unwrap(),
                "--save",
                "",
                "--supervised",
                mode,
                "--daemonize",
                "yes",
            ],
            &[("NOTIFY_SOCKET", path.to_str().unwrap())],
            &dir.path().join("out.log"),
        );
        assert_eq!(
            recv(&sock),
            "STATUS=Ready to accept connections\n",
            "{}",
            p.log()
        );
        assert_eq!(recv(&sock), "READY=1\n");
        let mut c = Conn::connect(port);
        let info = c.q("INFO server").text();
        assert!(info.contains("process_supervised:systemd\r\n"), "{info}");
        assert!(
            info.contains(&format!("process_id:{}\r\n", p.child.id())),
            "{info}"
        );
        signal(p.child.id(), "TERM");
        assert_eq!(recv(&sock), "STOPPING=1\n");
        assert_eq!(wait_exit(&mut p.child).code(), Some(0));
    }
}

#[test]
fn supervised_without_notify_socket_runs_unsupervised() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_s = port.to_string();
    let dir_s = dir.path().to_str().unwrap();
    let p = Proc::spawn(
        &[
            "--port",
            &port_s,
            "--dir",
            dir_s,
            "--save",
            "",
            "--supervised",
            "systemd",
        ],
        &[],
        &dir.path().join("out.log"),
    );
    assert!(wait_port(port), "{}", p.log());
    let mut c = Conn::connect(port);
    assert!(c
        .q("INFO server")
        .text()
        .contains("process_supervised:no\r\n"));
    let log = p.log();
    assert!(
        log.contains(
            "systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!"
        ),
        "{log}"
    );
}

// ------------------------------------------------------------------------------ rename-command

#[test]
fn rename_command_as_redis() {
    let Some(pair) = Pair::start(&[
        "--rename-command",
        "get",
        "myget",
        "--rename-command",
        "flushall",
        "",
        "--rename-command",
        "CONFIG",
        "cfg",
    ]) else {
        return;
    };
    same(
        &pair,
        &[
            &["SET", "k", "v"],
            &["myget", "k"],
            &["MYGET", "k"],
            &["get", "k"],
            &["GET", "k", "x"],
            &["flushall"],
            &["config", "get", "port"],
            &["cfg", "get", "timeout"],
            &["cfg", "set", "rename-command", "set foo"],
            &["cfg", "get", "rename-command"],
            &["cfg", "nosuch"],
            &["COMMAND", "INFO", "get", "flushall"],
            &["COMMAND", "GETKEYS", "myget", "k"],
            &["COMMAND", "GETKEYS", "get", "k"],
            &["MULTI"],
            &["get", "k"],
            &["EXEC"],
            &["MULTI"],
            &["myget", "k"],
            &["EXEC"],
        ],
    );
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    // Renamed commands stay listed under their own name; disabled ones are gone.
    for c in [&mut p, &mut r] {
        let list = c.q("COMMAND LIST").items();
        assert!(list.contains(&Reply::bulk("get")));
        assert!(!list.contains(&Reply::bulk("flushall")));
        assert!(list.contains(&Reply::bulk("config|get")));
    }
}

#[test]
fn rename_command_in_a_file_survives_config_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(
        &conf,
        "# renames\nrename-command flushall \"\"\nrename-command get myget\ntcp-backlog 128\n",
    )
    .unwrap();
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    assert_eq!(c.q("SET k v"), Reply::ok());
    assert_eq!(c.q("myget k"), Reply::bulk("v"));
    assert!(c.q("FLUSHALL").is_error());
    assert_eq!(c.q("CONFIG GET tcp-backlog").items()[1], Reply::bulk("128"));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "shutdown-on-sigint", "save now"]),
        Reply::ok()
    );
    assert_eq!(c.q("CONFIG SET oom-score-adj absolute"), Reply::ok());
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with(
            "# renames\nrename-command flushall \"\"\nrename-command get myget\ntcp-backlog 128\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nshutdown-on-sigint save now\n"), "{text}");
    assert!(text.contains("\noom-score-adj absolute\n"), "{text}");
    drop(c);
    drop(s);
    let s = Server::start_with_file(&conf, &[]);
    let mut c = s.conn();
    assert_eq!(
        c.q("CONFIG GET shutdown-on-sigint").items()[1],
        Reply::bulk("save now")
    );
    assert!(c.q("GET k").is_error(), "the rename still applies");
}

// ------------------------------------------------------------------------------ tcp-backlog

#[test]
fn tcp_backlog_is_the_listen_backlog() {
    let s = Server::start(&["--tcp-backlog", "77", "--bind", "127.0.0.1"]);
    assert_eq!(
        s.conn().q("CONFIG GET tcp-backlog").items()[1],
        Reply::bulk("77")
    );
    // `ss -ltn` shows a listening socket's backlog in the Send-Q column.
    let Ok(out) = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{}", s.port)])
        .output()
    else {
        eprintln!("*** SKIPPING the backlog check: ss not found ***");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let send_q: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(send_q, ["77"], "{text}");
}

// ------------------------------------------------------------------------------ signals

#[test]
fn shutdown_on_sigterm_chooses_the_final_save() {
    for (flags, save_points, saves) in [
        ("default", "3600 1", true),
        ("nosave", "3600 1", false),
        ("save", "", true),
        ("default", "", false),
    ] {
        let mut s = Server::start(&["--shutdown-on-sigterm", flags, "--save", save_points]);
        let mut c = s.conn();
        assert_eq!(c.q("SET k v"), Reply::ok());
        signal(s.child.id(), "TERM");
        let st = wait_exit(&mut s.child);
        assert_eq!(st.code(), Some(0));
        let saved = s.dir.path().join("dump.rdb").exists();
        assert_eq!(
            saved,
            saves,
            "shutdown-on-sigterm {flags}, save {save_points:?}:\n{}",
            s.log_text()
        );
    }
}

#[test]
fn a_second_sigint_exits_at_once_but_not_a_second_sigterm() {
    // A shutdown that cannot finish (the final save fails: dump.rdb is a directory) keeps
    // the server up. The request waits for the next cron tick (hz 1): a second SIGTERM
    // meanwhile changes nothing, a second SIGINT exits with 1 (Redis's "You insist").
    let mut s = Server::start(&["--save", "3600 1", "--hz", "1"]);
    let mut c = s.conn();
    assert_eq!(c.q("SET k v"), Reply::ok());
    std::fs::create_dir(s.dir.path().join("dump.rdb")).unwrap();
    let pid = s.child.id();
    signal(pid, "TERM");
    std::thread::sleep(Duration::from_millis(30));
    signal(pid, "TERM");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(s.child.try_wait().unwrap().is_none(), "{}", s.log_text());
    assert!(s.log_text().contains("can't exit"), "{}", s.log_text());
    assert_eq!(c.q("ECHO up"), Reply::bulk("up"));
    // Each round has two SIGINTs 30 ms apart; the second finds the first pending unless a
    // cron tick fell between them (then the failed save keeps the server up: retry).
    for _ in 0..10 {
        signal(pid, "INT");
        std::thread::sleep(Duration::from_millis(30));
        signal(pid, "INT");
        std::thread::sleep(Duration::from_millis(300));
        if s.child.try_wait().unwrap().is_some() {
            break;
        }
    }
    let st = wait_exit(&mut s.child);
    assert_eq!(st.code(), Some(1), "{}", s.log_text());
    assert!(s.log_text().contains("You insist... exiting now."));
}

// ------------------------------------------------------------------------------ user lines

/// A config file as Redis 7.0's own CONFIG REWRITE leaves it (with its `user default`
/// line), or None without redis-server.
fn redis_rewritten_conf(dir: &Path, requirepass: &str) -> Option<PathBuf> {
    let redis = which("redis-server")?;
    let port = free_port();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nsave \"\"\ndir {}\nrename-command flushall \"\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("redis.log")).unwrap();
    let mut child = Command::new(redis)
        .arg(&conf)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn redis-server");
    assert!(wait_port(port));
    let mut c = Conn::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "requirepass", requirepass]),
        Reply::ok()
    );
    if !requirepass.is_empty() {
        assert_eq!(c.cmd(&["AUTH", requirepass]), Reply::ok());
    }
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    c.send(&["SHUTDOWN", "NOSAVE"]);
    let _ = c.try_read();
    let _ = wait_exit(&mut child);
    Some(conf)
}

#[test]
fn files_rewritten_by_redis_keep_their_default_user() {
    for pass in ["", "s3cret"] {
        let dir = tempfile::tempdir().unwrap();
        let Some(conf) = redis_rewritten_conf(dir.path(), pass) else {
            return;
        };
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(text.contains("\nuser default on "), "{text}");
        let s = Server::start_with_file(&conf, &[]);
        let mut c = s.conn();
        if pass.is_empty() {
            assert_eq!(c.q("PING"), Reply::simple("PONG"));
            continue;
        }
        assert_eq!(c.q("PING"), Reply::err("NOAUTH Authentication required."));
        assert_eq!(c.cmd(&["AUTH", pass]), Reply::ok());
        // A new password reaches the user line at the next CONFIG REWRITE, so the file
        // still loads (in picket, and in Redis).
        assert_eq!(c.q("CONFIG SET requirepass n3w"), Reply::ok());
        assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
        let text = std::fs::read_to_string(&conf).unwrap();
        let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
        assert_eq!(
            users,
            // A configured user is reset before its rules apply, which sets
            // sanitize-payload (Redis 7.0 shows it the same way after a restart).
            ["user default on sanitize-payload #1dd4d43658e2257be3f31504829536107b671bb92b73e5cae2629749dc0daa14 ~* &* +@all"],
            "{text}"
        );
        drop(c);
        drop(s);
        let s = Server::start_with_file(&conf, &[]);
        let mut c = s.conn();
        assert_eq!(c.q("AUTH n3w"), Reply::ok());
        assert!(c.q("FLUSHALL").is_error(), "rename-command kept");
    }
}

#[test]
fn user_lines_win_over_requirepass_as_in_redis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.conf");
    let hash = "1dd4d43658e2257be3f31504829536107b671bb92b73e5cae2629749dc0daa14"; // "n3w"
    for text in [
        format!("requirepass n3w\nuser default on #{hash} ~* &* +@all\n"),
        format!("requirepass other\nuser default on #{hash} ~* &* +@all\n"),
        format!("user default on #{hash} ~* &* +@all\n"),
        "requirepass x\nuser default on nopass ~* &* +@all\n".to_string(),
        "user default on >n3w ~* &* +@all\n".to_string(),
        "user default on nopass ~* &* +@all -@dangerous\nuser alice on >pw +get ~k*\n".to_string(),
    ] {
        let mut replies = Vec::new();
        for redis in [false, true] {
            let port = free_port();
            std::fs::write(&path, format!("port {port}\nsave \"\"\n{text}")).unwrap();
            let s = if redis {
                let Some(bin) = which("redis-server") else {
                    continue;
                };
                let mut child = Command::new(bin)
                    .arg(&path)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn redis-server");
                assert!(wait_port(port));
                let mut c = Conn::connect(port);
                let r: Vec<Reply> = [
                    "PING",
                    "AUTH n3w",
                    "AUTH x",
                    "FLUSHALL",
                    "AUTH alice pw",
                    "GET k1",
                    "GET x",
                ]
                .iter()
                .map(|q| c.q(q))
                .collect();
                c.send(&["SHUTDOWN", "NOSAVE"]);
                let _ = c.try_read();
                let _ = child.kill();
                let _ = child.wait();
                replies.push(r);
                continue;
            } else {
                Server::start_with_file(&path, &[])
            };
            let mut c = s.conn();
            let r: Vec<Reply> = [
                "PING",
                "AUTH n3w",
                "AUTH x",
                "FLUSHALL",
                "AUTH alice pw",
                "GET k1",
                "GET x",
            ]
            .iter()
            .map(|q| c.q(q))
            .collect();
            replies.push(r);
        }
        if replies.len() == 2 {
            assert_eq!(replies[0], replies[1], "{text}");
        }
        assert!(!replies[0].is_empty());
    }
    // Bad lines stop the start with Redis's reason.
    for (text, reason) in [
        (
            "user alice on bogus\n",
            "Error in user declaration 'alice': Syntax error",
        ),
        ("user a on\nuser a off\n", "Duplicate user found"),
        (
            "user a on +nosuch\n",
            "Error loading ACL rule '+nosuch' for the user named 'a'",
        ),
    ] {
        std::fs::write(&path, format!("port {}\n{text}", free_port())).unwrap();
        let (code, err) = run(&[path.to_str().unwrap()]);
        assert_eq!(code, 1, "{text}");
        assert!(err.contains(reason), "{text}: {err}");
    }
    let acl = dir.path().join("users.acl");
    std::fs::write(&acl, "user b on\n").unwrap();
    std::fs::write(
        &path,
        format!(
            "port {}\naclfile {}\nuser a on\n",
            free_port(),
            acl.display()
        ),
    )
    .unwrap();
    let (code, err) = run(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("please define either an ACL file or declare users directly in your redis.conf, but not both"), "{err}");
}

#[test]
fn config_rewrite_writes_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.conf");
    std::fs::write(
        &path,
        format!(
            "port {}\nuser alice on >pw ~k* (+set ~w*) +get\n",
            free_port()
        ),
    )
    .unwrap();
    let s = Server::start_with_file(&path, &[]);
    let mut c = s.conn();
    assert_eq!(c.q("ACL SETUSER bob on nopass +@read ~*"), Reply::ok());
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    let listed: Vec<String> = c.q("ACL LIST").items().iter().map(|x| x.text()).collect();
    let text = std::fs::read_to_string(&path).unwrap();
    let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(users, listed, "{text}");
    drop(c);
    drop(s);
    // The rewritten file starts again with the same users.
    let s = Server::start_with_file(&path, &[]);
    let mut c = s.conn();
    let again: Vec<String> = c.q("ACL LIST").items().iter().map(|x| x.text()).collect();
    // Configured users are reset before their rules apply (sanitize-payload, as Redis).
    let listed: Vec<String> = listed
        .iter()
        .map(|l| {
            l.replace(
                "user default on nopass ~*",
                "user default on nopass sanitize-payload ~*",
            )
        })
        .collect();
    assert_eq!(again, listed);
}
