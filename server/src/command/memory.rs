//! MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP, with Redis 7.0's arity, errors,
//! reply shapes and texts, and picket's own figures.
//!
//! The figures cannot be Redis's byte for byte (the layouts differ); they count picket's memory
//! the way picket holds it:
//!
//! - Totals come from the counting global allocator (`alloc::allocated`, INFO's `used_memory`),
//!   which counts the bytes requested from the system allocator (no size-class rounding).
//! - [`key_bytes`] (MEMORY USAGE) adds the key's dict node (which holds the value inline), the
//!   key's heap bytes, the expiry entry when the key has one, and the value's own allocations
//!   ([`value_bytes`]): the structure of a collection exactly, in O(1), and the heap bytes of
//!   its elements estimated from the first `SAMPLES` elements times the element count, as
//!   Redis's `objectComputeSize` does, so the command stays cheap on a huge value.
//! - [`overhead`] is Redis's `getMemoryOverheadData`, shared with INFO's memory section.

use std::collections::VecDeque;

use super::args::{is, parse_i64};
use super::client_cmd::help_reply;
use super::{CmdError, CmdResult, Ctx};
use crate::alloc;
use crate::client::{Client, ClientClass};
use crate::db::smallbytes::INLINE_CAP;
use crate::db::zset::SkipList;
use crate::db::{Db, Dict, Entry, Hash, Set, SmallBytes, Value, ZSet};
use crate::server::Server;

/// Elements sampled by MEMORY USAGE without SAMPLES (Redis's `OBJ_COMPUTE_SIZE_DEF_SAMPLES`).
pub const DEFAULT_SAMPLES: usize = 5;

// ------------------------------------------------------------------------------ USAGE

