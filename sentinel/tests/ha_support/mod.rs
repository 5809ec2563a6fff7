//! Running `deploy/picket-ha` from the tests: a deployment in a temp `PICKET_HA_DIR` on
//! ports of its own (so tests run side by side, and beside an operator's deployment on the
//! default ports), with this build's binaries, reset however the test ends.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package lives in the workspace")
        .to_path_buf()
}

pub fn require_tools() -> bool {
    std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1")
}

/// Skips loudly, or fails when the tools are required (PICKET_REQUIRE_REDIS=1, as in CI).
pub fn skip_or_fail(what: &str, why: &str) {
    assert!(
        !require_tools(),
        "{what}: {why} (PICKET_REQUIRE_REDIS=1 requires it: .ci/run installs it)"
    );
    eprintln!("\n!!! SKIPPED {what}: {why}\n");
}

pub fn python3_available() -> bool {
    if Command::new("python3").arg("--version").output().is_ok() {
        return true;
    }
    skip_or_fail(
        "deploy/picket-ha",
        "python3 is needed to run it: apt-get install python3",
    );
    false
}

/// The directory holding this build's picket-sentinel and picket-server (built on demand).
pub fn bin_dir() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_picket-sentinel"));
    let dir = me
        .parent()
        .expect("a binary lives in a directory")
        .to_path_buf();
    if !dir.join("picket-server").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "picket-server", "--bin", "picket-server"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().expect("cargo build").success());
    }
    dir
}

/// `n` loopback ports that are free now, below the kernel's ephemeral range (so no outgoing
/// connection takes one before the deployment binds it), picked at random.
pub fn free_ports(n: usize) -> Vec<u16> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (lo, hi) = if low > 12_000 {
        (10_000u16, low - 1)
    } else {
        (low.max(1024), 65_000)
    };
    for _ in 0..1000 {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let base = lo + (h.finish() % u64::from(hi - lo - n as u16)) as u16;
        let held: Vec<TcpListener> = (0..n as u16)
            .filter_map(|k| TcpListener::bind(("127.0.0.1", base + k)).ok())
            .collect();
        if held.len() == n {
            return (0..n as u16).map(|k| base + k).collect();
        }
    }
    panic!("no {n} consecutive free ports between {lo} and {hi}");
}

pub struct Ran {
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    pub fn both(&self) -> String {
        format!("--- stdout:\n{}--- stderr:\n{}", self.out, self.err)
    }
}

/// A deployment of deploy/picket-ha in a temp directory on its own ports.
pub struct Ha {
    pub dir: tempfile::TempDir,
    pub bins: PathBuf,
    pub servers: [u16; 3],
    pub sentinels: [u16; 3],
}

impl Ha {
    pub fn new() -> Ha {
        let p = free_ports(6);
        Ha {
            dir: tempfile::tempdir().expect("temp dir"),
            bins: bin_dir(),
            servers: [p[0], p[1], p[2]],
            sentinels: [p[3], p[4], p[5]],
        }
    }

    fn ports(list: &[u16]) -> String {
        list.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn command(&self, what: &str) -> Command {
        let mut c = Command::new("python3");
        c.arg(root().join("deploy/picket-ha"))
            .arg(what)
            .env("PICKET_HA_DIR", self.dir.path())
            .env("PICKET_BIN_DIR", &self.bins)
            .env("PICKET_HA_SERVER_PORTS", Self::ports(&self.servers))
            .env("PICKET_HA_SENTINEL_PORTS", Self::ports(&self.sentinels))
            .env_remove("PICKET_HA_REBUILD")
            .env_remove("PICKET_HA_TIMEOUT")
            .env_remove("PICKET_HA_DOWN_AFTER")
            .stdin(Stdio::null());
        c
    }

    pub fn run_with(&self, what: &str, env: &[(&str, &str)]) -> Ran {
        let mut c = self.command(what);
        for (k, v) in env {
            c.env(k, v);
        }
        let o: Output = c.output().expect("python3 deploy/picket-ha");
        Ran {
            code: o.status.code(),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn run(&self, what: &str) -> Ran {
        self.run_with(what, &[])
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, what: &str) -> String {
        let r = self.run(what);
        assert!(
            r.ok(),
            "picket-ha {what} failed ({:?}):\n{}",
            r.code,
            r.both()
        );
        r.out
    }

    pub fn node_dir(&self, node: usize) -> PathBuf {
        self.dir.path().join(format!("node{node}"))
    }

    /// The pid in a node's pid file (node 1..=3, kind "server" or "sentinel").
    pub fn pid(&self, node: usize, kind: &str) -> Option<i32> {
        std::fs::read_to_string(self.node_dir(node).join(format!("{kind}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The master the first sentinel that answers names.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|&s| {
            cmd(s, &["SENTINEL", "get-master-addr-by-name", "mymaster"])?
                .get(1)?
                .parse()
                .ok()
        })
    }
}

impl Drop for Ha {
    fn drop(&mut self) {
        let _ = self.command("reset").output();
    }
}

/// Is this pid a running process (a zombie does not count)?
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next()),
            Some("Z") | Some("X")
        ),
        Err(_) => false,
    }
}

/// One command, one reply: the elements of an array (bulk strings or nested lines), a bulk
/// string, or the status/error/integer line itself; an empty Vec for a null. None when
/// nothing answers.
pub fn cmd(port: u16, args: &[&str]) -> Option<Vec<String>> {
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut w = s.try_clone().ok()?;
    w.write_all(&picket_common::resp::encode_command(args))
        .ok()?;
    let mut r = BufReader::new(s);
    let head = line(&mut r)?;
    if let Some(n) = head.strip_prefix('*') {
        let n: i64 = n.parse().ok()?;
        let mut out = Vec::new();
        for _ in 0..n.max(0) {
            let h = line(&mut r)?;
            out.push(if h.starts_with('$') {
                bulk(&mut r, &h)?
            } else {
                h
            });
        }
        return Some(out);
    }
    if head.starts_with('$') {
        return Some(if head == "$-1" {
            vec![]
        } else {
            vec![bulk(&mut r, &head)?]
        });
    }
    Some(vec![head])
}

fn line(r: &mut impl BufRead) -> Option<String> {
    let mut l = String::new();
    r.read_line(&mut l).ok()?;
    (!l.is_empty()).then(|| l.trim_end_matches(['\r', '\n']).to_string())
}

fn bulk(r: &mut impl BufRead, head: &str) -> Option<String> {
    let n: usize = head[1..].parse().ok()?;
    let mut buf = vec![0u8; n + 2];
    r.read_exact(&mut buf).ok()?;
    buf.truncate(n);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// INFO field of a server (empty when absent or down).
pub fn info_field(port: u16, field: &str) -> String {
    cmd(port, &["INFO", "all"])
        .and_then(|v| {
            v.first()?.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')
                    .map(|s| s.trim().to_string())
            })
        })
        .unwrap_or_default()
}

pub fn path_of(p: &Path) -> String {
    p.display().to_string()
}
