//! The hosts' programs: a sentinel host, the Sentinel-aware writer clients, the watcher
//! that records master changes, and the checker that reads every server at the end.

use super::*;

pub(super) fn server_host(i: usize) -> String {
    format!("s{}", i + 1)
}

pub(super) fn sentinel_host(i: usize) -> String {
    format!("t{}", i + 1)
}

/// A directory for the hosts' files, unique per run (tests run in parallel threads of one
/// process, and may run the same seed).
pub fn run_dir(seed: u64) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("picket-sim-{}-{seed}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("sim dir");
    d
}

/// One sentinel host's program: its config written on first start (kept across restarts,
/// as the sentinel rewrites it), the sentinel run until the host stops.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_sentinel(
    seed: u64,
    dir: PathBuf,
    master_ip: String,
    s: Settings,
    host: String,
    stalls: Stalls,
    wire: WireDigest,
    acl_logs: AclLogs,
) -> turmoil::Result {
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("sentinel.conf");
    if !conf.exists() {
        // With TLS: the TLS port only (port 0), TLS links, as a TLS deployment of Redis's.
        let listen = match &s.tls {
            None => "port 26379\n".to_string(),
            Some(certs) => format!(
                "port 0\ntls-port 26379\n{}",
                crate::tls::sim_tls_conf_lines(certs)
            ),
        };
        // With ACL users: the users, and the login on the servers.
        let (users, login) = match &s.acl {
            None => (String::new(), String::new()),
            Some(a) => a.sentinel_conf("mymaster"),
        };
        std::fs::write(
            &conf,
            format!(
                "{listen}bind 0.0.0.0\n{users}sentinel monitor mymaster {master_ip} 6379 {}\n{login}sentinel down-after-milliseconds mymaster {}\nsentinel failover-timeout mymaster {}\n",
                s.quorum, s.down_after_ms, s.failover_timeout_ms
            ),
        )?;
    }
    let text = std::fs::read_to_string(&conf)?;
    let loaded = picket_sentinel::config::parse(&text, &[])?;
    let core = picket_sentinel::core_from(&loaded, seed, 0)?;
    let clock = picket_common::clock::Clock::starting_at(crate::EPOCH_MS);
    let shared = if s.tls.is_some() {
        // The sentinel's own TLS, its randomness seeded.
        let tls = crate::tls::seeded_tls(&loaded.server.tls, seed)?;
        let net = TapNet::new(SimNet, wire);
        picket_sentinel::shell::start_with_tls(
            net,
            core,
            loaded.server.clone(),
            conf,
            clock,
            Some(tls),
            false,
        )
        .await?
    } else {
        picket_sentinel::shell::start(SimNet, core, loaded.server.clone(), conf, clock).await?
    };
    acl_logs.sentinel(&host, &shared);
    shared.save_now().await;
    stalls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(host, shared.stall_ms.clone());
    shared.cancel.cancelled().await;
    Ok(())
}

pub(super) fn frame_str(f: &Frame) -> Option<String> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        _ => None,
    }
}

/// Ask the sentinels where the master is (the first that answers).
pub(super) async fn resolve(dial: &Dial, sentinels: usize) -> Option<String> {
    for i in 0..sentinels {
        let Ok(Ok(mut c)) = tokio::time::timeout(
            Duration::from_millis(500),
            dial.connect(&sentinel_host(i), SENTINEL_PORT),
        )
        .await
        else {
            continue;
        };
        if let Ok(Frame::Array(v)) = c
            .cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
            .await
        {
            if v.len() == 2 {
                if let (Some(h), Some(p)) = (frame_str(&v[0]), frame_str(&v[1])) {
                    return Some(format!("{h}:{p}"));
                }
            }
        }
    }
    None
}

pub(super) fn split(addr: &str) -> (String, u16) {
    let (h, p) = addr.rsplit_once(':').unwrap_or((addr, "6379"));
    (h.to_string(), p.parse().unwrap_or(6379))
}

