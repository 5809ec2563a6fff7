//! Failover-related features with real processes: notification and client-reconfig
//! scripts and their arguments, SIMULATE-FAILURE crash-after-election, failover against
//! Redis servers whose commands are renamed, and master-reboot-down-after-period.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::*;

/// A script that appends `<argc>|<arg1>|<arg2>|...` to `out`.
fn recorder(dir: &Path, name: &str, out: &Path) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nline=\"$#\"\nfor a in \"$@\"; do line=\"$line|$a\"; done\necho \"$line\" >> '{}'\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn notification_and_client_reconfig_scripts_get_redis_arguments() {
    let srv = servers(None, &[]);
    let old = srv[0].port;
    let scripts = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut sentinels = Vec::new();
    for i in 0..3 {
        let notes = scripts.path().join(format!("notify-{i}.log"));
        let reconf = scripts.path().join(format!("reconf-{i}.log"));
        let n = recorder(scripts.path(), &format!("notify-{i}.sh"), &notes);
        let r = recorder(scripts.path(), &format!("reconf-{i}.sh"), &reconf);
        // Sentinel 0 gets its notification script through SENTINEL SET (allowed by
        // deny-scripts-reconfig no); the others from their files.
        let extra = if i == 0 {
            format!(
                "sentinel deny-scripts-reconfig no\nsentinel client-reconfig-script mymaster {}\n",
                r.display()
            )
        } else {
            format!(
                "sentinel notification-script mymaster {}\nsentinel client-reconfig-script mymaster {}\n",
                n.display(),
                r.display()
            )
        };
        sentinels.push(sentinel(None, free_port(), old, 2, &extra));
        files.push((n, notes, reconf));
    }
    let s0 = sentinels[0].port;
    let not_exec = scripts.path().join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    assert_eq!(
        cmd(
            s0,
            &[
                "SENTINEL",
                "SET",
                "mymaster",
                "notification-script",
                &not_exec.display().to_string()
            ]
        ),
        R::E("ERR Notification script seems non existing or non executable".into())
    );
    assert_eq!(
        cmd(
            s0,
            &[
                "SENTINEL",
                "SET",
                "mymaster",
                "client-reconfig-script",
                "/nonexistent"
            ]
        ),
        R::E("ERR Client reconfiguration script seems non existing or non executable".into())
    );
    let n0 = files[0].0.display().to_string();
    assert_eq!(
        cmd(
            s0,
            &["SENTINEL", "SET", "mymaster", "notification-script", &n0]
        ),
        R::S("OK".into())
    );
    assert_eq!(
        cmd(s0, &["SENTINEL", "MASTER", "mymaster"])
            .field("notification-script")
            .as_deref(),
        Some(n0.as_str())
    );
    assert!(sentinels[0]
        .conf_text()
        .contains(&format!("sentinel notification-script mymaster {n0}\n")));
    wait_discovery(&sentinels);
    let rxs: Vec<_> = sentinels.iter().map(|s| events(s.port)).collect();

    let mut srv = srv;
    srv[0].kill9();
    let old_addr = format!("127.0.0.1:{old}");
    let refs: Vec<&Proc> = sentinels.iter().collect();
    let new = wait_switch(&refs, &old_addr, 60);
    let new_port = port_of(&new);
    let mut evs: Vec<Vec<(String, String)>> = vec![Vec::new(); 3];
    wait_for("the leader's +failover-end", 30, || {
        for (i, rx) in rxs.iter().enumerate() {
            evs[i].extend(rx.try_iter());
        }
        evs.iter()
            .any(|e| e.iter().any(|(k, _)| k == "+failover-end"))
    });
    let leader = evs
        .iter()
        .position(|e| e.iter().any(|(k, _)| k == "+elected-leader"))
        .expect("a leader");

    // Notification scripts: `<event> <description>` for WARNING events only.
    let at_old = format!("master mymaster 127.0.0.1 {old}");
    for (i, (_, notes, _)) in files.iter().enumerate() {
        wait_for("notification script runs", 20, || {
            let l = lines(notes);
            // Every sentinel saw the master down; the leader also reached ODOWN (an
            // observer may learn the new master from the leader before its own ODOWN).
            l.contains(&format!("2|+sdown|{at_old}"))
                && (i != leader
                    || l.iter()
                        .any(|x| x.starts_with(&format!("2|+odown|{at_old} #quorum "))))
                && l.contains(&format!(
                    "2|+switch-master|mymaster 127.0.0.1 {old} 127.0.0.1 {new_port}"
                ))
        });
        let l = lines(notes);
        assert!(
            l.iter().all(|x| x.starts_with("2|")),
            "sentinel {i}: {l:#?}"
        );
        // NOTICE events (+slave, +sentinel, +slave-reconf-sent...) run no script.
        assert!(
            !l.iter()
                .any(|x| x.starts_with("2|+slave|") || x.starts_with("2|+sentinel|")),
            "sentinel {i}: {l:#?}"
        );
        if i == leader {
            assert!(l.contains(&format!("2|+elected-leader|{at_old}")), "{l:#?}");
        }
    }
    // Client reconfig scripts: `<master> leader|observer start <from> <to>`.
    for (i, (_, _, reconf)) in files.iter().enumerate() {
        let role = if i == leader { "leader" } else { "observer" };
        let want = format!("7|mymaster|{role}|start|127.0.0.1|{old}|127.0.0.1|{new_port}");
        wait_for("client reconfig script runs", 20, || {
            lines(reconf).contains(&want)
        });
        assert_eq!(lines(reconf), [want], "sentinel {i}");
    }
}

