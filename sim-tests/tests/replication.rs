//! Replication under faults, in simulation: a master and two replicas on three hosts, a
//! writer on a fourth. Partitions between a replica and the master, a replica crash and
//! restart, a link held then released; after every fault the replicas converge to the
//! master's dataset and replication offset. Many seeds, each replayable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use picket_sim_tests::client::{cmd_text, SimClient};
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::{builder, run_server};

const REPLICA_ARGS: &[&str] = &[
    "--replicaof",
    "m 6379",
    "--repl-diskless-sync-delay",
    "0",
    "--repl-timeout",
    "5",
];

fn info_field(info: &str, name: &str) -> Option<String> {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.to_string())
}

/// Everything a server holds, as one comparable string (the writer uses strings, lists and
/// hashes in db 0).
async fn snapshot(c: &mut SimClient) -> String {
    let keys = cmd_text(c, &["KEYS", "*"]).await;
    let mut names: Vec<String> = keys
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_start_matches('$').to_string())
        .collect();
    names.sort();
    let mut out = String::new();
    for k in names {
        let t = cmd_text(c, &["TYPE", &k]).await;
        let v = match t.as_str() {
            "+string" => cmd_text(c, &["GET", &k]).await,
            "+list" => cmd_text(c, &["LRANGE", &k, "0", "-1"]).await,
            "+hash" => cmd_text(c, &["HGETALL", &k]).await,
            other => other.to_string(),
        };
        out.push_str(&format!("{k}={v};"));
    }
    out
}

/// One run: writes go on while faults happen; at the end every replica must have the
/// master's offset and data.
fn converge(seed: u64) -> Result<(), String> {
    let mut sim = builder(seed, Duration::from_secs(120)).build();
    sim.host("m", move || {
        run_server(
            seed,
            &["--repl-diskless-sync-delay", "0", "--repl-timeout", "5"],
        )
    });
    sim.host("r1", move || run_server(seed + 1000, REPLICA_ARGS));
    sim.host("r2", move || run_server(seed + 2000, REPLICA_ARGS));
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    sim.client("writer", async move {
        let mut c = SimClient::connect_retry("m", 6379, Duration::from_secs(2)).await?;
        for i in 0..1500u32 {
            let k = format!("k{}", i % 97);
            let v = i.to_string();
            let args: Vec<&str> = match i % 5 {
                0 => vec!["SET", &k, &v],
                1 => vec!["INCR", "counter"],
                2 => vec!["RPUSH", "log", &v],
                3 => vec!["HSET", "h", &k, &v],
                _ => vec!["LPOP", "log"],
            };
            let r = cmd_text(&mut c, &args).await;
            if r.starts_with('-') {
                return Err(format!("{args:?}: {r}").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        d.store(true, Ordering::SeqCst);
        Ok(())
    });
    let d = done.clone();
    sim.client("checker", async move {
        while !d.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut m = SimClient::connect_retry("m", 6379, Duration::from_secs(2)).await?;
        let want = snapshot(&mut m).await;
        let minfo = cmd_text(&mut m, &["INFO", "replication"]).await;
        let moff = info_field(&minfo, "master_repl_offset");
        for r in ["r1", "r2"] {
            let mut c = SimClient::connect_retry(r, 6379, Duration::from_secs(5)).await?;
            let mut last = String::new();
            let mut ok = false;
            // The master pings every 10 s: offsets move; compare against its current one.
            for _ in 0..300 {
                let info = cmd_text(&mut c, &["INFO", "replication"]).await;
                let minfo = cmd_text(&mut m, &["INFO", "replication"]).await;
                let moff = info_field(&minfo, "master_repl_offset");
                let roff = info_field(&info, "slave_repl_offset");
                let up = info_field(&info, "master_link_status").as_deref() == Some("up");
                if up && roff.is_some() && roff == moff {
                    ok = true;
                    break;
                }
                last = format!("{r}: link up={up} offset {roff:?} vs master {moff:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !ok {
                return Err(format!("{r} never converged: {last}").into());
            }
            let got = snapshot(&mut c).await;
            if got != want {
                return Err(format!("{r} data differs:\n{got}\nmaster:\n{want}").into());
            }
        }
        let _ = moff;
        Ok(())
    });
    // The faults, on a schedule in simulated time.
    let mut step = 0u64;
    loop {
        let t = turmoil_elapsed(&sim);
        match step {
            0 if t >= Duration::from_secs(3) => {
                sim.partition("r1", "m");
                step += 1;
            }
            1 if t >= Duration::from_secs(6) => {
                sim.repair("r1", "m");
                step += 1;
            }
            2 if t >= Duration::from_secs(7) => {
                sim.crash("r2");
                step += 1;
            }
            3 if t >= Duration::from_secs(9) => {
                sim.bounce("r2");
                step += 1;
            }
            4 if t >= Duration::from_secs(10) => {
                // A long partition: the replica times out its link and reconnects.
                sim.partition("r2", "m");
                step += 1;
            }
            5 if t >= Duration::from_secs(17) => {
                sim.repair("r2", "m");
                step += 1;
            }
            6 if t >= Duration::from_secs(18) => {
                // Held messages arrive late, all at once.
                sim.hold("r1", "m");
                step += 1;
            }
            7 if t >= Duration::from_secs(20) => {
                sim.release("r1", "m");
                step += 1;
            }
            _ => {}
        }
        match sim.step() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn turmoil_elapsed(sim: &turmoil::Sim<'_>) -> Duration {
    sim.elapsed()
}

#[test]
fn replicas_converge_after_partitions_and_restarts() {
    sweep(
        "replication",
        "replicas_converge_after_partitions_and_restarts",
        5,
        converge,
    );
}