/// MEMORY USAGE key [SAMPLES count]: the bytes of the key and its value, or nil.
///
/// As Redis, the options are checked before the key is looked up, and the lookup is a raw one
/// (no lazy expiry, no hit/miss statistics, no LRU touch): a key whose time has passed but
/// that is still stored is measured.
pub fn usage(ctx: &mut Ctx) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < ctx.args.len() {
        if is(&ctx.args[j], "samples") && j + 1 < ctx.args.len() {
            let n = parse_i64(&ctx.args[j + 1]).ok_or(CmdError::NotInteger)?;
            samples = match n {
                n if n < 0 => return Err(CmdError::Syntax),
                // 0 samples everything.
                0 => usize::MAX,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let db = ctx.db();
    match key_bytes(&ctx.srv.keyspace.dbs[db], &ctx.args[2], samples) {
        Some(n) => ctx.out.int(i64::try_from(n).unwrap_or(i64::MAX)),
        None => ctx.out.null(),
    }
    Ok(())
}

/// The bytes `key` takes in `db`, `None` when it is not stored: its keyspace node (key, entry
/// and the value's inline part), the key's heap bytes, its expiry entry if it has one, and
/// [`value_bytes`] of the value. Bucket slots of the dicts are shared by all keys and are not
/// counted (MEMORY STATS reports them per database), as in Redis.
pub fn key_bytes(db: &Db, key: &[u8], samples: usize) -> Option<usize> {
    let (k, e) = db.keys.get_key_value(key)?;
    let mut n = Dict::<SmallBytes, Entry>::entry_bytes() + k.heap_size();
    if let Some((ek, _)) = db.expires.get_key_value(key) {
        n += Dict::<SmallBytes, i64>::entry_bytes() + ek.heap_size();
    }
    Some(n + value_bytes(&e.val, samples))
}

/// Heap bytes of a `SmallBytes` of `len` bytes: none when inline, else the bytes themselves.
fn small_heap(len: usize) -> usize {
    if len > INLINE_CAP {
        len
    } else {
        0
    }
}

/// Redis's sampling rule: the average of the first `samples` element sizes, times `len`.
///
/// Only `samples` items of `sizes` are pulled from the iterator (so a lazy iterator over a
/// collection visits only that many elements); when that covers all `len` elements the sum is
/// exact.
pub fn sampled(sizes: impl Iterator<Item = usize>, len: usize, samples: usize) -> usize {
    let mut sum = 0usize;
    let mut seen = 0usize;
    for s in sizes.take(samples) {
        sum = sum.saturating_add(s);
        seen += 1;
    }
    if seen == 0 {
        0
    } else if seen >= len {
        sum
    } else {
        (sum as f64 / seen as f64 * len as f64) as usize
    }
}

/// The heap bytes a value owns beyond its inline part in the keyspace entry. Strings are exact
/// (an integer or a short string lives inline: 0). For a collection, the box and the
/// structure (vector capacities, dict buckets and nodes, skiplist arenas) are exact and O(1);
/// the heap bytes of its elements (strings longer than `SmallBytes`'s inline capacity) are
/// estimated by [`sampled`] from the first `samples` elements in the value's own order.
/// With `samples >= len` this equals [`Value::heap_size`].
pub fn value_bytes(v: &Value, samples: usize) -> usize {
    use std::mem::size_of;
    match v {
        // Exact: the nodes are whole allocations (sampling them would not be cheaper).
        Value::Stream(_) => v.heap_size(),
        Value::Int(_) | Value::Small { .. } => 0,
        Value::Big { data, .. } => data.capacity(),
        Value::List(l) => match l.as_deque() {
            // Packed: one exact buffer.
            None => l.mem_usage(),
            Some(d) => {
                size_of::<VecDeque<SmallBytes>>()
                    + d.capacity() * size_of::<SmallBytes>()
                    + sampled(d.iter().map(SmallBytes::heap_size), d.len(), samples)
            }
        },
        Value::Hash(h) => match h {
            Hash::Listpack(p) => p.heap_size(),
            Hash::Table(d) => {
                let pair = |(f, x): (&SmallBytes, &SmallBytes)| f.heap_size() + x.heap_size();
                size_of::<Dict<SmallBytes, SmallBytes>>()
                    + d.mem_usage()
                    + sampled(d.iter().map(pair), d.len(), samples)
            }
        },
        Value::Set(s) => match s {
            Set::Intset(v) => v.heap_size(),
            Set::Table(d) => {
                size_of::<Dict<SmallBytes, ()>>()
                    + d.mem_usage()
                    + sampled(d.keys().map(SmallBytes::heap_size), d.len(), samples)
            }
        },
        Value::ZSet(z) => match z {
            // Inline in the entry but for its packed allocation, which is exact.
            ZSet::Listpack(p) => p.heap_size(),
            // A member is held twice: in its skiplist node and as the dict's key.
            ZSet::Skiplist(sl) => {
                size_of::<SkipList>()
                    + sl.structure_bytes()
                    + sampled(
                        z.iter().map(|(m, _)| 2 * small_heap(m.len())),
                        z.len(),
                        samples,
                    )
            }
        },
    }
}

// ------------------------------------------------------------------------------ overhead

/// One database's part of MEMORY STATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbOverhead {
    pub id: usize,
    /// Buckets and nodes of the key dict (nodes hold the key's inline bytes and the value's
    /// inline part, as Redis counts its `dictEntry` plus `robj` here).
    pub main: u64,
    /// Buckets and nodes of the expiry dict.
    pub expires: u64,
}

/// Redis's `redisMemOverhead`: where the allocated memory goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Overhead {
    pub total_allocated: u64,
    pub startup_allocated: u64,
    pub peak_allocated: u64,
    /// Resident set size of the process (0 where /proc is not available).
    pub rss: u64,
    pub repl_backlog: u64,
    pub clients_slaves: u64,
    pub clients_normal: u64,
    pub aof_buffer: u64,
    /// The function libraries' structures (`functions.caches`).
    pub functions_caches: u64,
    pub dbs: Vec<DbOverhead>,
    pub overhead_total: u64,
    pub total_keys: u64,
    pub dataset: u64,
    /// `total_allocated - startup_allocated`, at least 1 (Redis's `net_usage`).
    pub net_usage: u64,
    pub replicas: usize,
    /// Connected clients other than replicas, the caller included.
    pub normal_clients: usize,
}

