//! AOF rewrites: BGREWRITEAOF with the AOF on (a new base and incremental file), the
//! first base of an AOF switched on by CONFIG SET (Redis's AOF_WAIT_REWRITE), BGREWRITEAOF
//! with the AOF off (a base alone, as Redis 7.0), rewrites scheduled while another snapshot
//! runs, and automatic rewrites. The base is written from a point-in-time snapshot by a
//! background task; it is renamed into place and the manifest switched under the lock.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::time::Instant;

use super::aof::{aof_dir, flush, temp_incr_name, write_atomic, Aof, AofFile, Manifest};
use crate::persist::bgfile::{sync_dir, BackgroundFile};
use crate::persist::save::{busy, write_snapshot};
use crate::persist::snapshot::Snapshot;
pub use crate::persist::state::OffRewrite;
use crate::server::Server;
use crate::shared::Shared;

/// Redis's reply to BGREWRITEAOF while one runs.
pub const REWRITE_IN_PROGRESS: &str = "Background append only file rewriting already in progress";

/// After a failed rewrite, a scheduled one waits this long before trying again.
const REWRITE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether BGREWRITEAOF started now or will start when the running snapshot is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteStart {
    Started,
    Scheduled,
}

/// Where a rewrite writes its base before it is renamed into the manifest.
fn temp_base_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!(
        "temp-rewriteaof-bg-{}-{epoch}.aof",
        std::process::id()
    ))
}

/// A snapshot in the base's format: an RDB, or commands with `aof-use-rdb-preamble no`.
fn base_snapshot(srv: &mut Server, preamble: bool) -> Snapshot {
    if preamble {
        Snapshot::begin(srv)
    } else {
        crate::persist::aof_commands::CommandWriter::begin(srv)
    }
}

pub(super) fn base_ext(preamble: bool) -> &'static str {
    if preamble {
        "rdb"
    } else {
        "aof"
    }
}

/// BGREWRITEAOF: switch writes to a new incremental file now, and write a new base from a
/// snapshot in the background; scheduled when another snapshot runs. With the AOF off, a
/// base alone (as Redis 7.0).
pub fn start_rewrite(srv: &mut Server) -> Result<RewriteStart, &'static str> {
    let Some(aof) = srv.persistence.aof.as_mut() else {
        return start_off_rewrite(srv);
    };
    if aof.rewrite_started.is_some() {
        return Err(REWRITE_IN_PROGRESS);
    }
    if busy(srv) {
        if let Some(aof) = srv.persistence.aof.as_mut() {
            aof.rewrite_scheduled = true;
        }
        return Ok(RewriteStart::Scheduled);
    }
    // What came before the snapshot belongs to the old incremental file; the new one
    // starts with a SELECT (Redis's `aof_selected_db = -1`).
    flush(srv);
    srv.propagator.reset_aof_selected_db();
    let Some(aof) = srv.persistence.aof.as_mut() else {
        return Err("AOF is disabled");
    };
    // Effects the old file could not take yet are in the snapshot too: written to the new
    // file they would apply twice. The rewrite waits until the disk takes them.
    if !aof.pending.is_empty() {
        aof.rewrite_scheduled = true;
        return Ok(RewriteStart::Scheduled);
    }
    let incr_seq = if aof.wait_rewrite {
        // The snapshot holds everything written so far: the temporary file starts again.
        let tmp = aof.dir.join(temp_incr_name(&aof.filename));
        match File::create(&tmp) {
            Ok(f) => {
                aof.file = f;
                aof.current_size = 0;
            }
            Err(e) => {
                tracing::warn!(
                    "Can't open the temporary AOF incr file {}: {e}",
                    tmp.display()
                );
                return Err("Can't open a new AOF file");
            }
        }
        // Every file of the old manifest is replaced.
        u64::MAX
    } else {
        let seq = aof.manifest.next_incr_seq();
        let name = format!("{}.{seq}.incr.aof", aof.filename);
        match Aof::open_incr(&aof.dir, &name) {
            Ok(f) => {
                let _ = aof.file.sync_data();
                aof.file = f;
                aof.current_size = 0;
            }
            Err(e) => {
                tracing::warn!("Can't open the new AOF incr file: {e}");
                return Err("Can't open a new AOF file");
            }
        }
        aof.manifest.incrs.push(AofFile {
            name,
            seq,
            kind: 'i',
        });
        if let Err(e) = aof.save_manifest() {
            tracing::warn!("Can't persist the AOF manifest: {e}");
        }
        seq
    };
    aof.rewrite_scheduled = false;
    aof.rewrite_started = Some(Instant::now());
    let preamble = srv.cfg.persist.aof_use_rdb_preamble;
    let snap = base_snapshot(srv, preamble);
    if let Some(aof) = srv.persistence.aof.as_mut() {
        aof.rewrite_epoch = snap.epoch();
    }
    tracing::info!("Background append only file rewriting started");
    srv.effects.spawn("aof-rewrite", move |shared| {
        rewrite_task(shared, snap, incr_seq, preamble)
    });
    Ok(RewriteStart::Started)
}

