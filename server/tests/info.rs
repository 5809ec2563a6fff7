//! INFO against Redis 7.0: every section and field name of the default, `all` and
//! `everything` sets (except the ones picket deliberately omits or adds), section selection,
//! commandstats and errorstats counts, keyspace lines, and the instantaneous metrics.

mod common;
mod util;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Conn, Pair, Reply, Server};
use util::{info_field, info_fields, same_scenario, wait_until};

/// Fields picket adds.
const EXTRA_FIELDS: &[&str] = &["picket_version"];
/// Sections picket does not have.
const MISSING_SECTIONS: &[&str] = &[];

/// Section headers and field names of an INFO text, in order; `cmdstat_`, `errorstat_`,
/// `latency_percentiles_usec_` and `dbN` names (which depend on what ran) are left out.
fn shape(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.split("\r\n") {
        if let Some(h) = line.strip_prefix("# ") {
            skipping = MISSING_SECTIONS.contains(&h);
            if !skipping {
                out.push(line.to_string());
            }
            continue;
        }
        if skipping || line.is_empty() {
            continue;
        }
        let name = line.split(':').next().unwrap();
        let dynamic = ["cmdstat_", "errorstat_", "latency_percentiles_usec_"]
            .iter()
            .any(|p| name.starts_with(p))
            || (name.starts_with("db") && name[2..].chars().all(|c| c.is_ascii_digit()));
        if !dynamic && !EXTRA_FIELDS.contains(&name) {
            out.push(name.to_string());
        }
    }
    out
}

#[test]
fn sections_and_field_names_equal_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    for args in [
        &["INFO"][..],
        &["INFO", "default"],
        &["INFO", "all"],
        &["INFO", "everything"],
        &["INFO", "server"],
        &["INFO", "SERVER", "Clients"],
        &["INFO", "clients", "server"],
        &["INFO", "memory", "persistence", "stats"],
        &["INFO", "replication", "cpu", "modules", "cluster"],
        &["INFO", "keyspace", "commandstats", "errorstats"],
        &["INFO", "nosuch"],
        &["INFO", "default", "commandstats"],
        &["INFO", "all", "server"],
    ] {
        let pt = p.cmd(args).text();
        let rt = r.cmd(args).text();
        assert_eq!(shape(&pt), shape(&rt), "{args:?}");
        // Sections are separated by one blank line, and the text ends with CRLF.
        assert_eq!(pt.is_empty(), rt.is_empty());
        if !pt.is_empty() {
            assert!(pt.ends_with("\r\n") && !pt.ends_with("\r\n\r\n"));
            assert_eq!(
                pt.matches("\r\n\r\n#").count(),
                pt.matches("# ").count().saturating_sub(1)
            );
        }
    }
    // The deliberate difference is real; latencystats is in both.
    let all = p.q("INFO everything").text();
    assert!(all.contains("picket_version:"));
    assert!(all.contains("# Latencystats"));
    assert!(r.q("INFO everything").text().contains("# Latencystats"));
}

