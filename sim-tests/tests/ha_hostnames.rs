//! A deployment configured only by host names, as under Docker or Kubernetes: three nodes
//! `n1`..`n3`, each a picket-server and a picket-sentinel, with `sentinel resolve-hostnames
//! yes`, `sentinel announce-hostnames yes`, `sentinel announce-ip <node>` and
//! `replica-announce-ip <node>`. The names are DNS names of the simulation ([`AliasNet`]):
//! they stand for turmoil hosts (`node1-a`...) and resolve only through picket's `Net`, so
//! every link must resolve them itself.
//!
//! The master's node crashes: the sentinels fail over, and the event and the replies carry
//! names. The node then comes back as a new host at a new address under the same name (a
//! pod rescheduled): the sentinels resolve the name again, find it, and make it a replica
//! of the new master by name.
//!
//! Seeds: `PICKET_SIM_SEEDS=N` for more, `PICKET_SIM_SEED=S` to replay one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use picket_sim_tests::client::{show, Frame, SimClient};
use picket_sim_tests::net::AliasNet;
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::{builder, run_server_on, EPOCH_MS};

const NODES: [&str; 3] = ["n1", "n2", "n3"];

fn text(f: &Frame) -> Option<String> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        _ => None,
    }
}

fn items(f: &Frame) -> Vec<Frame> {
    match f {
        Frame::Array(v) => v.clone(),
        _ => Vec::new(),
    }
}

/// An instance map of SENTINEL REPLICAS/SENTINELS as (field, value) pairs.
fn map(f: &Frame) -> Vec<(String, String)> {
    items(f)
        .chunks(2)
        .filter_map(|p| Some((text(&p[0])?, text(p.get(1)?)?)))
        .collect()
}