/// A client's memory, as CLIENT LIST's `tot-mem` counts it (the client record, its query and
/// output buffers, its MULTI queue), plus, for a replica, the stream held for it while its
/// RDB is sent.
pub fn client_bytes(c: &Client) -> u64 {
    let pending = c.replica.as_ref().map_or(0, |r| r.pending.len());
    (std::mem::size_of::<Client>() + c.qbuf + c.out.len() + c.multi_mem + pending) as u64
}

impl Overhead {
    /// `f32` ratios as Redis computes them (its fields are `float`), 0 when `b` is 0.
    fn ratio(a: u64, b: u64) -> f32 {
        if b == 0 {
            0.0
        } else {
            a as f32 / b as f32
        }
    }

    pub fn peak_perc(&self) -> f32 {
        Self::ratio(self.total_allocated, self.peak_allocated) * 100.0
    }

    pub fn dataset_perc(&self) -> f32 {
        self.dataset as f32 * 100.0 / self.net_usage as f32
    }

    pub fn bytes_per_key(&self) -> u64 {
        self.net_usage.checked_div(self.total_keys).unwrap_or(0)
    }

    /// The allocator's own view. The counting allocator knows the bytes in use, not the pages
    /// the system allocator keeps active, so `active` is `allocated` and the whole gap to the
    /// RSS shows as the allocator's RSS overhead (as INFO reports it).
    pub fn allocator_allocated(&self) -> u64 {
        self.total_allocated
    }
    pub fn allocator_active(&self) -> u64 {
        self.total_allocated
    }
    pub fn allocator_resident(&self) -> u64 {
        self.rss
    }
    pub fn allocator_frag(&self) -> f32 {
        Self::ratio(self.allocator_active(), self.allocator_allocated())
    }
    pub fn allocator_frag_bytes(&self) -> i64 {
        self.allocator_active() as i64 - self.allocator_allocated() as i64
    }
    pub fn allocator_rss(&self) -> f32 {
        Self::ratio(self.allocator_resident(), self.allocator_active())
    }
    pub fn allocator_rss_bytes(&self) -> i64 {
        self.allocator_resident() as i64 - self.allocator_active() as i64
    }
    pub fn rss_extra(&self) -> f32 {
        Self::ratio(self.rss, self.allocator_resident())
    }
    pub fn rss_extra_bytes(&self) -> i64 {
        self.rss as i64 - self.allocator_resident() as i64
    }
    pub fn total_frag(&self) -> f32 {
        Self::ratio(self.rss, self.total_allocated)
    }
    pub fn total_frag_bytes(&self) -> i64 {
        self.rss as i64 - self.total_allocated as i64
    }
}

/// Redis's `getMemoryOverheadData` over picket's state. `caller` is the client running the
/// command (its record is out of `srv.clients` meanwhile).
pub fn overhead(srv: &Server, caller: Option<&Client>) -> Overhead {
    let total_allocated = alloc::allocated() as u64;
    let startup_allocated = srv.process.startup_memory as u64;
    let peak_allocated = (srv.stats.peak_memory as u64).max(total_allocated);
    let mut clients_slaves = 0;
    let mut clients_normal = 0;
    let mut replicas = 0;
    let mut normal_clients = 0;
    for c in srv.clients.values().chain(caller) {
        if c.class() == ClientClass::Replica {
            clients_slaves += client_bytes(c);
            replicas += 1;
        } else {
            clients_normal += client_bytes(c);
            normal_clients += 1;
        }
    }
    let repl_backlog = srv.repl.backlog.as_ref().map_or(0, |b| b.histlen());
    let aof_buffer = if srv.persistence.aof.is_some() {
        srv.repl.aof_buf.capacity() as u64
    } else {
        0
    };
    let functions_caches = srv.functions.overhead() as u64;
    let mut total = startup_allocated
        + repl_backlog
        + clients_slaves
        + clients_normal
        + aof_buffer
        + functions_caches;
    let mut dbs = Vec::new();
    let mut total_keys = 0;
    for db in srv.keyspace.dbs.iter().filter(|d| !d.is_empty()) {
        let o = DbOverhead {
            id: db.id,
            main: db.keys.mem_usage() as u64,
            expires: db.expires.mem_usage() as u64,
        };
        total += o.main + o.expires;
        total_keys += db.len() as u64;
        dbs.push(o);
    }
    Overhead {
        total_allocated,
        startup_allocated,
        peak_allocated,
        rss: alloc::rss() as u64,
        repl_backlog,
        clients_slaves,
        clients_normal,
        aof_buffer,
        functions_caches,
        dbs,
        overhead_total: total,
        total_keys,
        dataset: total_allocated.saturating_sub(total),
        net_usage: total_allocated.saturating_sub(startup_allocated).max(1),
        replicas,
        normal_clients,
    }
}