/// Resolve the master through the sentinels and connect to it, if it says it is one.
async fn connect_master(dial: &Dial, s: &Settings) -> Option<(String, SimClient)> {
    let Some(addr) = resolve(dial, s.sentinels).await else {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return None;
    };
    let (h, p) = split(&addr);
    if let Ok(Ok(mut c)) =
        tokio::time::timeout(Duration::from_millis(500), dial.connect(&h, p)).await
    {
        let role = c.cmd(&["ROLE"]).await;
        let is_master = matches!(&role, Ok(Frame::Array(v)) if v.first().and_then(frame_str).as_deref() == Some("master"));
        if is_master {
            return Some((addr, c));
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    None
}

/// A Sentinel-aware writer: resolve, check ROLE, SET a unique key (and WAIT), record.
/// The first writer also increments the counter `ctr` every other operation, for the
/// stale-read checker.
pub(super) async fn writer(
    id: usize,
    s: Settings,
    obs: Arc<Mutex<Observed>>,
    dial: Dial,
) -> turmoil::Result {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut n = 0u64;
    let mut conn: Option<(String, SimClient)> = None;
    while turmoil::sim_elapsed().unwrap_or_default() < s.writes_until {
        if conn.is_none() {
            conn = connect_master(&dial, &s).await;
            continue;
        }
        let Some((addr, c)) = conn.as_mut() else {
            continue;
        };
        n += 1;
        if id == 0 && n.is_multiple_of(2) {
            let r = c.cmd(&["INCR", "ctr"]).await;
            let at_ms = turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64;
            match r {
                Ok(Frame::Integer(v)) => {
                    obs.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .counter_acks
                        .push((at_ms, v));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => {
                    conn = None;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            continue;
        }
        let key = format!("c{id}:{n}");
        let at_ms = turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64;
        let r = c.cmd(&["SET", &key, "v"]).await;
        let mut outcome = match &r {
            Ok(Frame::SimpleString(_)) => Outcome::Ok,
            Ok(Frame::Error(_)) => Outcome::Fail,
            Ok(_) => Outcome::Unknown,
            Err(_) => Outcome::Unknown,
        };
        if outcome == Outcome::Ok && s.wait_replicas > 0 {
            let w = c.cmd(&["WAIT", &s.wait_replicas.to_string(), "1000"]).await;
            outcome = match w {
                Ok(Frame::Integer(k)) if k as usize >= s.wait_replicas => Outcome::Ok,
                // Written on the master but not acknowledged by enough replicas.
                _ => Outcome::Unknown,
            };
        }
        let server = addr.clone();
        obs.lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .push(Op {
                at_ms,
                client: id,
                key,
                outcome,
                server,
            });
        // A READONLY or a dead link: re-resolve.
        if outcome != Outcome::Ok {
            conn = None;
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// A Sentinel-aware reader of the counter `ctr`: what it reads, from which server, and
/// when the read started.
pub(super) async fn reader(s: Settings, obs: Arc<Mutex<Observed>>, dial: Dial) -> turmoil::Result {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut conn: Option<(String, SimClient)> = None;
    while turmoil::sim_elapsed().unwrap_or_default() < s.writes_until {
        if conn.is_none() {
            conn = connect_master(&dial, &s).await;
            continue;
        }
        let Some((addr, c)) = conn.as_mut() else {
            continue;
        };
        let start_ms = turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64;
        let value = match c.cmd(&["GET", "ctr"]).await {
            Ok(Frame::Null) => Some(0),
            Ok(f) => frame_str(&f).and_then(|v| v.parse::<i64>().ok()),
            Err(_) => None,
        };
        match value {
            Some(value) => {
                let server = addr.clone();
                obs.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .reads
                    .push(Read {
                        start_ms,
                        value,
                        server,
                    });
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            // MASTERDOWN, READONLY, a dead link: re-resolve.
            None => {
                conn = None;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    Ok(())
}

/// Watches the master address as the first sentinel reports it.
pub(super) async fn watcher(s: Settings, obs: Arc<Mutex<Observed>>, dial: Dial) -> turmoil::Result {
    let mut last: Option<String> = None;
    // One connection to t1, kept while it answers (a new one per look cost the simulation
    // two TCP handshakes every 50 ms).
    let mut conn: Option<SimClient> = None;
    let wait = Duration::from_millis(300);
    while turmoil::sim_elapsed().unwrap_or_default() < s.duration - Duration::from_secs(2) {
        if obs.lock().unwrap_or_else(|e| e.into_inner()).done {
            break;
        }
        if conn.is_none() {
            if let Ok(Ok(c)) = tokio::time::timeout(wait, dial.connect("t1", SENTINEL_PORT)).await {
                conn = Some(c);
            }
        }
        if let Some(c) = conn.as_mut() {
            let tilt = tokio::time::timeout(wait, info_fields(c, "sentinel")).await;
            let addr = tokio::time::timeout(
                wait,
                c.cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"]),
            )
            .await;
            match (tilt, addr) {
                (Ok(info), Ok(Ok(reply))) => {
                    if info.get("sentinel_tilt").map(String::as_str) == Some("1") {
                        obs.lock().unwrap_or_else(|e| e.into_inner()).tilt_seen = true;
                    }
                    let a = match &reply {
                        Frame::Array(v) if v.len() == 2 => {
                            match (frame_str(&v[0]), frame_str(&v[1])) {
                                (Some(h), Some(p)) => Some(format!("{h}:{p}")),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    if let Some(a) = a {
                        if last.as_ref() != Some(&a) {
                            let t = turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64;
                            obs.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .master_changes
                                .push((t, a.clone()));
                            last = Some(a);
                        }
                    }
                }
                // Timed out or broken: a new connection next time.
                _ => conn = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

pub(super) async fn info_fields(c: &mut SimClient, section: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Ok(f) = c.cmd(&["INFO", section]).await {
        if let Some(t) = frame_str(&f) {
            for l in t.split("\r\n") {
                if let Some((k, v)) = l.split_once(':') {
                    m.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    m
}

pub(super) async fn keys(c: &mut SimClient) -> BTreeSet<String> {
    match c.cmd(&["KEYS", "*"]).await {
        Ok(Frame::Array(v)) => v.iter().filter_map(frame_str).collect(),
        _ => BTreeSet::new(),
    }
}

/// The final master's keys, for the lost-writes checker. A strict master that lost its
/// lease (no replica left) refuses reads: the data is unavailable, not lost, so the checker
/// reads it in classic mode and notes the unavailability.
async fn final_keys_of(c: &mut SimClient, notes: &mut Vec<String>) -> BTreeSet<String> {
    if let Ok(Frame::Error(e)) = c.cmd(&["KEYS", "*"]).await {
        if e.starts_with("MASTERDOWN") {
            notes.push(format!(
                "the final master refused reads (strict lease lost): {e}; read in classic mode"
            ));
            let _ = c
                .cmd(&["CONFIG", "SET", "failover-safety", "classic"])
                .await;
            let keys = keys(c).await;
            let _ = c.cmd(&["CONFIG", "SET", "failover-safety", "strict"]).await;
            return keys;
        }
    }
    keys(c).await
}

/// After the faults: what the sentinels agree on, and whether every reachable server
/// converged to the final master.
pub(super) async fn checker(
    s: Settings,
    ips: Vec<String>,
    obs: Arc<Mutex<Observed>>,
    dial: Dial,
) -> turmoil::Result {
    tokio::time::sleep(s.writes_until + s.settle).await;
    // The sentinels agree on one master and one epoch (retry while they converge).
    let mut agree = false;
    let mut master = None;
    let mut epochs = Vec::new();
    for _ in 0..50 {
        let mut addrs = BTreeSet::new();
        epochs.clear();
        let mut all = true;
        for i in 0..s.sentinels {
            let Ok(Ok(mut c)) = tokio::time::timeout(
                Duration::from_millis(500),
                dial.connect(&sentinel_host(i), SENTINEL_PORT),
            )
            .await
            else {
                continue;
            };
            let a = c
                .cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
                .await;
            match a {
                Ok(Frame::Array(v)) if v.len() == 2 => {
                    addrs.insert(format!(
                        "{}:{}",
                        frame_str(&v[0]).unwrap_or_default(),
                        frame_str(&v[1]).unwrap_or_default()
                    ));
                }
                _ => all = false,
            }
            if let Ok(Frame::Array(v)) = c.cmd(&["SENTINEL", "master", "mymaster"]).await {
                let kv: Vec<String> = v.iter().filter_map(frame_str).collect();
                if let Some(p) = kv.iter().position(|k| k == "config-epoch") {
                    epochs.push(kv.get(p + 1).cloned().unwrap_or_default());
                }
            }
        }
        let same_epoch = epochs.windows(2).all(|w| w[0] == w[1]);
        if all && addrs.len() == 1 && same_epoch {
            agree = true;
            master = addrs.into_iter().next();
            break;
        }
        master = addrs.into_iter().next();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut converged = Vec::new();
    let mut final_keys = BTreeSet::new();
    let mut read_notes = Vec::new();
    if let Some(m) = &master {
        let (mh, mp) = split(m);
        // Retry: replicas may still be syncing.
        for _ in 0..75 {
            converged.clear();
            let Ok(Ok(mut mc)) =
                tokio::time::timeout(Duration::from_secs(1), dial.connect(&mh, mp)).await
            else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let minfo = info_fields(&mut mc, "replication").await;
            let moff = minfo.get("master_repl_offset").cloned().unwrap_or_default();
            read_notes.clear();
            final_keys = final_keys_of(&mut mc, &mut read_notes).await;
            let mut all_ok = true;
            for ip in &ips {
                if *ip == mh {
                    continue;
                }
                let Ok(Ok(mut c)) =
                    tokio::time::timeout(Duration::from_millis(500), dial.connect(ip, 6379)).await
                else {
                    // A crashed server that stays down does not count.
                    continue;
                };
                let info = info_fields(&mut c, "replication").await;
                let ok = info.get("role").map(String::as_str) == Some("slave")
                    && info.get("master_host") == Some(&mh)
                    && info.get("master_link_status").map(String::as_str) == Some("up")
                    && info.get("slave_repl_offset") == Some(&moff)
                    && keys(&mut c).await == final_keys;
                all_ok &= ok;
                converged.push((
                    ip.clone(),
                    ok,
                    format!(
                        "role={:?} master={:?} link={:?} offset={:?} vs {moff}",
                        info.get("role"),
                        info.get("master_host"),
                        info.get("master_link_status"),
                        info.get("slave_repl_offset")
                    ),
                ));
            }
            if all_ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // With ACL users: who the final master's and the sentinels' clients are logged in as.
    let mut client_lists = Vec::new();
    if s.acl.is_some() {
        let nodes = master
            .iter()
            .map(|m| split(m))
            .chain((0..s.sentinels).map(|i| (sentinel_host(i), SENTINEL_PORT)));
        for (h, p) in nodes {
            if let Ok(Ok(mut c)) =
                tokio::time::timeout(Duration::from_millis(500), dial.connect(&h, p)).await
            {
                if let Ok(f) = c.cmd(&["CLIENT", "LIST"]).await {
                    client_lists.push((format!("{h}:{p}"), frame_str(&f).unwrap_or_default()));
                }
            }
        }
    }
    // What every reachable server still holds.
    let mut held = final_keys.clone();
    let leaseless = read_notes.iter().any(|n| n.contains("strict lease lost"));
    for ip in &ips {
        if let Ok(Ok(mut c)) =
            tokio::time::timeout(Duration::from_millis(500), dial.connect(ip, 6379)).await
        {
            let mut ignored = Vec::new();
            held.extend(final_keys_of(&mut c, &mut ignored).await);
        }
    }
    let mut o = obs.lock().unwrap_or_else(|e| e.into_inner());
    o.held_keys = held;
    o.final_master_leaseless = leaseless;
    o.final_master = master;
    o.sentinels_agree = agree;
    o.epochs = epochs;
    o.converged = converged;
    o.final_keys = final_keys;
    o.notes.extend(read_notes);
    o.client_lists = client_lists;
    o.done = true;
    Ok(())
}
