//! Periodic duties at `hz` (Redis's `serverCron`): cached clock, instantaneous metrics, peak
//! memory, client timeouts and output-buffer limits, active expiry, hash-table housekeeping,
//! and shutdown when one was requested.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, MissedTickBehavior};

use crate::client::{cflags, ClientClass};
use crate::db::SmallBytes;
use crate::server::{check_output_limits, Server};
use crate::shared::Shared;
use crate::stats::NetCounters;

fn period(hz: u32) -> Duration {
    Duration::from_millis((1000 / hz.clamp(1, 500)) as u64)
}

pub async fn run(shared: Arc<Shared>) {
    let mut hz = shared.lock().cfg.hz;
    let mut ticker = tokio::time::interval(period(hz));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let mut srv = shared.lock();
        tick(&mut srv);
        if let Some(req) = srv.process.shutdown {
            // FORCE (shutdown-on-sigterm force) exits even when the final save failed.
            if req.prepared
                || crate::persist::save::prepare_for_shutdown(&mut srv, req)
                || req.force
            {
                for c in srv.clients.values_mut() {
                    c.close_asap("server shutdown");
                }
                shared.cancel.cancel();
                break;
            }
            tracing::warn!("{} received but errors trying to shut down the server, check the logs for more information", req.signal.unwrap_or("Shutdown"));
            srv.process.shutdown = None;
        }
        if srv.cfg.hz != hz {
            hz = srv.cfg.hz;
            ticker = tokio::time::interval(period(hz));
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
    }
}

/// One cron tick.
pub fn tick(srv: &mut Server) {
    // DEBUG PAUSE-CRON: none of the periodic work (Redis's `server.pause_cron`).
    if srv.debug.pause_cron {
        return;
    }
    srv.update_time();
    srv.process.cronloops += 1;
    let now_ms = srv.now_ms as u64;

    // Instantaneous metrics (Redis samples every 100 ms).
    let ops = srv.stats.total_commands_processed;
    let net_in = NetCounters::get(&srv.net.input_bytes);
    let net_out = NetCounters::get(&srv.net.output_bytes);
    srv.stats.ops.track(ops, now_ms);
    srv.stats.net_in.track(net_in, now_ms);
    srv.stats.net_out.track(net_out, now_ms);
    srv.stats.peak_memory = srv.stats.peak_memory.max(crate::alloc::allocated());

    clients_cron(srv);
    crate::command::reentry::pause_cron(srv);
    crate::persist::save::check_save_points(srv);
    crate::replication::master::cron(srv);
    crate::replication::failover::update(srv);
    crate::replication::after_batch(srv);
    if let Some(aof) = srv.persistence.aof.as_mut() {
        aof.fsync_if_due();
    }
    crate::persist::aof::check_auto_rewrite(srv);
    let replica = srv.repl.is_replica();
    if srv.cfg.maxmemory > 0 && !(replica && srv.cfg.repl.ignore_maxmemory) {
        crate::evict::perform_evictions(srv);
    }
    // A replica's keys expire by its master's DELs.
    if srv.keyspace.active_expire_enabled && !replica && !srv.pauses.writes_paused(srv.now_ms) {
        active_expire_cycle(srv);
    }
    // A stream that expired or was evicted wakes its blocked XREADGROUP clients, as Redis's
    // `beforeSleep` does after its cron.
    if !srv.keyspace.group_waits.is_empty() {
        srv.keyspace.signal_gone_streams();
        if !srv.keyspace.ready_keys.is_empty() {
            crate::command::reentry::serve_ready_keys(srv);
        }
    }
    if srv.cfg.activerehashing {
        for db in &mut srv.keyspace.dbs {
            db.cron_tables();
        }
    } else {
        // Without active rehashing the cron still shrinks tables, as Redis's
        // `tryResizeHashTables`; rehashing then advances only on access.
        for db in &mut srv.keyspace.dbs {
            db.keys.shrink_if_needed();
            db.expires.shrink_if_needed();
        }
    }
    // The tracking table within its limit even when idle (a CONFIG SET lowered it), and
    // the BCAST invalidations of keys the cron expired or evicted.
    srv.tracking_limit();
    srv.tracking_before_sleep();
}

