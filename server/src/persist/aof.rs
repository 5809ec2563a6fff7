//! The append-only file, in Redis 7's multi-part layout: in `dir`/`appenddirname`, a base
//! file (an RDB, or commands when `aof-use-rdb-preamble no`), incremental files of the
//! commands written since, and a manifest naming them:
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! Every command's effect (the propagation stream, SELECTs included) is appended to the
//! current incremental file at the end of each batch, before the replies are written; with
//! `appendfsync always` it is also fsynced then, so an acknowledged write survives a crash.
//! BGREWRITEAOF opens a new incremental file at once and writes a new base from a
//! point-in-time snapshot; when it is done the manifest switches to them atomically and the
//! old files are deleted.
//!
//! `CONFIG SET appendonly yes` does not write the base in the foreground: as Redis's
//! AOF_WAIT_REWRITE, writes go to a temporary incremental file while a background rewrite
//! writes the base, and the new manifest names both once it is done. BGREWRITEAOF with the
//! AOF off writes a base and a manifest naming only it, as Redis 7.0 does.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::time::Instant;

use crate::persist::aof_commands::CommandSink;
use crate::persist::aof_file::io;
pub(crate) use crate::persist::aof_file::write_atomic;
pub use crate::persist::aof_file::*;
use crate::persist::aof_rewrite::base_ext;
pub use crate::persist::aof_rewrite::{
    check_auto_rewrite, start_rewrite, OffRewrite, RewriteStart, REWRITE_IN_PROGRESS,
};
use crate::persist::snapshot::Snapshot;
use crate::server::Server;

/// The directory of the AOF files.
pub fn aof_dir(srv: &Server) -> PathBuf {
    Path::new(&srv.cfg.dir).join(&srv.cfg.persist.appenddirname)
}

impl Aof {
    /// Open the AOF for appending after loading: a new incremental file (as Redis does on
    /// start), or, with no AOF yet, a base from the current data and a first incremental file.
    pub fn open(srv: &mut Server, existing: Option<Manifest>) -> Result<Aof, AofError> {
        let dir = aof_dir(srv);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let filename = srv.cfg.persist.appendfilename.clone();
        let mut manifest = existing.unwrap_or_default();
        let mut base_size = 0;
        if manifest.base.is_none() && manifest.incrs.is_empty() {
            let preamble = srv.cfg.persist.aof_use_rdb_preamble;
            let name = format!("{filename}.1.base.{}", base_ext(preamble));
            tracing::info!("Creating AOF base file {name} on server start");
            let bytes = if preamble {
                Snapshot::whole(srv)
            } else {
                Snapshot::whole_with(srv, Box::new(CommandSink::default()))
            };
            base_size = bytes.len() as u64;
            write_atomic(&dir.join(&name), &bytes)?;
            manifest.base = Some(AofFile {
                name,
                seq: 1,
                kind: 'b',
            });
        }
        let seq = manifest.next_incr_seq();
        let name = format!("{filename}.{seq}.incr.aof");
        tracing::info!("Creating AOF incr file {name} on server start");
        let file = Self::open_incr(&dir, &name)?;
        manifest.incrs.push(AofFile {
            name,
            seq,
            kind: 'i',
        });
        let aof = Aof {
            dir,
            filename,
            manifest,
            file,
            fsync: srv.cfg.persist.appendfsync,
            last_fsync: Instant::now(),
            unsynced: false,
            fsync_running: Arc::new(AtomicBool::new(false)),
            current_size: 0,
            base_size,
            rewrite_started: None,
            last_rewrite_ok: true,
            last_rewrite_time_sec: -1,
            rewrites: 0,
            pending: Vec::new(),
            last_write_error: None,
            fsync_error: Arc::default(),
            write_error_logged: None,
            wait_rewrite: false,
            rewrite_scheduled: false,
            rewrite_failed_at: None,
            rewrite_epoch: 0,
        };
        aof.save_manifest()?;
        Ok(aof)
    }
}

