//! Host names with real processes: servers that follow their master by the name
//! `localhost` and announce themselves by it (`replica-announce-ip localhost`), sentinels
//! that monitor `localhost` with `sentinel resolve-hostnames yes` and announce themselves
//! by it. With `announce-hostnames yes` the replies (GET-MASTER-ADDR-BY-NAME, REPLICAS,
//! SENTINELS), the events and the SLAVEOF of a failover carry the name; with it off, the
//! address the name resolves to. The same scenario runs on Redis 7.0 (redis-server and
//! redis-server --sentinel) when it is installed, and the two must agree.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use support::*;

/// What one run showed, with ports replaced by roles (`<m>` the first master, `<r>` a
/// replica) so that runs compare.
fn scenario(redis: Option<&Path>, announce: bool) -> Vec<String> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let named = ["--replica-announce-ip", "localhost"];
    let mut servers = vec![server(redis, ports[0], None, &named)];
    let mport = ports[0].to_string();
    for p in &ports[1..] {
        let args = [&named[..], &["--replicaof", "localhost", mport.as_str()]].concat();
        servers.push(server(redis, *p, None, &args));
    }
    for p in &ports[1..] {
        wait_for("replica link", 20, || {
            info_field(*p, "master_link_status") == "up"
        });
    }
    let yn = if announce { "yes" } else { "no" };
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| {
            let port = free_port();
            let text = format!(
                "port {port}\nsentinel resolve-hostnames yes\nsentinel announce-hostnames {yn}\nsentinel announce-ip localhost\nsentinel monitor mymaster localhost {} 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n",
                ports[0]
            );
            sentinel_from(redis, port, "sentinel.conf", &text, None)
        })
        .collect();
    wait_discovery(&sentinels);
    let mut roles: BTreeMap<String, &str> = BTreeMap::new();
    roles.insert(ports[0].to_string(), "<m>");
    roles.insert(ports[1].to_string(), "<r>");
    roles.insert(ports[2].to_string(), "<r>");
    let norm = |s: &str| -> String {
        s.split(' ')
            .map(|w| {
                let (host, port) = match w.rsplit_once(':') {
                    Some((h, p)) => (Some(h), p),
                    None => (None, w),
                };
                match (roles.get(port), host) {
                    (Some(r), Some(h)) => format!("{h}:{r}"),
                    (Some(r), None) => r.to_string(),
                    _ => w.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let s0 = sentinels[0].port;
    let mut out = Vec::new();
    let addr = cmd(s0, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    let addr: Vec<String> = addr.items().iter().map(|x| x.s()).collect();
    out.push(format!("get-master-addr-by-name {}", norm(&addr.join(" "))));
    let master = cmd(s0, &["SENTINEL", "MASTER", "mymaster"]);
    out.push(format!(
        "master ip {}",
        master.field("ip").unwrap_or_default()
    ));
    let reps = cmd(s0, &["SENTINEL", "REPLICAS", "mymaster"]);
    let mut rs: Vec<String> = reps
        .items()
        .iter()
        .map(|r| {
            norm(&format!(
                "{} {} {}",
                r.field("name").unwrap_or_default(),
                r.field("ip").unwrap_or_default(),
                r.field("port").unwrap_or_default()
            ))
        })
        .collect();
    rs.sort();
    out.push(format!("replicas {rs:?}"));
    let sens = cmd(s0, &["SENTINEL", "SENTINELS", "mymaster"]);
    let ips: Vec<String> = sens
        .items()
        .iter()
        .map(|r| r.field("ip").unwrap_or_default())
        .collect();
    out.push(format!("sentinels {ips:?}"));
    let master0 = info_field(s0, "master0");
    let address = master0
        .split(',')
        .find_map(|kv| kv.strip_prefix("address="))
        .unwrap_or_default();
    out.push(format!("INFO address={}", norm(address)));

    // The master dies: a failover, every event about names or addresses.
    let rx = events(s0);
    // The leader's events (whichever sentinel leads).
    let all: Vec<_> = sentinels.iter().map(|s| events(s.port)).collect();
    servers[0].kill9();
    let mut seen = Vec::new();
    let switch = wait_event(&rx, &mut seen, "+switch-master", 60, |_| true);
    out.push(format!("+switch-master {}", norm(&switch)));
    let new: u16 = switch
        .split(' ')
        .nth(4)
        .and_then(|p| p.parse().ok())
        .expect("a port in +switch-master");
    let e = wait_event(&rx, &mut seen, "+sdown", 30, |m| m.starts_with("master"));
    out.push(format!("+sdown {}", norm(&e)));
    let mut leader: Vec<(String, String)> = Vec::new();
    wait_for("the leader's +promoted-slave", 30, || {
        for r in &all {
            while let Ok(ev) = r.try_recv() {
                leader.push(ev);
            }
        }
        leader.iter().any(|(k, _)| k == "+promoted-slave")
    });
    for kind in ["+selected-slave", "+promoted-slave"] {
        let e = leader
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no {kind} from any sentinel: {leader:?}"));
        out.push(format!("{kind} {}", norm(&e)));
    }
    let new_addr = cmd(s0, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    let new_addr: Vec<String> = new_addr.items().iter().map(|x| x.s()).collect();
    out.push(format!("after: {}", norm(&new_addr.join(" "))));
    assert_eq!(new_addr[1], new.to_string());
    // The other replica was pointed at the new master with SLAVEOF <host> <port>: the name
    // with announce-hostnames yes, the address without.
    let other = ports[1..]
        .iter()
        .copied()
        .find(|p| *p != new)
        .expect("two replicas");
    wait_for("the other replica to follow the new master", 30, || {
        info_field(other, "master_port") == new.to_string()
            && info_field(other, "master_link_status") == "up"
    });
    out.push(format!(
        "other replica master_host:{}",
        info_field(other, "master_host")
    ));
    drop(sentinels);
    drop(servers);
    std::thread::sleep(Duration::from_millis(100));
    out
}

#[test]
fn names_are_announced_with_announce_hostnames() {
    let ours = scenario(None, true);
    let want = [
        "get-master-addr-by-name localhost <m>",
        "master ip localhost",
        "replicas [\"localhost:<r> localhost <r>\", \"localhost:<r> localhost <r>\"]",
        "sentinels [\"localhost\", \"localhost\"]",
        "INFO address=localhost:<m>",
        "+switch-master mymaster localhost <m> localhost <r>",
        "+sdown master mymaster localhost <m>",
        "+selected-slave slave localhost:<r> localhost <r> @ mymaster localhost <m>",
        "+promoted-slave slave localhost:<r> localhost <r> @ mymaster localhost <m>",
        "after: localhost <r>",
        "other replica master_host:localhost",
    ];
    assert_eq!(ours, want);
    let Some(redis) = redis_bin() else { return };
    let theirs = scenario(Some(&redis), true);
    assert_eq!(ours, theirs, "picket (left) and Redis 7.0 (right) differ");
}

#[test]
fn resolved_addresses_are_announced_without_it() {
    let ours = scenario(None, false);
    let want = [
        "get-master-addr-by-name 127.0.0.1 <m>",
        "master ip 127.0.0.1",
        "replicas [\"127.0.0.1:<r> 127.0.0.1 <r>\", \"127.0.0.1:<r> 127.0.0.1 <r>\"]",
        "sentinels [\"127.0.0.1\", \"127.0.0.1\"]",
        "INFO address=127.0.0.1:<m>",
        "+switch-master mymaster 127.0.0.1 <m> 127.0.0.1 <r>",
        "+sdown master mymaster 127.0.0.1 <m>",
        "+selected-slave slave 127.0.0.1:<r> 127.0.0.1 <r> @ mymaster 127.0.0.1 <m>",
        "+promoted-slave slave 127.0.0.1:<r> 127.0.0.1 <r> @ mymaster 127.0.0.1 <m>",
        "after: 127.0.0.1 <r>",
        "other replica master_host:127.0.0.1",
    ];
    assert_eq!(ours, want);
    let Some(redis) = redis_bin() else { return };
    let theirs = scenario(Some(&redis), false);
    assert_eq!(ours, theirs, "picket (left) and Redis 7.0 (right) differ");
}

/// SENTINEL MONITOR by name: refused unless resolve-hostnames, then only if it resolves.
fn monitor_replies(redis: Option<&Path>) -> Vec<String> {
    let port = free_port();
    let s = sentinel_from(
        redis,
        port,
        "sentinel.conf",
        &format!("port {port}\n"),
        None,
    );
    let mut out = Vec::new();
    let monitor = |name: &str, host: &str| {
        format!(
            "{:?}",
            cmd(port, &["SENTINEL", "MONITOR", name, host, "6399", "2"])
        )
    };
    out.push(monitor("a", "localhost"));
    out.push(format!(
        "{:?}",
        cmd(
            port,
            &["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"]
        )
    ));
    out.push(monitor("b", "localhost"));
    out.push(monitor("c", "no-such-host.invalid"));
    out.push(format!(
        "{:?}",
        cmd(
            port,
            &[
                "SENTINEL",
                "MONITOR",
                "d",
                "no-such-host.invalid",
                "6399",
                "0"
            ]
        )
    ));
    let masters = cmd(port, &["SENTINEL", "MASTERS"]);
    let names: Vec<String> = masters
        .items()
        .iter()
        .map(|m| m.field("name").unwrap_or_default())
        .collect();
    out.push(format!("masters {names:?}"));
    drop(s);
    out
}

#[test]
fn monitor_by_name_needs_resolve_hostnames_and_a_name_that_resolves() {
    let ours = monitor_replies(None);
    assert_eq!(
        ours,
        [
            "E(\"ERR Invalid IP address or hostname specified\")",
            "S(\"OK\")",
            "S(\"OK\")",
            "E(\"ERR Invalid IP address or hostname specified\")",
            "E(\"ERR Quorum must be 1 or greater.\")",
            "masters [\"b\"]",
        ]
    );
    let Some(redis) = redis_bin() else { return };
    assert_eq!(
        ours,
        monitor_replies(Some(&redis)),
        "picket (left) and Redis 7.0 (right) differ"
    );
}
