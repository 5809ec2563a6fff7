//! The checkers applied to every run, and the named scenarios (fault plans with what each
//! requires).

use super::*;

/// What a scenario requires of a run.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// A failover must happen (the master address changes), within this bound after the
    /// fault.
    pub failover_within_ms: Option<u64>,
    /// No failover may happen.
    pub no_failover: bool,
    /// Acknowledged writes lost must be zero.
    pub no_lost_writes: bool,
    /// This server host must not be the final master.
    pub never_master: Option<String>,
    /// The first sentinel must have entered TILT.
    pub tilt: bool,
}

fn fnv(h: &mut u64, s: &str) {
    for b in s.bytes() {
        *h ^= b as u64;
        *h = h.wrapping_mul(0x100000001b3);
    }
}

/// Apply the checkers to a run.
pub fn check(
    seed: u64,
    s: &Settings,
    fault_at: Option<Duration>,
    expect: &Expect,
    o: &Observed,
    applied: &[String],
) -> Report {
    let mut failures = Vec::new();
    if !o.sentinels_agree {
        failures.push(format!(
            "sentinels do not agree on one master and epoch (master {:?}, epochs {:?})",
            o.final_master, o.epochs
        ));
    }
    // A strict master without its lease serves nothing: its replicas refusing it (a
    // restarted master without its data) is the deployment waiting, not diverging.
    let waiting = s.strict && o.final_master_leaseless;
    for (ip, ok, why) in &o.converged {
        if !ok && !waiting {
            failures.push(format!(
                "server {ip} did not converge to the final master: {why}"
            ));
        }
    }
    // No server and no sentinel refused anything (without ACL users every connection is
    // the default user, which may run everything).
    if !o.acl_refusals.is_empty() {
        failures.push(format!(
            "{} ACL refusals: {}",
            o.acl_refusals.len(),
            o.acl_refusals.join("\n    ")
        ));
    }
    let first = o.master_changes.first().map(|x| x.1.clone());
    let switch = fault_at.and_then(|f| {
        o.master_changes
            .iter()
            .find(|(t, a)| *t >= f.as_millis() as u64 && Some(a) != first.as_ref())
            .map(|(t, _)| t - f.as_millis() as u64)
    });
    if let Some(bound) = expect.failover_within_ms {
        match switch {
            None => failures.push("no failover happened".into()),
            Some(t) if t > bound => {
                failures.push(format!("failover took {t} ms > bound {bound} ms"))
            }
            _ => {}
        }
    }
    if expect.tilt && !o.tilt_seen {
        failures.push("the stalled sentinel never reported TILT".into());
    }
    if expect.no_failover && o.master_changes.len() > 1 {
        failures.push(format!("a failover happened: {:?}", o.master_changes));
    }
    if let (Some(h), Some(m)) = (&expect.never_master, &o.final_master) {
        let ip = o.host_ips.get(h).cloned().unwrap_or_default();
        let ever = o.master_changes.iter().any(|(_, a)| split(a).0 == ip);
        if m.starts_with(&format!("{ip}:")) || ever {
            failures.push(format!("{h} ({ip}) became master"));
        }
    }
    // Lost acknowledged writes: acked but absent from the final master.
    let acked: Vec<&Op> = o
        .history
        .iter()
        .filter(|op| op.outcome == Outcome::Ok)
        .collect();
    let missing: Vec<&&Op> = acked
        .iter()
        .filter(|op| !o.final_keys.contains(&op.key))
        .collect();
    let lost = missing
        .iter()
        .filter(|op| !o.held_keys.contains(&op.key))
        .count();
    let unavailable = missing.len() - lost;
    // Strict failover safety promises it in every scenario (docs/failover-safety.md).
    if (expect.no_lost_writes || s.strict) && lost > 0 {
        failures.push(format!("{lost} acknowledged writes lost"));
    }
    // Split brain: once the sentinels moved the master elsewhere, how long a deposed master
    // still acknowledged writes (until it is made master again), plus any overlap of two
    // servers' acknowledgement windows (each server's acknowledgements merged into
    // intervals with gaps under SPLIT_GAP_MS: a server that is master twice, as in
    // restart-loop, has two windows, not one spanning the other master's time).
    let mut acks_by: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for op in &acked {
        acks_by
            .entry(op.server.as_str())
            .or_default()
            .push(op.at_ms);
    }
    let mut split = 0;
    for (i, (t, addr)) in o.master_changes.iter().enumerate() {
        if i == 0 {
            continue;
        }
        let deposed = &o.master_changes[i - 1].1;
        if deposed == addr {
            continue;
        }
        let back = o.master_changes[i + 1..]
            .iter()
            .find(|(_, a)| a == deposed)
            .map_or(u64::MAX, |(t, _)| *t);
        if let Some(times) = acks_by.get(deposed.as_str()) {
            if let Some(last) = times.iter().filter(|&&a| a > *t && a < back).max() {
                split += last - t;
            }
        }
    }
    let windows: Vec<Vec<(u64, u64)>> = acks_by
        .values_mut()
        .map(|times| ack_windows(times))
        .collect();
    for i in 0..windows.len() {
        for j in i + 1..windows.len() {
            for a in &windows[i] {
                for b in &windows[j] {
                    split += a.1.min(b.1).saturating_sub(a.0.max(b.0));
                }
            }
        }
    }
    // Stale reads: less than an increment acknowledged before the read started.
    let mut acks = o.counter_acks.clone();
    acks.sort_unstable();
    let mut stale = 0;
    let mut worst_stale: Option<(&Read, i64)> = None;
    for r in &o.reads {
        let before = acks.partition_point(|(t, _)| *t < r.start_ms);
        let floor = acks[..before].iter().map(|(_, v)| *v).max().unwrap_or(0);
        if r.value < floor {
            stale += 1;
            if worst_stale.is_none_or(|(_, f)| floor - r.value > f) {
                worst_stale = Some((r, floor - r.value));
            }
        }
    }
    if s.strict && stale > 0 {
        let (r, behind) = worst_stale.expect("stale > 0");
        failures.push(format!(
            "{stale} stale reads; the worst at {} ms from {}: {} increments behind",
            r.start_ms, r.server, behind
        ));
    }
    let mut h = 0xcbf29ce484222325u64;
    for op in &o.history {
        fnv(&mut h, &format!("{op:?}"));
    }
    for r in &o.reads {
        fnv(&mut h, &format!("{r:?}"));
    }
    for c in &o.master_changes {
        fnv(&mut h, &format!("{c:?}"));
    }
    for a in applied {
        fnv(&mut h, a);
    }
    Report {
        seed,
        fault_at_ms: fault_at.map(|f| f.as_millis() as u64),
        detection_ms: None,
        switch_ms: switch,
        lost_writes: lost,
        unavailable_writes: unavailable,
        acked_writes: acked.len(),
        split_brain_ms: split,
        stale_reads: stale,
        failures,
        trace_hash: h,
    }
}

