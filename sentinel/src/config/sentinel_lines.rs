//! The `sentinel ...` lines of a config file, read as Redis's `sentinelHandleConfiguration`
//! reads them once the whole file is loaded: the process-wide options first, then the
//! `monitor` lines, then the per-master lines (so they may come before their `monitor`),
//! with Redis's error texts. picket refuses a few values Redis takes silently (epochs that
//! do not fit, quorums beyond 32 bits, ports that are not numbers); those have their own
//! texts.

use std::collections::BTreeMap;

use super::{Loaded, MasterConf};
use crate::core::options::{parse_max_sentinels, parse_quorum};
use crate::core::Addr;

const UNRECOGNIZED: &str = "Unrecognized sentinel configuration statement.";
const NO_MASTER: &str = "No such master with specified name.";
const BAD_PORT: &str = "Invalid port number.";

/// Redis's `preMonitorCfgName`, and picket's own `max-sentinels-per-master`.
const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
    "max-sentinels-per-master",
];

/// When a `sentinel <words>` line is applied: 0 before the `monitor` lines, 1 with them,
/// 2 after them.
pub(super) fn pass_of(words: &[String]) -> u8 {
    let d = words[0].to_ascii_lowercase();
    if d == "monitor" {
        1
    } else if PRE_MONITOR.contains(&d.as_str()) {
        0
    } else {
        2
    }
}

fn yes_no(v: &str, why: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(why.to_string()),
    }
}

fn port_arg(v: &str) -> Result<u16, String> {
    v.parse().map_err(|_| BAD_PORT.to_string())
}

fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// One `sentinel <words>` line (the words after `sentinel`).
pub(super) fn sentinel_line(
    l: &mut Loaded,
    index: &mut BTreeMap<String, usize>,
    w: &[String],
) -> Result<(), String> {
    let d = w[0].to_ascii_lowercase();
    let s = &mut l.server;
    match (d.as_str(), w.len()) {
        ("myid", 2) => {
            if !picket_common::ids::is_hex40(&w[1]) {
                return Err("Malformed Sentinel id in myid option.".into());
            }
            l.myid = Some(w[1].clone());
        }
        ("current-epoch", 2) => {
            // As Redis: the epoch only grows (a config-epoch may have raised it).
            l.current_epoch = l.current_epoch.max(epoch_arg(&w[1])?);
        }
        ("max-sentinels-per-master", 2) => {
            s.max_sentinels_per_master = parse_max_sentinels(&w[1])
                .ok_or("max-sentinels-per-master must be an integer from 1 to 4294967295.")?;
        }
        ("announce-ip", 2) => {
            if !w[1].is_empty() {
                s.announce_ip = w[1].clone();
                s.announce_ip_set = true;
            }
        }
        ("announce-port", 2) => s.announce_port = port_arg(&w[1])?,
        ("deny-scripts-reconfig", 2) => {
            s.deny_scripts_reconfig = yes_no(
                &w[1],
                "Please specify yes or no for the deny-scripts-reconfig options.",
            )?
        }
        ("resolve-hostnames", 2) => {
            s.resolve_hostnames = yes_no(
                &w[1],
                "Please specify yes or no for the resolve-hostnames option.",
            )?
        }
        ("announce-hostnames", 2) => {
            s.announce_hostnames = yes_no(
                &w[1],
                "Please specify yes or no for the announce-hostnames option.",
            )?
        }
        ("sentinel-user", 2) => s.sentinel_user = (!w[1].is_empty()).then(|| w[1].clone()),
        ("sentinel-pass", 2) => s.sentinel_pass = (!w[1].is_empty()).then(|| w[1].clone()),
        ("monitor", 5) => {
            let quorum = parse_quorum(&w[4]).map_err(str::to_string)?;
            let addr = Addr::new(w[2].clone(), port_arg(&w[3])?);
            if !s.resolve_hostnames && !crate::core::is_ip(&addr.host) {
                return Err("Can't resolve instance hostname.".into());
            }
            if index.contains_key(&w[1]) {
                return Err("Duplicate master name.".into());
            }
            l.masters.push((
                w[1].clone(),
                MasterConf {
                    addr: Some((addr, quorum)),
                    opts: Vec::new(),
                },
            ));
            index.insert(w[1].clone(), l.masters.len() - 1);
        }
        ("known-sentinel", 4) => {} // The old form without a run id: ignored, as Redis.
        (
            "down-after-milliseconds"
            | "failover-timeout"
            | "parallel-syncs"
            | "notification-script"
            | "client-reconfig-script"
            | "auth-pass"
            | "auth-user"
            | "master-reboot-down-after-period"
            | "config-epoch"
            | "leader-epoch",
            3,
        )
        | ("known-replica" | "known-slave" | "rename-command", 4)
        | ("known-sentinel", 5) => {
            let i = *index.get(&w[1]).ok_or(NO_MASTER)?;
            per_master(&mut l.masters[i].1, &d, &w[2..])?;
            if d == "config-epoch" {
                // As Redis: the current epoch is at least every master's config epoch.
                l.current_epoch = l.current_epoch.max(epoch_arg(&w[2])?);
            }
        }
        _ => return Err(UNRECOGNIZED.into()),
    }
    Ok(())
}

