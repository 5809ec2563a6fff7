//! The local three-node deployment (`deploy/picket-ha`): it starts, its status table
//! matches the servers, a Sentinel-aware client keeps writing through the failover drill,
//! and the old master comes back as a replica.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn bin_dir() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_picket-sentinel"));
    let dir = me.parent().unwrap().to_path_buf();
    if !dir.join("picket-server").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "picket-server", "--bin", "picket-server"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success());
    }
    dir
}

/// One command, one reply line (enough for these checks).
fn cmd(port: u16, args: &[&str]) -> Option<Vec<String>> {
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let mut w = s.try_clone().ok()?;
    let mut b = format!("*{}\r\n", args.len());
    for a in args {
        b.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    w.write_all(b.as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let line = line.trim_end().to_string();
    if let Some(n) = line.strip_prefix('*') {
        let n: usize = n.parse().ok()?;
        let mut out = Vec::new();
        for _ in 0..n {
            let mut h = String::new();
            r.read_line(&mut h).ok()?;
            let mut v = String::new();
            r.read_line(&mut v).ok()?;
            out.push(v.trim_end().to_string());
        }
        return Some(out);
    }
    if line.starts_with('$') {
        let mut v = String::new();
        r.read_line(&mut v).ok()?;
        return Some(vec![v.trim_end().to_string()]);
    }
    Some(vec![line])
}

fn ha(dir: &std::path::Path, bins: &std::path::Path, what: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("python3")
        .arg(root.join("deploy/picket-ha"))
        .arg(what)
        .env("PICKET_HA_DIR", dir)
        .env("PICKET_BIN_DIR", bins)
        .output()
        .expect("python3 deploy/picket-ha");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "picket-ha {what} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn local_deployment_survives_the_failover_drill() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("\n!!! SKIPPED: python3 is needed by deploy/picket-ha\n");
        return;
    }
    let bins = bin_dir();
    let dir = tempfile::tempdir().unwrap();
    // Stop the deployment however the test ends.
    struct Reset(PathBuf, PathBuf);
    impl Drop for Reset {
        fn drop(&mut self) {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let _ = Command::new("python3")
                .arg(root.join("deploy/picket-ha"))
                .arg("reset")
                .env("PICKET_HA_DIR", &self.0)
                .env("PICKET_BIN_DIR", &self.1)
                .output();
        }
    }
    let _reset = Reset(dir.path().to_path_buf(), bins.clone());
    let up = ha(dir.path(), &bins, "up");
    let rows: Vec<&str> = up
        .lines()
        .filter(|l| l.starts_with(['1', '2', '3']))
        .collect();
    assert_eq!(rows.len(), 3, "{up}");
    assert!(
        rows[0].contains("127.0.0.1:16379") && rows[0].contains("master"),
        "{up}"
    );
    for r in &rows[1..] {
        assert!(r.contains("slave") && r.contains(" up "), "{up}");
    }
    for r in &rows {
        assert!(r.contains("127.0.0.1:16379 (sentinel"), "{up}");
    }
    // A Sentinel-aware client: resolve the master, check ROLE, write; re-resolve on error.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let (s2, a2) = (stop.clone(), acked.clone());
    let writer = std::thread::spawn(move || {
        let mut i = 0u64;
        while !s2.load(Ordering::SeqCst) {
            let Some(addr) = cmd(26479, &["SENTINEL", "get-master-addr-by-name", "mymaster"])
                .or_else(|| cmd(26480, &["SENTINEL", "get-master-addr-by-name", "mymaster"]))
            else {
                continue;
            };
            let port: u16 = addr.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            if cmd(port, &["ROLE"])
                .and_then(|r| r.first().cloned())
                .as_deref()
                != Some("master")
            {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            i += 1;
            if cmd(port, &["SET", "last", &i.to_string()]).is_some_and(|r| r[0] == "+OK") {
                a2.store(i, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let drill = ha(dir.path(), &bins, "drill");
    assert!(
        drill.contains("+switch-master mymaster 127.0.0.1 16379"),
        "{drill}"
    );
    assert!(drill.contains("time to +odown"), "{drill}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let before = acked.load(Ordering::SeqCst);
    assert!(before > 0);
    // The status table tells the truth: one master, everyone sees it.
    let status = ha(dir.path(), &bins, "status");
    let master = cmd(26479, &["SENTINEL", "get-master-addr-by-name", "mymaster"]).unwrap();
    let port: u16 = master[1].parse().unwrap();
    assert_ne!(port, 16379);
    let last = cmd(port, &["GET", "last"]).unwrap();
    assert_eq!(
        last[0],
        before.to_string(),
        "the last acknowledged write after the failover"
    );
    let masters = status
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("master"))
        .count();
    assert_eq!(masters, 1, "{status}");
    assert!(
        status.contains(&format!("127.0.0.1:{port}  master")),
        "{status}"
    );
}