fn field(m: &[(String, String)], k: &str) -> String {
    m.iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// One node: its server (a replica of `n1` unless it is `n1`) and its sentinel, whose
/// files live in `dir` (kept across a move, as a persistent volume).
fn node_program(
    net: AliasNet,
    name: &'static str,
    seed: u64,
    dir: PathBuf,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = turmoil::Result>>> {
    move || {
        let (net, dir) = (net.clone(), dir.clone());
        Box::pin(async move {
            let mut args: Vec<String> = [
                "--repl-diskless-sync-delay",
                "0",
                "--repl-timeout",
                "5",
                "--replica-announce-ip",
                name,
            ]
            .map(String::from)
            .to_vec();
            if name != "n1" {
                args.extend(["--replicaof".into(), "n1 6379".into()]);
            }
            let n2 = net.clone();
            tokio::spawn(async move {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                if let Err(e) = run_server_on(n2, seed, &refs).await {
                    tracing::error!("server: {e}");
                }
            });
            run_sentinel(net, seed.wrapping_add(1000), &dir, name).await
        })
    }
}

async fn run_sentinel(net: AliasNet, seed: u64, dir: &Path, me: &str) -> turmoil::Result {
    std::fs::create_dir_all(dir)?;
    let conf = dir.join("sentinel.conf");
    if !conf.exists() {
        std::fs::write(
            &conf,
            format!(
                "port 26379\nbind 0.0.0.0\nsentinel resolve-hostnames yes\nsentinel announce-hostnames yes\nsentinel announce-ip {me}\nsentinel monitor mymaster n1 6379 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n"
            ),
        )?;
    }
    let text = std::fs::read_to_string(&conf)?;
    let loaded = picket_sentinel::config::parse(&text, &[])?;
    let core = picket_sentinel::core_from(&loaded, seed, 0)?;
    let shared = picket_sentinel::shell::start(
        net,
        core,
        loaded.server.clone(),
        conf,
        picket_common::clock::Clock::starting_at(EPOCH_MS),
    )
    .await?;
    shared.save_now().await;
    shared.cancel.cancelled().await;
    Ok(())
}

/// What the observer found wrong, and what it saw.
#[derive(Default, Debug)]
struct Seen {
    failures: Vec<String>,
    notes: Vec<String>,
    done: bool,
}

async fn client(net: &AliasNet, name: &str, port: u16) -> Option<SimClient> {
    tokio::time::timeout(
        Duration::from_millis(500),
        SimClient::connect(&net.target(name), port),
    )
    .await
    .ok()?
    .ok()
}

async fn ask(net: &AliasNet, name: &str, port: u16, args: &[&str]) -> Option<Frame> {
    let mut c = client(net, name, port).await?;
    c.cmd(args).await.ok()
}

/// Wait (polling every 200 ms, up to `secs` of simulated time) for `check` to give Ok;
/// its last error otherwise.
async fn until<F, Fut>(secs: u64, mut check: F) -> Result<String, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let r = check().await;
        if r.is_ok() || tokio::time::Instant::now() >= deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The observer: names in the replies before the crash, the failover's `+switch-master`
/// and replies after it, and the moved node followed.
async fn observe(net: AliasNet, seen: Arc<Mutex<Seen>>) -> Result<(), String> {
    // Before the crash: n2's sentinel knows the master, both replicas and both other
    // sentinels, all by name.
    let known = until(10, || {
        let net = net.clone();
        async move {
            let m = ask(
                &net,
                "n2",
                26379,
                &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
            )
            .await
            .ok_or("no answer")?;
            let addr: Vec<String> = items(&m).iter().filter_map(text).collect();
            if addr != ["n1", "6379"] {
                return Err(format!("master address {addr:?}"));
            }
            let r = ask(&net, "n2", 26379, &["SENTINEL", "REPLICAS", "mymaster"])
                .await
                .ok_or("no answer")?;
            let mut reps: Vec<(String, String)> = items(&r)
                .iter()
                .map(|x| {
                    let m = map(x);
                    (field(&m, "name"), field(&m, "ip"))
                })
                .collect();
            reps.sort();
            let want =
                [("n2:6379", "n2"), ("n3:6379", "n3")].map(|(a, b)| (a.to_string(), b.to_string()));
            if reps != want {
                return Err(format!("replicas {reps:?}"));
            }
            let s = ask(&net, "n2", 26379, &["SENTINEL", "SENTINELS", "mymaster"])
                .await
                .ok_or("no answer")?;
            let mut ips: Vec<String> = items(&s).iter().map(|x| field(&map(x), "ip")).collect();
            ips.sort();
            if ips != ["n1", "n3"] {
                return Err(format!("sentinels {ips:?}"));
            }
            Ok(format!("replicas {reps:?}, sentinels {ips:?}"))
        }
    })
    .await;
    let mut failures = Vec::new();
    match known {
        Ok(n) => seen.lock().unwrap_or_else(|e| e.into_inner()).notes.push(n),
        Err(e) => failures.push(format!("before the crash: {e}")),
    }
    // A write every replica holds.
    if let Some(mut c) = client(&net, "n1", 6379).await {
        let _ = c.cmd(&["SET", "k", "v"]).await;
        let _ = c.cmd(&["WAIT", "2", "2000"]).await;
    }
    // +switch-master, as n2's sentinel publishes it.
    let mut sub = client(&net, "n2", 26379)
        .await
        .ok_or("cannot subscribe on n2's sentinel")?;
    sub.send(&["SUBSCRIBE", "+switch-master"])
        .await
        .map_err(|e| e.to_string())?;
    let _ = sub.read(Duration::from_secs(5)).await;
    let mut new_master = None;
    for _ in 0..60 {
        match sub.read(Duration::from_secs(1)).await {
            Ok(f) => {
                let v = items(&f);
                if let Some(payload) = v.get(2).and_then(text) {
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .notes
                        .push(format!("+switch-master {payload}"));
                    let w: Vec<&str> = payload.split(' ').collect();
                    if w.len() == 5
                        && w[..3] == ["mymaster", "n1", "6379"]
                        && ["n2", "n3"].contains(&w[3])
                        && w[4] == "6379"
                    {
                        new_master = Some(w[3].to_string());
                    } else {
                        failures.push(format!("+switch-master payload {payload:?}"));
                    }
                    break;
                }
            }
            Err(picket_sim_tests::client::ClientError::Timeout) => {}
            Err(e) => {
                failures.push(format!("subscription: {e}"));
                break;
            }
        }
    }
    let Some(new) = new_master else {
        failures.push("no +switch-master".into());
        seen.lock().unwrap_or_else(|e| e.into_inner()).failures = failures;
        return Ok(());
    };
    // Both surviving sentinels answer with the name; the new master has the write.
    for s in ["n2", "n3"] {
        let new2 = new.clone();
        let r = until(10, || {
            let net = net.clone();
            let new = new2.clone();
            async move {
                let m = ask(
                    &net,
                    s,
                    26379,
                    &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
                )
                .await
                .ok_or("no answer")?;
                let addr: Vec<String> = items(&m).iter().filter_map(text).collect();
                if addr == [new.as_str(), "6379"] {
                    Ok(String::new())
                } else {
                    Err(format!("{s}'s sentinel says {addr:?}"))
                }
            }
        })
        .await;
        if let Err(e) = r {
            failures.push(e);
        }
    }
    match ask(&net, &new, 6379, &["GET", "k"])
        .await
        .and_then(|f| text(&f))
    {
        Some(v) if v == "v" => {}
        other => failures.push(format!("GET k on {new}: {other:?}")),
    }
    // The old master's node comes back at a new address (the harness moves the name at
    // 40 s): followed by name and made a replica of the new master, by name.
    let other = if new == "n2" { "n3" } else { "n2" };
    let r = until(60, || {
        let net = net.clone();
        let new = new.clone();
        async move {
            let role = ask(&net, "n1", 6379, &["ROLE"]).await.ok_or("n1 silent")?;
            let v = items(&role);
            let words: Vec<String> = v.iter().take(2).filter_map(text).collect();
            if words != ["slave", new.as_str()] {
                return Err(format!("n1's ROLE {}", show(&role)));
            }
            let info = ask(&net, &new, 6379, &["INFO", "replication"])
                .await
                .and_then(|f| text(&f))
                .ok_or("no INFO")?;
            if !info.contains("ip=n1,port=6379,state=online") {
                return Err(format!("{new}'s INFO replication: {info}"));
            }
            let r = ask(&net, other, 26379, &["SENTINEL", "REPLICAS", "mymaster"])
                .await
                .ok_or("no answer")?;
            let n1 = items(&r)
                .iter()
                .map(map)
                .find(|m| field(m, "name") == "n1:6379")
                .ok_or_else(|| format!("n1 not among {other}'s replicas: {}", show(&r)))?;
            let flags = field(&n1, "flags");
            if flags != "slave" || field(&n1, "ip") != "n1" || field(&n1, "master-host") != new {
                return Err(format!("n1 as {other}'s sentinel sees it: {n1:?}"));
            }
            Ok(format!("n1 followed: {n1:?}"))
        }
    })
    .await;
    match r {
        Ok(n) => seen.lock().unwrap_or_else(|e| e.into_inner()).notes.push(n),
        Err(e) => failures.push(format!("after the move: {e}")),
    }
    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
    s.failures = failures;
    s.done = true;
    Ok(())
}

fn run(seed: u64) -> Result<Vec<String>, String> {
    let mut sim = builder(seed, Duration::from_secs(150)).build();
    let net = AliasNet::default();
    // One directory per run: its two tests may run the same seed at once.
    let dir = picket_sim_tests::ha::run_dir(seed);
    for (i, n) in NODES.iter().enumerate() {
        let host = format!("node{}-a", i + 1);
        net.point(n, &host);
        sim.host(
            host.as_str(),
            node_program(net.clone(), n, seed * 10 + i as u64, dir.join(n)),
        );
    }
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (n2, s2) = (net.clone(), seen.clone());
    sim.client("observer", async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        observe(n2, s2)
            .await
            .map_err(|e| -> Box<dyn std::error::Error> { e.into() })
    });
    let all: Vec<&str> = ["node1-a", "node2-a", "node3-a", "observer"].to_vec();
    let (mut crashed, mut moved) = (false, false);
    let mut ips = Vec::new();
    loop {
        let t = sim.elapsed();
        if !crashed && t >= Duration::from_secs(15) {
            // A power-off: silent links, then the host stops.
            for o in all.iter().filter(|o| **o != "node1-a") {
                sim.partition("node1-a", *o);
            }
            sim.crash("node1-a");
            crashed = true;
        }
        if !moved && t >= Duration::from_secs(40) {
            // n1 comes back as another host (another address), same name and volume.
            net.point("n1", "node1-b");
            sim.host(
                "node1-b",
                node_program(net.clone(), "n1", seed * 10 + 7, dir.join("n1")),
            );
            ips = vec![sim.lookup("node1-a"), sim.lookup("node1-b")];
            moved = true;
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.to_string());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let s = seen.lock().unwrap_or_else(|e| e.into_inner());
    if ips.len() == 2 && ips[0] == ips[1] {
        return Err(format!("the moved node kept its address {ips:?}"));
    }
    eprintln!("seed {seed}: {:?}", s.notes);
    if !s.done || !s.failures.is_empty() {
        return Err(format!("failures: {:?}\nseen: {:?}", s.failures, s.notes));
    }
    Ok(s.notes.clone())
}

#[test]
fn failover_and_a_moved_node_by_host_names() {
    sweep(
        "ha_hostnames",
        "failover_and_a_moved_node_by_host_names",
        2,
        |seed| run(seed).map(|_| ()),
    );
}

#[test]
fn the_same_seed_replays_the_same_run() {
    sweep(
        "ha_hostnames",
        "the_same_seed_replays_the_same_run",
        1,
        |seed| {
            let (a, b) = (run(seed)?, run(seed)?);
            if a == b {
                Ok(())
            } else {
                Err(format!("two runs differ:\n{a:?}\n{b:?}"))
            }
        },
    );
}
