//! `replica-announce-ip` with a host name, as Redis 7.0 takes it: the replica sends
//! `REPLCONF ip-address <name>` (up to 255 bytes), and its master shows the name in INFO
//! replication (`slaveN:ip=<name>`) and ROLE. A replica may also follow its master by name
//! (`replicaof localhost <port>`). Compared with Redis 7.0 when it is installed.

mod common;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> Option<String> {
    let text = c.cmd(&["INFO", section]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim_end().to_string())
}

/// What a master and its replica (announcing `name`, following the master by `localhost`)
/// show, with the ports replaced by `<mport>`/`<rport>` so both implementations compare.
fn scenario(start: &dyn Fn(&[&str]) -> Server, name: &str) -> Vec<String> {
    let master = start(&[]);
    let mport = master.port.to_string();
    let replica = start(&[
        "--replicaof",
        "localhost",
        &mport,
        "--replica-announce-ip",
        name,
    ]);
    let rport = replica.port.to_string();
    let mut m = master.conn();
    let mut r = replica.conn();
    wait_until("the replica online", || {
        info_field(&mut m, "replication", "slave0").is_some_and(|v| v.contains("state=online"))
    });
    let norm = |s: String| s.replace(&rport, "<rport>").replace(&mport, "<mport>");
    let mut out = Vec::new();
    let slave0 = info_field(&mut m, "replication", "slave0").expect("slave0");
    // offset and lag vary: keep ip, port and state.
    let kept: Vec<&str> = slave0.split(',').take(3).collect();
    out.push(norm(format!("slave0:{}", kept.join(","))));
    let role = m.cmd(&["ROLE"]);
    let items = role.items();
    assert_eq!(items[0], Reply::bulk("master"));
    let replicas = items[2].items();
    assert_eq!(replicas.len(), 1, "{role:?}");
    let entry = replicas[0].items();
    out.push(norm(format!(
        "role:{} {}",
        entry[0].text(),
        entry[1].text()
    )));
    out.push(format!(
        "master_host:{}",
        info_field(&mut r, "replication", "master_host").unwrap_or_default()
    ));
    out.push(format!(
        "CONFIG GET:{:?}",
        r.cmd(&["CONFIG", "GET", "replica-announce-ip"])
    ));
    // REPLCONF ip-address as a replica sends it: a long name is taken, 256 bytes are not.
    let mut c = master.conn();
    let long = "h".repeat(255);
    out.push(format!(
        "{:?}",
        c.cmd(&["REPLCONF", "ip-address", long.as_str()])
    ));
    let too_long = "h".repeat(256);
    out.push(format!(
        "{:?}",
        c.cmd(&["REPLCONF", "ip-address", too_long.as_str()])
    ));
    out
}

fn picket(args: &[&str]) -> Server {
    Server::start(&[&["--save", "", "--appendonly", "no"], args].concat())
}

fn redis(args: &[&str]) -> Server {
    Server::redis(&[&["--repl-diskless-sync-delay", "0"], args].concat())
        .expect("checked installed")
}

#[test]
fn a_replica_announced_by_host_name() {
    let name = "replica-1.picket.test";
    let ours = scenario(&picket, name);
    assert_eq!(
        ours[0],
        format!("slave0:ip={name},port=<rport>,state=online")
    );
    assert_eq!(ours[1], format!("role:{name} <rport>"));
    assert_eq!(ours[2], "master_host:localhost");
    assert!(ours[4].contains("Simple(\"OK\")"), "{ours:?}");
    assert!(
        ours[5].contains("REPLCONF ip-address provided by replica instance is too long: 256 bytes"),
        "{ours:?}"
    );
    if common::which("redis-server").is_none() {
        return;
    }
    let theirs = scenario(&redis, name);
    assert_eq!(ours, theirs, "picket (left) and Redis 7.0 (right) differ");
}
