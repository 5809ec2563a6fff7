//! Start-up: arguments, config files in both syntaxes, errors (one line naming file, line and
//! directive; exit code 1), pidfile, logfile, version.

mod common;
use std::process::Command;

use common::{free_port, picket_bin, Reply, Server};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(picket_bin())
        .args(args)
        .output()
        .expect("run picket-server");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.contains("Picket server v="), "{out}");
    let (code, out, _) = run(&["-h"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage: picket-server"), "{out}");
}

#[test]
fn unknown_directive_on_the_command_line_exits_1_with_one_line() {
    let (code, _, err) = run(&["--no-such-directive", "1"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("command line"), "{err}");
    assert!(lines[0].contains("no-such-directive"), "{err}");
}

#[test]
fn bad_value_in_a_conf_file_names_file_line_and_directive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(&path, "# a comment\nport 6390\n\ntimeout abc\n").unwrap();
    let (code, _, err) = run(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = err.trim();
    assert!(!line.contains('\n'), "{err}");
    assert!(line.contains(&format!("{}:4", path.display())), "{err}");
    assert!(line.contains("'timeout'"), "{err}");
}

#[test]
fn bad_value_in_a_toml_file_names_file_line_and_directive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "port = 6390\nmaxclients = \"lots\"\n").unwrap();
    let (code, _, err) = run(&[path.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.trim().contains(&format!("{}:2", path.display())),
        "{err}"
    );
    assert!(err.contains("maxclients"), "{err}");
}

#[test]
fn missing_config_file_is_an_error() {
    let (code, _, err) = run(&["/nonexistent/picket.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/picket.conf"), "{err}");
}

#[test]
fn conf_file_then_arguments_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picket.conf");
    std::fs::write(
        &path,
        "timeout 100\nrequirepass \"s3cret pass\"\nhz 20\nclient-output-buffer-limit pubsub 1mb 512kb 10\n",
    )
    .unwrap();
    let s = Server::start_with_file(&path, &["--hz", "15"]);
    let mut c = s.conn();
    assert_eq!(c.q("PING"), Reply::err("NOAUTH Authentication required."));
    assert_eq!(c.cmd(&["AUTH", "s3cret pass"]), Reply::ok());
    assert_eq!(c.q("CONFIG GET timeout"), Reply::bulks(&["timeout", "100"]));
    assert_eq!(c.q("CONFIG GET hz"), Reply::bulks(&["hz", "15"]));
    assert_eq!(
        c.q("CONFIG GET client-output-buffer-limit"),
        Reply::bulks(&[
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        ])
    );
}

#[test]
fn toml_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picket.toml");
    std::fs::write(
        &path,
        "# operators' comment\ntimeout = 42\nprotected-mode = false\nnotify-keyspace-events = \"KEA\"\nslowlog-max-len = 7\n",
    )
    .unwrap();
    let s = Server::start_with_file(&path, &[]);
    let mut c = s.conn();
    assert_eq!(c.q("CONFIG GET timeout"), Reply::bulks(&["timeout", "42"]));
    assert_eq!(
        c.q("CONFIG GET protected-mode"),
        Reply::bulks(&["protected-mode", "no"])
    );
    assert_eq!(
        c.q("CONFIG GET notify-keyspace-events"),
        Reply::bulks(&["notify-keyspace-events", "AKE"])
    );
    assert_eq!(
        c.q("CONFIG GET slowlog-max-len"),
        Reply::bulks(&["slowlog-max-len", "7"])
    );
    let info = c.q("INFO server").text();
    assert!(
        info.contains(&format!("config_file:{}", path.display())),
        "{info}"
    );
}

#[test]
fn port_in_use_is_reported_and_exits_1() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let (code, out, err) = run(&["--port", &port, "--bind", "127.0.0.1"]);
    assert_eq!(code, 1);
    assert!(
        (out + &err).contains("Could not create server TCP listening socket"),
        "{err}"
    );
}

#[test]
fn pidfile_and_logfile() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("picket.pid");
    let logfile = dir.path().join("picket.log");
    let s = Server::start(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--logfile",
        logfile.to_str().unwrap(),
    ]);
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(pid.trim(), s.child.id().to_string());
    let log = std::fs::read_to_string(&logfile).unwrap();
    let ready = log
        .lines()
        .find(|l| l.contains("Ready to accept connections"))
        .unwrap_or_else(|| panic!("no ready line in {log}"));
    assert!(ready.contains(&format!("pid={}", s.child.id())), "{ready}");
    assert!(ready.contains(&format!("port={}", s.port)), "{ready}");
    // Redis's log line shape: "<pid>:M <date> * <message>".
    assert!(
        ready.starts_with(&format!("{}:M ", s.child.id())),
        "{ready}"
    );
    let mut c = s.conn();
    c.send(&["SHUTDOWN"]);
    assert!(c.try_read().is_none(), "SHUTDOWN does not reply");
    let mut s = s;
    let status = s.child.wait().unwrap();
    assert!(status.success());
    assert!(!pidfile.exists(), "pidfile removed at exit");
    let _ = free_port();
}