/// The named scenarios.
pub const SCENARIOS: &[&str] = &[
    "master-crash",
    "master-partitioned",
    "master-isolated-from-sentinels",
    "sentinel-crash-during-election",
    "no-quorum",
    "priority-zero",
    "flapping-links",
    "cascading-failures",
    "sentinel-restart",
    "fenced-writes",
    "sentinel-stall",
    "slow-links",
    "most-up-to-date-promoted",
    "sentinel-lost-disk",
    "manual-switchover",
    "early-master-crash",
    "strict-master-isolated",
    "asymmetric-partition",
    "replica-with-master",
    "paused-master",
    "restart-loop",
];

/// A scenario's settings, fault schedule, time of the fault and expectations.
pub type Plan = (Settings, Vec<(Duration, Fault)>, Option<Duration>, Expect);

/// A scenario's settings, fault schedule, fault time and expectations.
pub fn scenario(name: &str, base: &Settings) -> Option<Plan> {
    let mut s = base.clone();
    let sec = Duration::from_secs;
    let all_but = |h: &str, s: &Settings| -> Vec<String> {
        (0..s.servers)
            .map(server_host)
            .chain((0..s.sentinels).map(sentinel_host))
            .chain([CLIENTS.to_string()])
            .filter(|x| x != h)
            .collect()
    };
    let sentinels: Vec<String> = (0..s.sentinels).map(sentinel_host).collect();
    let bound = s.down_after_ms + 2 * s.failover_timeout_ms + 5000;
    // After the sentinels' second INFO round (10 s): they know every replica, as they would
    // in any deployment that has run for a while (replicas are learned only from INFO).
    let fault = sec(12);
    // s1 cut off from the sentinels and its replicas (not from the clients), then healed.
    let isolate_s1 = || {
        let cut: Vec<String> = sentinels
            .iter()
            .cloned()
            .chain(["s2".into(), "s3".into()])
            .collect();
        vec![
            (fault, Fault::Partition(vec!["s1".into()], cut.clone())),
            (sec(26), Fault::Repair(vec!["s1".into()], cut)),
        ]
    };
    let mut e = Expect::default();
    let f: Vec<(Duration, Fault)> = match name {
        "master-crash" => {
            e.failover_within_ms = Some(bound);
            vec![(fault, Fault::Crash("s1".into()))]
        }
        "early-master-crash" => {
            // The master dies 4 s after start, before the sentinels' second INFO round of
            // Redis's 10 s period: they must know its replicas already (INFO every second
            // while none is known) and fail over as fast as later on.
            e.failover_within_ms = Some(s.down_after_ms + 5000);
            vec![(sec(4), Fault::Crash("s1".into()))]
        }
        "manual-switchover" => {
            // SENTINEL FAILOVER while the clients write, with no fencing configured: the
            // master hands over with FAILOVER, so not one acknowledged write may be lost.
            e.failover_within_ms = Some(bound);
            e.no_lost_writes = true;
            vec![(fault, Fault::ManualFailover(sentinel_host(0)))]
        }
        "master-partitioned" => {
            // Cut off from everyone; after the heal it must be demoted.
            e.failover_within_ms = Some(bound);
            let others = all_but("s1", &s);
            vec![
                (fault, Fault::Partition(vec!["s1".into()], others.clone())),
                (sec(26), Fault::Repair(vec!["s1".into()], others)),
            ]
        }
        "master-isolated-from-sentinels" => {
            // The clients still reach it: the split-brain window is measured.
            e.failover_within_ms = Some(bound);
            isolate_s1()
        }
        "strict-master-isolated" => {
            // failover-safety strict (docs/failover-safety.md, rules 1 and 3): cut off from
            // its replicas and the sentinels, the master acknowledges nothing more and
            // serves no data; the clients still reach it. Classic mode loses about 1,750
            // acknowledged writes here (master-isolated-from-sentinels).
            s.strict = true;
            e.failover_within_ms = Some(bound);
            e.no_lost_writes = true;
            isolate_s1()
        }
        "asymmetric-partition" => {
            // s1 hears nobody but the clients (its replicas' ACKs and the sentinels' PINGs
            // are lost) while everyone still hears it: it keeps streaming and answering
            // the clients. Classic mode loses what it acknowledges meanwhile.
            e.failover_within_ms = Some(bound);
            let cut: Vec<String> = sentinels
                .iter()
                .cloned()
                .chain(["s2".into(), "s3".into()])
                .collect();
            vec![
                (
                    fault,
                    Fault::PartitionOneWay(cut.clone(), vec!["s1".into()]),
                ),
                (sec(26), Fault::Repair(cut, vec!["s1".into()])),
            ]
        }
        "replica-with-master" => {
            // s1 and s2 on one side, s3 and the sentinels on the other; the clients reach
            // both. Classic mode promotes s3 and loses what s1 acknowledges with s2's ACKs;
            // strict mode cannot fence s2, so it waits (and s1 keeps serving).
            let a: Vec<String> = vec!["s1".into(), "s2".into()];
            let b: Vec<String> = sentinels.iter().cloned().chain(["s3".into()]).collect();
            vec![
                (fault, Fault::Partition(a.clone(), b.clone())),
                (sec(26), Fault::Repair(a, b)),
            ]
        }
        "paused-master" => {
            // The master process stops for 6 s (a GC pause, SIGSTOP): nothing reaches it or
            // leaves it, then everything queued is delivered at once.
            e.failover_within_ms = Some(bound);
            let others = all_but("s1", &s);
            vec![
                (fault, Fault::Hold(vec!["s1".into()], others.clone())),
                (sec(18), Fault::Release(vec!["s1".into()], others)),
            ]
        }
        "restart-loop" => {
            // Servers crash and come back (empty, from their configuration) one after the
            // other, the master among them.
            e.failover_within_ms = Some(bound);
            s.duration = sec(150);
            s.writes_until = sec(58);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(20), Fault::Restart("s1".into())),
                (sec(26), Fault::Crash("s2".into())),
                (sec(30), Fault::Restart("s2".into())),
                (sec(36), Fault::CrashMaster),
                (sec(44), Fault::RestartCrashed),
            ]
        }
        "sentinel-crash-during-election" => {
            e.failover_within_ms = Some(bound);
            vec![
                (fault, Fault::Crash("s1".into())),
                (
                    fault + Duration::from_millis(s.down_after_ms + 200),
                    Fault::Crash("t1".into()),
                ),
                (sec(30), Fault::Restart("t1".into())),
            ]
        }
        "no-quorum" => {
            s.quorum = 3;
            e.no_failover = true;
            vec![
                (sec(4), Fault::Crash("t3".into())),
                (fault, Fault::Crash("s1".into())),
                (sec(30), Fault::Restart("s1".into())),
            ]
        }
        "priority-zero" => {
            s.priorities = vec![100, 0, 100];
            e.failover_within_ms = Some(bound);
            e.never_master = Some("s2".into());
            vec![(fault, Fault::Crash("s1".into()))]
        }
        "flapping-links" => {
            let mut v = Vec::new();
            let mut t = fault;
            for k in 0..12 {
                let f = if k % 2 == 0 {
                    Fault::Partition(vec!["s1".into()], sentinels.clone())
                } else {
                    Fault::Repair(vec!["s1".into()], sentinels.clone())
                };
                v.push((t, f));
                t += Duration::from_millis(s.down_after_ms * 7 / 10);
            }
            v.push((t, Fault::Repair(vec!["s1".into()], sentinels.clone())));
            v
        }
        "cascading-failures" => {
            e.failover_within_ms = Some(bound);
            // The first failover's winner is crashed later too; the last server remains.
            s.duration = sec(150);
            s.writes_until = sec(58);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(38), Fault::CrashMaster),
            ]
        }
        "sentinel-restart" => {
            e.failover_within_ms = Some(bound);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(30), Fault::Restart("t1".into())),
                (sec(31), Fault::Restart("t2".into())),
            ]
        }
        "fenced-writes" => {
            // min-replicas-to-write plus WAIT on all replicas: no acknowledged write lost.
            s.min_replicas = 1;
            s.wait_replicas = 2;
            e.failover_within_ms = Some(bound);
            e.no_lost_writes = true;
            vec![(fault, Fault::Crash("s1".into()))]
        }
        "sentinel-stall" => {
            // A stopped sentinel process: TILT, no action from it meanwhile; a later master
            // crash is still handled by the others.
            e.tilt = true;
            e.failover_within_ms = Some(bound);
            vec![
                (sec(6), Fault::Stall("t1".into(), sec(4))),
                (fault, Fault::Crash("s1".into())),
            ]
        }
        "most-up-to-date-promoted" => {
            // s3 stops receiving the stream 4 s before the crash: s2 has the larger offset
            // and must be the one promoted.
            e.failover_within_ms = Some(bound);
            e.never_master = Some("s3".into());
            vec![
                (sec(8), Fault::Hold(vec!["s1".into()], vec!["s3".into()])),
                (fault, Fault::Crash("s1".into())),
                (
                    sec(20),
                    Fault::Release(vec!["s1".into()], vec!["s3".into()]),
                ),
            ]
        }
        "sentinel-lost-disk" => {
            // After a failover, a sentinel loses its state file and restarts from the
            // original configuration: it learns the current master from the others' hellos.
            e.failover_within_ms = Some(bound);
            vec![
                (fault, Fault::Crash("s1".into())),
                (sec(24), Fault::LoseDisk("t1".into())),
            ]
        }
        "slow-links" => {
            // 200 ms more on every link of the master: slower, but no false failover.
            e.no_failover = true;
            let others = all_but("s1", &s);
            vec![
                (
                    sec(5),
                    Fault::Latency(
                        vec!["s1".into()],
                        others.clone(),
                        Duration::from_millis(200),
                    ),
                ),
                (
                    sec(25),
                    Fault::Latency(vec!["s1".into()], others, Duration::from_millis(1)),
                ),
            ]
        }
        _ => return None,
    };
    // The time the checkers measure from: the main fault's.
    let at = if name == "early-master-crash" {
        sec(4)
    } else {
        fault
    };
    Some((s, f, Some(at), e))
}