/// Write a snapshot to `tmp` in the background (fsynced, but not renamed: the caller does
/// that under the lock). Returns the error, if any.
async fn write_base(
    shared: &Arc<Shared>,
    snap: &mut Snapshot,
    tmp: &Path,
    cancelled: impl Fn(&Server) -> bool,
) -> Option<String> {
    match BackgroundFile::create(tmp) {
        // Publishing onto itself: flushed and synced, the name unchanged.
        Ok(file) => write_snapshot(shared, snap, file, tmp, cancelled).await,
        Err(e) => Some(format!("Opening the temp file for AOF rewrite failed: {e}")),
    }
}

/// Whether the AOF still waits for the rewrite of snapshot `epoch`.
fn rewrite_is_current(srv: &Server, epoch: u64) -> bool {
    srv.persistence
        .aof
        .as_ref()
        .is_some_and(|a| a.rewrite_epoch == epoch && a.rewrite_started.is_some())
}

async fn rewrite_task(shared: Arc<Shared>, mut snap: Snapshot, incr_seq: u64, preamble: bool) {
    let epoch = snap.epoch();
    let dir = shared
        .lock()
        .persistence
        .aof
        .as_ref()
        .map(|a| a.dir.clone());
    let Some(dir) = dir else {
        snap.abort(&mut shared.lock());
        return;
    };
    let tmp = temp_base_path(&dir, epoch);
    let error = write_base(&shared, &mut snap, &tmp, move |srv| {
        !rewrite_is_current(srv, epoch)
    })
    .await;
    let size = snap.bytes_written;
    let mut srv = shared.lock();
    if error.is_some() {
        snap.abort(&mut srv);
    }
    if !rewrite_is_current(&srv, epoch) {
        // The AOF was switched off (and maybe on again) meanwhile.
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    let Some(aof) = srv.persistence.aof.as_mut() else {
        return;
    };
    let started = aof.rewrite_started.take();
    aof.last_rewrite_time_sec = started.map_or(-1, |t| t.elapsed().as_secs() as i64);
    let result = match error {
        Some(e) => Err(e),
        None => install_base(aof, &tmp, incr_seq, preamble),
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        aof.last_rewrite_ok = false;
        aof.rewrite_failed_at = Some(Instant::now());
        // The AOF switched on by CONFIG SET needs its base: try again.
        if aof.wait_rewrite {
            aof.rewrite_scheduled = true;
        }
        tracing::warn!("Background AOF rewrite failed: {e}");
        return;
    }
    aof.base_size = size;
    aof.last_rewrite_ok = true;
    aof.rewrite_failed_at = None;
    aof.rewrites += 1;
    tracing::info!("Background AOF rewrite finished successfully");
}

/// A rewrite is done: its base (written to `tmp`) replaces the old base and the incremental
/// files before `incr_seq` (all of them for an AOF waiting for its first base, whose
/// temporary incremental file becomes the first one).
fn install_base(aof: &mut Aof, tmp: &Path, incr_seq: u64, preamble: bool) -> Result<(), String> {
    let base_seq = aof.manifest.next_base_seq();
    let name = format!("{}.{base_seq}.base.{}", aof.filename, base_ext(preamble));
    let base_path = aof.dir.join(&name);
    std::fs::rename(tmp, &base_path)
        .map_err(|e| format!("can't rename the temporary AOF base file: {e}"))?;
    tracing::info!(
        "Successfully renamed the temporary AOF base file {} into {name}",
        tmp.display()
    );
    let first_incr = if aof.wait_rewrite {
        let seq = aof.manifest.next_incr_seq();
        let incr = format!("{}.{seq}.incr.aof", aof.filename);
        let from = aof.dir.join(temp_incr_name(&aof.filename));
        if let Err(e) = std::fs::rename(&from, aof.dir.join(&incr)) {
            let _ = std::fs::remove_file(&base_path);
            return Err(format!("can't rename the temporary AOF incr file: {e}"));
        }
        Some(AofFile {
            name: incr,
            seq,
            kind: 'i',
        })
    } else {
        None
    };
    let mut history = Vec::new();
    if let Some(old) = aof.manifest.base.take() {
        history.push(old);
    }
    let (old_incrs, keep): (Vec<AofFile>, Vec<AofFile>) =
        aof.manifest.incrs.drain(..).partition(|f| f.seq < incr_seq);
    history.extend(old_incrs);
    history.append(&mut aof.manifest.history);
    for f in &mut history {
        f.kind = 'h';
    }
    aof.manifest.incrs = match first_incr {
        Some(f) => vec![f],
        None => keep,
    };
    aof.manifest.base = Some(AofFile {
        name,
        seq: base_seq,
        kind: 'b',
    });
    aof.manifest.history = history;
    aof.wait_rewrite = false;
    sync_dir(&base_path);
    aof.save_manifest()
        .map_err(|e| format!("can't persist the AOF manifest: {e}"))?;
    for h in std::mem::take(&mut aof.manifest.history) {
        tracing::info!("Removing the history file {} in the background", h.name);
        let _ = std::fs::remove_file(aof.dir.join(&h.name));
    }
    let _ = aof.save_manifest();
    Ok(())
}

/// BGREWRITEAOF with the AOF off: a new base, and a manifest naming only it.
fn start_off_rewrite(srv: &mut Server) -> Result<RewriteStart, &'static str> {
    if srv.persistence.rdb.aof_off_rewrite.started.is_some() {
        return Err(REWRITE_IN_PROGRESS);
    }
    if busy(srv) {
        srv.persistence.rdb.aof_off_rewrite.scheduled = true;
        return Ok(RewriteStart::Scheduled);
    }
    let dir = aof_dir(srv);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        );
        return Err("Can't execute an AOF background rewriting. Please check the server logs for more information.");
    }
    let filename = srv.cfg.persist.appendfilename.clone();
    let preamble = srv.cfg.persist.aof_use_rdb_preamble;
    let snap = base_snapshot(srv, preamble);
    srv.persistence.rdb.aof_off_rewrite = OffRewrite {
        started: Some(Instant::now()),
        scheduled: false,
        epoch: snap.epoch(),
    };
    tracing::info!("Background append only file rewriting started");
    srv.effects.spawn("aof-rewrite", move |shared| {
        off_rewrite_task(shared, snap, dir, filename, preamble)
    });
    Ok(RewriteStart::Started)
}

