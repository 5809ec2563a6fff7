//! INFO on a sentinel, as Redis 7.0's `sentinelInfoCommand`: `INFO [section ...]` with the
//! sections `server`, `clients`, `stats`, `cpu` and `sentinel` (case-insensitive; `default`,
//! `all` and `everything` give the five), printed in Redis's order with its field names and
//! order; an unknown section adds nothing (only unknown sections: an empty string). A plain
//! bulk string in RESP3 too.

use std::fmt::Write;

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use super::lower;
use crate::core::Core;
use crate::shell::Shared;
use crate::stats::Stats;

/// The sections a sentinel has, in the order INFO prints them.
const SECTIONS: [&str; 5] = ["server", "clients", "stats", "cpu", "sentinel"];

/// Which sections the arguments of INFO select, in output order.
pub(crate) fn selected(args: &[Bytes]) -> Vec<&'static str> {
    if args.is_empty() {
        return SECTIONS.to_vec();
    }
    let mut all = false;
    let mut want: Vec<String> = Vec::new();
    for a in args {
        match lower(a).as_str() {
            "default" | "all" | "everything" => all = true,
            s => want.push(s.to_string()),
        }
    }
    SECTIONS
        .into_iter()
        .filter(|s| all || want.iter().any(|w| w == s))
        .collect()
}

macro_rules! field {
    ($out:expr, $name:expr, $val:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $val);
    };
}

pub(super) fn info(shared: &Shared, out: &mut ReplyBuf, args: &[Bytes]) {
    let mut t = String::new();
    for (i, sec) in selected(&args[1..]).into_iter().enumerate() {
        if i > 0 {
            t.push_str("\r\n");
        }
        match sec {
            "server" => server(shared, &mut t),
            "clients" => clients(shared, &mut t),
            "stats" => stats(shared, &mut t),
            "cpu" => cpu(&mut t),
            _ => sentinel(shared, &shared.lock(), &mut t),
        }
    }
    out.bulk(t.as_bytes());
}

fn os_name() -> String {
    // SAFETY: uname fills the zeroed struct it is given; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

fn server(shared: &Shared, out: &mut String) {
    let up = shared.now() / 1000;
    let unix_us = shared.clock.unix_us();
    // Redis's `server.port ? server.port : server.tls_port`.
    let first = |b: &std::sync::Mutex<Vec<std::net::SocketAddr>>| {
        b.lock()
            .unwrap_or_else(|e| e.into_inner())
            .first()
            .map(|a| a.port())
    };
    let port = first(&shared.bound)
        .or_else(|| first(&shared.tls_bound))
        .unwrap_or_else(|| {
            let s = shared.settings();
            if s.port != 0 {
                s.port
            } else {
                s.tls_port
            }
        });
    out.push_str("# Server\r\n");
    field!(out, "redis_version", crate::REDIS_VERSION);
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", 0);
    field!(out, "redis_build_id", "0000000000000000");
    field!(out, "redis_mode", "sentinel");
    field!(out, "os", os_name());
    field!(out, "arch_bits", usize::BITS);
    field!(out, "monotonic_clock", "POSIX clock_gettime");
    field!(out, "multiplexing_api", "epoll");
    field!(out, "atomicvar_api", "c11-builtin");
    field!(out, "gcc_version", "0.0.0");
    field!(out, "process_id", std::process::id());
    let (supervised, configured_hz, executable) = {
        let st = shared.settings();
        (
            st.process_supervised,
            st.configured_hz,
            st.executable.clone(),
        )
    };
    field!(out, "process_supervised", supervised);
    // The process's run id, new at every start (the sentinel's identity is SENTINEL MYID).
    field!(out, "run_id", shared.run_id);
    field!(out, "tcp_port", port);
    field!(out, "server_time_usec", unix_us);
    field!(out, "uptime_in_seconds", up);
    field!(out, "uptime_in_days", up / 86400);
    field!(out, "hz", shared.hz());
    field!(out, "configured_hz", configured_hz);
    // Redis's LRU clock: unix seconds on 24 bits.
    field!(out, "lru_clock", (unix_us / 1_000_000) & 0xFF_FFFF);
    field!(out, "executable", executable);
    field!(out, "config_file", shared.config_path.display());
    field!(out, "io_threads_active", 0);
}

fn clients(shared: &Shared, out: &mut String) {
    let connected = shared.clients.load(std::sync::atomic::Ordering::SeqCst);
    let maxclients = shared.settings().maxclients;
    // A sentinel has no cluster links, blocked or tracking clients.
    out.push_str("# Clients\r\n");
    field!(out, "connected_clients", connected);
    field!(out, "cluster_connections", 0);
    field!(out, "maxclients", maxclients);
    field!(out, "client_recent_max_input_buffer", 0);
    field!(out, "client_recent_max_output_buffer", 0);
    field!(out, "blocked_clients", 0);
    field!(out, "tracking_clients", 0);
    field!(out, "clients_in_timeout_table", 0);
}

fn stats(shared: &Shared, out: &mut String) {
    let s = &shared.stats;
    let r = s.rates();
    let (channels, patterns) = shared.pubsub_counts();
    out.push_str("# Stats\r\n");
    field!(
        out,
        "total_connections_received",
        Stats::get(&s.connections_received)
    );
    field!(
        out,
        "total_commands_processed",
        Stats::get(&s.commands_processed)
    );
    field!(out, "instantaneous_ops_per_sec", r.ops_per_sec);
    field!(out, "total_net_input_bytes", Stats::get(&s.net_input_bytes));
    field!(
        out,
        "total_net_output_bytes",
        Stats::get(&s.net_output_bytes)
    );
    field!(out, "total_net_repl_input_bytes", 0);
    field!(out, "total_net_repl_output_bytes", 0);
    field!(
        out,
        "instantaneous_input_kbps",
        format!("{:.2}", r.input_kbps)
    );
    field!(
        out,
        "instantaneous_output_kbps",
        format!("{:.2}", r.output_kbps)
    );
    field!(out, "instantaneous_input_repl_kbps", "0.00");
    field!(out, "instantaneous_output_repl_kbps", "0.00");
    field!(
        out,
        "rejected_connections",
        Stats::get(&s.rejected_connections)
    );
    // A sentinel has no keyspace, replicas, forks or tracking: Redis's zeros.
    for name in [
        "sync_full",
        "sync_partial_ok",
        "sync_partial_err",
        "expired_keys",
    ] {
        field!(out, name, 0);
    }
    field!(out, "expired_stale_perc", "0.00");
    for name in [
        "expired_time_cap_reached_count",
        "expire_cycle_cpu_milliseconds",
        "evicted_keys",
        "evicted_clients",
        "total_eviction_exceeded_time",
        "current_eviction_exceeded_time",
        "keyspace_hits",
        "keyspace_misses",
    ] {
        field!(out, name, 0);
    }
    field!(out, "pubsub_channels", channels);
    field!(out, "pubsub_patterns", patterns);
    for name in [
        "pubsubshard_channels",
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
        "unexpected_error_replies",
    ] {
        field!(out, name, 0);
    }
    field!(out, "total_error_replies", Stats::get(&s.error_replies));
    field!(out, "dump_payload_sanitizations", 0);
    field!(out, "total_reads_processed", Stats::get(&s.reads_processed));
    field!(
        out,
        "total_writes_processed",
        Stats::get(&s.writes_processed)
    );
    for name in [
        "io_threaded_reads_processed",
        "io_threaded_writes_processed",
        "reply_buffer_shrinks",
        "reply_buffer_expands",
    ] {
        field!(out, name, 0);
    }
}

fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut r) } != 0 {
        return (0.0, 0.0);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(r.ru_stime), t(r.ru_utime))
}