/// Run a named scenario for one seed.
pub fn run_scenario(name: &str, seed: u64, base: &Settings) -> Result<Report, String> {
    let (s, faults, at, expect) =
        scenario(name, base).ok_or_else(|| format!("unknown scenario {name}"))?;
    let (o, applied) = run(seed, &s, &faults)?;
    let mut r = check(seed, &s, at, &expect, &o, &applied);
    if !r.failures.is_empty() {
        r.failures.push(format!("faults: {applied:?}"));
        r.failures
            .push(format!("master changes: {:?}", o.master_changes));
    }
    let _ = show;
    Ok(r)
}

/// Acknowledgements of one server closer than this belong to one window of it acting as
/// master (split-brain measure; deploy/jepsen.py uses the same 1 s).
const SPLIT_GAP_MS: u64 = 1000;

/// One server's acknowledgement times merged into windows `[first, last]`, a new window
/// after a gap of SPLIT_GAP_MS or more.
fn ack_windows(times: &mut [u64]) -> Vec<(u64, u64)> {
    times.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &t in times.iter() {
        match out.last_mut() {
            Some(w) if t - w.1 < SPLIT_GAP_MS => w.1 = t,
            _ => out.push((t, t)),
        }
    }
    out
}

/// One seed of the scenario `name` on `base` (a variant of the standard deployment: TLS,
/// ACL users), checked as the plain scenarios are, plus: the final master acknowledged
/// writes after the fault (the failover served, not only happened). The run's outcome,
/// for the variant's own checks; `what` names the variant in errors.
pub fn run_variant(seed: u64, name: &str, what: &str, base: &Settings) -> Result<Observed, String> {
    let (s, faults, at, expect) =
        scenario(name, base).ok_or_else(|| format!("unknown scenario {name}"))?;
    let (o, applied) = super::run(seed, &s, &faults)?;
    let r = check(seed, &s, at, &expect, &o, &applied);
    if !r.failures.is_empty() {
        return Err(format!(
            "scenario {name} {what}: {}\n  faults: {applied:?}\n  master changes: {:?}",
            r.failures.join("\n  "),
            o.master_changes
        ));
    }
    let fault_ms = at.map_or(0, |t| t.as_millis() as u64);
    let new = o.final_master.clone().ok_or("no final master")?;
    let after = o
        .history
        .iter()
        .filter(|op| op.outcome == Outcome::Ok && op.server == new && op.at_ms > fault_ms)
        .count();
    if after == 0 {
        return Err(format!(
            "no write acknowledged by the new master {new} after the fault"
        ));
    }
    Ok(o)
}

#[cfg(test)]
mod split_tests {
    use super::ack_windows;

    #[test]
    fn acknowledgements_merge_into_windows_split_by_gaps() {
        let mut t = vec![5000, 100, 900, 1800, 7000, 6500];
        assert_eq!(
            ack_windows(&mut t),
            vec![(100, 1800), (5000, 5000), (6500, 7000)]
        );
        assert_eq!(ack_windows(&mut []), vec![]);
    }
}