// ------------------------------------------------------------------------------ STATS

/// MEMORY STATS: Redis 7.0's fields in its order (a map in RESP3, a flat array in RESP2; each
/// `db.N` with keys is a nested map).
///
/// Exact: `total.allocated` (the counting allocator), `startup.allocated` (allocated when the
/// server became ready), `keys.count`, the `db.N` dict figures (buckets and nodes), and what
/// follows from them. Estimates: `peak.allocated` (sampled by the cron and at this call),
/// `replication.backlog` (the bytes the backlog holds, not its ring's spare capacity),
/// `clients.*` (as CLIENT LIST's `tot-mem`: record, query and output buffers, MULTI queue, a
/// replica's pending stream), `aof.buffer` (the capacity of the buffer not yet written), and
/// the allocator and fragmentation figures, which compare the allocated bytes with the RSS
/// read from /proc (the counting allocator knows no active or resident pages of its own).
/// `functions.caches` is an estimate of the function libraries' structures. Always 0:
/// `cluster.links`, `lua.caches` and `overhead.hashtable.slot-to-keys`.
pub fn stats(ctx: &mut Ctx) -> CmdResult {
    let mh = overhead(ctx.srv, Some(&*ctx.client));
    let out = &mut *ctx.out;
    out.map(27 + mh.dbs.len());
    let num = |out: &mut picket_common::resp::ReplyBuf, name: &str, n: i64| {
        out.bulk_str(name);
        out.int(n);
    };
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    num(out, "peak.allocated", as_i64(mh.peak_allocated));
    num(out, "total.allocated", as_i64(mh.total_allocated));
    num(out, "startup.allocated", as_i64(mh.startup_allocated));
    num(out, "replication.backlog", as_i64(mh.repl_backlog));
    num(out, "clients.slaves", as_i64(mh.clients_slaves));
    num(out, "clients.normal", as_i64(mh.clients_normal));
    num(out, "cluster.links", 0);
    num(out, "aof.buffer", as_i64(mh.aof_buffer));
    num(out, "lua.caches", 0);
    num(out, "functions.caches", as_i64(mh.functions_caches));
    for db in &mh.dbs {
        out.bulk_str(&format!("db.{}", db.id));
        out.map(3);
        num(out, "overhead.hashtable.main", as_i64(db.main));
        num(out, "overhead.hashtable.expires", as_i64(db.expires));
        num(out, "overhead.hashtable.slot-to-keys", 0);
    }
    num(out, "overhead.total", as_i64(mh.overhead_total));
    num(out, "keys.count", as_i64(mh.total_keys));
    num(out, "keys.bytes-per-key", as_i64(mh.bytes_per_key()));
    num(out, "dataset.bytes", as_i64(mh.dataset));
    let double = |out: &mut picket_common::resp::ReplyBuf, name: &str, d: f32| {
        out.bulk_str(name);
        out.double(f64::from(d));
    };
    double(out, "dataset.percentage", mh.dataset_perc());
    double(out, "peak.percentage", mh.peak_perc());
    num(out, "allocator.allocated", as_i64(mh.allocator_allocated()));
    num(out, "allocator.active", as_i64(mh.allocator_active()));
    num(out, "allocator.resident", as_i64(mh.allocator_resident()));
    double(out, "allocator-fragmentation.ratio", mh.allocator_frag());
    num(
        out,
        "allocator-fragmentation.bytes",
        mh.allocator_frag_bytes(),
    );
    double(out, "allocator-rss.ratio", mh.allocator_rss());
    num(out, "allocator-rss.bytes", mh.allocator_rss_bytes());
    double(out, "rss-overhead.ratio", mh.rss_extra());
    num(out, "rss-overhead.bytes", mh.rss_extra_bytes());
    double(out, "fragmentation", mh.total_frag());
    num(out, "fragmentation.bytes", mh.total_frag_bytes());
    Ok(())
}

