//! DEBUG OBJECT, LISTPACK and QUICKLIST: how a value is stored.
//!
//! The replies have Redis 7.0's form and fields. Where picket stores a value differently
//! (its lists are not quicklists, its small hashes and sorted sets are not listpack bytes),
//! the numbers describe the structure Redis would have built for the same content, which
//! is also what picket writes in RDB files and DUMP payloads; the structures printed on
//! stdout are that same layout.

use std::io::Write as _;

use super::super::keys::lookup_notouch;
use super::super::{CmdError, CmdResult, Ctx};
use super::atoi;
use crate::db::{idle_seconds, Hash, Value, ZSet};
use crate::evict::Policy;
use crate::persist::rdb::blobs::ListpackWriter;
use crate::persist::rdb::write::{quicklist_nodes, QuicklistNode};
use crate::server::Server;

/// Redis's `OBJ_SHARED_REFCOUNT`: the refcount DEBUG OBJECT shows for a shared integer.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's `OBJ_SHARED_INTEGERS`.
const SHARED_INTEGERS: i64 = 10_000;

/// OBJECT key: address, refcount, encoding, serialized length, LRU, idle time, and for a
/// list its quicklist figures. Looks at the key as stored, expired or not (as Redis's
/// `dictFind`).
pub fn object(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    let clock = ctx.srv.lru_clock();
    let srv = &*ctx.srv;
    let Some(e) = srv.keyspace.dbs[db].get(&ctx.args[2]) else {
        return Err(CmdError::NoSuchKey);
    };
    let mut extra = String::new();
    if let Value::List(l) = &e.val {
        let nodes = list_nodes(srv, l.iter());
        let size: usize = nodes.iter().map(|n| n.data.len()).sum();
        extra = format!(
            " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:0 ql_uncompressed_size:{}",
            nodes.len(),
            l.len() as f64 / nodes.len().max(1) as f64,
            srv.cfg.list_max_listpack_size,
            size
        );
    }
    let line = format!(
        "Value at:0x{:x} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}{}",
        e as *const _ as usize,
        refcount(srv, &e.val),
        e.val.encoding(),
        serialized_len(srv, &e.val),
        e.lru,
        idle_seconds(e.lru, clock),
        extra
    );
    ctx.out.simple(&line);
    Ok(())
}

/// Small non-negative integers are one shared object in Redis, unless an LRU or LFU
/// eviction policy needs each value to have its own access time.
fn refcount(srv: &Server, v: &Value) -> i64 {
    let lru_or_lfu = matches!(
        srv.cfg.maxmemory_policy,
        Policy::AllKeysLru | Policy::VolatileLru | Policy::AllKeysLfu | Policy::VolatileLfu
    );
    match v {
        Value::Int(n)
            if (0..SHARED_INTEGERS).contains(n) && !(srv.cfg.maxmemory > 0 && lru_or_lfu) =>
        {
            SHARED_REFCOUNT
        }
        _ => 1,
    }
}

/// Redis's `rdbSavedObjectLen`: the bytes of the value in an RDB file (after the type
/// byte), compressed as `rdbcompression` says: the DUMP payload less its type byte and
/// its footer.
fn serialized_len(srv: &Server, v: &Value) -> usize {
    let compress = srv.cfg.persist.rdbcompression;
    let payload = super::super::dump::create_payload_with(
        v,
        compress,
        srv.cfg.list_max_listpack_size,
        srv.debug.packed_threshold,
    );
    payload.len().saturating_sub(1 + 10)
}

fn list_nodes<'a>(srv: &Server, items: impl Iterator<Item = &'a [u8]>) -> Vec<QuicklistNode> {
    quicklist_nodes(
        srv.cfg.list_max_listpack_size,
        srv.debug.packed_threshold,
        items,
    )
}