fn cpu(out: &mut String) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    // The sentinel runs on one thread (the current-thread runtime): main thread = process.
    out.push_str("# CPU\r\n");
    field!(out, "used_cpu_sys", format!("{sys:.6}"));
    field!(out, "used_cpu_user", format!("{user:.6}"));
    field!(out, "used_cpu_sys_children", format!("{csys:.6}"));
    field!(out, "used_cpu_user_children", format!("{cuser:.6}"));
    field!(out, "used_cpu_sys_main_thread", format!("{sys:.6}"));
    field!(out, "used_cpu_user_main_thread", format!("{user:.6}"));
}

fn sentinel(shared: &Shared, core: &Core, out: &mut String) {
    let now = shared.now();
    let (running, queued) = {
        let q = shared.script_queue();
        (q.running(), q.len())
    };
    out.push_str("# Sentinel\r\n");
    field!(out, "sentinel_masters", core.masters.len());
    field!(out, "sentinel_tilt", u8::from(core.tilt_since.is_some()));
    field!(
        out,
        "sentinel_tilt_since_seconds",
        core.tilt_since
            .map_or(-1, |s| (now.saturating_sub(s) / 1000) as i64)
    );
    field!(out, "sentinel_running_scripts", running);
    field!(out, "sentinel_scripts_queue_length", queued);
    field!(
        out,
        "sentinel_simulate_failure_flags",
        u8::from(core.sim.crash_after_election) | (u8::from(core.sim.crash_after_promotion) << 1)
    );
    for (i, (name, m)) in core.masters.iter().enumerate() {
        let status = if m.odown_since.is_some() {
            "odown"
        } else if m.inst.sdown_since.is_some() {
            "sdown"
        } else {
            "ok"
        };
        // Every replica counts here, announced or not (Redis's dictSize(ri->slaves)); the
        // sentinels include this one. The address is `ip:port` as Redis prints it, without
        // brackets around an IPv6 address.
        let _ = write!(
            out,
            "master{i}:name={name},status={status},address={}:{},slaves={},sentinels={}\r\n",
            core.shown_host(&m.inst.addr.host),
            m.inst.addr.port,
            m.replicas.len(),
            m.sentinels.len() + 1
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(args: &[&str]) -> Vec<&'static str> {
        let v: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        selected(&v)
    }

    #[test]
    fn sections_as_redis_selects_them() {
        let five = ["server", "clients", "stats", "cpu", "sentinel"];
        assert_eq!(sel(&[]), five);
        for a in ["default", "ALL", "everything"] {
            assert_eq!(sel(&[a]), five, "{a}");
        }
        assert_eq!(sel(&["SENTINEL"]), ["sentinel"]);
        // Redis's order, whatever the order asked; duplicates once.
        assert_eq!(sel(&["cpu", "Server", "cpu"]), ["server", "cpu"]);
        assert_eq!(sel(&["bogus", "sentinel"]), ["sentinel"]);
        // Sections of a data server are not a sentinel's.
        assert!(sel(&["memory", "replication", "keyspace"]).is_empty());
        assert!(sel(&["bogus"]).is_empty());
        assert_eq!(sel(&["bogus", "all"]), five);
    }
}
