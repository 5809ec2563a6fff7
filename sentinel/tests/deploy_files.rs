//! The deployment files in deploy/ beyond the local launcher: the systemd units (checked by
//! `systemd-analyze verify` and `security --offline`, and the sysusers/tmpfiles entries
//! applied to a scratch root), the container recipe (Dockerfile structure, the compose file
//! through `docker compose config` when available, the per-node configs), and
//! `deploy/netns.sh`: three network namespaces on one bridge where the servers replicate,
//! the sentinels find each other at their announced addresses, and killing the master fails
//! over to another namespace's address. The same script also runs the compose file's own
//! per-node configs (host names, `resolve-hostnames`, the entrypoint) without Docker.
//!
//! Whatever a machine lacks (systemd-analyze, docker, root or `ip netns`) is skipped with a
//! loud `!!! SKIPPED` message; the rest still runs.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn skipped(what: &str, why: &str) {
    eprintln!("\n!!! SKIPPED {what}: {why}\n");
}

/// The directory holding this package's picket-sentinel and picket-server (built on demand,
/// once, in the same profile).
fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let me = PathBuf::from(env!("CARGO_BIN_EXE_picket-sentinel"));
        let dir = me.parent().unwrap().to_path_buf();
        if !dir.join("picket-server").exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-p", "picket-server", "--bin", "picket-server"]);
            if dir.ends_with("release") {
                cmd.arg("--release");
            }
            assert!(cmd.status().expect("cargo build picket-server").success());
        }
        dir
    })
    .clone()
}

/// Runs a program; None when it cannot be started (not installed).
fn run(prog: &str, args: &[&str]) -> Option<Output> {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
}

fn is_root() -> bool {
    run("id", &["-u"]).is_some_and(|o| text(&o.stdout).trim() == "0")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------
// systemd

/// `Key=value` lines of a unit file (comments and section headers dropped), in order.
fn unit_settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';', '[']))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn has_setting(settings: &[(String, String)], key: &str, value: &str) -> bool {
    settings.iter().any(|(k, v)| k == key && v == value)
}