#[test]
fn crash_after_election_exits_99_and_the_others_fail_over_later() {
    let mut d = deploy(None, &[], "sentinel failover-timeout mymaster 4000\n");
    for s in &d.sentinels {
        assert_eq!(
            cmd(
                s.port,
                &["SENTINEL", "SIMULATE-FAILURE", "crash-after-election"]
            ),
            R::S("OK".into())
        );
        assert_eq!(info_field(s.port, "sentinel_simulate_failure_flags"), "1");
    }
    let rxs: Vec<_> = d.sentinels.iter().map(|s| events(s.port)).collect();
    let old = format!("127.0.0.1:{}", d.servers[0].port);
    d.servers[0].kill9();
    // The first elected leader exits with 99 right after +elected-leader.
    let mut crashed = None;
    wait_for("a sentinel to crash after its election", 30, || {
        for (i, s) in d.sentinels.iter_mut().enumerate() {
            if let Ok(Some(st)) = s.child.try_wait() {
                crashed = Some((i, st));
                return true;
            }
        }
        false
    });
    let (dead, status) = crashed.unwrap();
    assert_eq!(status.code(), Some(99), "{}", d.sentinels[dead].log());
    // Disarm the others (as Redis, any SIMULATE-FAILURE call clears the flags first).
    let alive: Vec<usize> = (0..3).filter(|i| *i != dead).collect();
    for &i in &alive {
        let r = cmd(
            d.sentinels[i].port,
            &["SENTINEL", "SIMULATE-FAILURE", "help"],
        );
        assert_eq!(r.items().len(), 2);
        assert_eq!(
            info_field(d.sentinels[i].port, "sentinel_simulate_failure_flags"),
            "0"
        );
    }
    // Its log ends with the election (the published event may not leave the process).
    let log = d.sentinels[dead].log();
    let elected = log.rfind("+elected-leader").expect("elected");
    assert!(
        !log[elected..].contains("+failover-state-select-slave"),
        "{log}"
    );
    drop(rxs);
    // Nobody switched yet; the two others fail over in a later epoch, after
    // 2 x failover-timeout.
    assert_eq!(master_addr(d.sentinels[alive[0]].port), old);
    let refs: Vec<&Proc> = alive.iter().map(|&i| &d.sentinels[i]).collect();
    let new = wait_switch(&refs, &old, 60);
    let port = port_of(&new);
    assert_eq!(cmd(port, &["ROLE"]).items()[0].s(), "master");
    let epoch: u64 = cmd(refs[0].port, &["SENTINEL", "MASTER", "mymaster"])
        .field("config-epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        epoch >= 2,
        "a later epoch than the crashed leader's: {epoch}"
    );
}

