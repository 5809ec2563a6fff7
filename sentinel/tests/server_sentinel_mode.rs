//! `picket-server sentinel.conf --sentinel` runs the Sentinel, as `redis-server --sentinel`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
        assert!(cmd.status().unwrap().success());
    }
    p
}

#[test]
fn picket_server_runs_the_sentinel_with_the_flag() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!("port {port}\nsentinel monitor mymaster 127.0.0.1 1 2\n"),
    )
    .unwrap();
    let mut child = Command::new(server_bin())
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "the sentinel never listened");
        std::thread::sleep(Duration::from_millis(20));
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut w = s.try_clone().unwrap();
    w.write_all(b"*1\r\n$4\r\nROLE\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        lines.push(l.trim_end().to_string());
    }
    assert_eq!(lines, ["*2", "$8", "sentinel"]);
    let _ = child.kill();
    let _ = child.wait();
    // The state was written into the file.
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("sentinel myid "), "{text}");
}

#[test]
fn deploy_sentinel_configs_parse_alike() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let load = |name: &str| {
        let p = root.join("deploy").join(name);
        let text = std::fs::read_to_string(&p).unwrap();
        picket_sentinel::config::parse_file(&p, &text, &[]).unwrap()
    };
    let (toml, conf) = (load("sentinel.toml"), load("sentinel.conf"));
    assert_eq!(toml.server.port, conf.server.port);
    assert_eq!(toml.masters.len(), 1);
    assert_eq!(toml.masters[0].0, conf.masters[0].0);
    assert_eq!(toml.masters[0].1.addr, conf.masters[0].1.addr);
    let mut a = toml.masters[0].1.opts.clone();
    let mut b = conf.masters[0].1.opts.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