#[test]
fn systemd_units_are_hardened_and_verify() {
    let dir = root().join("deploy/systemd");
    let units = [
        (
            "picket-server.service",
            "/usr/local/bin/picket-server /etc/picket/server.toml --supervised systemd",
        ),
        (
            "picket-sentinel.service",
            "/usr/local/bin/picket-sentinel /etc/picket/sentinel.conf",
        ),
    ];
    let required = [
        ("User", "picket"),
        ("Restart", "always"),
        ("LimitNOFILE", "65535"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/picket /etc/picket"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("CapabilityBoundingSet", ""),
    ];
    for (name, exec) in units {
        let unit = read(dir.join(name));
        let s = unit_settings(&unit);
        assert!(
            has_setting(&s, "ExecStart", exec),
            "{name}: ExecStart={exec}"
        );
        for (k, v) in required {
            assert!(has_setting(&s, k, v), "{name} lacks {k}={v}");
        }
        // picket-server notifies systemd (`supervised systemd`); picket-sentinel does not.
        let want = if name == "picket-server.service" {
            "notify"
        } else {
            "simple"
        };
        assert!(
            s.iter().any(|(k, v)| k == "Type" && v == want)
                || (want == "simple" && !s.iter().any(|(k, _)| k == "Type")),
            "{name}: Type={want}"
        );
        assert!(
            unit.contains("[Install]") && has_setting(&s, "WantedBy", "multi-user.target"),
            "{name}: [Install] WantedBy=multi-user.target"
        );
    }

    let Some(version) = run("systemd-analyze", &["--version"]).filter(|o| o.status.success())
    else {
        skipped(
            "systemd-analyze verify of deploy/systemd/*.service",
            "systemd-analyze is not installed (apt-get install systemd)",
        );
        return;
    };
    eprintln!("{}", text(&version.stdout).lines().next().unwrap_or(""));
    // `verify` insists that ExecStart's binary exists: check copies that run the binaries
    // this test built, everything else unchanged.
    let bins = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, _) in units {
        let unit = read(dir.join(name)).replace("/usr/local/bin/", &format!("{}/", bins.display()));
        let p = tmp.path().join(name);
        std::fs::write(&p, unit).unwrap();
        paths.push(p.display().to_string());
    }
    let mut args = vec!["verify"];
    args.extend(paths.iter().map(String::as_str));
    let out = run("systemd-analyze", &args).unwrap();
    let err = text(&out.stderr);
    // Unknown keys and bad values are only warnings (exit 0): any line about our units fails.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("picket") || l.contains(&*tmp.path().to_string_lossy()))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{err}{}",
        text(&out.stdout)
    );
    eprintln!("systemd-analyze verify: both units clean");

    // The exposure score, as a guard against the hardening being relaxed by accident.
    let help = run("systemd-analyze", &["--help"]).unwrap();
    if text(&help.stdout).contains("--offline") {
        for p in &paths {
            let out = run(
                "systemd-analyze",
                &["security", "--offline=true", "--threshold=25", p],
            )
            .unwrap();
            let overall = text(&out.stdout)
                .lines()
                .find(|l| l.contains("Overall exposure level"))
                .unwrap_or("")
                .to_string();
            eprintln!("{overall}");
            assert!(
                out.status.success(),
                "exposure above 2.5 for {p}:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
    } else {
        skipped(
            "systemd-analyze security --offline",
            "this systemd-analyze has no --offline (systemd < 250)",
        );
    }

    // The user and directories the units expect, created in a scratch root.
    let have = |p: &str| run(p, &["--version"]).is_some_and(|o| o.status.success());
    if !(is_root() && have("systemd-sysusers") && have("systemd-tmpfiles")) {
        skipped(
            "systemd-sysusers / systemd-tmpfiles on deploy/systemd/picket.{sysusers,tmpfiles}",
            "needs root and both tools",
        );
        return;
    }
    let r = tempfile::tempdir().unwrap();
    let rp = r.path().display().to_string();
    std::fs::create_dir_all(r.path().join("etc/sysusers.d")).unwrap();
    std::fs::create_dir_all(r.path().join("etc/tmpfiles.d")).unwrap();
    std::fs::copy(
        dir.join("picket.sysusers"),
        r.path().join("etc/sysusers.d/picket.conf"),
    )
    .unwrap();
    std::fs::copy(
        dir.join("picket.tmpfiles"),
        r.path().join("etc/tmpfiles.d/picket.conf"),
    )
    .unwrap();
    let root_arg = format!("--root={rp}");
    let out = run("systemd-sysusers", &[&root_arg, "picket.conf"]).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let passwd = read(r.path().join("etc/passwd"));
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("picket:") && l.ends_with(":/var/lib/picket:/usr/sbin/nologin")),
        "{passwd}"
    );
    let out = run("systemd-tmpfiles", &[&root_arg, "--create", "picket.conf"]).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for d in ["etc/picket", "var/lib/picket"] {
        assert!(r.path().join(d).is_dir(), "{d} not created");
    }
    eprintln!("systemd-sysusers and systemd-tmpfiles: user picket, /etc/picket, /var/lib/picket");
}

// ---------------------------------------------------------------------------------------
// Container recipe