// ------------------------------------------------------------------------------ DOCTOR

const DOCTOR_FINE: &str = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_HEAD: &str =
    "Sam, I detected a few issues in this Redis instance memory implants:\n\n";
const DOCTOR_PEAK: &str = " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n";
const DOCTOR_FRAG: &str = " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n";
const DOCTOR_ALLOC_FRAG: &str = " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n";
const DOCTOR_ALLOC_RSS: &str = " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n";
const DOCTOR_PROC_RSS: &str = " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n";
const DOCTOR_REPLICA_BUF: &str = " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n";
const DOCTOR_CLIENT_BUF: &str = " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n";
const DOCTOR_TAIL: &str = "I'm here to keep you safe, Sam. I want to help you.\n";

/// Redis 7.0's `getMemoryDoctorReport` over [`Overhead`]: the same rules and texts. The
/// fragmentation rules need the RSS and are skipped where it is unknown; picket caches no
/// scripts, so the "many scripts" rule never fires.
pub fn doctor_report(mh: &Overhead) -> String {
    const MB: u64 = 1 << 20;
    if mh.total_allocated < 5 * MB {
        return DOCTOR_EMPTY.to_string();
    }
    let mut found: Vec<&str> = Vec::new();
    if mh.peak_allocated as f32 / mh.total_allocated as f32 > 1.5 {
        found.push(DOCTOR_PEAK);
    }
    let big = |bytes: i64| bytes > (10 * MB) as i64;
    if mh.rss > 0 {
        if mh.total_frag() > 1.4 && big(mh.total_frag_bytes()) {
            found.push(DOCTOR_FRAG);
        }
        if mh.allocator_frag() > 1.1 && big(mh.allocator_frag_bytes()) {
            found.push(DOCTOR_ALLOC_FRAG);
        }
        if mh.allocator_rss() > 1.1 && big(mh.allocator_rss_bytes()) {
            found.push(DOCTOR_ALLOC_RSS);
        }
        if mh.rss_extra() > 1.1 && big(mh.rss_extra_bytes()) {
            found.push(DOCTOR_PROC_RSS);
        }
    }
    // Redis tests the client buffers before the replica buffers, and prints them the other
    // way round.
    let big_clients =
        mh.normal_clients > 0 && mh.clients_normal / mh.normal_clients as u64 > 200 * 1024;
    if mh.replicas > 0 && mh.clients_slaves > 10 * MB {
        found.push(DOCTOR_REPLICA_BUF);
    }
    if big_clients {
        found.push(DOCTOR_CLIENT_BUF);
    }
    if found.is_empty() {
        return DOCTOR_FINE.to_string();
    }
    let mut s = String::from(DOCTOR_HEAD);
    for f in found {
        s.push_str(f);
    }
    s.push_str(DOCTOR_TAIL);
    s
}