#[test]
fn failover_of_redis_servers_with_renamed_commands() {
    let Some(redis) = redis_bin() else { return };
    let renames = [
        "--rename-command",
        "CONFIG",
        "xconfig",
        "--rename-command",
        "SLAVEOF",
        "xslaveof",
    ];
    let mut srv = servers(Some(&redis), &renames);
    // The renames are real: Sentinel's default names are refused.
    let r = cmd(srv[1].port, &["SLAVEOF", "NO", "ONE"]);
    assert!(
        matches!(&r, R::E(e) if e.starts_with("ERR unknown command")),
        "{r:?}"
    );
    let master = srv[0].port;
    let extra = "sentinel rename-command mymaster CONFIG xconfig\nsentinel rename-command mymaster SLAVEOF xslaveof\n";
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel(None, free_port(), master, 2, extra))
        .collect();
    wait_discovery(&sentinels);
    // Saved with the spelling given, as Redis saves it.
    assert!(sentinels[0]
        .conf_text()
        .contains("sentinel rename-command mymaster CONFIG xconfig\n"));
    let old = format!("127.0.0.1:{master}");
    srv[0].kill9();
    let refs: Vec<&Proc> = sentinels.iter().collect();
    let new = wait_switch(&refs, &old, 60);
    let port = port_of(&new);
    assert_eq!(cmd(port, &["ROLE"]).items()[0].s(), "master");
    // The other replica was moved with the renamed SLAVEOF.
    let other = srv[1..].iter().find(|s| s.port != port).unwrap();
    wait_for("the other replica follows the new master", 30, || {
        info_field(other.port, "master_port") == port.to_string()
            && info_field(other.port, "master_link_status") == "up"
    });
    // The old master rejoins as a replica (converted with the renamed SLAVEOF too).
    srv[0] = server(Some(&redis), master, None, &renames);
    wait_for("old master converted", 40, || {
        info_field(master, "role") == "slave"
            && info_field(master, "master_port") == port.to_string()
    });
}

/// `master-reboot-down-after-period`: a master that restarts quickly but then answers
/// `-LOADING` (available for the PING rule) is failed over once its reboot is older than
/// the period. The master loads slowly thanks to Redis's `key-load-delay`.
fn reboot_scenario(redis: &Path, picket_sentinels: bool) {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_path_buf();
    let debug = ["--enable-debug-command", "yes"];
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut srv = vec![server_in(Some(redis), ports[0], None, &debug, dir)];
    for p in &ports[1..] {
        srv.push(server(Some(redis), *p, Some(ports[0]), &debug));
    }
    for p in &ports[1..] {
        wait_for("replica link", 20, || {
            info_field(*p, "master_link_status") == "up"
        });
    }
    let mut c = Client::connect(ports[0]);
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "3000", "key", "100"]),
        R::S("OK".into())
    );
    // (SAVE is refused while a replica's sync child runs.)
    wait_for("SAVE", 10, || c.cmd(&["SAVE"]) == R::S("OK".into()));
    // Down-after is long: only the reboot rule can fail the loading master over.
    let extra = "sentinel down-after-milliseconds mymaster 20000\nsentinel master-reboot-down-after-period mymaster 1000\n";
    let kind = (!picket_sentinels).then_some(redis);
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel(kind, free_port(), ports[0], 2, extra))
        .collect();
    wait_discovery(&sentinels);
    // INFO every second, so the new run id is seen soon.
    for s in &sentinels {
        assert_eq!(
            cmd(s.port, &["SENTINEL", "DEBUG", "info-period", "1000"]),
            R::S("OK".into())
        );
    }
    let rxs: Vec<_> = sentinels.iter().map(|s| events(s.port)).collect();
    srv[0].kill9();
    let dir = std::mem::replace(&mut srv[0].dir, tempfile::tempdir().unwrap());
    assert_eq!(dir.path(), dir_path);
    // 3000 keys x 8 ms: loading takes 24 s, events processed every 1 KB.
    srv[0] = server_in(
        Some(redis),
        ports[0],
        None,
        &[
            "--enable-debug-command",
            "yes",
            "--key-load-delay",
            "8000",
            "--loading-process-events-interval-bytes",
            "1024",
        ],
        dir,
    );
    let r = cmd(ports[0], &["PING"]);
    assert!(matches!(&r, R::E(e) if e.starts_with("LOADING")), "{r:?}");
    let mut seen = Vec::new();
    let at = format!("master mymaster 127.0.0.1 {}", ports[0]);
    wait_event(&rxs[0], &mut seen, "+reboot", 15, |m| m == at);
    let refs: Vec<&Proc> = sentinels.iter().collect();
    let new = wait_switch(&refs, &format!("127.0.0.1:{}", ports[0]), 30);
    assert_eq!(cmd(port_of(&new), &["ROLE"]).items()[0].s(), "master");
    // The loading master was judged down (by whichever sentinels got there first: one that
    // learns the new master from another before its own check never says +sdown).
    seen.extend(rxs.iter().flat_map(|rx| rx.try_iter()));
    assert!(
        seen.iter().any(|(k, m)| k == "+sdown" && *m == at),
        "no sentinel reported the rebooted master down: {seen:#?}"
    );
}

