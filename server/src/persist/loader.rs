//! Loading the dataset at start-up (the RDB, or the AOF's base and incremental files), a
//! bounded number of keys or commands per lock hold, so clients that connect meanwhile get
//! `-LOADING` instead of waiting on the lock. A corrupt file stops the server with a message
//! naming the file and offset; nothing is written. A command cut at the end of the last AOF
//! file (a crash mid-write) is dropped when `aof-load-truncated` allows it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::time::Instant;

use crate::persist::load::to_value;
use crate::persist::rdb::read::{Item, Parser};
use crate::shared::Shared;

const KEYS_PER_STEP: usize = 1000;

/// What to load, in order.
pub enum Source {
    Rdb {
        path: PathBuf,
        data: Vec<u8>,
    },
    /// A stream of commands (AOF); `last` for the last file of the AOF.
    Commands {
        path: PathBuf,
        data: Vec<u8>,
        last: bool,
    },
}

impl Source {
    /// An AOF file: an RDB preamble or commands, by its first bytes.
    pub fn aof_file(path: PathBuf, data: Vec<u8>, last: bool) -> Source {
        if data.starts_with(b"REDIS") {
            Source::Rdb { path, data }
        } else {
            Source::Commands { path, data, last }
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Rdb { data, .. } | Source::Commands { data, .. } => data.len(),
        }
    }
}

fn fail(shared: &Shared, msg: String) {
    tracing::error!("{msg}");
    let mut srv = shared.lock();
    srv.process.fatal = Some(msg);
    srv.persistence.rdb.loading = false;
    drop(srv);
    shared.cancel.cancel();
}

/// Load `sources`, then, for an AOF, open it for appending (`aof` is its manifest).
pub async fn load_task(
    shared: Arc<Shared>,
    sources: Vec<Source>,
    aof: Option<Option<crate::persist::aof::Manifest>>,
) {
    let started = Instant::now();
    let total: usize = sources.iter().map(Source::len).sum();
    {
        let mut srv = shared.lock();
        srv.persistence.rdb.loading = true;
        srv.persistence.rdb.loading_started = Some(started);
        srv.persistence.rdb.loading_total_bytes = total as u64;
        srv.persistence.rdb.loading_loaded_bytes = 0;
        srv.persistence.rdb.loading_rdb_used_mem = 0;
        srv.persistence.rdb.last_load_keys_loaded = 0;
        srv.persistence.rdb.last_load_keys_expired = 0;
    }
    let mut st = State {
        db: 0,
        loaded: 0,
        expired: 0,
        keep_expired: shared.lock().repl.is_replica(),
        allow_dup: false,
        info: LoadInfo::default(),
    };
    let mut rdb_loaded = false;
    let mut done_bytes = 0usize;
    for source in sources {
        let ok = match &source {
            Source::Rdb { path, data } => {
                rdb_loaded = aof.is_none();
                load_rdb(&shared, path, data, &mut st, done_bytes, total).await
            }
            Source::Commands { path, data, last } => {
                load_commands(&shared, path, data, *last, done_bytes).await
            }
        };
        if !ok {
            return;
        }
        done_bytes += source.len();
    }
    let mut srv = shared.lock();
    allow_resizing(&mut srv);
    srv.persistence.rdb.loading = false;
    srv.persistence.rdb.last_load_keys_loaded = st.loaded;
    srv.persistence.rdb.last_load_keys_expired = st.expired;
    if rdb_loaded {
        if let (Some(id), Some(off)) = (&st.info.repl_id, st.info.repl_offset) {
            srv.restore_replication(id, off, st.info.repl_stream_db);
        }
    }
    if let Some(manifest) = aof {
        match crate::persist::aof::Aof::open(&mut srv, manifest) {
            Ok(a) => {
                srv.persistence.aof = Some(a);
                srv.propagator.enabled = true;
                srv.propagator.reset_aof_selected_db();
            }
            Err(e) => {
                drop(srv);
                fail(&shared, format!("Can't open the append-only file: {e}"));
                return;
            }
        }
    }
    tracing::info!(
        "DB loaded from {}: {:.3} seconds",
        if srv.persistence.aof.is_some() {
            "append only file"
        } else {
            "disk"
        },
        started.elapsed().as_secs_f64()
    );
}

