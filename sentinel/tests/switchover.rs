//! SENTINEL FAILOVER of a healthy master is a coordinated hand-over (the master's FAILOVER
//! command): a client writing through the switch loses none of its acknowledged writes.
//! Redis Sentinel promotes with SLAVEOF NO ONE instead and can lose the writes the master
//! took after the replica's last sync (redis/redis#6062); with Redis servers behind picket
//! sentinels the hand-over is the same, since Redis 6.2+ has FAILOVER.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

/// Writes `w<n>` keys as fast as it can, finding the master through the sentinel after
/// every error; returns the keys the server acknowledged.
fn writer(sentinel: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut n = 0u64;
        let mut conn: Option<Client> = None;
        while !stop.load(Ordering::Relaxed) {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => {
                    let port = port_of(&master_addr(sentinel));
                    match std::net::TcpStream::connect(("127.0.0.1", port)) {
                        Ok(_) => conn.insert(Client::connect(port)),
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    }
                }
            };
            n += 1;
            let key = format!("w{n}");
            c.send(&["SET", &key, "1"]);
            match c.read() {
                Some(R::S(s)) if s == "OK" => acked.push(key),
                // READONLY after the switch, or the connection dropped: look again.
                _ => conn = None,
            }
        }
        acked
    })
}

fn switchover(redis_servers: Option<&Path>) {
    let d = deploy(redis_servers, &[], "");
    let s0 = d.sentinels[0].port;
    let old = master_addr(s0);
    let rxs: Vec<_> = d.sentinels.iter().map(|s| events(s.port)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(s0, stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    assert_eq!(
        cmd(s0, &["SENTINEL", "FAILOVER", "mymaster"]),
        R::S("OK".into())
    );
    let refs: Vec<&Proc> = d.sentinels.iter().collect();
    let new = wait_switch(&refs, &old, 30);
    eprintln!("switchover took {:?}", t.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    assert!(acked.len() > 100, "the writer wrote: {}", acked.len());
    // Every acknowledged write is on the new master.
    let new_port = port_of(&new);
    let mut c = Client::connect(new_port);
    let missing: Vec<&String> = acked
        .iter()
        .filter(|k| c.cmd(&["EXISTS", k]) != R::I(1))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    // The old master follows the new one and recorded it in its config.
    let old_port = port_of(&old);
    wait_for("the old master to follow", 20, || {
        info_field(old_port, "master_port") == new_port.to_string()
            && info_field(old_port, "master_link_status") == "up"
    });
    let rc = cmd(old_port, &["CONFIG", "GET", "replicaof"]);
    assert_eq!(
        rc.items().get(1).map(R::s),
        Some(format!("127.0.0.1 {new_port}"))
    );
    // The leader went through the usual events, without an abort.
    let evs: Vec<(String, String)> = rxs.iter().flat_map(|rx| rx.try_iter()).collect();
    assert!(evs.iter().any(|(k, _)| k == "+promoted-slave"), "{evs:?}");
    assert!(
        !evs.iter().any(|(k, _)| k.starts_with("-failover-abort")),
        "{evs:?}"
    );
}

#[test]
fn sentinel_failover_of_a_healthy_master_loses_no_acknowledged_write() {
    switchover(None);
}

#[test]
fn redis_servers_are_handed_over_alike() {
    let Some(redis) = redis_bin() else { return };
    switchover(Some(&redis));
}