#[test]
fn master_reboot_down_after_period_with_redis_sentinels() {
    let Some(redis) = redis_bin() else { return };
    reboot_scenario(&redis, false);
}

#[test]
fn master_reboot_down_after_period_with_picket_sentinels() {
    let Some(redis) = redis_bin() else { return };
    reboot_scenario(&redis, true);
}

/// The script queue as Redis's: a notification script that exits 1 is retried after
/// `script-retry-delay`; one that outlives `script-max-runtime` gets `-script-timeout` and
/// SIGKILL and is retried with the delay doubled; one that exits 2 gives `-script-error
/// <path> 0 2`. SENTINEL PENDING-SCRIPTS and INFO show the queue meanwhile.
#[test]
fn failing_scripts_are_retried_timed_out_and_reported() {
    script_queue(None);
}

/// The same script queue scenario with redis-sentinel 7.0 (the reference for the replies and
/// payloads above).
#[test]
fn redis_sentinel_retries_times_out_and_reports_scripts_alike() {
    let Some(redis) = redis_bin() else { return };
    script_queue(Some(&redis));
}

fn script_queue(redis: Option<&Path>) {
    let mut srv = servers(None, &[]);
    let master = srv[0].port;
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let script = dir.path().join("flaky.sh");
    // Only +sdown of the master counts; run 1 exits 1, run 2 hangs, run 3 exits 2.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = \"+sdown\" ] && [ \"${{2%% *}}\" = master ] || exit 0\n\
             echo x >> '{runs}'\nn=$(wc -l < '{runs}')\n\
             [ \"$n\" -eq 1 ] && exit 1\n[ \"$n\" -eq 2 ] && exec sleep 30\nexit 2\n",
            runs = runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = script.display().to_string();
    let s = sentinel(
        redis,
        free_port(),
        master,
        2,
        &format!("sentinel notification-script mymaster {path}\n"),
    );
    assert_eq!(
        cmd(
            s.port,
            &[
                "SENTINEL",
                "DEBUG",
                "script-retry-delay",
                "700",
                "script-max-runtime",
                "1500"
            ]
        ),
        R::S("OK".into())
    );
    // The script also runs (and exits 0) for the start-up +monitor event.
    wait_for("an empty queue", 10, || {
        cmd(s.port, &["SENTINEL", "PENDING-SCRIPTS"]) == R::A(vec![])
    });
    let rx = events(s.port);
    let mut seen = Vec::new();
    srv[0].kill9();
    wait_event(&rx, &mut seen, "+sdown", 20, |m| m.starts_with("master "));

    // After run 1 exits 1: scheduled again, with a delay, one run done.
    let mut job = R::A(vec![]);
    wait_for("the job waiting for its retry", 10, || {
        job = cmd(s.port, &["SENTINEL", "PENDING-SCRIPTS"]);
        job.items().first().is_some_and(|j| {
            j.field("flags").as_deref() == Some("scheduled")
                && j.field("retry-num").as_deref() == Some("1")
        })
    });
    let j = &job.items()[0];
    assert_eq!(j.keys(), ["argv", "flags", "pid", "run-delay", "retry-num"]);
    assert_eq!(j.field("pid").as_deref(), Some("0"));
    let delay: u64 = j.field("run-delay").unwrap().parse().unwrap();
    assert!(delay <= 700, "run-delay {delay}");
    let argv: Vec<String> = j.items()[1].items().iter().map(R::s).collect();
    assert_eq!(argv[0], path);
    assert_eq!(argv[1], "+sdown");
    assert_eq!(argv[2], format!("master mymaster 127.0.0.1 {master}"));

    // Run 2 hangs: running, with its pid, counted by INFO; then killed.
    wait_for("the second run", 10, || {
        job = cmd(s.port, &["SENTINEL", "PENDING-SCRIPTS"]);
        job.items().first().is_some_and(|j| {
            j.field("flags").as_deref() == Some("running")
                && j.field("retry-num").as_deref() == Some("2")
        })
    });
    let j = &job.items()[0];
    assert_eq!(j.keys(), ["argv", "flags", "pid", "run-time", "retry-num"]);
    let pid = j.field("pid").unwrap();
    assert_ne!(pid, "0");
    assert_eq!(info_field(s.port, "sentinel_running_scripts"), "1");
    assert_eq!(info_field(s.port, "sentinel_scripts_queue_length"), "1");
    let timeout = wait_event(&rx, &mut seen, "-script-timeout", 10, |_| true);
    assert_eq!(timeout, format!("{path} {pid}"));

    // Run 3 exits 2: reported, and the queue is empty.
    let err = wait_event(&rx, &mut seen, "-script-error", 10, |_| true);
    assert_eq!(err, format!("{path} 0 2"));
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 3);
    wait_for("the queue to empty", 5, || {
        cmd(s.port, &["SENTINEL", "PENDING-SCRIPTS"]) == R::A(vec![])
    });
    assert_eq!(info_field(s.port, "sentinel_scripts_queue_length"), "0");
}