/// A per-master line's value, checked as Redis checks it, kept for [`apply_option`].
fn per_master(m: &mut MasterConf, d: &str, v: &[String]) -> Result<(), String> {
    let seen = |opt: &str, same: &dyn Fn(&[String]) -> bool| {
        m.opts.iter().any(|(o, x)| o == opt && same(x))
    };
    let d = if d == "known-slave" {
        "known-replica"
    } else {
        d
    };
    let refused = match d {
        "down-after-milliseconds" | "failover-timeout"
            if !v[0].parse::<u64>().is_ok_and(|n| n > 0) =>
        {
            Some("negative or zero time parameter.".to_string())
        }
        "master-reboot-down-after-period" => match v[0].parse::<i64>() {
            Ok(n) if n < 0 => Some("negative time parameter.".into()),
            Ok(_) => None,
            Err(_) => Some(format!("Invalid time parameter '{}'.", v[0])),
        },
        "parallel-syncs" if v[0].parse::<u32>().is_err() => Some(format!(
            "Invalid parallel-syncs '{}': an integer from 0 to 4294967295.",
            v[0]
        )),
        "notification-script" if !is_executable(&v[0]) => {
            Some("Notification script seems non existing or non executable.".into())
        }
        "client-reconfig-script" if !is_executable(&v[0]) => {
            Some("Client reconfiguration script seems non existing or non executable.".into())
        }
        "config-epoch" | "leader-epoch" => epoch_arg(&v[0]).err(),
        // The sentinel's own state lines: read back whatever address it wrote.
        "known-replica" => match port_arg(&v[1]) {
            Err(e) => Some(e),
            Ok(port) => {
                let a = Addr::new(v[0].clone(), port);
                let same =
                    |x: &[String]| Addr::new(x[0].clone(), port_arg(&x[1]).unwrap_or(0)) == a;
                seen("known-replica", &same)
                    .then(|| "Duplicate hostname and port for replica.".into())
            }
        },
        "known-sentinel" => match port_arg(&v[1]) {
            Err(e) => Some(e),
            Ok(_) => seen("known-sentinel", &|x: &[String]| x[2] == v[2])
                .then(|| "Duplicate runid for sentinel.".into()),
        },
        "rename-command" => seen("rename-command", &|x: &[String]| {
            x[0].eq_ignore_ascii_case(&v[0])
        })
        .then(|| "Same command renamed multiple times with rename-command.".into()),
        _ => None,
    };
    if let Some(why) = refused {
        return Err(why);
    }
    m.opts.push((d.to_string(), v.to_vec()));
    Ok(())
}

pub(super) use crate::core::options::epoch_arg;