async fn load_rdb(
    shared: &Arc<Shared>,
    path: &Path,
    data: &[u8],
    st: &mut State,
    before: usize,
    total: usize,
) -> bool {
    let mut parser = match Parser::new(data) {
        Ok(p) => p,
        Err(e) => {
            fail(
                shared,
                format!(
                    "Bad file format reading the RDB file {}: {e}",
                    path.display()
                ),
            );
            return false;
        }
    };
    let mut last_log = Instant::now();
    let loaded_before = st.loaded;
    loop {
        match step(shared, &mut parser, st, data.len(), before) {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(
                    "Done loading RDB {}, keys loaded: {}, keys expired: {}.",
                    path.display(),
                    st.loaded - loaded_before,
                    st.expired
                );
                return true;
            }
            Err(e) => {
                fail(
                    shared,
                    format!(
                        "Bad file format reading the RDB file {}: {e}",
                        path.display()
                    ),
                );
                return false;
            }
        }
        if last_log.elapsed().as_secs() >= 1 {
            last_log = Instant::now();
            tracing::info!(
                "Loading: {:.0}% ({} keys)",
                (before + parser.offset()) as f64 * 100.0 / total.max(1) as f64,
                st.loaded
            );
        }
        tokio::task::yield_now().await;
    }
}

/// Loading state of one AOF file: the rest of its bytes, and a client of its own.
pub(crate) struct CommandLoad {
    buf: bytes::BytesMut,
    decoder: picket_common::resp::RequestDecoder,
    fake: crate::client::Client,
    pipeline: crate::shared::Pipeline,
    pub(crate) consumed: usize,
    pub(crate) multi_start: Option<usize>,
}

pub(crate) enum Progress {
    More,
    End,
    Failed(String),
}

impl CommandLoad {
    /// The loading of `data`, run by a client of its own (authenticated, flagged as the
    /// loader: the checks for clients do not apply to it).
    pub(crate) fn new(
        srv: &crate::server::Server,
        pipeline: crate::shared::Pipeline,
        data: &[u8],
    ) -> CommandLoad {
        let addr = ([127, 0, 0, 1], 0).into();
        let mut fake = crate::client::Client::new(0, addr, addr, srv.clock.now());
        fake.authenticated = true;
        fake.flags |= crate::client::cflags::LOADER;
        CommandLoad {
            buf: bytes::BytesMut::from(data),
            decoder: picket_common::resp::RequestDecoder::new(),
            fake,
            pipeline,
            consumed: 0,
            multi_start: None,
        }
    }

    /// Run up to 1000 commands under one lock hold.
    fn step(&mut self, shared: &Shared, path: &std::path::Path, before: usize) -> Progress {
        let mut srv = shared.lock();
        self.run(&mut srv, path, before, 1000)
    }

    /// Run up to `max` commands.
    pub(crate) fn run(
        &mut self,
        srv: &mut crate::server::Server,
        path: &std::path::Path,
        before: usize,
        max: usize,
    ) -> Progress {
        use picket_common::resp::{Limits, ReplyBuf};
        let limits = Limits {
            max_bulk_len: i64::MAX,
            unauthenticated: false,
        };
        for _ in 0..max {
            let start = self.consumed;
            match self.buf.first() {
                None => return Progress::End,
                // An annotation (`#TS:<unix time>` with aof-timestamp-enabled): skipped, as
                // Redis does. One cut at the end is a cut command.
                Some(b'#') => match self.buf.iter().position(|&b| b == b'\n') {
                    Some(nl) => {
                        let _ = self.buf.split_to(nl + 1);
                        self.consumed += nl + 1;
                        continue;
                    }
                    None => return Progress::End,
                },
                Some(b'*') => {}
                // Redis reads only multibulk commands from an AOF (no inline commands).
                Some(_) => {
                    return Progress::Failed(format!(
                        "Bad file format reading the append only file {} at offset {start}: not a command",
                        path.display()
                    ))
                }
            }
            match self.decoder.decode(&mut self.buf, &limits) {
                Ok(Some(req)) => {
                    self.consumed += req.wire_len();
                    if req.args[0].eq_ignore_ascii_case(b"multi") {
                        self.multi_start = Some(start);
                    } else if req.args[0].eq_ignore_ascii_case(b"exec") {
                        self.multi_start = None;
                    }
                    if !(self.pipeline.resolves)(srv, &req.args) {
                        let name = String::from_utf8_lossy(&req.args[0]).into_owned();
                        return Progress::Failed(format!(
                            "Unknown command '{name}' reading the append only file {} at offset {start}",
                            path.display()
                        ));
                    }
                    let mut out = ReplyBuf::default();
                    srv.call.clock_hint = None;
                    let flow = (self.pipeline.replay)(srv, &mut self.fake, &mut out, &req.args);
                    // Only a command that panicked closes the loader's client: the dataset
                    // would no longer be the file's, so loading stops (as Redis would crash).
                    if flow == crate::ctx::Flow::Close {
                        return Progress::Failed(format!(
                            "Internal error running the command at offset {start} of the append only file {}",
                            path.display()
                        ));
                    }
                }
                Ok(None) => return Progress::End,
                Err(e) => {
                    return Progress::Failed(format!(
                        "Bad file format reading the append only file {} at offset {}: {e}",
                        path.display(),
                        self.consumed
                    ))
                }
            }
        }
        srv.persistence.rdb.loading_loaded_bytes = (before + self.consumed) as u64;
        Progress::More
    }
}

