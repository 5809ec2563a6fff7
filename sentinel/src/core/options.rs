//! Per-master options as values (Redis's `sentinelHandleConfiguration` per-master lines and
//! `sentinelSetCommand`): the pure validators and the setter both the config file and
//! SENTINEL SET apply (`core::settings`, `config`).

use super::{Addr, Master};

/// An epoch in the file: an integer from 0 to 2^63-1 (what a sentinel can reach; see
/// [`super::MAX_EPOCH`]).
pub fn epoch_arg(v: &str) -> Result<u64, String> {
    super::parse_epoch(v).ok_or_else(|| {
        format!("Invalid epoch '{v}': an epoch is an integer from 0 to 9223372036854775807.")
    })
}

/// A quorum (`sentinel monitor`, SENTINEL MONITOR / SET): a positive integer that fits in
/// 32 bits. Redis keeps the low bits of a larger one (4294967297 becomes 1) and then
/// writes a file it cannot load; picket refuses it.
pub fn parse_quorum(v: &str) -> Result<u32, &'static str> {
    match v.trim().parse::<i128>() {
        Ok(n) if n <= 0 => Err("Quorum must be 1 or greater."),
        Ok(n) => u32::try_from(n).map_err(|_| "Quorum must be at most 4294967295."),
        // As Redis's atoi: not a number reads as 0.
        Err(_) => Err("Quorum must be 1 or greater."),
    }
}

/// `max-sentinels-per-master`: 1 to 4294967295.
pub fn parse_max_sentinels(v: &str) -> Option<usize> {
    let n = picket_common::sds::string2ll(v.as_bytes())?;
    let n = u32::try_from(n).ok().filter(|n| *n >= 1)?;
    usize::try_from(n).ok()
}

/// Apply one per-master option (file or SENTINEL SET) to a master.
pub fn apply_option(m: &mut Master, name: &str, args: &[String], now: u64) -> Result<(), String> {
    let v = args.first().cloned().unwrap_or_default();
    let num = || {
        v.parse::<u64>()
            .map_err(|_| format!("Invalid argument '{v}'"))
    };
    match name {
        "down-after-milliseconds" => {
            let n = num()?;
            if n == 0 {
                return Err(format!("Invalid argument '{v}'"));
            }
            m.down_after = n;
        }
        "failover-timeout" => {
            let n = num()?;
            if n == 0 {
                return Err(format!("Invalid argument '{v}'"));
            }
            m.failover_timeout = n;
        }
        "parallel-syncs" => {
            m.parallel_syncs =
                u32::try_from(num()?).map_err(|_| format!("Invalid argument '{v}'"))?
        }
        "quorum" => m.quorum = parse_quorum(&v).map_err(|_| format!("Invalid argument '{v}'"))?,
        "notification-script" => m.notification_script = (!v.is_empty()).then_some(v),
        "client-reconfig-script" => m.client_reconfig_script = (!v.is_empty()).then_some(v),
        "auth-pass" => m.auth_pass = (!v.is_empty()).then_some(v),
        "auth-user" => m.auth_user = (!v.is_empty()).then_some(v),
        "master-reboot-down-after-period" => m.reboot_down_after = num()?,
        "config-epoch" => m.config_epoch = epoch_arg(&v)?,
        "leader-epoch" => m.leader_epoch = epoch_arg(&v)?,
        "known-replica" => {
            let port: u16 = args
                .get(1)
                .and_then(|p| p.parse().ok())
                .ok_or("Invalid port")?;
            let a = Addr::new(v, port);
            m.replicas.insert(a.name(), super::Replica::new(a, now));
        }
        "known-sentinel" => {
            let port: u16 = args
                .get(1)
                .and_then(|p| p.parse().ok())
                .ok_or("Invalid port")?;
            let runid = args.get(2).cloned().ok_or("Wrong number of arguments")?;
            let a = Addr::new(v, port);
            let s = super::PeerSentinel::new(runid.clone(), a, now);
            m.sentinels.insert(runid, s);
        }
        "rename-command" => {
            let to = args.get(1).cloned().ok_or("Wrong number of arguments")?;
            // Names are case-insensitive; the spelling given is kept (and saved), as Redis.
            m.renamed.retain(|k, _| !k.eq_ignore_ascii_case(&v));
            m.renamed.insert(v, to);
        }
        _ => return Err("Unknown option".into()),
    }
    Ok(())
}