/// MEMORY DOCTOR: a verbatim string in RESP3, a bulk string in RESP2.
pub fn doctor(ctx: &mut Ctx) -> CmdResult {
    let report = doctor_report(&overhead(ctx.srv, Some(&*ctx.client)));
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

// ------------------------------------------------------------------------------ the rest

/// MEMORY MALLOC-STATS: picket runs on the system allocator, so it answers as Redis built with
/// libc malloc does (a plain bulk string, also in RESP3).
pub fn malloc_stats(ctx: &mut Ctx) -> CmdResult {
    ctx.out
        .bulk_str("Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: nothing to purge with the system allocator; OK, as Redis built with libc.
pub fn purge(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::db::{hash, zset, List};

    #[test]
    fn sampled_pulls_only_samples_items() {
        let visited = Cell::new(0usize);
        let len = 1_000_000;
        let sizes = (0..len).map(|i| {
            visited.set(visited.get() + 1);
            if i < 5 {
                10
            } else {
                1000
            }
        });
        assert_eq!(sampled(sizes, len, DEFAULT_SAMPLES), 10 * len);
        assert_eq!(visited.get(), DEFAULT_SAMPLES);
    }

    #[test]
    fn sampled_is_exact_when_it_sees_everything() {
        let sizes = [3usize, 5, 7, 11];
        assert_eq!(sampled(sizes.iter().copied(), 4, usize::MAX), 26);
        assert_eq!(sampled(sizes.iter().copied(), 4, 4), 26);
        // Two samples of four: their average times four.
        assert_eq!(sampled(sizes.iter().copied(), 4, 2), 16);
        assert_eq!(sampled(std::iter::empty(), 0, 5), 0);
        assert_eq!(sampled(std::iter::empty(), 7, 0), 0);
    }

    fn seed() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n += 1;
            n
        }
    }

    fn long(i: usize) -> Vec<u8> {
        format!("{i:0>40}").into_bytes()
    }

    /// One value of each type and encoding, with members longer than the inline capacity so
    /// that element heap bytes matter.
    fn values(n: usize) -> Vec<Value> {
        let mut s = seed();
        let mut list = List::new();
        let mut h = Hash::default();
        let mut st = Set::default();
        let mut ints = Set::default();
        let mut z = ZSet::default();
        let hl = hash::Limits {
            entries: 128,
            value: 64,
        };
        let zl = zset::Limits {
            max_entries: 128,
            max_value: 64,
        };
        for i in 0..n {
            list.push(crate::db::list::End::Right, &long(i));
            h.set(&long(i), b"v", hl, &mut s);
            st.add(&long(i), 512, &mut s);
            ints.add(i.to_string().as_bytes(), 512, &mut s);
            z.insert(&long(i), i as f64, zl, &mut s);
        }
        vec![
            Value::string(b"12345"),
            Value::string(b"short"),
            Value::string(&long(1)),
            Value::List(list),
            Value::Hash(h),
            Value::Set(st),
            Value::Set(ints),
            Value::ZSet(z),
        ]
    }

    #[test]
    fn all_samples_give_the_exact_heap_size() {
        for n in [1, 10, 300] {
            for v in values(n) {
                assert_eq!(
                    value_bytes(&v, usize::MAX),
                    v.heap_size(),
                    "{} {} of {n}",
                    v.type_name(),
                    v.encoding()
                );
            }
        }
    }

    #[test]
    fn sizes_grow_with_the_value() {
        let small = values(10);
        let big = values(1000);
        for (a, b) in small.iter().zip(&big).skip(3) {
            assert!(
                value_bytes(b, DEFAULT_SAMPLES) > value_bytes(a, DEFAULT_SAMPLES),
                "{} {}",
                b.type_name(),
                b.encoding()
            );
        }
    }

    #[test]
    fn ordered_values_are_estimated_from_their_first_elements() {
        // A list and a skiplist whose first five elements are long and the rest inline: the
        // default estimate counts every element as long, which shows only the first five
        // were looked at; sampling all is exact.
        let n = 20_000;
        let mut s = seed();
        let mut list = List::new();
        let mut z = ZSet::new_skiplist(7);
        let zl = zset::Limits {
            max_entries: 128,
            max_value: 64,
        };
        for i in 0..n {
            let m = if i < 5 {
                long(i)
            } else {
                format!("m{i}").into_bytes()
            };
            list.push(crate::db::list::End::Right, &m);
            z.insert(&m, i as f64, zl, &mut s);
        }
        let list = Value::List(list);
        let z = Value::ZSet(z);
        let exact_list = list.heap_size();
        assert_eq!(value_bytes(&list, usize::MAX), exact_list);
        assert_eq!(
            value_bytes(&list, DEFAULT_SAMPLES),
            exact_list - 5 * 40 + n * 40
        );
        let exact_z = z.heap_size();
        assert_eq!(value_bytes(&z, usize::MAX), exact_z);
        assert_eq!(
            value_bytes(&z, DEFAULT_SAMPLES),
            exact_z - 2 * 5 * 40 + 2 * n * 40
        );
    }

    #[test]
    fn keys_count_node_key_expiry_and_value() {
        let mut db = Db::new(0, 1);
        assert_eq!(key_bytes(&db, b"k", 5), None);
        db.set(b"k", Value::string(b"v"), 0, false);
        let node = Dict::<SmallBytes, Entry>::entry_bytes();
        assert_eq!(key_bytes(&db, b"k", 5), Some(node));
        db.set_expire(b"k", 1);
        let exp = Dict::<SmallBytes, i64>::entry_bytes();
        assert_eq!(key_bytes(&db, b"k", 5), Some(node + exp));
        let key = long(3);
        db.set(&key, Value::string(&long(4)), 0, false);
        assert_eq!(key_bytes(&db, &key, 5), Some(node + 40 + 40));
    }

    fn sample_overhead() -> Overhead {
        Overhead {
            total_allocated: 100 << 20,
            startup_allocated: 1 << 20,
            peak_allocated: 100 << 20,
            rss: 110 << 20,
            repl_backlog: 0,
            clients_slaves: 0,
            clients_normal: 1000,
            aof_buffer: 0,
            functions_caches: 0,
            dbs: Vec::new(),
            overhead_total: 2 << 20,
            total_keys: 10,
            dataset: 98 << 20,
            net_usage: 99 << 20,
            replicas: 0,
            normal_clients: 1,
        }
    }

    #[test]
    fn doctor_follows_redis_rules() {
        let mut mh = sample_overhead();
        assert_eq!(doctor_report(&mh), DOCTOR_FINE);
        mh.total_allocated = 4 << 20;
        assert_eq!(doctor_report(&mh), DOCTOR_EMPTY);
        mh.total_allocated = 100 << 20;
        mh.peak_allocated = 200 << 20;
        assert_eq!(
            doctor_report(&mh),
            format!("{DOCTOR_HEAD}{DOCTOR_PEAK}{DOCTOR_TAIL}")
        );
        mh.peak_allocated = 100 << 20;
        mh.rss = 200 << 20;
        // RSS twice the allocations: total and allocator-RSS overheads (allocator active =
        // allocated here, so the gap is the allocator's).
        assert_eq!(
            doctor_report(&mh),
            format!("{DOCTOR_HEAD}{DOCTOR_FRAG}{DOCTOR_ALLOC_RSS}{DOCTOR_TAIL}")
        );
        mh.rss = 0;
        assert_eq!(doctor_report(&mh), DOCTOR_FINE);
        mh.clients_normal = 300 << 10;
        mh.replicas = 1;
        mh.clients_slaves = 11 << 20;
        assert_eq!(
            doctor_report(&mh),
            format!("{DOCTOR_HEAD}{DOCTOR_REPLICA_BUF}{DOCTOR_CLIENT_BUF}{DOCTOR_TAIL}")
        );
    }

    #[test]
    fn percentages_as_redis_floats() {
        let mh = sample_overhead();
        assert_eq!(mh.peak_perc(), 100.0);
        assert_eq!(mh.bytes_per_key(), (99 << 20) / 10);
        assert!((mh.dataset_perc() - 98.0 / 99.0 * 100.0).abs() < 1e-3);
        assert_eq!(mh.allocator_frag(), 1.0);
        assert_eq!(mh.total_frag_bytes(), 10 << 20);
    }
}