/// Run the commands of an AOF file through the command pipeline, as a client of its own.
async fn load_commands(
    shared: &Arc<Shared>,
    path: &Path,
    data: &[u8],
    last: bool,
    before: usize,
) -> bool {
    let mut load = CommandLoad::new(&shared.lock(), shared.pipeline, data);
    loop {
        match load.step(shared, path, before) {
            Progress::More => tokio::task::yield_now().await,
            Progress::End => {
                return finish_commands(shared, path, data, load.consumed, last, load.multi_start)
            }
            Progress::Failed(msg) => {
                fail(shared, msg);
                return false;
            }
        }
    }
}

/// The end of an AOF file: complete, or cut mid-command / mid-transaction.
fn finish_commands(
    shared: &Shared,
    path: &Path,
    data: &[u8],
    consumed: usize,
    last: bool,
    multi_start: Option<usize>,
) -> bool {
    let truncated_ok = shared.lock().cfg.persist.aof_load_truncated;
    match end_of_commands(path, data.len(), consumed, last, multi_start, truncated_ok) {
        Ok(()) => true,
        Err(msg) => {
            fail(shared, msg);
            false
        }
    }
}

/// The end of an AOF file of `len` bytes whose commands were read up to `consumed`: fine
/// if complete; a command or transaction cut at the end of the last file is dropped (the
/// file truncated there) when `aof-load-truncated` allows it; anything else is an error.
pub(crate) fn end_of_commands(
    path: &Path,
    len: usize,
    consumed: usize,
    last: bool,
    multi_start: Option<usize>,
    truncated_ok: bool,
) -> Result<(), String> {
    let valid = multi_start.unwrap_or(consumed);
    if valid == len {
        return Ok(());
    }
    if !(last && truncated_ok) {
        return Err(format!(
            "Bad file format reading the append only file {}: unexpected end of file at offset {valid}. Make a backup of your AOF, then truncate it or set aof-load-truncated yes",
            path.display()
        ));
    }
    tracing::warn!(
        "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncating it at offset {valid}",
        path.display()
    );
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = f.set_len(valid as u64);
    }
    Ok(())
}

pub(crate) struct State {
    db: usize,
    pub(crate) loaded: u64,
    pub(crate) expired: u64,
    /// A replica keeps keys that are already expired: its master deletes them.
    keep_expired: bool,
    /// A key already in the database is replaced (DEBUG RELOAD MERGE, Redis's
    /// `RDBFLAGS_ALLOW_DUP`); otherwise it is an error.
    pub(crate) allow_dup: bool,
    pub(crate) info: LoadInfo,
}

impl State {
    /// The state of a load from the start of a file.
    pub(crate) fn new(keep_expired: bool) -> State {
        State {
            db: 0,
            loaded: 0,
            expired: 0,
            keep_expired,
            allow_dup: false,
            info: LoadInfo::default(),
        }
    }
}

/// The replication info an RDB carries (aux fields `repl-id`, `repl-offset`,
/// `repl-stream-db`).
#[derive(Debug, Default, Clone)]
pub struct LoadInfo {
    pub repl_id: Option<String>,
    pub repl_offset: Option<u64>,
    pub repl_stream_db: Option<usize>,
    pub keys: u64,
}