#[test]
fn container_recipe_is_consistent() {
    let dir = root().join("deploy/docker");
    let df = read(dir.join("Dockerfile"));
    let instr: Vec<(String, String)> = df
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(' '))
        .map(|(i, rest)| (i.to_ascii_uppercase(), rest.trim().to_string()))
        .collect();
    let of = |i: &str| -> Vec<&str> {
        instr
            .iter()
            .filter(|(k, _)| k == i)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let froms = of("FROM");
    assert_eq!(froms.len(), 2, "a two-stage build: {froms:?}");
    assert!(froms[0].starts_with("rust:1-bookworm AS "), "{froms:?}");
    assert_eq!(froms[1], "debian:bookworm-slim", "{froms:?}");
    let stage = froms[0].split_whitespace().last().unwrap();
    assert!(
        df.contains("cargo build --release") && df.contains("-p picket-server -p picket-sentinel"),
        "the builder builds both binaries"
    );
    assert!(
        of("COPY")
            .iter()
            .any(|c| c.starts_with(&format!("--from={stage} "))),
        "the runtime stage copies the binaries from {stage}"
    );
    // Every COPY from the build context names a file of the checkout (the context is the
    // repository root, see compose.yaml).
    for c in of("COPY").iter().filter(|c| !c.starts_with("--from")) {
        let words: Vec<&str> = c
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        for src in &words[..words.len() - 1] {
            assert!(root().join(src).exists(), "COPY source {src} missing");
        }
    }
    let user = of("USER");
    assert!(
        user.last().is_some_and(|u| *u != "root" && *u != "0"),
        "runs as a non-root user: {user:?}"
    );
    let hc = of("HEALTHCHECK");
    assert!(
        hc.len() == 1 && df.contains("redis-cli") && df.contains("redis-tools"),
        "a HEALTHCHECK with redis-cli from redis-tools: {hc:?}"
    );
    assert!(!of("ENTRYPOINT").is_empty() && !of("CMD").is_empty());
    let ignore = read(dir.join("Dockerfile.dockerignore"));
    assert!(ignore.lines().any(|l| l.trim() == "target"), "{ignore}");
    let ep = read(dir.join("entrypoint.sh"));
    assert!(ep.starts_with("#!/bin/sh") && ep.contains("exec \"picket-$kind\""));

    // compose.yaml: six services, each mounting its node's config, which say what the
    // deployment needs (names, quorum 2, node1 the first master).
    let compose = read(dir.join("compose.yaml"));
    for i in 1..=3 {
        for (svc, kind) in [
            (format!("node{i}"), "server"),
            (format!("sentinel{i}"), "sentinel"),
        ] {
            assert!(compose.contains(&format!("\n  {svc}:\n")), "service {svc}");
            let mount = format!("./node{i}/{kind}.conf:/etc/picket/{kind}.conf:ro");
            assert!(compose.contains(&mount), "{svc} mounts {mount}");
            assert!(
                compose.contains(&format!("- {svc}-data:/data")),
                "{svc} keeps /data in a named volume"
            );
        }
        let server = read(dir.join(format!("node{i}/server.conf")));
        assert!(
            server.contains(&format!("\nreplica-announce-ip node{i}\n")),
            "{server}"
        );
        assert_eq!(
            server.contains("\nreplicaof node1 6379\n"),
            i != 1,
            "{server}"
        );
        let sentinel = read(dir.join(format!("node{i}/sentinel.conf")));
        for line in [
            "sentinel resolve-hostnames yes".to_string(),
            "sentinel announce-hostnames yes".to_string(),
            format!("sentinel announce-ip sentinel{i}"),
            "sentinel monitor mymaster node1 6379 2".to_string(),
        ] {
            assert!(
                sentinel.lines().any(|l| l == line),
                "node{i}/sentinel.conf: {line}"
            );
        }
    }
    assert_eq!(compose.matches("condition: service_healthy").count(), 5);

    compose_config(&dir);
    docker_build_check();
}