/// CONFIG SET appendonly: start or stop the AOF. Starting does not block: writes go to a
/// temporary incremental file while a background rewrite writes the base (scheduled when
/// another snapshot runs); the manifest names them once the base is done.
pub fn set_enabled(srv: &mut Server, on: bool) -> Result<(), AofError> {
    if on && srv.persistence.aof.is_none() {
        let dir = aof_dir(srv);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let filename = srv.cfg.persist.appendfilename.clone();
        // The files of an AOF switched off earlier are stale: the first rewrite replaces them.
        let existing = Aof::read_manifest(&dir, &filename)?.unwrap_or_default();
        let tmp = dir.join(temp_incr_name(&filename));
        let file = File::create(&tmp).map_err(io(&tmp))?;
        // A rewrite with the AOF off gives way to this one.
        srv.persistence.rdb.aof_off_rewrite = OffRewrite::default();
        srv.persistence.aof = Some(Aof {
            dir,
            filename,
            manifest: existing,
            file,
            fsync: srv.cfg.persist.appendfsync,
            last_fsync: Instant::now(),
            unsynced: false,
            fsync_running: Arc::new(AtomicBool::new(false)),
            current_size: 0,
            base_size: 0,
            rewrite_started: None,
            last_rewrite_ok: true,
            last_rewrite_time_sec: -1,
            rewrites: 0,
            pending: Vec::new(),
            last_write_error: None,
            fsync_error: Arc::default(),
            write_error_logged: None,
            wait_rewrite: true,
            rewrite_scheduled: false,
            rewrite_failed_at: None,
            rewrite_epoch: 0,
        });
        srv.propagator.enabled = true;
        srv.propagator.reset_aof_selected_db();
        match start_rewrite(srv) {
            Ok(RewriteStart::Started) => {}
            Ok(RewriteStart::Scheduled) => tracing::warn!(
                "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible."
            ),
            Err(e) => {
                tracing::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation: {e}");
                let _ = std::fs::remove_file(&tmp);
                srv.persistence.aof = None;
                srv.propagator.enabled = srv.repl.backlog.is_some();
                return Err(AofError::Rewrite(e));
            }
        }
    } else if !on {
        if let Some(aof) = srv.persistence.aof.take() {
            let _ = aof.file.sync_all();
            if aof.rewrite_started.is_some() {
                tracing::info!("Killing running AOF rewrite");
            }
            if aof.wait_rewrite {
                let _ = std::fs::remove_file(aof.dir.join(temp_incr_name(&aof.filename)));
            }
            tracing::info!("Append only file disabled");
        }
        srv.propagator.reset_aof_selected_db();
        srv.propagator.enabled = srv.repl.backlog.is_some();
    }
    Ok(())
}

/// The commands a write changed since the last call go to the AOF (called after each batch
/// of commands and each cron tick, under the lock).
///
/// A failed write (or fsync) under `appendfsync always` ends the process before any reply
/// of the batch is sent, as Redis does: what was acknowledged is on disk, and what is not
/// was never acknowledged. Under `everysec` and `no` the effects stay pending and are
/// written by a later call, while writes are refused with `-MISCONF`.
pub fn flush(srv: &mut Server) {
    crate::replication::stream::feed(srv);
    let measure = srv.latency_monitoring();
    let rdb = &srv.persistence.rdb;
    let child = rdb.bgsave_started.is_some() || rdb.aof_off_rewrite.started.is_some();
    let Some(aof) = srv.persistence.aof.as_mut() else {
        srv.repl.aof_buf.clear();
        return;
    };
    if srv.repl.aof_buf.is_empty() && aof.pending.is_empty() {
        return;
    }
    let bytes = srv.repl.aof_buf.split();
    let mut times = WriteTimes::default();
    let result = aof.append(&bytes, measure.then_some(&mut times));
    // The latency monitor's AOF events, as Redis's `flushAppendOnlyFile` names them: the
    // write by what ran beside it, every write, and the fsync of `appendfsync always`.
    if let Some(ms) = times.write_ms {
        let beside = if aof.fsync_running.load(std::sync::atomic::Ordering::Acquire) {
            "aof-write-pending-fsync"
        } else if child || aof.rewrite_started.is_some() {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        srv.latency_sample(beside, ms);
        srv.latency_sample("aof-write", ms);
    }
    if let Some(ms) = times.fsync_ms {
        srv.latency_sample("aof-fsync-always", ms);
    }
    let Some(aof) = srv.persistence.aof.as_mut() else {
        return;
    };
    match result {
        Ok(()) => {}
        Err(_) if aof.fsync != Fsync::Always => {}
        Err(AofWriteError::Write(_)) => fatal(
            srv,
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...".into(),
        ),
        Err(AofWriteError::Fsync(e)) => fatal(
            srv,
            format!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."),
        ),
    }
}

/// Stop the server at once, under the lock: the lock's release stops every task before
/// any reply of the current batch goes out (`shared::Locked`), and the process exits with
/// status 1 (`main`), as Redis's `exit(1)` here.
fn fatal(srv: &mut Server, msg: String) {
    tracing::error!("{msg}");
    srv.process.fatal.get_or_insert(msg);
}