fn clients_cron(srv: &mut Server) {
    let now = srv.clock.now();
    let now_ms = srv.now_ms;
    let timeout = srv.cfg.timeout;
    let limits = srv.cfg.obuf_limits;
    let mut max_in = 0;
    let mut max_out = 0;
    let reset_peaks = srv
        .process
        .cronloops
        .is_multiple_of(8 * srv.cfg.hz.max(1) as u64);
    for c in srv.clients.values_mut() {
        max_in = max_in.max(c.qbuf_peak);
        max_out = max_out.max(c.out_peak);
        if reset_peaks {
            c.qbuf_peak = c.qbuf;
            c.out_peak = c.out.len();
        }
        if timeout > 0
            && c.class() == ClientClass::Normal
            && !c.has(cflags::MASTER)
            && !c.has(cflags::REPLICA)
            && !c.has(cflags::BLOCKED)
            && now.saturating_duration_since(c.last_interaction).as_secs() > timeout
        {
            tracing::info!("Closing idle client id={} addr={}", c.id, c.addr);
            c.close_asap("idle timeout");
            continue;
        }
        let used = c.out.len();
        check_output_limits(c, used, &limits, now);
        // Redis's `clientsCronResizeQueryBuffer` and `clientsCronResizeOutputBuffer`.
        let idle = now.saturating_duration_since(c.last_interaction).as_secs();
        if let Some(alloc) = c.qb.cron(idle) {
            c.qbuf_resize = Some(alloc);
            c.notify.notify_one();
        }
        c.rb.cron(now_ms, used);
    }
    srv.stats.client_recent_max_input_buffer = max_in;
    srv.stats.client_recent_max_output_buffer = max_out;
}

/// Redis 7.0's slow `activeExpireCycle`: scan volatile keys bucket by bucket from where the
/// last cycle stopped, delete the expired ones, and go on while more than 10% of the sampled
/// keys were expired, within a time budget of 25% of a cron period.
pub fn active_expire_cycle(srv: &mut Server) {
    let effort = srv.cfg.active_expire_effort.clamp(1, 10) as u64 - 1;
    let keys_per_loop = 20 + 20 / 4 * effort;
    let acceptable_stale = 10 - effort;
    let budget =
        Duration::from_micros(1_000_000 * (25 + 2 * effort) / srv.cfg.hz.max(1) as u64 / 100);
    let start = Instant::now();
    let mut total_sampled = 0u64;
    let mut total_expired = 0u64;
    let mut timelimit_exit = false;
    let mut iteration = 0u64;
    let now_ms = srv.now_ms;
    for dbi in 0..srv.keyspace.dbs.len() {
        loop {
            let db = &srv.keyspace.dbs[dbi];
            let num = db.expires.len() as u64;
            if num == 0 {
                break;
            }
            let slots = db.expires.bucket_count() as u64;
            if slots > 4 && num * 100 / slots < 1 {
                break;
            }
            let want = num.min(keys_per_loop);
            let max_buckets = want * 20;
            let mut sampled = 0u64;
            let mut checked = 0u64;
            let mut expired_keys: Vec<Bytes> = Vec::new();
            let mut ttl_sum = 0i64;
            let mut ttl_samples = 0i64;
            let mut cursor = db.expires_cursor;
            while sampled < want && checked < max_buckets {
                cursor = db.expires.scan(cursor, |k: &SmallBytes, when: &i64| {
                    sampled += 1;
                    let ttl = *when - now_ms;
                    if now_ms > *when {
                        expired_keys.push(Bytes::copy_from_slice(k));
                    } else {
                        ttl_sum += ttl;
                        ttl_samples += 1;
                    }
                });
                checked += 1;
                if cursor == 0 {
                    break;
                }
            }
            srv.keyspace.dbs[dbi].expires_cursor = cursor;
            let expired = expired_keys.len() as u64;
            for k in expired_keys {
                srv.data().delete_expired(dbi, &k);
            }
            total_sampled += sampled;
            total_expired += expired;
            if ttl_samples > 0 {
                let avg = ttl_sum / ttl_samples;
                let db = &mut srv.keyspace.dbs[dbi];
                db.avg_ttl = if db.avg_ttl == 0 {
                    avg
                } else {
                    (db.avg_ttl / 50) * 49 + avg / 50
                };
            }
            iteration += 1;
            if iteration & 0xf == 0 && start.elapsed() > budget {
                timelimit_exit = true;
                srv.stats.expired_time_cap_reached_count += 1;
                break;
            }
            let repeat = sampled == 0 || expired * 100 / sampled > acceptable_stale;
            if !repeat || cursor == 0 && sampled == 0 {
                break;
            }
        }
        if timelimit_exit {
            break;
        }
    }
    let elapsed_ms = start.elapsed().as_millis() as u64;
    srv.stats.expire_cycle_cpu_ms += elapsed_ms;
    srv.latency_sample("expire-cycle", elapsed_ms);
    let current = if total_sampled > 0 {
        total_expired as f64 / total_sampled as f64
    } else {
        0.0
    };
    srv.stats.expired_stale_perc = current * 0.05 + srv.stats.expired_stale_perc * 0.95;
}