/// `docker compose config -q` (or the older `docker-compose`), when either is installed.
fn compose_config(dir: &Path) {
    let file = dir.join("compose.yaml");
    let f = file.display().to_string();
    let v2 = run("docker", &["compose", "version"]).is_some_and(|o| o.status.success());
    if v2 {
        let out = run("docker", &["compose", "-f", &f, "config", "-q"]).unwrap();
        assert!(
            out.status.success(),
            "docker compose config:\n{}",
            text(&out.stderr)
        );
        eprintln!("docker compose config -q: compose.yaml is valid");
        return;
    }
    if run("docker-compose", &["version"]).is_some_and(|o| o.status.success()) {
        // Compose v1 predates the top-level `name:`; validate the rest of the file.
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("compose.yaml");
        let body: String = read(&file)
            .lines()
            .filter(|l| !l.starts_with("name:"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&copy, body).unwrap();
        let d = dir.display().to_string();
        let c = copy.display().to_string();
        let out = run(
            "docker-compose",
            &["-f", &c, "--project-directory", &d, "config", "-q"],
        )
        .unwrap();
        assert!(
            out.status.success(),
            "docker-compose config:\n{}",
            text(&out.stderr)
        );
        eprintln!("docker-compose (v1) config -q: compose.yaml is valid");
        return;
    }
    skipped(
        "docker compose config -q on deploy/docker/compose.yaml",
        "neither the docker compose plugin nor docker-compose is installed",
    );
}

/// `docker build --check` needs a daemon (and BuildKit's Dockerfile frontend).
fn docker_build_check() {
    let daemon = run("docker", &["info"]).is_some_and(|o| o.status.success());
    let check =
        run("docker", &["build", "--help"]).is_some_and(|o| text(&o.stdout).contains("--check"));
    if !(daemon && check) {
        skipped(
            "docker build --check of deploy/docker/Dockerfile",
            if daemon {
                "this docker build has no --check"
            } else {
                "no docker daemon (the structural checks above ran)"
            },
        );
        return;
    }
    let r = root().display().to_string();
    let df = root()
        .join("deploy/docker/Dockerfile")
        .display()
        .to_string();
    let out = run("docker", &["build", "--check", "-f", &df, &r]).unwrap();
    let err = text(&out.stderr);
    if !out.status.success()
        && ["resolve", "pull", "dial tcp", "lookup", "network"]
            .iter()
            .any(|w| err.contains(w))
    {
        skipped(
            "docker build --check",
            "the frontend or base images cannot be fetched here",
        );
        return;
    }
    assert!(out.status.success(), "docker build --check:\n{err}");
    eprintln!("docker build --check: no warnings");
}

// ---------------------------------------------------------------------------------------
// A tiny RESP client (nested arrays included, for SENTINEL SENTINELS).

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<String>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    fn str(&self) -> Option<&str> {
        match self {
            Reply::Simple(s) | Reply::Bulk(Some(s)) => Some(s),
            _ => None,
        }
    }
    fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(v)) => v,
            _ => &[],
        }
    }
    /// A flat name/value array (an instance map of SENTINEL ...) as pairs.
    fn map(&self) -> Vec<(String, String)> {
        self.items()
            .chunks(2)
            .filter_map(|c| Some((c.first()?.str()?.to_string(), c.get(1)?.str()?.to_string())))
            .collect()
    }
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let (t, rest) = line.split_at(1.min(line.len()));
    let num = || -> std::io::Result<i64> {
        rest.parse()
            .map_err(|_| std::io::Error::other(format!("bad reply line {line:?}")))
    };
    Ok(match t {
        "+" => Reply::Simple(rest.to_string()),
        "-" => return Err(std::io::Error::other(format!("error reply: {rest}"))),
        ":" => Reply::Int(num()?),
        "$" => {
            let n = num()?;
            if n < 0 {
                Reply::Bulk(None)
            } else {
                let mut b = vec![0u8; n as usize + 2];
                std::io::Read::read_exact(r, &mut b)?;
                b.truncate(n as usize);
                Reply::Bulk(Some(text(&b)))
            }
        }
        "*" => {
            let n = num()?;
            if n < 0 {
                Reply::Array(None)
            } else {
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(read_reply(r)?);
                }
                Reply::Array(Some(v))
            }
        }
        _ => return Err(std::io::Error::other(format!("bad reply line {line:?}"))),
    })
}

struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        s.set_read_timeout(Some(timeout))?;
        Ok(Conn {
            r: BufReader::new(s),
        })
    }
    fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        self.r
            .get_mut()
            .write_all(&picket_common::resp::encode_command(args))
    }
    fn cmd(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        self.send(args)?;
        read_reply(&mut self.r)
    }
}

fn cmd(addr: SocketAddr, args: &[&str]) -> Option<Reply> {
    Conn::open(addr, Duration::from_secs(2))
        .ok()?
        .cmd(args)
        .ok()
}

fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim_end().to_string())
}

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {secs} s waiting for {what}; last: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// deploy/netns.sh

/// Holds the namespace names of one deployment against other test runs on this machine (a
/// directory created atomically, with the owner's pid; a dead owner's lock is taken over).
struct NameLock(PathBuf);

impl NameLock {
    fn take(name: &str) -> NameLock {
        let dir = std::env::temp_dir().join(format!("picket-deploy-files-{name}.lock"));
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    std::fs::write(dir.join("pid"), std::process::id().to_string()).unwrap();
                    return NameLock(dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::thread::sleep(Duration::from_millis(100));
                    let owner = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
                    let owner = owner.trim();
                    if !owner.is_empty() && !Path::new(&format!("/proc/{owner}")).exists() {
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{} is held by pid {owner}",
                        dir.display()
                    );
                }
                Err(e) => panic!("{}: {e}", dir.display()),
            }
        }
    }
}