#[test]
fn values_that_must_agree_with_redis() {
    let Some(pair) = Pair::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut c = Conn::connect(port);
        // Wait until we are alone (the harness probe may linger an instant).
        wait_until(Duration::from_secs(5), || {
            info_field(&mut c, "clients", "connected_clients") == "1"
        });
        c.q("DEBUG POPULATE 10");
        c.q("SET withttl v EX 1000");
        c.q("SELECT 3");
        c.q("DEBUG POPULATE 2");
        let text = c.q("INFO everything").text();
        let keep = [
            "redis_version",
            "redis_mode",
            "arch_bits",
            "tcp_port",
            "hz",
            "configured_hz",
            "connected_clients",
            "maxclients",
            "blocked_clients",
            "tracking_clients",
            "loading",
            "async_loading",
            "aof_enabled",
            "rdb_bgsave_in_progress",
            "rdb_last_bgsave_status",
            "role",
            "connected_slaves",
            "master_failover_state",
            "master_replid2",
            "second_repl_offset",
            "repl_backlog_active",
            "cluster_enabled",
            "maxmemory",
            "maxmemory_human",
            "maxmemory_policy",
            "pubsub_channels",
            "pubsub_patterns",
            "sync_full",
            "evicted_keys",
            "mem_clients_slaves",
        ];
        let mut v: Vec<(String, String)> = info_fields(&text)
            .into_iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| {
                if k == "tcp_port" {
                    (k, "PORT".to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        // Keyspace lines, without the average TTL.
        for (k, val) in info_fields(&text) {
            if k.starts_with("db") {
                let parts: Vec<&str> = val.split(',').take(2).collect();
                v.push((k, parts.join(",")));
            }
        }
        v
    });
}

/// `cmdstat_*` lines without the timings, sorted.
fn cmdstats(c: &mut Conn) -> Vec<String> {
    let text = c.q("INFO commandstats").text();
    let mut v: Vec<String> = text
        .split("\r\n")
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .map(|l| {
            let (name, rest) = l.split_once(':').unwrap();
            let kept: Vec<&str> = rest.split(',').filter(|f| !f.starts_with("usec")).collect();
            format!("{name}:{}", kept.join(","))
        })
        .collect();
    v.sort();
    v
}

fn errorstats(c: &mut Conn) -> Vec<String> {
    let text = c.q("INFO errorstats").text();
    let mut v: Vec<String> = text
        .split("\r\n")
        .filter(|l| l.starts_with("errorstat_"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn commandstats_and_errorstats_count_like_redis() {
    let Some(pair) = Pair::start(&["--requirepass", "pw"]) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut c = Conn::connect(port);
        let mut out = Vec::new();
        // Before AUTH: rejected, and counted as NOAUTH.
        c.q("PING");
        c.q("CONFIG GET hz");
        c.q("AUTH wrong");
        c.q("AUTH pw");
        c.q("CONFIG RESETSTAT");
        for line in [
            "PING",
            "PING",
            "PING x",
            "ECHO a",
            "ECHO",
            "GET",
            "NOSUCH",
            "SELECT 100",
            "SELECT 1",
            "CONFIG GET hz",
            "CONFIG SET nosuch 1",
            "CONFIG NOSUCH",
            "CLIENT ID",
            "CLIENT KILL ID 0",
            "MULTI",
            "PING",
            "NOSUCH",
            "EXEC",
            "MULTI",
            "PING",
            "SELECT 99",
            "EXEC",
            "EXEC",
            "HELLO 9",
            "WATCH",
            "AUTH wrong",
            "SUBSCRIBE ch",
            "GET x",
            "RESET",
            "AUTH pw",
            "SET k v",
            "INCR k",
        ] {
            c.q(line);
        }
        out.push(cmdstats(&mut c));
        out.push(errorstats(&mut c));
        out.push(vec![info_field(&mut c, "stats", "total_error_replies")]);
        out
    });
}

#[test]
fn stats_counters_move() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let get = |c: &mut Conn, f: &str| -> u64 { info_field(c, "stats", f).parse().unwrap() };
    let conns = get(&mut c, "total_connections_received");
    let cmds = get(&mut c, "total_commands_processed");
    let input = get(&mut c, "total_net_input_bytes");
    for _ in 0..3 {
        Conn::connect(s.port).q("PING");
    }
    assert_eq!(get(&mut c, "total_connections_received"), conns + 3);
    assert!(get(&mut c, "total_commands_processed") >= cmds + 5);
    assert!(get(&mut c, "total_net_input_bytes") > input);
    assert!(get(&mut c, "total_net_output_bytes") > 0);
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    let up: u64 = info_field(&mut c, "server", "uptime_in_seconds")
        .parse()
        .unwrap();
    assert!(up < 60);
    assert_eq!(
        info_field(&mut c, "server", "process_id"),
        s.child.id().to_string()
    );
    assert_eq!(info_field(&mut c, "server", "tcp_port"), s.port.to_string());
    let used: u64 = info_field(&mut c, "memory", "used_memory").parse().unwrap();
    assert!(used > 0);
}

#[test]
fn instantaneous_ops_per_sec_moves_under_load() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let ops = |c: &mut Conn| -> u64 {
        info_field(c, "stats", "instantaneous_ops_per_sec")
            .parse()
            .unwrap()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let port = s.port;
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut l = Conn::connect(port);
            while !stop.load(Ordering::Relaxed) {
                let mut batch = Vec::new();
                for _ in 0..100 {
                    batch.extend_from_slice(b"PING\r\n");
                }
                l.send_raw(&batch);
                for _ in 0..100 {
                    l.read();
                }
            }
        })
    };
    let busy = wait_until(Duration::from_secs(10), || ops(&mut c) > 100);
    let kbps: f64 = info_field(&mut c, "stats", "instantaneous_input_kbps")
        .parse()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(busy, "instantaneous_ops_per_sec never moved");
    assert!(kbps > 0.0);
    // And it falls back when the load stops (the samples cover about 1.6 s).
    assert!(wait_until(Duration::from_secs(10), || ops(&mut c) < 50));
}

#[test]
fn info_is_a_verbatim_string_in_resp3() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.q("HELLO 3");
    match c.q("INFO server") {
        Reply::Verbatim(fmt, body) => {
            assert_eq!(fmt, "text");
            assert!(String::from_utf8_lossy(&body).starts_with("# Server\r\n"));
        }
        other => panic!("{other:?}"),
    }
    let names: BTreeSet<String> = info_fields(&c.q("INFO").text())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(names.contains("redis_version"));
}
