//! INFO: the sections and field names of Redis 7.0, in its order.

use std::fmt::Write;

use super::args::lower;
use super::{memory, CmdResult, Ctx};
use crate::alloc;
use crate::client::Client;
use crate::server::Server;
use crate::stats::NetCounters;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

/// Which sections a list of INFO arguments selects, in output order.
fn selected(args: &[bytes::Bytes]) -> Vec<&'static str> {
    let order: Vec<&'static str> = vec![
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "commandstats",
        "errorstats",
        "latencystats",
        "cluster",
        "keyspace",
    ];
    let mut want: Vec<&'static str> = Vec::new();
    if args.is_empty() {
        want.extend_from_slice(DEFAULT);
    }
    for a in args {
        let s = lower(a);
        match s.as_str() {
            "default" => want.extend_from_slice(DEFAULT),
            "all" | "everything" => {
                want.extend_from_slice(DEFAULT);
                want.extend_from_slice(ALL_EXTRA);
            }
            other => {
                if let Some(n) = order.iter().find(|n| **n == other) {
                    want.push(n);
                }
            }
        }
    }
    order.into_iter().filter(|n| want.contains(n)).collect()
}

pub fn info(ctx: &mut Ctx) -> CmdResult {
    let text = render(
        ctx.srv,
        &ctx.args[1..],
        ctx.client_count_hint(),
        Some(&*ctx.client),
    );
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

impl Ctx<'_> {
    /// Connected clients, the caller included.
    pub fn client_count_hint(&self) -> usize {
        self.srv.client_count()
    }
}

/// The INFO text for the selected sections; `caller` is the client asking (its memory counts
/// in the memory section).
pub fn render(
    srv: &Server,
    args: &[bytes::Bytes],
    connected: usize,
    caller: Option<&Client>,
) -> String {
    let mut out = String::new();
    for (i, sec) in selected(args).into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        match sec {
            "server" => server(srv, &mut out),
            "clients" => clients(srv, &mut out, connected),
            "memory" => memory(srv, &mut out, caller),
            "persistence" => persistence(srv, &mut out),
            "stats" => stats(srv, &mut out),
            "replication" => replication(srv, &mut out),
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats(srv, &mut out),
            "errorstats" => errorstats(srv, &mut out),
            "latencystats" => latencystats(srv, &mut out),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => keyspace(srv, &mut out),
            _ => {}
        }
    }
    out
}

macro_rules! field {
    ($out:expr, $name:expr, $val:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $val);
    };
}