impl Drop for NameLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One deployment of deploy/netns.sh with its own namespaces, bridge, /24 and state
/// directory; `down` runs however the test ends.
struct Netns {
    /// Taken by `netns_up`; released after `down` (fields drop after `Drop::drop`).
    lock: Option<NameLock>,
    prefix: &'static str,
    bridge: &'static str,
    subnet: &'static str,
    configs: &'static str,
    state: tempfile::TempDir,
    bins: PathBuf,
}

enum Ran {
    Ok(String),
    /// Exit code 2: this machine cannot run it (not root, no `ip netns`).
    Cannot(String),
}

impl Netns {
    fn new(
        prefix: &'static str,
        bridge: &'static str,
        subnet: &'static str,
        configs: &'static str,
    ) -> Netns {
        Netns {
            lock: None,
            prefix,
            bridge,
            subnet,
            configs,
            state: tempfile::tempdir().unwrap(),
            bins: bin_dir(),
        }
    }

    fn script(&self, what: &str) -> Output {
        Command::new("bash")
            .arg(root().join("deploy/netns.sh"))
            .arg(what)
            .env("PICKET_BIN_DIR", &self.bins)
            .env("PICKET_NETNS_DIR", self.state.path().join("state"))
            .env("PICKET_NETNS_PREFIX", self.prefix)
            .env("PICKET_NETNS_BRIDGE", self.bridge)
            .env("PICKET_NETNS_SUBNET", self.subnet)
            .env("PICKET_NETNS_CONFIGS", self.configs)
            .env("PICKET_NETNS_DOWN_AFTER", "1000")
            .stdin(Stdio::null())
            .output()
            .expect("bash deploy/netns.sh")
    }

    fn run(&self, what: &str) -> Ran {
        let out = self.script(what);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        match out.status.code() {
            Some(0) => Ran::Ok(all),
            Some(2) => Ran::Cannot(all),
            _ => panic!("deploy/netns.sh {what} failed ({}):\n{all}", out.status),
        }
    }

    fn ip(&self, node: u8) -> String {
        format!("{}.{node}", self.subnet)
    }

    fn addr(&self, node: u8, port: u16) -> SocketAddr {
        format!("{}:{port}", self.ip(node)).parse().unwrap()
    }

    /// The node an announced address stands for: an address of our /24, or a service name
    /// of the compose configs (never resolved on the host).
    fn node_of(&self, host: &str) -> Option<u8> {
        let n = match host.strip_prefix(&format!("{}.", self.subnet)) {
            Some(n) => n,
            None => host
                .strip_prefix("node")
                .or_else(|| host.strip_prefix("sentinel"))?,
        };
        n.parse().ok().filter(|n| (1..=3).contains(n))
    }

    fn pid(&self, node: u8, kind: &str) -> String {
        read(
            self.state
                .path()
                .join(format!("state/node{node}/{kind}.pid")),
        )
        .trim()
        .to_string()
    }