/// After loading: the tables pre-sized from RESIZEDB may resize again.
pub(crate) fn allow_resizing(srv: &mut crate::server::Server) {
    for db in srv.keyspace.dbs.iter_mut() {
        db.keys.set_resize_allowed(true);
        db.expires.set_resize_allowed(true);
    }
}

/// Load up to `KEYS_PER_STEP` items under one lock hold; true when the file is done.
fn step(
    shared: &Shared,
    parser: &mut Parser,
    st: &mut State,
    total: usize,
    before: usize,
) -> Result<bool, String> {
    let mut srv = shared.lock();
    for _ in 0..KEYS_PER_STEP {
        let at = parser.offset();
        let item = match parser.next_item() {
            None => return Ok(true),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(i)) => i,
        };
        apply_item(&mut srv, st, item, at, total)?;
    }
    srv.persistence.rdb.loading_loaded_bytes = (before + parser.offset()) as u64;
    if srv.persistence.rdb.loading {
        // INFO shows the count growing while loading, as Redis.
        srv.persistence.rdb.last_load_keys_loaded = st.loaded;
    }
    Ok(false)
}

/// Apply one item of an RDB (read at offset `at` of a file of `total` bytes) to the
/// keyspace.
pub(crate) fn apply_item(
    srv: &mut crate::server::Server,
    st: &mut State,
    item: Item,
    at: usize,
    total: usize,
) -> Result<(), String> {
    match item {
        Item::Aux(k, v) => {
            let text = String::from_utf8_lossy(&v).into_owned();
            match &k[..] {
                b"used-mem" => srv.persistence.rdb.loading_rdb_used_mem = text.parse().unwrap_or(0),
                b"repl-id" if text.len() == 40 => st.info.repl_id = Some(text),
                b"repl-offset" => st.info.repl_offset = text.parse().ok(),
                b"repl-stream-db" => st.info.repl_stream_db = text.parse().ok(),
                _ => {}
            }
            if k == b"redis-ver" {
                tracing::info!(
                    "Loading RDB produced by version {}",
                    String::from_utf8_lossy(&v)
                );
            }
        }
        Item::SelectDb(n) => {
            if n as usize >= srv.keyspace.dbs.len() {
                return Err(format!(
                    "the file selects database {n} at offset {at} but the server has {} databases",
                    srv.keyspace.dbs.len()
                ));
            }
            st.db = n as usize;
        }
        Item::ResizeDb { keys, expires } => {
            // Pre-size the tables (bounded: the counts come from the file), and keep the
            // cron from shrinking them while they fill (Redis runs no cron while loading).
            let db = &mut srv.keyspace.dbs[st.db];
            db.keys.expand((keys as usize).min(total));
            db.expires.expand((expires as usize).min(total));
            db.keys.set_resize_allowed(false);
            db.expires.set_resize_allowed(false);
        }
        Item::Key {
            key,
            value,
            expire_ms,
            idle,
            freq,
        } => {
            if !st.keep_expired && expire_ms.is_some_and(|t| t < srv.now_ms) {
                // As a master, Redis drops keys already expired when loading.
                st.expired += 1;
                return Ok(());
            }
            let seed = srv.data().random_u64();
            let v = to_value(value, &srv.cfg, seed, at).map_err(|e| e.to_string())?;
            let lru = crate::evict::loaded(srv, idle, freq);
            let db = st.db;
            if !srv.keyspace.dbs[db].set(&key, v, lru, false) && !st.allow_dup {
                return Err(format!(
                    "RDB has duplicated key '{}' in DB {db} (at offset {at})",
                    String::from_utf8_lossy(&key)
                ));
            }
            if let Some(t) = expire_ms {
                srv.keyspace.dbs[db].set_expire(&key, t);
            }
            st.loaded += 1;
        }
        Item::Function(code) => {
            // A library with the name of one already there replaces it only where keys may
            // (DEBUG RELOAD MERGE), as Redis's `RDBFLAGS_ALLOW_DUP`. No time limit: Redis
            // runs the RDB's libraries without one.
            let limit = srv.cfg.lua_memory_limit;
            srv.functions
                .load(&bytes::Bytes::from(code), st.allow_dup, 0, limit)
                .map_err(|e| format!("Failed loading library, {e} (at offset {at})"))?;
        }
        Item::Eof => {}
    }
    Ok(())
}
