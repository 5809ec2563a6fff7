//! `deploy/picket-ha up --tls`: the local three-node deployment with TLS on every link. The
//! script makes a throwaway CA, the six processes listen with TLS only, replicate and monitor
//! over TLS, and a redis-py client that reaches the sentinels and the servers with TLS (as
//! the guide tells users to) keeps working through the failover drill.

mod ha_support;

use std::path::Path;
use std::process::{Command, Stdio};

use ha_support::*;

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(ha: &Ha, args: &[&str]) -> Ran {
    let mut c = ha.command(args[0]);
    c.args(&args[1..]);
    let o = c.output().expect("python3 deploy/picket-ha");
    Ran {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ok(ha: &Ha, args: &[&str]) -> String {
    let r = run(ha, args);
    assert!(
        r.ok(),
        "picket-ha {args:?} failed ({:?}):\n{}",
        r.code,
        r.both()
    );
    r.out
}

/// redis-cli with the deployment's certificates: its output, or None when it failed.
fn cli(tls: &Path, port: u16, args: &[&str]) -> Option<String> {
    let o = Command::new("redis-cli")
        .args(["--tls", "--cert"])
        .arg(tls.join("redis.crt"))
        .arg("--key")
        .arg(tls.join("redis.key"))
        .arg("--cacert")
        .arg(tls.join("ca.crt"))
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    (o.status.success() && !String::from_utf8_lossy(&o.stdout).starts_with("Could not"))
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// A redis-py Sentinel client with TLS to sentinels and servers: writes `value` to the
/// master it discovers and prints "<master port> <value read back>".
fn redis_py(tls: &Path, sentinels: [u16; 3], value: &str) -> String {
    let script = format!(
        r#"
import sys
from redis.sentinel import Sentinel
tls = dict(ssl=True, ssl_certfile={cert:?}, ssl_keyfile={key:?}, ssl_ca_certs={ca:?})
s = Sentinel([("127.0.0.1", p) for p in {sentinels:?}], socket_timeout=2,
             sentinel_kwargs=dict(socket_timeout=2, **tls), **tls)
m = s.master_for("mymaster", socket_timeout=2)
m.set("k", sys.argv[1])
print(s.discover_master("mymaster")[1], m.get("k").decode())
"#,
        cert = tls.join("redis.crt").display().to_string(),
        key = tls.join("redis.key").display().to_string(),
        ca = tls.join("ca.crt").display().to_string(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = Command::new("python3")
            .args(["-c", &script, value])
            .output()
            .expect("python3 runs");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            return out.trim().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "redis-py over TLS never wrote: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn tls_deployment_fails_over_and_redis_py_follows_it() {
    if !python3_available() {
        return;
    }
    if !have("openssl", "version") || !have("redis-cli", "--version") {
        skip_or_fail(
            "the TLS deployment test",
            "openssl and redis-cli are needed: apt-get install openssl redis-tools",
        );
        return;
    }
    if !Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success())
    {
        skip_or_fail(
            "the TLS deployment test",
            "python3 has no redis-py: pip install redis",
        );
        return;
    }
    let ha = Ha::new();
    let [m0, r1, r2] = ha.servers;
    let up = ok(&ha, &["up", "--tls"]);
    assert!(up.contains("making a throwaway CA"), "{up}");
    assert!(
        up.contains("all six processes are running and answering on their ports"),
        "{up}"
    );
    assert!(up.contains("redis-cli --tls --cert "), "{up}");
    let tls = ha.dir.path().join("tls");
    // TLS only: a plain client gets no PONG from any of the six ports (at most a TLS alert).
    for p in ha.servers.iter().chain(&ha.sentinels) {
        let r = cmd(*p, &["PING"]);
        assert!(
            r.as_ref().and_then(|r| r.first()).map(String::as_str) != Some("PONG"),
            "{p} answers a plain PING: {r:?}"
        );
    }
    // The servers replicate over TLS, and the sentinels found everyone over TLS.
    for r in [r1, r2] {
        let info = cli(&tls, r, &["INFO", "replication"]).expect("replica INFO over TLS");
        assert!(info.contains("master_link_status:up"), "{info}");
        assert!(info.contains(&format!("master_port:{m0}")), "{info}");
    }
    for s in ha.sentinels {
        let m = cli(
            &tls,
            s,
            &["SENTINEL", "get-master-addr-by-name", "mymaster"],
        )
        .expect("SENTINEL over TLS");
        assert_eq!(
            m.split_whitespace().collect::<Vec<_>>(),
            ["127.0.0.1", &m0.to_string()]
        );
    }
    assert_eq!(
        redis_py(&tls, ha.sentinels, "before"),
        format!("{m0} before")
    );

    let drill = ok(&ha, &["drill"]);
    assert!(
        drill.contains(&format!("+switch-master mymaster 127.0.0.1 {m0} ")),
        "{drill}"
    );
    for s in ha.sentinels {
        assert!(
            drill.contains(&format!("[:{s}] +switch-master mymaster")),
            "no +switch-master from :{s}:\n{drill}"
        );
    }
    assert!(!drill.contains("not observed"), "{drill}");
    // redis-py follows the failover: the same code now writes to the new master.
    let after = redis_py(&tls, ha.sentinels, "after");
    let (port, value) = after.split_once(' ').expect("port and value");
    assert_eq!(value, "after");
    assert!(port == r1.to_string() || port == r2.to_string(), "{after}");
    let status = ok(&ha, &["status"]);
    let addr = format!("127.0.0.1:{port}");
    assert!(
        status.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.get(1) == Some(&addr.as_str()) && w.get(2) == Some(&"master")
        }),
        "{status}"
    );

    // `up` without --tls restarts nothing and keeps the deployment a TLS one.
    let again = ok(&ha, &["up"]);
    assert_eq!(again.matches("is already running").count(), 6, "{again}");
    ok(&ha, &["stop"]);
}

#[test]
fn tls_is_refused_for_a_deployment_made_without_it() {
    if !python3_available() {
        return;
    }
    let ha = Ha::new();
    let node = ha.node_dir(1);
    std::fs::create_dir_all(&node).expect("node dir");
    std::fs::write(
        node.join("server.conf"),
        format!("port {}\n", ha.servers[0]),
    )
    .expect("config");
    let r = run(&ha, &["up", "--tls"]);
    assert_eq!(r.code, Some(2), "{}", r.both());
    assert!(
        r.err.contains("was created without TLS: `reset` it first"),
        "{}",
        r.both()
    );
    let r = run(&ha, &["status", "--tls"]);
    assert_eq!(r.code, Some(2), "{}", r.both());
}