fn os_name() -> String {
    // SAFETY: uname fills a zeroed struct it is given; the fields are NUL-terminated.
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

fn server(srv: &Server, out: &mut String) {
    let up = srv.clock.uptime().as_secs();
    out.push_str("# Server\r\n");
    field!(out, "redis_version", crate::REDIS_VERSION);
    field!(out, "picket_version", crate::PICKET_VERSION);
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", 0);
    field!(out, "redis_build_id", "0000000000000000");
    field!(out, "redis_mode", "standalone");
    field!(out, "os", os_name());
    field!(out, "arch_bits", usize::BITS);
    field!(out, "monotonic_clock", "POSIX clock_gettime");
    field!(out, "multiplexing_api", "epoll");
    field!(out, "atomicvar_api", "c11-builtin");
    field!(out, "gcc_version", "0.0.0");
    field!(out, "process_id", std::process::id());
    field!(out, "process_supervised", srv.config.process_supervised);
    field!(out, "run_id", srv.process.run_id);
    field!(
        out,
        "tcp_port",
        // Redis: `port`, else `tls-port`.
        if srv.cfg.port != 0 {
            srv.process
                .bound
                .first()
                .map(|a| a.port())
                .unwrap_or(srv.cfg.port)
        } else {
            srv.cfg.tls_port
        }
    );
    field!(out, "server_time_usec", srv.clock.unix_us());
    field!(out, "uptime_in_seconds", up);
    field!(out, "uptime_in_days", up / 86400);
    field!(out, "hz", srv.cfg.hz);
    field!(out, "configured_hz", srv.cfg.hz);
    field!(out, "lru_clock", srv.lru_clock());
    field!(out, "executable", srv.process.executable.display());
    field!(
        out,
        "config_file",
        srv.config
            .file()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    field!(out, "io_threads_active", 0);
}

fn clients(srv: &Server, out: &mut String, connected: usize) {
    let blocked = srv
        .clients
        .values()
        .filter(|c| c.has(crate::client::cflags::BLOCKED))
        .count();
    out.push_str("# Clients\r\n");
    field!(out, "connected_clients", connected);
    field!(out, "cluster_connections", 0);
    field!(out, "maxclients", srv.cfg.maxclients);
    field!(
        out,
        "client_recent_max_input_buffer",
        srv.stats.client_recent_max_input_buffer
    );
    field!(
        out,
        "client_recent_max_output_buffer",
        srv.stats.client_recent_max_output_buffer
    );
    field!(out, "blocked_clients", blocked);
    field!(out, "tracking_clients", srv.tracking.tracking_clients());
    field!(out, "clients_in_timeout_table", 0);
}

fn memory(srv: &Server, out: &mut String, caller: Option<&Client>) {
    // The same accounting as MEMORY STATS (Redis's `getMemoryOverheadData`).
    let mh = memory::overhead(srv, caller);
    let used = mh.total_allocated;
    let rss = mh.rss;
    let peak = mh.peak_allocated;
    let startup = mh.startup_allocated;
    let overhead = mh.overhead_total;
    let dataset = mh.dataset;
    let total = alloc::total_system_memory();
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    out.push_str("# Memory\r\n");
    field!(out, "used_memory", used);
    field!(out, "used_memory_human", alloc::human(used));
    field!(out, "used_memory_rss", rss);
    field!(out, "used_memory_rss_human", alloc::human(rss));
    field!(out, "used_memory_peak", peak);
    field!(out, "used_memory_peak_human", alloc::human(peak));
    field!(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", pct(used, peak))
    );
    field!(out, "used_memory_overhead", overhead);
    field!(out, "used_memory_startup", startup);
    field!(out, "used_memory_dataset", dataset);
    field!(
        out,
        "used_memory_dataset_perc",
        format!("{:.2}%", mh.dataset_perc())
    );
    field!(out, "allocator_allocated", used);
    field!(out, "allocator_active", used);
    field!(out, "allocator_resident", rss);
    field!(out, "total_system_memory", total);
    field!(out, "total_system_memory_human", alloc::human(total));
    // The Lua heap of the engine on this thread (the one scripts run on with io-threads 1).
    let lua = super::scripting::lua_memory() as u64;
    let scripts = srv.scripts.mem as u64;
    field!(out, "used_memory_lua", lua);
    field!(out, "used_memory_vm_eval", lua);
    field!(out, "used_memory_lua_human", alloc::human(lua));
    field!(out, "used_memory_scripts_eval", scripts);
    field!(out, "number_of_cached_scripts", srv.scripts.cache.len());
    // The functions' heap on this thread too, and the libraries' structures.
    let vm_functions = srv.functions.engine_memory() as u64;
    let functions = srv.functions.overhead() as u64;
    field!(
        out,
        "number_of_functions",
        srv.functions.ctx.functions_len()
    );
    field!(
        out,
        "number_of_libraries",
        srv.functions.ctx.libraries.len()
    );
    field!(out, "used_memory_vm_functions", vm_functions);
    field!(out, "used_memory_vm_total", lua + vm_functions);
    field!(
        out,
        "used_memory_vm_total_human",
        alloc::human(lua + vm_functions)
    );
    field!(out, "used_memory_functions", functions);
    field!(out, "used_memory_scripts", scripts + functions);
    field!(
        out,
        "used_memory_scripts_human",
        alloc::human(scripts + functions)
    );
    field!(out, "maxmemory", srv.cfg.maxmemory);
    field!(out, "maxmemory_human", alloc::human(srv.cfg.maxmemory));
    field!(out, "maxmemory_policy", srv.cfg.maxmemory_policy.name());
    let frag = if used == 0 {
        0.0
    } else {
        rss as f64 / used as f64
    };
    field!(out, "allocator_frag_ratio", "1.00");
    field!(out, "allocator_frag_bytes", 0);
    field!(out, "allocator_rss_ratio", format!("{frag:.2}"));
    field!(out, "allocator_rss_bytes", rss.saturating_sub(used));
    field!(out, "rss_overhead_ratio", "1.00");
    field!(out, "rss_overhead_bytes", 0);
    field!(out, "mem_fragmentation_ratio", format!("{frag:.2}"));
    field!(out, "mem_fragmentation_bytes", rss as i64 - used as i64);
    field!(out, "mem_not_counted_for_evict", 0);
    field!(out, "mem_replication_backlog", mh.repl_backlog);
    field!(out, "mem_total_replication_buffers", 0);
    field!(out, "mem_clients_slaves", mh.clients_slaves);
    field!(out, "mem_clients_normal", mh.clients_normal);
    field!(out, "mem_cluster_links", 0);
    field!(out, "mem_aof_buffer", mh.aof_buffer);
    field!(out, "mem_allocator", "jemalloc-5.3.1");
    field!(out, "active_defrag_running", 0);
    field!(out, "lazyfree_pending_objects", 0);
    field!(out, "lazyfreed_objects", 0);
}

fn persistence(srv: &Server, out: &mut String) {
    let r = &srv.persistence.rdb;
    let loading_secs = r
        .loading_started
        .map(|t| t.elapsed().as_secs())
        .unwrap_or(0);
    out.push_str("# Persistence\r\n");
    field!(out, "loading", u8::from(r.loading));
    field!(out, "async_loading", 0);
    field!(out, "current_cow_peak", 0);
    field!(out, "current_cow_size", 0);
    field!(out, "current_cow_size_age", 0);
    field!(out, "current_fork_perc", "0.00");
    field!(out, "current_save_keys_processed", 0);
    field!(out, "current_save_keys_total", 0);
    field!(out, "rdb_changes_since_last_save", srv.dirty);
    field!(
        out,
        "rdb_bgsave_in_progress",
        u8::from(r.bgsave_started.is_some())
    );
    field!(out, "rdb_last_save_time", srv.persistence.lastsave_s);
    field!(
        out,
        "rdb_last_bgsave_status",
        if r.last_bgsave_ok { "ok" } else { "err" }
    );
    field!(out, "rdb_last_bgsave_time_sec", r.last_bgsave_time_sec);
    field!(
        out,
        "rdb_current_bgsave_time_sec",
        r.bgsave_started
            .map(|(t, _)| t.elapsed().as_secs() as i64)
            .unwrap_or(-1)
    );
    field!(out, "rdb_saves", r.saves);
    field!(out, "rdb_last_cow_size", 0);
    field!(out, "rdb_last_load_keys_expired", r.last_load_keys_expired);
    field!(out, "rdb_last_load_keys_loaded", r.last_load_keys_loaded);
    let aof = srv.persistence.aof.as_ref();
    field!(out, "aof_enabled", u8::from(aof.is_some()));
    field!(
        out,
        "aof_rewrite_in_progress",
        u8::from(
            aof.is_some_and(|a| a.rewrite_started.is_some()) || r.aof_off_rewrite.started.is_some()
        )
    );
    field!(
        out,
        "aof_rewrite_scheduled",
        u8::from(aof.is_some_and(|a| a.rewrite_scheduled) || r.aof_off_rewrite.scheduled)
    );
    field!(
        out,
        "aof_last_rewrite_time_sec",
        aof.map_or(-1, |a| a.last_rewrite_time_sec)
    );
    field!(
        out,
        "aof_current_rewrite_time_sec",
        aof.and_then(|a| a.rewrite_started)
            .map_or(-1, |t| t.elapsed().as_secs() as i64)
    );
    field!(
        out,
        "aof_last_bgrewrite_status",
        if aof.is_none_or(|a| a.last_rewrite_ok) {
            "ok"
        } else {
            "err"
        }
    );
    field!(out, "aof_rewrites", aof.map_or(0, |a| a.rewrites));
    field!(out, "aof_rewrites_consecutive_failures", 0);
    field!(
        out,
        "aof_last_write_status",
        if aof.is_none_or(|a| a.write_denied().is_none()) {
            "ok"
        } else {
            "err"
        }
    );
    field!(out, "aof_last_cow_size", 0);
    field!(out, "module_fork_in_progress", 0);
    field!(out, "module_fork_last_cow_size", 0);
    if let Some(a) = aof {
        field!(out, "aof_current_size", a.base_size + a.current_size);
        field!(out, "aof_base_size", a.base_size);
        field!(out, "aof_pending_rewrite", 0);
        field!(out, "aof_buffer_length", a.pending.len());
        field!(out, "aof_pending_bio_fsync", 0);
        field!(out, "aof_delayed_fsync", 0);
    }
    // Redis prints the loading block last.
    if r.loading {
        let perc = if r.loading_total_bytes == 0 {
            0.0
        } else {
            r.loading_loaded_bytes as f64 * 100.0 / r.loading_total_bytes as f64
        };
        field!(
            out,
            "loading_start_time",
            srv.clock.unix_ms() / 1000 - loading_secs
        );
        field!(out, "loading_total_bytes", r.loading_total_bytes);
        field!(out, "loading_rdb_used_mem", r.loading_rdb_used_mem);
        field!(out, "loading_loaded_bytes", r.loading_loaded_bytes);
        field!(out, "loading_loaded_perc", format!("{perc:.2}"));
        field!(out, "loading_eta_seconds", r.loading_eta_seconds());
    }
}

fn stats(srv: &Server, out: &mut String) {
    let s = &srv.stats;
    let net = &srv.net;
    out.push_str("# Stats\r\n");
    field!(
        out,
        "total_connections_received",
        s.total_connections_received
    );
    field!(out, "total_commands_processed", s.total_commands_processed);
    field!(
        out,
        "instantaneous_ops_per_sec",
        s.ops.value().round() as u64
    );
    field!(
        out,
        "total_net_input_bytes",
        NetCounters::get(&net.input_bytes)
    );
    field!(
        out,
        "total_net_output_bytes",
        NetCounters::get(&net.output_bytes)
    );
    field!(out, "total_net_repl_input_bytes", 0);
    field!(out, "total_net_repl_output_bytes", 0);
    field!(
        out,
        "instantaneous_input_kbps",
        format!("{:.2}", s.net_in.value() / 1024.0)
    );
    field!(
        out,
        "instantaneous_output_kbps",
        format!("{:.2}", s.net_out.value() / 1024.0)
    );
    field!(out, "instantaneous_input_repl_kbps", "0.00");
    field!(out, "instantaneous_output_repl_kbps", "0.00");
    field!(out, "rejected_connections", s.rejected_connections);
    field!(out, "sync_full", srv.repl.stat_sync_full);
    field!(out, "sync_partial_ok", srv.repl.stat_sync_partial_ok);
    field!(out, "sync_partial_err", srv.repl.stat_sync_partial_err);
    field!(out, "expired_keys", s.expired_keys);
    field!(
        out,
        "expired_stale_perc",
        format!("{:.2}", s.expired_stale_perc)
    );
    field!(
        out,
        "expired_time_cap_reached_count",
        s.expired_time_cap_reached_count
    );
    field!(out, "expire_cycle_cpu_milliseconds", s.expire_cycle_cpu_ms);
    field!(out, "evicted_keys", s.evicted_keys);
    field!(out, "evicted_clients", 0);
    field!(out, "total_eviction_exceeded_time", 0);
    field!(out, "current_eviction_exceeded_time", 0);
    field!(out, "keyspace_hits", s.keyspace_hits);
    field!(out, "keyspace_misses", s.keyspace_misses);
    field!(out, "pubsub_channels", srv.pubsub.channels.len());
    field!(out, "pubsub_patterns", srv.pubsub.patterns.len());
    field!(out, "pubsubshard_channels", srv.pubsub.shard_channels.len());
    field!(out, "latest_fork_usec", 0);
    field!(out, "total_forks", 0);
    field!(out, "migrate_cached_sockets", 0);
    field!(out, "slave_expires_tracked_keys", 0);
    field!(out, "active_defrag_hits", 0);
    field!(out, "active_defrag_misses", 0);
    field!(out, "active_defrag_key_hits", 0);
    field!(out, "active_defrag_key_misses", 0);
    field!(out, "total_active_defrag_time", 0);
    field!(out, "current_active_defrag_time", 0);
    field!(out, "tracking_total_keys", srv.tracking.total_keys());
    field!(out, "tracking_total_items", srv.tracking.total_items());
    field!(
        out,
        "tracking_total_prefixes",
        srv.tracking.total_prefixes()
    );
    field!(out, "unexpected_error_replies", s.unexpected_error_replies);
    field!(out, "total_error_replies", s.total_error_replies);
    field!(out, "dump_payload_sanitizations", 0);
    field!(out, "total_reads_processed", NetCounters::get(&net.reads));
    field!(out, "total_writes_processed", NetCounters::get(&net.writes));
    field!(out, "io_threaded_reads_processed", 0);
    field!(out, "io_threaded_writes_processed", 0);
    field!(out, "reply_buffer_shrinks", 0);
    field!(out, "reply_buffer_expands", 0);
}

fn replication(srv: &Server, out: &mut String) {
    let r = &srv.repl;
    let now = srv.clock.now();
    out.push_str("# Replication\r\n");
    match &r.master {
        None => {
            field!(out, "role", "master");
        }
        Some(m) => {
            field!(out, "role", "slave");
            field!(out, "master_host", m.host);
            field!(out, "master_port", m.port);
            let up = m.state == crate::replication::LinkState::Connected;
            field!(out, "master_link_status", if up { "up" } else { "down" });
            let last_io = if m.has_client && up {
                m.last_io
                    .map_or(-1, |t| now.saturating_duration_since(t).as_secs() as i64)
            } else {
                -1
            };
            field!(out, "master_last_io_seconds_ago", last_io);
            let syncing = m.state == crate::replication::LinkState::Sync;
            field!(out, "master_sync_in_progress", u8::from(syncing));
            field!(out, "slave_read_repl_offset", r.offset);
            field!(out, "slave_repl_offset", r.offset);
            if syncing {
                let total = m.sync_total;
                let read = m.sync_read as i64;
                field!(out, "master_sync_total_bytes", total);
                field!(out, "master_sync_read_bytes", read);
                field!(out, "master_sync_left_bytes", (total - read).max(-1));
                let perc = if total > 0 {
                    read as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                field!(out, "master_sync_perc", format!("{perc:.2}"));
                let io = m
                    .sync_last_io
                    .map_or(0, |t| now.saturating_duration_since(t).as_secs());
                field!(out, "master_sync_last_io_seconds_ago", io);
            }
            if !up {
                let down = m
                    .down_since
                    .map_or(-1, |t| now.saturating_duration_since(t).as_secs() as i64);
                field!(out, "master_link_down_since_seconds", down);
            }
            field!(out, "slave_priority", srv.cfg.repl.priority);
            field!(out, "slave_read_only", u8::from(srv.cfg.repl.read_only));
            field!(out, "replica_announced", u8::from(srv.cfg.repl.announced));
        }
    }
    let rows = crate::replication::master::replica_rows(srv);
    field!(out, "connected_slaves", rows.len());
    let min = &srv.cfg.repl;
    if min.min_replicas_to_write > 0 && min.min_replicas_max_lag_s > 0 {
        field!(out, "min_slaves_good_slaves", r.acks.good());
    }
    for (i, (ip, port, state, off, lag)) in rows.iter().enumerate() {
        out.push_str(&format!(
            "slave{i}:ip={ip},port={port},state={},offset={off},lag={lag}\r\n",
            state.info_name()
        ));
    }
    field!(out, "master_failover_state", r.failover.state.name());
    field!(out, "master_replid", r.replid);
    field!(out, "master_replid2", r.replid2);
    field!(out, "master_repl_offset", r.offset);
    field!(out, "second_repl_offset", r.second_offset);
    let (active, size, first, hist) = match &r.backlog {
        Some(b) => (1, b.size(), b.first_byte_offset(), b.histlen()),
        None => (0, srv.cfg.repl.backlog_size, 0, 0),
    };
    field!(out, "repl_backlog_active", active);
    field!(out, "repl_backlog_size", size);
    field!(out, "repl_backlog_first_byte_offset", first);
    field!(out, "repl_backlog_histlen", hist);
    // Picket's failover safety (docs/failover-safety.md): absent on a classic server at
    // epoch 0, whose INFO stays Redis's.
    let strict = srv.cfg.repl.strict_acks();
    let epoch = srv.cfg.repl.failover_epoch;
    if strict.is_some() || epoch > 0 {
        let mode = if strict.is_some() {
            "strict"
        } else {
            "classic"
        };
        field!(out, "failover_safety", mode);
        field!(out, "failover_epoch", epoch);
        if let (Some(w), false) = (strict, r.is_replica()) {
            let held = crate::replication::master::lease_held(srv);
            field!(out, "failover_min_acks", w);
            field!(out, "failover_lease_ms", srv.cfg.repl.lease_ms);
            field!(out, "failover_lease", if held { "held" } else { "lost" });
            let lost = crate::replication::fence::lease_lost_ms(srv);
            field!(out, "failover_lease_lost_ms", lost);
        }
    }
}

fn cpu(out: &mut String) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    out.push_str("# CPU\r\n");
    field!(out, "used_cpu_sys", format!("{sys:.6}"));
    field!(out, "used_cpu_user", format!("{user:.6}"));
    field!(out, "used_cpu_sys_children", format!("{csys:.6}"));
    field!(out, "used_cpu_user_children", format!("{cuser:.6}"));
    field!(out, "used_cpu_sys_main_thread", format!("{sys:.6}"));
    field!(out, "used_cpu_user_main_thread", format!("{user:.6}"));
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

fn commandstats(srv: &Server, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let mut rows: Vec<(&str, &crate::stats::CmdStat)> = super::all_commands()
        .filter_map(|c| srv.stats.commands.get(c.id).map(|st| (c.full_name, st)))
        .filter(|(_, st)| st.calls > 0 || st.rejected > 0 || st.failed > 0)
        .collect();
    rows.sort_by_key(|(name, _)| *name);
    for (name, st) in rows {
        let per = if st.calls == 0 {
            0.0
        } else {
            st.usec as f64 / st.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            name, st.calls, st.usec, per, st.rejected, st.failed
        );
    }
}

/// Per command with a latency histogram, its `latency-tracking-info-percentiles` in
/// microseconds (`fillPercentileDistributionLatencies`), in name order.
fn latencystats(srv: &Server, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    if !srv.cfg.latency_tracking {
        return;
    }
    let mut rows: Vec<(&str, &crate::latency::hist::Histogram)> = super::all_commands()
        .filter_map(|c| {
            let h = srv.stats.commands.get(c.id)?.latency.as_ref()?;
            Some((c.full_name, h))
        })
        .collect();
    rows.sort_by_key(|(name, _)| *name);
    for (name, h) in rows {
        let _ = write!(out, "latency_percentiles_usec_{name}:");
        for (i, (label, p)) in srv.cfg.latency_percentiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let v = h.value_at_percentile(*p) as f64 / 1000.0;
            let _ = write!(out, "p{label}={v:.3}");
        }
        out.push_str("\r\n");
    }
}

fn errorstats(srv: &Server, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, n) in &srv.stats.errors {
        let _ = write!(out, "errorstat_{code}:count={n}\r\n");
    }
}

fn keyspace(srv: &Server, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in &srv.keyspace.dbs {
        if db.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "db{}:keys={},expires={},avg_ttl={}\r\n",
            db.id,
            db.len(),
            db.expires.len(),
            db.avg_ttl
        );
    }
}