/// Whether the AOF-off rewrite of snapshot `epoch` is still wanted.
fn off_rewrite_is_current(srv: &Server, epoch: u64) -> bool {
    let r = &srv.persistence.rdb.aof_off_rewrite;
    srv.persistence.aof.is_none() && r.epoch == epoch && r.started.is_some()
}

async fn off_rewrite_task(
    shared: Arc<Shared>,
    mut snap: Snapshot,
    dir: PathBuf,
    filename: String,
    preamble: bool,
) {
    let epoch = snap.epoch();
    let tmp = temp_base_path(&dir, epoch);
    let error = write_base(&shared, &mut snap, &tmp, move |srv| {
        !off_rewrite_is_current(srv, epoch)
    })
    .await;
    let mut srv = shared.lock();
    let superseded = !snap.is_current(&srv);
    if error.is_some() {
        snap.abort(&mut srv);
    }
    if !off_rewrite_is_current(&srv, epoch) {
        // The AOF was switched on meanwhile: its own rewrite replaces this one.
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    srv.persistence.rdb.aof_off_rewrite.started = None;
    let result = match error {
        Some(e) => Err(e),
        None => install_off_base(&dir, &filename, &tmp, preamble),
    };
    match result {
        Ok(()) => tracing::info!("Background AOF rewrite finished successfully"),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if superseded {
                // A full synchronization took the databases' snapshot: later.
                srv.persistence.rdb.aof_off_rewrite.scheduled = true;
                tracing::info!("Background AOF rewrite superseded; scheduled again");
            } else {
                tracing::warn!("Background AOF rewrite failed: {e}");
            }
        }
    }
}

