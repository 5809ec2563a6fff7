//! A point-in-time snapshot of the whole keyspace, produced a bounded step at a time under
//! the server lock so writes go on meanwhile (BGSAVE, AOF rewrite, a replica's full
//! synchronization). See `db::DbSnapshot` for how each database keeps its data as it was at
//! the start. What the entries become is up to a [`Sink`]: an RDB file, or commands.

use crate::db::{Hash, Set, Value, ZSet};
use crate::persist::rdb::codec::{op, CRC64};
use crate::persist::rdb::write::RdbWriter;
use crate::server::Server;

/// Keys written per step: small enough that no command waits long for the lock.
pub const STEP_KEYS: usize = 256;
/// Bytes produced per step at most (but whole keys: one big value may exceed it), so steps
/// over big values stay short too.
pub const STEP_BYTES: usize = 256 * 1024;

/// Where a snapshot's entries go.
pub trait Sink: Send {
    /// A database begins (its key and expire counts at the start).
    fn begin_db(&mut self, db: usize, keys: usize, expires: usize);
    fn entry(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>);
    /// Everything was written.
    fn finish(&mut self);
    /// The bytes produced so far (all of them once finished).
    fn take(&mut self) -> Vec<u8>;
    /// Bytes produced and not taken yet.
    fn pending(&self) -> usize;
}

/// The RDB form, as Redis 7.0 writes it.
pub struct RdbSink {
    rdb: RdbWriter,
    digest: crc::Digest<'static, u64, crate::persist::rdb::codec::Crc64Table>,
    checksum: bool,
    list_fill: i64,
    finished: bool,
}

impl RdbSink {
    pub fn new(srv: &Server) -> Self {
        let mut rdb = RdbWriter::new(srv.cfg.persist.rdbcompression);
        rdb.aux("redis-ver", crate::REDIS_VERSION.as_bytes());
        rdb.aux_int("redis-bits", usize::BITS as i64);
        rdb.aux_int("ctime", srv.clock.unix_ms() as i64 / 1000);
        rdb.aux_int("used-mem", crate::alloc::allocated() as i64);
        let stream_db = if srv.repl.is_replica() {
            srv.repl.master_db
        } else {
            srv.propagator.selected_db().unwrap_or(0)
        };
        rdb.aux_int("repl-stream-db", stream_db as i64);
        rdb.aux("repl-id", srv.repl.replid.as_bytes());
        rdb.aux_int("repl-offset", srv.repl.offset as i64);
        rdb.aux_int("aof-base", 0);
        // The function libraries, before the databases (Redis's `rdbSaveFunctions`).
        srv.functions.write_rdb(&mut rdb.w);
        rdb.packed_threshold = srv.debug.packed_threshold;
        RdbSink {
            rdb,
            digest: CRC64.digest(),
            checksum: srv.cfg.persist.rdbchecksum,
            list_fill: srv.cfg.list_max_listpack_size,
            finished: false,
        }
    }
}

impl Sink for RdbSink {
    fn begin_db(&mut self, db: usize, keys: usize, expires: usize) {
        self.rdb.select_db(db, keys, expires);
    }

    fn entry(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>) {
        write_entry(&mut self.rdb, key, value, expire_ms, self.list_fill);
    }

    fn finish(&mut self) {
        self.rdb.w.u8(op::EOF);
        self.finished = true;
    }

    fn pending(&self) -> usize {
        self.rdb.w.buf.len()
    }

    fn take(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.rdb.w.buf);
        self.digest.update(&bytes);
        if self.finished {
            let crc = if self.checksum {
                std::mem::replace(&mut self.digest, CRC64.digest()).finalize()
            } else {
                0
            };
            bytes.extend_from_slice(&crc.to_le_bytes());
            self.finished = false;
        }
        bytes
    }
}

pub struct Snapshot {
    sink: Box<dyn Sink>,
    /// Original indexes of the databases to write, in order.
    order: Vec<usize>,
    next: usize,
    started_db: Option<usize>,
    pub keys_written: u64,
    pub bytes_written: u64,
    /// Changes made before the snapshot started (`server.dirty` then).
    pub dirty_at_start: u64,
    done: bool,
    /// Which snapshot this is (`RdbState::snapshot_epoch` when it began). The databases
    /// hold one snapshot at a time: a newer one supersedes this one (see `begin_with`).
    epoch: u64,
}

