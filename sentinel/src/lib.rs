//! picket-sentinel: monitors masters and replicas, detects failures, elects a leader and
//! runs failovers, compatible with Redis Sentinel 7.0 (see ../../shared/DESIGN.md and
//! ../../shared/reference/redis-ha.md §2–§4).
//!
//! [`core`] holds every decision as a pure state machine; [`shell`] is the tokio (or
//! turmoil) I/O around it, with the client-facing commands (`shell::commands`); [`config`]
//! the file.

pub mod acl;
pub mod config;
pub mod core;
mod link_timing;
pub mod scripts;
pub mod shell;
pub mod stats;

use std::path::PathBuf;

/// The Redis version the Sentinel is compatible with (INFO, HELLO).
pub const REDIS_VERSION: &str = "7.0.15";
pub const PICKET_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Build the core from a loaded configuration. `seed` drives every random choice (myid
/// when the file has none, timer jitter, vote back-off).
pub fn core_from(loaded: &config::Loaded, seed: u64, now: u64) -> Result<core::Core, String> {
    let mut rng = picket_common::ids::seeded(seed);
    let myid = loaded
        .myid
        .clone()
        .unwrap_or_else(|| picket_common::ids::random_hex40(&mut rng));
    let mut c = core::Core::new(myid, rng);
    c.current_epoch = loaded.current_epoch;
    c.resolve_hostnames = loaded.server.resolve_hostnames;
    c.announce_hostnames = loaded.server.announce_hostnames;
    c.max_sentinels = loaded.server.max_sentinels_per_master;
    c.announce_ip = loaded.server.announce_ip.clone();
    c.settings = core::CoreSettings {
        deny_scripts_reconfig: loaded.server.deny_scripts_reconfig,
        port: loaded.server.hello_port(),
        announce_ip: loaded.server.announce_ip.clone(),
        detected_ip: String::new(),
    };
    c.announce_port = if loaded.server.announce_port != 0 {
        loaded.server.announce_port
    } else {
        loaded.server.hello_port()
    };
    for (name, mc) in &loaded.masters {
        let Some((addr, quorum)) = mc.addr.clone() else {
            return Err(format!("No such master with specified name: '{name}'"));
        };
        let m = c.monitor(name, addr, quorum, now);
        for (opt, args) in &mc.opts {
            config::apply_option(m, opt, args, now)
                .map_err(|e| format!("sentinel {opt} {name}: {e}"))?;
        }
    }
    // Known replicas and sentinels get their links too.
    let mut connects = Vec::new();
    for (name, m) in &c.masters {
        for (k, r) in &m.replicas {
            connects.push(core::Action::Connect(
                core::Target::Replica(name.clone(), k.clone()),
                r.inst.addr.clone(),
            ));
        }
        for (k, s) in &m.sentinels {
            connects.push(core::Action::Connect(
                core::Target::Sentinel(name.clone(), k.clone()),
                s.inst.addr.clone(),
            ));
        }
    }
    c.push_actions(connects);
    Ok(c)
}

/// The config file path given on the command line, made absolute (it is rewritten later,
/// whatever the working directory becomes).
pub fn absolute(p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}