/// The base of an AOF-off rewrite replaces every file of the manifest on disk.
fn install_off_base(dir: &Path, filename: &str, tmp: &Path, preamble: bool) -> Result<(), String> {
    let old = Aof::read_manifest(dir, filename)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let seq = old.next_base_seq();
    let name = format!("{filename}.{seq}.base.{}", base_ext(preamble));
    std::fs::rename(tmp, dir.join(&name))
        .map_err(|e| format!("can't rename the temporary AOF base file: {e}"))?;
    tracing::info!(
        "Successfully renamed the temporary AOF base file {} into {name}",
        tmp.display()
    );
    let history: Vec<AofFile> = old
        .base
        .into_iter()
        .chain(old.incrs)
        .chain(old.history)
        .map(|mut f| {
            f.kind = 'h';
            f
        })
        .collect();
    let mut m = Manifest {
        base: Some(AofFile {
            name,
            seq,
            kind: 'b',
        }),
        incrs: Vec::new(),
        history,
    };
    let path = Aof::manifest_path(dir, filename);
    write_atomic(&path, m.render().as_bytes()).map_err(|e| e.to_string())?;
    for h in std::mem::take(&mut m.history) {
        tracing::info!("Removing the history file {} in the background", h.name);
        let _ = std::fs::remove_file(dir.join(&h.name));
    }
    let _ = write_atomic(&path, m.render().as_bytes());
    Ok(())
}

/// Cron: start a scheduled rewrite once no other snapshot runs; else an automatic one when
/// the AOF grew past `auto-aof-rewrite-percentage` of its size at the last rewrite, and past
/// `auto-aof-rewrite-min-size`.
pub fn check_auto_rewrite(srv: &mut Server) {
    if srv.persistence.rdb.loading || busy(srv) {
        return;
    }
    let Some(aof) = srv.persistence.aof.as_ref() else {
        if srv.persistence.rdb.aof_off_rewrite.scheduled {
            let _ = start_off_rewrite(srv);
        }
        return;
    };
    if aof.rewrite_scheduled {
        if aof
            .rewrite_failed_at
            .is_none_or(|t| t.elapsed() >= REWRITE_RETRY)
        {
            if let Err(e) = start_rewrite(srv) {
                tracing::warn!("Can't start the scheduled AOF rewrite: {e}");
            }
        }
        return;
    }
    let perc = srv.cfg.persist.auto_aof_rewrite_percentage;
    let min = srv.cfg.persist.auto_aof_rewrite_min_size;
    if perc <= 0 || aof.wait_rewrite {
        return;
    }
    let total = aof.base_size + aof.current_size;
    let base = aof.base_size.max(1);
    let growth = (total.saturating_sub(base)) * 100 / base;
    if total >= min && growth >= perc as u64 {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = start_rewrite(srv);
    }
}