impl Snapshot {
    /// Start an RDB snapshot: freeze every non-empty database at this instant.
    pub fn begin(srv: &mut Server) -> Snapshot {
        let sink = Box::new(RdbSink::new(srv));
        Snapshot::begin_with(srv, sink)
    }

    /// Start a snapshot with any sink. The databases hold one snapshot at a time, and the
    /// callers wait until none runs (`snapshot_busy`), except a full synchronization during
    /// a BGREWRITEAOF with the AOF off (which only persistence knows of): that rewrite is
    /// then superseded, gives up, and is tried again later.
    pub fn begin_with(srv: &mut Server, sink: Box<dyn Sink>) -> Snapshot {
        if srv.keyspace.dbs.iter().any(|d| d.snap.is_some()) {
            tracing::warn!("A new snapshot supersedes the one in progress");
            for db in srv.keyspace.dbs.iter_mut() {
                if db.snap.is_some() {
                    db.end_snapshot();
                }
            }
        }
        srv.persistence.rdb.snapshot_epoch += 1;
        let mut order = Vec::new();
        for db in srv.keyspace.dbs.iter_mut() {
            if !db.is_empty() {
                db.start_snapshot();
                order.push(db.id);
            }
        }
        Snapshot {
            sink,
            order,
            next: 0,
            started_db: None,
            keys_written: 0,
            bytes_written: 0,
            dirty_at_start: srv.dirty,
            done: false,
            epoch: srv.persistence.rdb.snapshot_epoch,
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The snapshot's identity (to tell whether a rewrite's state is still its own).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether the databases still hold this snapshot (a newer one supersedes it).
    pub fn is_current(&self, srv: &Server) -> bool {
        srv.persistence.rdb.snapshot_epoch == self.epoch
    }

    /// Write about `budget` keys; returns the next bytes (the end of the output once
    /// everything is written: then `is_done`).
    pub fn step(&mut self, srv: &mut Server, budget: usize) -> Vec<u8> {
        if !self.is_current(srv) {
            // Superseded: the databases' snapshot state is another's now.
            return Vec::new();
        }
        let mut left = budget;
        while !self.done && left > 0 {
            let Some(&orig) = self.order.get(self.next) else {
                self.sink.finish();
                self.done = true;
                break;
            };
            // SWAPDB may have moved the data: find the database holding this part.
            let Some(db) = srv
                .keyspace
                .dbs
                .iter_mut()
                .find(|d| d.snap.as_ref().is_some_and(|s| s.db == orig))
            else {
                self.next += 1;
                continue;
            };
            if self.started_db != Some(orig) {
                if let Some(s) = db.snap.as_ref() {
                    self.sink
                        .begin_db(orig, s.keys_at_start, s.expires_at_start);
                }
                self.started_db = Some(orig);
            }
            let sink = &mut self.sink;
            let mut n = 0usize;
            let complete = db.snapshot_step(left, |k, v, exp| {
                sink.entry(k, v, exp);
                n += 1;
                sink.pending() >= STEP_BYTES
            });
            self.keys_written += n as u64;
            left = left.saturating_sub(n.max(1));
            if self.sink.pending() >= STEP_BYTES {
                left = 0;
            }
            if complete {
                db.end_snapshot();
                self.next += 1;
            }
        }
        let bytes = self.sink.take();
        self.bytes_written += bytes.len() as u64;
        bytes
    }

    /// Give up (write error, shutdown): release the databases (unless superseded: then
    /// they hold another snapshot).
    pub fn abort(self, srv: &mut Server) {
        if !self.is_current(srv) {
            return;
        }
        for db in srv.keyspace.dbs.iter_mut() {
            if db.snap.is_some() {
                db.end_snapshot();
            }
        }
    }

    /// The whole RDB at once (SAVE, the first AOF base): everything under one lock, read
    /// straight from the databases, so a background snapshot in progress is left alone.
    pub fn whole(srv: &mut Server) -> Vec<u8> {
        let sink: Box<dyn Sink> = Box::new(RdbSink::new(srv));
        Self::whole_with(srv, sink)
    }

    /// The whole output of any sink at once.
    pub fn whole_with(srv: &Server, mut sink: Box<dyn Sink>) -> Vec<u8> {
        let mut out = Vec::new();
        for db in srv.keyspace.dbs.iter().filter(|d| !d.is_empty()) {
            sink.begin_db(db.id, db.keys.len(), db.expires.len());
            for (k, e) in db.keys.iter() {
                sink.entry(k, &e.val, db.expire_at(k));
                if sink.pending() >= STEP_BYTES {
                    out.extend_from_slice(&sink.take());
                }
            }
        }
        sink.finish();
        out.extend_from_slice(&sink.take());
        out
    }
}

/// One key in the encoding Redis 7.0 would use for it.
pub fn write_entry(w: &mut RdbWriter, key: &[u8], v: &Value, expire: Option<i64>, fill: i64) {
    match v {
        Value::Int(_) | Value::Small { .. } | Value::Big { .. } => {
            w.string(key, expire, &v.bytes())
        }
        Value::List(l) => w.list(key, expire, fill, l.iter()),
        Value::Set(s) => match s {
            Set::Intset(v) => w.set_intset_blob(key, expire, v.blob()),
            Set::Table(d) => w.set(key, expire, d.len(), d.keys().map(|k| k.as_bytes())),
        },
        Value::Hash(h) => match h {
            Hash::Listpack(_) => w.hash_listpack(key, expire, h.iter()),
            Hash::Table(d) => w.hash(
                key,
                expire,
                d.len(),
                d.iter().map(|(f, x)| (f.as_bytes(), x.as_bytes())),
            ),
        },
        Value::ZSet(z) => write_zset(w, key, expire, z),
        Value::Stream(s) => w.stream(key, expire, s),
    }
}

fn write_zset(w: &mut RdbWriter, key: &[u8], expire: Option<i64>, z: &ZSet) {
    if z.encoding() == "listpack" {
        w.zset_listpack(key, expire, z.iter());
    } else {
        w.zset(key, expire, z.len(), z.iter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::read::{Item, Parser};
    use crate::testkit::TestServer;

    /// The keys of an RDB file.
    fn keys(rdb: &[u8]) -> Vec<Vec<u8>> {
        let mut p = Parser::new(rdb).unwrap();
        let mut out = Vec::new();
        while let Some(item) = p.next_item() {
            if let Item::Key { key, .. } = item.unwrap() {
                out.push(key);
            }
        }
        out.sort();
        out
    }

    fn filled() -> TestServer {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        for i in 0..2000 {
            t.line(c, &format!("SET k{i} {i}"));
        }
        t
    }

    fn run_to_end(s: &mut Snapshot, srv: &mut Server) -> Vec<u8> {
        let mut out = Vec::new();
        while !s.is_done() {
            out.extend(s.step(srv, 100));
        }
        out
    }

    #[test]
    fn a_newer_snapshot_supersedes_an_older_one() {
        let mut t = filled();
        let mut old = Snapshot::begin(&mut t.srv);
        let _ = old.step(&mut t.srv, 100);
        let mut new = Snapshot::begin(&mut t.srv);
        assert!(!old.is_current(&t.srv) && new.is_current(&t.srv));
        // The old one produces nothing more, and giving it up leaves the new one alone.
        assert!(old.step(&mut t.srv, 100).is_empty());
        old.abort(&mut t.srv);
        let c = t.connect();
        t.line(c, "SET k1 changed");
        t.line(c, "DEL k2");
        let rdb = run_to_end(&mut new, &mut t.srv);
        assert_eq!(keys(&rdb).len(), 2000);
    }

    #[test]
    fn whole_leaves_a_background_snapshot_alone() {
        let mut t = filled();
        let mut bg = Snapshot::begin(&mut t.srv);
        let mut rdb = bg.step(&mut t.srv, 100);
        let c = t.connect();
        t.line(c, "DEL k1999");
        let whole = Snapshot::whole(&mut t.srv);
        assert_eq!(keys(&whole).len(), 1999);
        assert!(bg.is_current(&t.srv));
        rdb.extend(run_to_end(&mut bg, &mut t.srv));
        assert_eq!(keys(&rdb).len(), 2000);
    }
}