/// A replica that restarts (new run id) is reported as `+reboot` with the replica's
/// description, as Redis Sentinel does for every instance, not only masters.
fn replica_reboot(redis: Option<&Path>) {
    let mut srv = servers(None, &[]);
    let (master, replica) = (srv[0].port, srv[1].port);
    let s = sentinel(redis, free_port(), master, 2, "");
    assert_eq!(
        cmd(s.port, &["SENTINEL", "DEBUG", "info-period", "500"]),
        R::S("OK".into())
    );
    // Both replicas known, with the run ids their INFO gave.
    wait_for("the replicas' run ids", 20, || {
        let r = cmd(s.port, &["SENTINEL", "REPLICAS", "mymaster"]).items();
        r.len() == 2
            && r.iter()
                .all(|i| i.field("runid").is_some_and(|id| id.len() == 40))
    });
    let rx = events(s.port);
    srv[1].kill9();
    srv[1] = server(None, replica, Some(master), &[]);
    let mut seen = Vec::new();
    let at = format!("slave 127.0.0.1:{replica} 127.0.0.1 {replica} @ mymaster 127.0.0.1 {master}");
    wait_event(&rx, &mut seen, "+reboot", 20, |m| m == at);
    assert!(
        !seen.iter().any(|(k, _)| k == "+sdown"),
        "a quick restart is no failure: {seen:?}"
    );
}

#[test]
fn replica_reboot_is_reported() {
    replica_reboot(None);
}

#[test]
fn redis_sentinel_reports_replica_reboot_alike() {
    let Some(redis) = redis_bin() else { return };
    replica_reboot(Some(&redis));
}