    /// Before any traffic to the /24: it must be routed to our bridge, so nothing leaves
    /// this machine.
    fn assert_routed_locally(&self) {
        for n in 1..=3 {
            let out = run("ip", &["route", "get", &self.ip(n)]).expect("ip route get");
            let route = text(&out.stdout);
            assert!(
                route.contains(&format!("dev {} ", self.bridge)),
                "{} is not routed to {}: {route}",
                self.ip(n),
                self.bridge
            );
        }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for n in 1..=3 {
            for f in ["server.log", "sentinel.log", "server.out", "sentinel.out"] {
                let p = self.state.path().join(format!("state/node{n}/{f}"));
                if let Ok(t) = std::fs::read_to_string(&p) {
                    let tail: Vec<&str> = t.lines().rev().take(15).collect();
                    all.push_str(&format!("--- node{n}/{f}\n"));
                    for l in tail.into_iter().rev() {
                        all.push_str(l);
                        all.push('\n');
                    }
                }
            }
        }
        all
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Without the lock the names may be another run's: leave them alone.
        if self.lock.is_none() {
            return;
        }
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        let out = self.script("down");
        if !out.status.success() && out.status.code() != Some(2) {
            eprintln!(
                "deploy/netns.sh down failed:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
    }
}

/// Why this machine cannot run the namespace demo, if it cannot.
fn netns_unavailable() -> Option<String> {
    if !is_root() {
        return Some("not root (network namespaces need root)".into());
    }
    if !run("bash", &["--version"]).is_some_and(|o| o.status.success()) {
        return Some("bash is not installed".into());
    }
    if !run("ip", &["netns", "list"]).is_some_and(|o| o.status.success()) {
        return Some("`ip netns` (iproute2) is not available".into());
    }
    None
}

/// Starts a deployment; None (after a loud skip) when the machine cannot run it.
fn netns_up(n: &mut Netns, what: &str) -> Option<String> {
    if let Some(why) = netns_unavailable() {
        skipped(what, &why);
        return None;
    }
    // One run at a time per set of names; leftovers of an earlier run that died go first.
    n.lock = Some(NameLock::take(n.prefix));
    let _ = n.script("down");
    for i in 1..=3 {
        assert!(
            !Path::new(&format!("/run/netns/{}{i}", n.prefix)).exists(),
            "namespace {}{i} survived `down`",
            n.prefix
        );
    }
    match n.run("up") {
        Ran::Cannot(why) => {
            skipped(what, why.trim());
            None
        }
        Ran::Ok(out) => {
            eprintln!("{out}");
            n.assert_routed_locally();
            Some(out)
        }
    }
}

/// The addresses each sentinel reports for the other sentinels (SENTINEL SENTINELS ip:port).
fn other_sentinels(n: &Netns, node: u8) -> Result<BTreeSet<String>, String> {
    let r = cmd(n.addr(node, 26379), &["SENTINEL", "SENTINELS", "mymaster"])
        .ok_or("sentinel unreachable")?;
    Ok(r.items()
        .iter()
        .map(|s| {
            let m = s.map();
            let get = |k: &str| {
                m.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            format!("{}:{}", get("ip"), get("port"))
        })
        .collect())
}

fn master_of(n: &Netns, node: u8) -> Result<(String, String), String> {
    let r = cmd(
        n.addr(node, 26379),
        &["SENTINEL", "get-master-addr-by-name", "mymaster"],
    )
    .ok_or("sentinel unreachable")?;
    match r.items() {
        [h, p] => Ok((h.str().unwrap_or("").into(), p.str().unwrap_or("").into())),
        _ => Err(format!("{r:?}")),
    }
}

fn replication(n: &Netns, node: u8) -> Result<String, String> {
    let r = cmd(n.addr(node, 6379), &["INFO", "replication"]).ok_or("server unreachable")?;
    r.str().map(str::to_string).ok_or(format!("{r:?}"))
}

/// The servers replicate from `master`, each announcing `name(i)`; each sentinel knows the
/// master and the two other sentinels as `sentinel_name(i):26379`.
fn check_deployment(
    n: &Netns,
    master: u8,
    name: impl Fn(u8) -> String,
    sentinel_name: impl Fn(u8) -> String,
) {
    let m = name(master);
    wait_for("the replicas to be linked", 20, || {
        let info = replication(n, master)?;
        if info_field(&info, "role").as_deref() != Some("master") {
            return Err(info);
        }
        for i in (1..=3).filter(|&i| i != master) {
            if !info.contains(&format!(":ip={},port=6379,state=online", name(i))) {
                return Err(info);
            }
            let r = replication(n, i)?;
            if info_field(&r, "master_host").as_deref() != Some(m.as_str())
                || info_field(&r, "master_link_status").as_deref() != Some("up")
            {
                return Err(r);
            }
        }
        Ok(())
    });
    for i in 1..=3u8 {
        let want: BTreeSet<String> = (1..=3)
            .filter(|&j| j != i)
            .map(|j| format!("{}:26379", sentinel_name(j)))
            .collect();
        wait_for(
            &format!("sentinel {i} to know the others as {want:?}"),
            20,
            || {
                let got = other_sentinels(n, i)?;
                (got == want).then_some(()).ok_or(format!("{got:?}"))
            },
        );
        let (h, p) = master_of(n, i).unwrap();
        assert_eq!(
            (h.as_str(), p.as_str()),
            (m.as_str(), "6379"),
            "sentinel {i}"
        );
    }
    // Each sentinel knows both replicas, by their announced names.
    for i in 1..=3u8 {
        wait_for(&format!("sentinel {i} to list both replicas"), 20, || {
            let r = cmd(n.addr(i, 26379), &["SENTINEL", "REPLICAS", "mymaster"])
                .ok_or("sentinel unreachable")?;
            let got: BTreeSet<String> = r
                .items()
                .iter()
                .filter_map(|s| s.map().into_iter().find(|(k, _)| k == "ip").map(|(_, v)| v))
                .collect();
            let want: BTreeSet<String> = (1..=3).filter(|&j| j != master).map(&name).collect();
            (got == want).then_some(()).ok_or(format!("{got:?}"))
        });
    }
}

/// Kill -9 the master; a sentinel of another node publishes `+switch-master` to a server of
/// another namespace, every sentinel agrees, the promoted server is a master with the data,
/// and the remaining replica follows it. Returns the new master's node.
fn kill_master_and_check_failover(n: &Netns, name: impl Fn(u8) -> String) -> u8 {
    let mut c = Conn::open(n.addr(1, 6379), Duration::from_secs(10)).unwrap();
    let r = c.cmd(&["SET", "deploy-files", "before-failover"]).unwrap();
    assert_eq!(r, Reply::Simple("OK".into()));
    let r = c.cmd(&["WAIT", "2", "5000"]).unwrap();
    assert_eq!(r, Reply::Int(2), "both replicas acknowledged the write");
    drop(c);

    let mut sub = Conn::open(n.addr(2, 26379), Duration::from_secs(40)).unwrap();
    let r = sub.cmd(&["SUBSCRIBE", "+switch-master"]).unwrap();
    assert_eq!(r.items().len(), 3, "{r:?}");
    let pid = n.pid(1, "server");
    let t0 = Instant::now();
    let out = run("kill", &["-9", &pid]).expect("kill");
    assert!(out.status.success(), "kill -9 {pid}: {}", text(&out.stderr));
    let msg = read_reply(&mut sub.r).expect("+switch-master within 40 s");
    let payload = msg
        .items()
        .get(2)
        .and_then(Reply::str)
        .unwrap_or("")
        .to_string();
    eprintln!(
        "{:.2} s after the kill: +switch-master {payload}",
        t0.elapsed().as_secs_f64()
    );
    let w: Vec<&str> = payload.split(' ').collect();
    assert_eq!(w.len(), 5, "{payload}");
    assert_eq!(&w[..3], &["mymaster", &name(1), "6379"], "{payload}");
    assert_eq!(w[4], "6379", "{payload}");
    let new = n
        .node_of(w[3])
        .unwrap_or_else(|| panic!("new master {} is not ours", w[3]));
    assert!(new == 2 || new == 3, "{payload}");
    assert_eq!(w[3], name(new));

    for i in 1..=3u8 {
        wait_for(&format!("sentinel {i} to report {}", name(new)), 20, || {
            let (h, _) = master_of(n, i)?;
            (h == name(new)).then_some(()).ok_or(h)
        });
    }
    let role = cmd(n.addr(new, 6379), &["ROLE"]).unwrap();
    assert_eq!(role.items().first().and_then(Reply::str), Some("master"));
    // The acknowledged write survived. (With `failover-safety strict`, as the container
    // configs run, the new master serves data once a replica acknowledges it: its lease.)
    wait_for(
        "the new master to serve the acknowledged write",
        30,
        || match cmd(n.addr(new, 6379), &["GET", "deploy-files"]) {
            Some(v) if v.str() == Some("before-failover") => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    let other = 5 - new;
    wait_for("the other replica to follow the new master", 30, || {
        let r = replication(n, other)?;
        (info_field(&r, "master_host").as_deref() == Some(name(new).as_str())
            && info_field(&r, "master_link_status").as_deref() == Some("up"))
        .then_some(())
        .ok_or(r)
    });
    new
}

fn assert_down(n: &Netns) {
    let out = match n.run("down") {
        Ran::Ok(o) | Ran::Cannot(o) => o,
    };
    for i in 1..=3 {
        assert!(
            !Path::new(&format!("/run/netns/{}{i}", n.prefix)).exists(),
            "namespace {}{i} left behind: {out}",
            n.prefix
        );
    }
    let link = run("ip", &["link", "show", n.bridge]).unwrap();
    assert!(!link.status.success(), "bridge {} left behind", n.bridge);
}

#[test]
fn netns_three_hosts_replicate_and_fail_over() {
    // Namespaces pkn1..3 on 10.78.0.0/24: apart from the demo's picket1..3 on 10.77.0.0/24
    // and from the loopback ports of deploy/picket-ha.
    let mut n = Netns::new("pkn", "pknbr0", "10.78.0", "ip");
    let what = "deploy/netns.sh three-namespace failover";
    let Some(up) = netns_up(&mut n, what) else {
        return;
    };
    assert!(up.contains("10.78.0.1:6379   master"), "{up}");
    check_deployment(&n, 1, |i| n.ip(i), |i| n.ip(i));
    // The servers really are in the namespaces: seen from inside one, on its own address.
    let inside = Command::new("ip")
        .args([
            "netns", "exec", "pkn2", "ip", "-4", "-o", "addr", "show", "eth0",
        ])
        .output()
        .unwrap();
    assert!(
        text(&inside.stdout).contains("10.78.0.2/24"),
        "{}",
        text(&inside.stdout)
    );

    let new = kill_master_and_check_failover(&n, |i| n.ip(i));

    // `up` again restarts the killed server; the sentinels make it a replica of the new master.
    let t0 = Instant::now();
    match n.run("up") {
        Ran::Ok(_) => {}
        Ran::Cannot(why) => panic!("{why}"),
    }
    wait_for("the old master to rejoin as a replica", 40, || {
        let r = replication(&n, 1)?;
        (info_field(&r, "role").as_deref() == Some("slave")
            && info_field(&r, "master_host") == Some(n.ip(new))
            && info_field(&r, "master_link_status").as_deref() == Some("up"))
        .then_some(())
        .ok_or(r)
    });
    eprintln!(
        "the old master is a replica of {} {:.1} s after its restart",
        n.ip(new),
        t0.elapsed().as_secs_f64()
    );
    let status = match n.run("status") {
        Ran::Ok(s) | Ran::Cannot(s) => s,
    };
    let masters = status
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("master"))
        .count();
    assert_eq!(masters, 1, "{status}");
    assert_down(&n);
}

#[test]
fn compose_configs_run_in_namespaces_with_host_names() {
    // deploy/docker/node*/ through deploy/docker/entrypoint.sh, as the compose file runs them,
    // with the service names node1..3 / sentinel1..3 resolving to the namespaces (10.78.1.x).
    let mut n = Netns::new("pkd", "pkdbr0", "10.78.1", "docker");
    let what = "deploy/docker configs in namespaces (PICKET_NETNS_CONFIGS=docker)";
    if netns_up(&mut n, what).is_none() {
        return;
    }
    let name = |i: u8| format!("node{i}");
    check_deployment(&n, 1, name, |i| format!("sentinel{i}"));
    // The entrypoint copied the read-only templates; the sentinels keep their state in the copies.
    for i in 1..=3 {
        let s = read(n.state.path().join(format!("state/node{i}/sentinel.conf")));
        assert!(
            s.contains("sentinel myid ") && s.contains("sentinel known-sentinel mymaster sentinel"),
            "{s}"
        );
    }
    let new = kill_master_and_check_failover(&n, name);
    eprintln!("compose configs: failover from node1 to node{new} by host name");
    assert_down(&n);
}

#[test]
fn pod_compose_configs_run_in_namespaces_with_host_names() {
    // deploy/compose/node*/ (deploy/compose.yaml: a node's server and sentinel share its
    // network, so both answer at node1..3) through the same entrypoint, in namespaces
    // (10.78.2.x) where the names resolve: everything by name, failover included.
    let mut n = Netns::new("pkc", "pkcbr0", "10.78.2", "compose");
    let what = "deploy/compose configs in namespaces (PICKET_NETNS_CONFIGS=compose)";
    if netns_up(&mut n, what).is_none() {
        return;
    }
    let name = |i: u8| format!("node{i}");
    check_deployment(&n, 1, name, name);
    for i in 1..=3 {
        let s = read(n.state.path().join(format!("state/node{i}/sentinel.conf")));
        assert!(
            s.contains("sentinel myid ")
                && s.contains("sentinel known-sentinel mymaster node")
                && s.contains("sentinel monitor mymaster node1 6379 2"),
            "{s}"
        );
    }
    let new = kill_master_and_check_failover(&n, name);
    eprintln!("pod compose configs: failover from node1 to node{new} by host name");
    assert_down(&n);
}
