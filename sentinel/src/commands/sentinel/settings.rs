//! SENTINEL SET (per-master options) and SENTINEL CONFIG GET / SET (the sentinel's own
//! settings), with Redis 7.0's replies, errors and `+set` events.

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::no_master;
use crate::commands::text;
use crate::commands::{AfterSave, AwaitSave};
use crate::core::{Action, Core, Event, Subject, Target};
use crate::shell::Shared;

fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// SENTINEL SET <name> <option> <value> [<option> <value> ...], as Redis 7.0: options are
/// applied in order, each one announced with `+set`; an error stops at that option (those
/// before it stay applied and are saved). `rename-command` takes two values.
pub(super) fn sentinel_set(
    shared: &Shared,
    core: &mut Core,
    args: &[Bytes],
    now: u64,
    out: &mut ReplyBuf,
    after: &mut Vec<Action>,
    wait: &mut Option<AwaitSave>,
) {
    let n = args.len();
    let name = text(&args[2]);
    let deny = shared.settings().deny_scripts_reconfig;
    let Some(m) = core.masters.get_mut(&name) else {
        return no_master(out);
    };
    let mut changes = 0;
    let mut relink = false;
    let mut error = None;
    let mut j = 3;
    while j < n {
        let raw = text(&args[j]);
        let opt = raw.to_ascii_lowercase();
        let more = n - 1 - j;
        let value = args.get(j + 1).map(text).unwrap_or_default();
        let invalid = |v: &str| format!("ERR Invalid argument '{v}' for SENTINEL SET '{raw}'");
        let int = value.parse::<i64>().ok();
        let shown = match opt.as_str() {
            "rename-command" if more > 1 => {
                let to = text(&args[j + 2]);
                if value.is_empty() || to.is_empty() {
                    error = Some(invalid(""));
                    break;
                }
                // A rename to the same name removes the rename.
                m.renamed.retain(|k, _| !k.eq_ignore_ascii_case(&value));
                if !value.eq_ignore_ascii_case(&to) {
                    m.renamed.insert(value.clone(), to.clone());
                }
                relink = true;
                j += 1;
                format!("{value} {to}")
            }
            "down-after-milliseconds" | "failover-timeout" | "parallel-syncs" | "quorum"
                if more > 0 =>
            {
                // apply_option also refuses what does not fit (a quorum or parallel-syncs
                // beyond 32 bits), where Redis keeps the low bits.
                if int.is_none_or(|v| v <= 0)
                    || crate::config::apply_option(m, &opt, std::slice::from_ref(&value), now)
                        .is_err()
                {
                    error = Some(invalid(&value));
                    break;
                }
                value
            }
            "master-reboot-down-after-period" if more > 0 => {
                if int.is_none_or(|v| v < 0) {
                    error = Some(invalid(&value));
                    break;
                }
                let _ = crate::config::apply_option(m, &opt, std::slice::from_ref(&value), now);
                value
            }
            "notification-script" | "client-reconfig-script" if more > 0 => {
                if deny {
                    error = Some("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration".to_string());
                    break;
                }
                if !value.is_empty() && !is_executable(&value) {
                    error = Some(if opt == "notification-script" {
                        "ERR Notification script seems non existing or non executable".to_string()
                    } else {
                        "ERR Client reconfiguration script seems non existing or non executable"
                            .to_string()
                    });
                    break;
                }
                let _ = crate::config::apply_option(m, &opt, std::slice::from_ref(&value), now);
                value
            }
            "auth-pass" | "auth-user" if more > 0 => {
                let _ = crate::config::apply_option(m, &opt, std::slice::from_ref(&value), now);
                relink = true;
                if opt == "auth-pass" {
                    "******".to_string()
                } else {
                    value
                }
            }
            _ => {
                error = Some(format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{raw}'"
                ));
                break;
            }
        };
        j += 2;
        changes += 1;
        after.push(Action::Event(Event::Set {
            at: Subject::master(m),
            option: raw,
            value: shown,
        }));
    }
    if relink {
        // New credentials or command names: fresh links to the master and its replicas.
        let mut targets = vec![(Target::Master(name.clone()), m.inst.addr.clone())];
        for (k, r) in &m.replicas {
            targets.push((
                Target::Replica(name.clone(), k.clone()),
                r.inst.addr.clone(),
            ));
        }
        for (t, addr) in targets {
            after.push(Action::Disconnect(t.clone()));
            after.push(Action::Connect(t, addr));
        }
    }
    // As Redis: what was applied is saved, even before an error.
    let saving = (changes > 0).then(|| shared.save(core));
    match (error, saving) {
        (Some(e), saving) => {
            out.error(&e);
            *wait = saving.map(|saving| AwaitSave {
                saving,
                then: AfterSave::Replied,
            });
        }
        (None, Some(saving)) => {
            *wait = Some(AwaitSave {
                saving,
                then: AfterSave::OkOrFailed,
            })
        }
        (None, None) => out.ok(),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// SENTINEL CONFIG GET <glob>.
pub(super) fn config_get(st: &crate::config::ServerSettings, pat: &str, out: &mut ReplyBuf) {
    let all = [
        ("resolve-hostnames", yes_no(st.resolve_hostnames)),
        ("announce-hostnames", yes_no(st.announce_hostnames)),
        ("announce-ip", st.announce_ip.clone()),
        ("announce-port", st.announce_port.to_string()),
        (
            "sentinel-user",
            st.sentinel_user.clone().unwrap_or_default(),
        ),
        (
            "sentinel-pass",
            st.sentinel_pass.clone().unwrap_or_default(),
        ),
        (
            "max-sentinels-per-master",
            st.max_sentinels_per_master.to_string(),
        ),
    ];
    let hits: Vec<_> = all
        .iter()
        .filter(|(k, _)| picket_common::glob::string_match_str(pat, k, true))
        .collect();
    out.map(hits.len());
    for (k, v) in hits {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

/// SENTINEL CONFIG SET <param> <value>, as Redis 7.0 (one pair): the new value takes effect
/// at once and is saved (`ERR Failed to save config file...` when it cannot be, the value
/// staying in force, as in Redis). New sentinel credentials close the links to the other
/// sentinels, which reconnect with them.
pub(super) fn config_set(
    shared: &Shared,
    core: &mut Core,
    k: &str,
    v: &str,
    out: &mut ReplyBuf,
    after: &mut Vec<Action>,
    wait: &mut Option<AwaitSave>,
) {
    let key = k.to_ascii_lowercase();
    let mut st = shared.settings();
    let yn = match v.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let mut drop_sentinel_links = false;
    let ok = match key.as_str() {
        "resolve-hostnames" => yn
            .map(|b| {
                st.resolve_hostnames = b;
                core.resolve_hostnames = b;
            })
            .is_some(),
        "announce-hostnames" => yn.map(|b| st.announce_hostnames = b).is_some(),
        "announce-ip" => {
            if st.announce_ip.is_empty() {
                // Remember the address found from the links, to announce it again when
                // announce-ip is cleared.
                st.detected_ip = core.announce_ip.clone();
            }
            // As Redis, an empty value is kept (and saved as `sentinel announce-ip ""`);
            // hellos then carry the address found from the links again, where Redis
            // would announce an empty address.
            st.announce_ip = v.to_string();
            st.announce_ip_set = true;
            if !v.is_empty() {
                core.announce_ip = v.to_string();
            } else if !st.detected_ip.is_empty() {
                core.announce_ip = st.detected_ip.clone();
            }
            true
        }
        // Redis's getLongLongFromObject: a strict integer, then 0..65535.
        "announce-port" => picket_common::sds::string2ll(v.as_bytes())
            .and_then(|p| u16::try_from(p).ok())
            .map(|p| {
                st.announce_port = p;
                core.announce_port = if p != 0 { p } else { st.port };
            })
            .is_some(),
        "sentinel-user" => {
            st.sentinel_user = (!v.is_empty()).then(|| v.to_string());
            drop_sentinel_links = true;
            true
        }
        "sentinel-pass" => {
            st.sentinel_pass = (!v.is_empty()).then(|| v.to_string());
            drop_sentinel_links = true;
            true
        }
        // Picket's own: takes effect at the next new sentinel (none is forgotten now).
        "max-sentinels-per-master" => crate::config::parse_max_sentinels(v)
            .map(|n| {
                st.max_sentinels_per_master = n;
                core.max_sentinels = n;
            })
            .is_some(),
        _ => {
            out.error(&format!(
                "ERR Invalid argument '{k}' to SENTINEL CONFIG SET"
            ));
            return;
        }
    };
    if !ok {
        out.error(&format!(
            "ERR Invalid value '{v}' to SENTINEL CONFIG SET '{k}'"
        ));
        return;
    }
    drop(st);
    *wait = Some(AwaitSave {
        saving: shared.save(core),
        then: AfterSave::OkOrFailed,
    });
    if drop_sentinel_links {
        // Redis's sentinelDropConnections: the links reconnect with the new credentials.
        for (name, m) in &core.masters {
            for (id, s) in &m.sentinels {
                let t = Target::Sentinel(name.clone(), id.clone());
                after.push(Action::Disconnect(t.clone()));
                after.push(Action::Connect(t, s.inst.addr.clone()));
            }
        }
    }
}
