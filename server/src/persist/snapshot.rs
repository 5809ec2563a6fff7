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
    digest: crc::Digest<'static, u64>,
    checksum: bool,
    list_fill: i64,
    finished: bool,
}

impl RdbSink {
    pub fn new(srv: &Server) -> Self {
        let mut rdb = RdbWriter::new(srv.config.store().get_bool("rdbcompression"));
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
        RdbSink {
            rdb,
            digest: CRC64.digest(),
            checksum: srv.config.store().get_bool("rdbchecksum"),
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
}

impl Snapshot {
    /// Start an RDB snapshot: freeze every non-empty database at this instant.
    pub fn begin(srv: &mut Server) -> Snapshot {
        let sink = Box::new(RdbSink::new(srv));
        Snapshot::begin_with(srv, sink)
    }

    pub fn begin_with(srv: &mut Server, sink: Box<dyn Sink>) -> Snapshot {
        let mut order = Vec::new();
        for db in srv.dbs.iter_mut() {
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
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Write about `budget` keys; returns the next bytes (the end of the output once
    /// everything is written: then `is_done`).
    pub fn step(&mut self, srv: &mut Server, budget: usize) -> Vec<u8> {
        let mut left = budget;
        while !self.done && left > 0 {
            let Some(&orig) = self.order.get(self.next) else {
                self.sink.finish();
                self.done = true;
                break;
            };
            // SWAPDB may have moved the data: find the database holding this part.
            let Some(db) = srv
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

    /// Give up (write error, shutdown): release the databases.
    pub fn abort(self, srv: &mut Server) {
        for db in srv.dbs.iter_mut() {
            if db.snap.is_some() {
                db.end_snapshot();
            }
        }
    }

    /// The whole output at once (SAVE, tests): everything under one lock.
    pub fn whole(srv: &mut Server) -> Vec<u8> {
        let mut s = Snapshot::begin(srv);
        let mut out = Vec::new();
        while !s.is_done() {
            out.extend_from_slice(&s.step(srv, usize::MAX));
        }
        out
    }
}

/// One key in the encoding Redis 7.0 would use for it.
pub fn write_entry(w: &mut RdbWriter, key: &[u8], v: &Value, expire: Option<i64>, fill: i64) {
    match v {
        Value::Int(_) | Value::Small { .. } | Value::Big { .. } => {
            w.string(key, expire, &v.bytes())
        }
        Value::List(l) => w.list(key, expire, fill, l.items.iter().map(|s| s.as_bytes())),
        Value::Set(s) => match s.as_ref() {
            Set::Intset(v) => w.set_intset(key, expire, v),
            Set::Table(d) => w.set(key, expire, d.len(), d.keys().map(|k| k.as_bytes())),
        },
        Value::Hash(h) => match h.as_ref() {
            Hash::Listpack(v) => w.hash_listpack(
                key,
                expire,
                v.iter().map(|(f, x)| (f.as_bytes(), x.as_bytes())),
            ),
            Hash::Table(d) => w.hash(
                key,
                expire,
                d.len(),
                d.iter().map(|(f, x)| (f.as_bytes(), x.as_bytes())),
            ),
        },
        Value::ZSet(z) => write_zset(w, key, expire, z),
    }
}

fn write_zset(w: &mut RdbWriter, key: &[u8], expire: Option<i64>, z: &ZSet) {
    if z.encoding() == "listpack" {
        w.zset_listpack(key, expire, z.iter());
    } else {
        w.zset(key, expire, z.len(), z.iter());
    }
}