/// Redis's `objectCommandLookupOrReply` with `no such key`: lazy expiry, hit/miss counts.
fn lookup<'a>(ctx: &'a mut Ctx) -> Result<&'a Value, CmdError> {
    let db = ctx.client.db;
    if !lookup_notouch(ctx.srv, db, &ctx.args[2], false) {
        return Err(CmdError::NoSuchKey);
    }
    ctx.srv.keyspace.dbs[db]
        .get(&ctx.args[2])
        .map(|e| &e.val)
        .ok_or(CmdError::NoSuchKey)
}

/// LISTPACK key: the listpack of a small hash or sorted set, printed on stdout.
pub fn listpack(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[2].clone();
    let v = lookup(ctx)?;
    let mut lp = ListpackWriter::new();
    match v {
        Value::Hash(h) if matches!(h, Hash::Listpack(_)) => {
            for (f, x) in h.iter() {
                lp.push(f);
                lp.push(x);
            }
        }
        Value::ZSet(z) if matches!(z, ZSet::Listpack(_)) => {
            for (m, s) in z.iter() {
                lp.push(m);
                lp.push(crate::db::zset::listpack_score_text(s).as_bytes());
            }
        }
        _ => return Err(CmdError::err("Not a listpack encoded object.")),
    }
    let count = lp.len();
    let bytes = lp.finish();
    let mut text = format!(
        "{{listpack of key {}}} {{total bytes {}}} {{num entries {}}}\n",
        String::from_utf8_lossy(&key),
        bytes.len(),
        count
    );
    text.push_str(&entries_repr(&bytes));
    print_stdout(&text);
    ctx.out.simple("Listpack structure printed on stdout");
    Ok(())
}

/// QUICKLIST key [0|1]: the quicklist nodes of a list (with their entries when the detail
/// level is not 0), printed on stdout.
pub fn quicklist(ctx: &mut Ctx) -> CmdResult {
    let full = ctx.args.get(3).is_some_and(|a| atoi(a) != 0);
    let key = ctx.args[2].clone();
    lookup(ctx)?;
    let srv = &*ctx.srv;
    let Some(Value::List(l)) = srv.keyspace.dbs[ctx.client.db].get(&key).map(|e| &e.val) else {
        return Err(CmdError::err("Not a quicklist encoded object."));
    };
    let nodes = list_nodes(srv, l.iter());
    let mut text = format!(
        "{{quicklist of key {}}} {{count : {}}} {{len : {}}} {{fill : {}}} {{compress : 0}}\n",
        String::from_utf8_lossy(&key),
        l.len(),
        nodes.len(),
        srv.cfg.list_max_listpack_size
    );
    for (i, n) in nodes.iter().enumerate() {
        text.push_str(&format!(
            "{{node {i}}} {{container : {}}} {{count : {}}} {{sz : {}}}\n",
            if n.plain { "PLAIN" } else { "PACKED" },
            n.count,
            n.data.len()
        ));
        if full {
            if n.plain {
                text.push_str(&format!("\t{}\n", String::from_utf8_lossy(&n.data)));
            } else {
                text.push_str(&entries_repr(&n.data));
            }
        }
    }
    print_stdout(&text);
    ctx.out.simple("Quicklist structure printed on stdout");
    Ok(())
}

/// One line per entry of a listpack: index, offset, size and content.
fn entries_repr(lp: &[u8]) -> String {
    let mut out = String::new();
    match crate::persist::rdb::blobs::listpack_parse(lp, 0) {
        Ok(elems) => {
            for (i, e) in elems.into_iter().enumerate() {
                let b = e.into_bytes();
                out.push_str(&format!(
                    "\t{{index {i}}} {{len {}}} {}\n",
                    b.len(),
                    String::from_utf8_lossy(&b)
                ));
            }
        }
        Err(e) => out.push_str(&format!("\t{{unreadable: {e}}}\n")),
    }
    out
}

fn print_stdout(text: &str) {
    let mut o = std::io::stdout().lock();
    // Nothing to do if stdout is closed: the reply says where the text went.
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}
