//! The SENTINEL command family, with Redis 7.0's replies and errors: instance maps in
//! Redis's field order (a flat array in RESP2, a map in RESP3), SET / CONFIG / DEBUG /
//! SIMULATE-FAILURE / MONITOR / REMOVE / RESET / INFO-CACHE / IS-MASTER-DOWN-BY-ADDR.

use std::sync::Arc;

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::{lower, text};
use super::{AfterSave, AwaitSave};
use crate::core::{
    Action, Addr, Command, Core, Input, Instance, InstanceKind, Master, PeerSentinel, Replica,
    Reply, Timers,
};
use crate::shell::{Saving, Shared};

mod settings;
use settings::{config_get, executable_scripts};

/// Which instance of a master an instance map is about, with what its role has.
#[derive(Clone, Copy)]
enum Who<'a> {
    Master,
    Replica(&'a Replica),
    Sentinel(&'a PeerSentinel),
}

/// An instance map, Redis's field order.
fn fields(core: &Core, m: &Master, who: Who<'_>, now: u64) -> Vec<(&'static str, String)> {
    let (inst, kind) = match who {
        Who::Master => (&m.inst, InstanceKind::Master),
        Who::Replica(r) => (&r.inst, InstanceKind::Replica),
        Who::Sentinel(s) => (&s.inst, InstanceKind::Sentinel),
    };
    let ago = |t: Option<u64>| t.map_or(0, |t| now.saturating_sub(t)).to_string();
    // Addresses as announce-hostnames says (names, or the IPs they resolved to); a
    // replica is named by its shown `ip:port`, as Redis names it.
    let name = match who {
        Who::Replica(r) => core.shown_replica_name(r),
        _ => inst.name.clone(),
    };
    let mut f: Vec<(&'static str, String)> = vec![
        ("name", name),
        ("ip", core.shown_host(&inst.addr.host)),
        ("port", inst.addr.port.to_string()),
        ("runid", inst.runid.clone().unwrap_or_default()),
        (
            "flags",
            match who {
                Who::Master => m.flags(),
                Who::Replica(r) => r.flags(),
                Who::Sentinel(s) => s.flags(),
            },
        ),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
    ];
    if kind == InstanceKind::Master && m.in_failover() {
        f.push(("failover-state", m.failover_state.name().into()));
    }
    f.push(("last-ping-sent", ago(inst.act_ping)));
    f.push((
        "last-ok-ping-reply",
        now.saturating_sub(inst.last_avail).to_string(),
    ));
    f.push((
        "last-ping-reply",
        ago(inst.last_pong.or(Some(inst.link_since))),
    ));
    if let Some(t) = inst.sdown_since {
        f.push(("s-down-time", now.saturating_sub(t).to_string()));
    }
    if kind == InstanceKind::Master {
        if let Some(t) = m.odown_since {
            f.push(("o-down-time", now.saturating_sub(t).to_string()));
        }
    }
    f.push(("down-after-milliseconds", m.down_after.to_string()));
    if kind != InstanceKind::Sentinel {
        f.push(("info-refresh", ago(inst.info_refresh)));
        f.push((
            "role-reported",
            match inst.role {
                crate::core::Role::Slave => "slave",
                crate::core::Role::Master => "master",
                crate::core::Role::Unknown => {
                    if kind == InstanceKind::Master {
                        "master"
                    } else {
                        "slave"
                    }
                }
            }
            .into(),
        ));
        f.push((
            "role-reported-time",
            now.saturating_sub(inst.role_time).to_string(),
        ));
    }
    match who {
        Who::Master => {
            f.push(("config-epoch", m.config_epoch.to_string()));
            f.push(("num-slaves", m.replicas.len().to_string()));
            f.push(("num-other-sentinels", m.sentinels.len().to_string()));
            f.push(("quorum", m.quorum.to_string()));
            f.push(("failover-timeout", m.failover_timeout.to_string()));
            f.push(("parallel-syncs", m.parallel_syncs.to_string()));
            if let Some(s) = &m.notification_script {
                f.push(("notification-script", s.clone()));
            }
            if let Some(s) = &m.client_reconfig_script {
                f.push(("client-reconfig-script", s.clone()));
            }
        }
        Who::Replica(r) => {
            f.push(("master-link-down-time", r.master_link_down_ms.to_string()));
            f.push((
                "master-link-status",
                if r.master_link_up { "ok" } else { "err" }.into(),
            ));
            f.push((
                "master-host",
                r.master_host.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("master-port", r.master_port.to_string()));
            f.push(("slave-priority", r.priority.to_string()));
            f.push(("slave-repl-offset", r.repl_offset.to_string()));
            f.push(("replica-announced", u8::from(r.announced).to_string()));
        }
        Who::Sentinel(s) => {
            f.push(("last-hello-message", ago(s.last_hello)));
            f.push((
                "voted-leader",
                s.leader.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("voted-leader-epoch", s.leader_epoch.to_string()));
        }
    }
    f
}

fn reply_map(out: &mut ReplyBuf, f: &[(&'static str, String)]) {
    out.map(f.len());
    for (k, v) in f {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

fn no_master(out: &mut ReplyBuf) {
    out.error("ERR No such master with that name");
}

/// SENTINEL <subcommand> ...
/// SENTINEL PENDING-SCRIPTS: one map per queued job, as Redis's.
fn pending_scripts(shared: &Shared, now: u64, out: &mut ReplyBuf) {
    let q = shared.script_queue();
    out.array(q.len());
    for j in q.jobs() {
        out.map(5);
        out.bulk(b"argv");
        out.array(j.argv.len());
        for a in &j.argv {
            out.bulk(a.as_bytes());
        }
        out.bulk(b"flags");
        out.bulk(if j.running { b"running" } else { b"scheduled" });
        out.bulk(b"pid");
        out.bulk(j.pid.to_string().as_bytes());
        if j.running {
            out.bulk(b"run-time");
            out.bulk(now.saturating_sub(j.start_time).to_string().as_bytes());
        } else {
            out.bulk(b"run-delay");
            out.bulk(j.start_time.saturating_sub(now).to_string().as_bytes());
        }
        out.bulk(b"retry-num");
        out.bulk(j.retry_num.to_string().as_bytes());
    }
}

pub(super) fn command(
    shared: &Arc<Shared>,
    out: &mut ReplyBuf,
    args: &[Bytes],
    wait: &mut Option<AwaitSave>,
    unresolvable: Option<&str>,
) {
    let Some(sub) = args.get(1).map(lower) else {
        out.error("ERR wrong number of arguments for 'sentinel' command");
        return;
    };
    let n = args.len();
    let arity = |out: &mut ReplyBuf| {
        out.error(&format!(
            "ERR wrong number of arguments for 'sentinel|{sub}' command"
        ))
    };
    let now = shared.now();
    let mut core = shared.lock();
    let mut after: Vec<Action> = Vec::new();
    match sub.as_str() {
        "masters" => {
            if n != 2 {
                return arity(out);
            }
            out.array(core.masters.len());
            for m in core.masters.values() {
                reply_map(out, &fields(&core, m, Who::Master, now));
            }
        }
        "master" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => reply_map(out, &fields(&core, m, Who::Master, now)),
                None => no_master(out),
            }
        }
        "replicas" | "slaves" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => {
                    // As Redis: a replica that says `replica-announced no` is not listed
                    // (it still counts in num-slaves and INFO, and may be promoted).
                    let listed: Vec<&Replica> =
                        m.replicas.values().filter(|r| r.announced).collect();
                    out.array(listed.len());
                    for r in listed {
                        reply_map(out, &fields(&core, m, Who::Replica(r), now));
                    }
                }
                None => no_master(out),
            }
        }
        "sentinels" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => {
                    out.array(m.sentinels.len());
                    for x in m.sentinels.values() {
                        reply_map(out, &fields(&core, m, Who::Sentinel(x), now));
                    }
                }
                None => no_master(out),
            }
        }
        "get-master-addr-by-name" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => {
                    let a = core.shown(&m.current_addr());
                    out.array(2);
                    out.bulk(a.host.as_bytes());
                    out.bulk(a.port.to_string().as_bytes());
                }
                None => out.null_array(),
            }
        }
        "is-master-down-by-addr" => {
            if n != 6 {
                return arity(out);
            }
            // Redis: getLongFromObjectOrReply (port), getLongLongFromObjectOrReply (epoch).
            // An epoch is also refused when negative (Redis casts -1 to 2^64-1 and votes
            // in it): whatever is accepted stays below 2^63, so it never wraps.
            let (Some(port), Some(epoch)) = (
                picket_common::sds::string2ll(&args[3]),
                crate::core::parse_epoch(&text(&args[4])),
            ) else {
                out.error("ERR value is not an integer or out of range");
                return;
            };
            // A port out of range matches no master (Redis's createSentinelAddr fails).
            let addr = u16::try_from(port)
                .ok()
                .map(|port| Addr::new(text(&args[2]), port));
            let cmd = Command::IsMasterDownByAddr {
                addr,
                epoch,
                runid: text(&args[5]),
            };
            run(&mut core, now, cmd, out, &mut after);
        }
        "reset" => {
            if n != 3 {
                return arity(out);
            }
            let cmd = Command::Reset {
                pattern: text(&args[2]),
            };
            run(&mut core, now, cmd, out, &mut after);
        }
        "failover" => {
            if n != 3 {
                return arity(out);
            }
            let cmd = Command::Failover {
                name: text(&args[2]),
            };
            run(&mut core, now, cmd, out, &mut after);
        }
        "ckquorum" => {
            if n != 3 {
                return arity(out);
            }
            let Some(m) = core.masters.get(&text(&args[2])) else {
                return no_master(out);
            };
            let voters = m.sentinels.len() + 1;
            let usable = 1 + m
                .sentinels
                .values()
                .filter(|x| x.inst.sdown_since.is_none())
                .count();
            let majority = voters / 2 + 1;
            if usable < m.quorum as usize {
                out.error(&format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master"));
            } else if usable < majority {
                out.error(&format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover"));
            } else {
                out.simple(&format!(
                    "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                ));
            }
        }
        "flushconfig" => {
            if n != 2 {
                return arity(out);
            }
            *wait = Some(AwaitSave {
                saving: shared.save(&core),
                then: AfterSave::OkOrFailed,
            });
        }
        "monitor" => {
            if n != 6 {
                return arity(out);
            }
            let name = text(&args[2]);
            let ip = text(&args[3]);
            // Redis's checks, in its order.
            let Ok(quorum) = text(&args[5]).parse::<i64>() else {
                out.error("ERR Invalid quorum");
                return;
            };
            let Ok(port) = text(&args[4]).parse::<i64>() else {
                out.error("ERR Invalid port");
                return;
            };
            if quorum <= 0 {
                out.error("ERR Quorum must be 1 or greater.");
                return;
            }
            // Redis keeps the low 32 bits (4294967297 becomes 1): refused here.
            let Ok(quorum) = u32::try_from(quorum) else {
                out.error("ERR Quorum must be at most 4294967295.");
                return;
            };
            // Redis's anetResolve: an IP only, unless resolve-hostnames; then a name must
            // resolve (looked up before the command ran, see `commands::monitor_host`).
            let resolves = if shared.settings().resolve_hostnames {
                unresolvable != Some(ip.as_str())
            } else {
                ip.parse::<std::net::IpAddr>().is_ok()
            };
            if !resolves {
                out.error("ERR Invalid IP address or hostname specified");
                return;
            }
            let Ok(port) = u16::try_from(port) else {
                out.error("ERR Invalid port number.");
                return;
            };
            let cmd = Command::Monitor {
                name,
                addr: Addr::new(ip, port),
                quorum,
            };
            run(&mut core, now, cmd, out, &mut after);
        }
        "remove" => {
            if n != 3 {
                return arity(out);
            }
            let cmd = Command::Remove {
                name: text(&args[2]),
            };
            run(&mut core, now, cmd, out, &mut after);
        }
        "set" => {
            if n < 5 {
                return arity(out);
            }
            let words: Vec<String> = args[3..].iter().map(text).collect();
            let cmd = Command::Set {
                name: text(&args[2]),
                executable: executable_scripts(&words),
                args: words,
            };
            run(&mut core, now, cmd, out, &mut after);
        }
        "config" => {
            if n < 3 {
                return arity(out);
            }
            match (lower(&args[2]).as_str(), n) {
                ("get", 4) => config_get(&shared.settings(), &text(&args[3]), out),
                ("set", 5) => {
                    let cmd = Command::ConfigSet {
                        param: text(&args[3]),
                        value: text(&args[4]),
                    };
                    run(&mut core, now, cmd, out, &mut after);
                }
                _ => out.error(
                    "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
                ),
            }
        }
        "myid" => {
            if n != 2 {
                return arity(out);
            }
            out.bulk(core.myid.as_bytes());
        }
        "info-cache" => {
            if n < 3 {
                return arity(out);
            }
            let mut names: Vec<String> = Vec::new();
            for k in args[2..].iter().map(text) {
                if core.masters.contains_key(&k) && !names.contains(&k) {
                    names.push(k);
                }
            }
            out.array(names.len() * 2);
            for k in names {
                let m = &core.masters[&k];
                out.bulk(k.as_bytes());
                let insts: Vec<&Instance> = std::iter::once(&m.inst)
                    .chain(m.replicas.values().map(|r| &r.inst))
                    .collect();
                out.array(insts.len());
                for i in insts {
                    out.array(2);
                    out.int(i.info_refresh.map_or(0, |t| now.saturating_sub(t)) as i64);
                    match &i.info {
                        Some(t) => out.bulk(t.as_bytes()),
                        None => out.null(),
                    }
                }
            }
        }
        "simulate-failure" => {
            if n < 3 {
                return arity(out);
            }
            let flags = args[2..].iter().map(lower).collect();
            run(
                &mut core,
                now,
                Command::SimulateFailure(flags),
                out,
                &mut after,
            );
        }
        "debug" if n > 2 => {
            let cmd = Command::Debug(args[2..].iter().map(text).collect());
            run(&mut core, now, cmd, out, &mut after);
        }
        "debug" => sentinel_debug(&core, out),
        "pending-scripts" => {
            if n != 2 {
                return arity(out);
            }
            pending_scripts(shared, now, out);
        }
        "help" => {
            if n != 2 {
                return arity(out);
            }
            out.array(SENTINEL_HELP.len());
            for l in SENTINEL_HELP {
                out.simple(l);
            }
        }
        _ => out.error(&format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            text(&args[1])
        )),
    }
    // Settings the command changed (CONFIG SET) are kept first: the save writes them.
    after.retain(|a| match a {
        Action::Setting(s) => {
            shared.settings().apply(s);
            false
        }
        _ => true,
    });
    // What the command changed is on disk before its reply goes out, as Redis flushes the
    // config inside the command: a vote (IS-MASTER-DOWN-BY-ADDR) must survive a crash right
    // after it was given, or the restarted sentinel could vote again in the same epoch. The
    // write itself happens off the lock; the reply, and the actions that follow the save
    // (events, links), wait for it. A `Saved` reply is OK or the save's failure.
    let ok_once_saved = after.contains(&Action::Reply(Reply::Saved));
    if ok_once_saved || after.contains(&Action::Flush) {
        after.retain(|a| !matches!(a, Action::Flush | Action::Reply(Reply::Saved)));
        if wait.is_none() {
            *wait = Some(AwaitSave {
                saving: shared.save(&core),
                then: if ok_once_saved {
                    AfterSave::OkOrFailed
                } else {
                    AfterSave::Replied
                },
            });
        }
    }
    drop(core);
    let seq = match wait {
        Some(AwaitSave {
            saving: Saving::Queued(seq),
            ..
        }) => Some(*seq),
        _ => None,
    };
    if !after.is_empty() {
        let _ = shared.actions.send((seq, after));
    }
}

/// `SENTINEL DEBUG` parameters in the order Redis lists them.
const DEBUG_ORDER: [&str; 13] = [
    "info-period",
    "ping-period",
    "ask-period",
    "publish-period",
    "default-down-after",
    "default-failover-timeout",
    "tilt-trigger",
    "tilt-period",
    "slave-reconf-timeout",
    "min-link-reconnect-period",
    "election-timeout",
    "script-max-runtime",
    "script-retry-delay",
];

/// SENTINEL DEBUG with no arguments: the timers (setting them is a core command).
fn sentinel_debug(core: &Core, out: &mut ReplyBuf) {
    let mut t: Timers = core.timers.clone();
    out.map(DEBUG_ORDER.len());
    for name in DEBUG_ORDER {
        out.bulk(name.to_ascii_uppercase().as_bytes());
        out.bulk(t.get_mut(name).map_or(0, |v| *v).to_string().as_bytes());
    }
}

/// Run a state-changing command through the core: its reply into `out`, its other actions
/// into `after`.
fn run(core: &mut Core, now: u64, cmd: Command, out: &mut ReplyBuf, after: &mut Vec<Action>) {
    for a in core.step(now, Input::Command(cmd)) {
        match a {
            // Encoded once the save is done (see `command`).
            Action::Reply(Reply::Saved) => after.push(Action::Reply(Reply::Saved)),
            Action::Reply(r) => encode(out, &r),
            a => after.push(a),
        }
    }
}

/// A core reply in the client's protocol.
fn encode(out: &mut ReplyBuf, r: &Reply) {
    match r {
        Reply::Ok => out.ok(),
        Reply::Int(i) => out.int(*i),
        Reply::Error(e) => out.error(e),
        Reply::Bulks(v) => {
            out.array(v.len());
            for b in v {
                out.bulk(b.as_bytes());
            }
        }
        Reply::MasterDown {
            down,
            leader,
            epoch,
        } => {
            out.array(3);
            out.int(i64::from(*down));
            out.bulk(leader.as_bytes());
            out.int(*epoch as i64);
        }
        // Taken out by `run`: the reply waits for the save.
        Reply::Saved => {}
    }
}

const SENTINEL_HELP: &[&str] = &[
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
    "HELP",
    "    Prints this help.",
];
