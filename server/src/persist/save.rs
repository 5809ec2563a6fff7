//! SAVE, BGSAVE and save points: writing the keyspace to `dir`/`dbfilename` atomically
//! (temporary file, fsync, rename, fsync of the directory), the background save running
//! as a task that takes the lock one bounded step at a time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::time::Instant;

use crate::persist::bgfile::BackgroundFile;
use crate::persist::snapshot::{Snapshot, STEP_KEYS};
pub use crate::persist::state::RdbState;
use crate::server::Server;
use crate::shared::Shared;

/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: after a failed background save, save points wait
/// this long before trying again.
const RETRY_DELAY_MS: i64 = 5000;

/// Where the RDB file lives.
pub fn rdb_path(srv: &Server) -> PathBuf {
    Path::new(&srv.cfg.dir).join(&srv.cfg.dbfilename)
}

fn temp_path(dir: &Path, tag: &str) -> PathBuf {
    dir.join(format!("temp-{}-{}.rdb", tag, std::process::id()))
}

/// Make a finished temporary file the RDB: fsync it, rename it over the target, fsync the
/// directory so the rename survives a crash.
fn publish(file: std::fs::File, tmp: &Path, target: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, target)?;
    if let Some(dir) = target.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Record a finished save.
fn saved(srv: &mut Server, dirty_at_start: u64) {
    srv.dirty = srv.dirty.saturating_sub(dirty_at_start);
    srv.persistence.lastsave_s = srv.clock.unix_ms() as i64 / 1000;
    srv.persistence.rdb.last_bgsave_ok = true;
    srv.persistence.rdb.saves += 1;
}

/// SAVE: the whole snapshot now, blocking the server (as Redis's SAVE does).
pub fn save_now(srv: &mut Server) -> std::io::Result<()> {
    let target = rdb_path(srv);
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
    let tmp = temp_path(&dir, "save");
    let dirty = srv.dirty;
    let bytes = Snapshot::whole(srv);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        publish(f, &tmp, &target)
    })();
    match result {
        Ok(()) => {
            saved(srv, dirty);
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            srv.persistence.rdb.last_bgsave_ok = false;
            tracing::warn!("Failed saving the DB: {e}");
            Err(e)
        }
    }
}

/// Whether a background snapshot runs (BGSAVE, full sync, AOF rewrite with the AOF on or
/// off): another must wait.
pub fn busy(srv: &Server) -> bool {
    srv.snapshot_busy() || srv.persistence.rdb.aof_off_rewrite.started.is_some()
}

/// Redis's reply to BGSAVE while an AOF rewrite runs.
pub const AOF_CHILD_ACTIVE: &str = "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";

/// Start a background save, unless one is running. The bytes are produced in bounded steps
/// under the lock; the file writes happen outside it.
pub fn start_bgsave(srv: &mut Server) -> Result<(), &'static str> {
    if srv.persistence.rdb.bgsave_started.is_some() || srv.repl.sync_running {
        return Err("Background save already in progress");
    }
    if busy(srv) {
        return Err(AOF_CHILD_ACTIVE);
    }
    let snap = Snapshot::begin(srv);
    srv.persistence.rdb.bgsave_started = Some((Instant::now(), srv.clock.unix_ms() as i64 / 1000));
    srv.persistence.rdb.bgsave_cancel = false;
    srv.persistence.rdb.last_bgsave_try_ms = srv.now_ms;
    let target = rdb_path(srv);
    tracing::info!("Background saving started");
    srv.persistence.rdb.bgsave_scheduled = false;
    srv.effects
        .spawn("bgsave", move |shared| bgsave_task(shared, snap, target));
    Ok(())
}

async fn bgsave_task(shared: Arc<Shared>, mut snap: Snapshot, target: PathBuf) {
    let error = save_snapshot_to(&shared, &mut snap, &target, |srv| {
        srv.persistence.rdb.bgsave_cancel
    })
    .await;
    let mut srv = shared.lock();
    let dirty = snap.dirty_at_start;
    match error {
        None => {
            finish_bgsave(&mut srv, true, dirty);
            tracing::info!(
                "Background saving terminated with success ({} keys, {} bytes)",
                snap.keys_written,
                snap.bytes_written
            );
        }
        Some(e) => {
            snap.abort(&mut srv);
            if !srv.persistence.rdb.bgsave_cancel {
                finish_bgsave(&mut srv, false, dirty);
                tracing::warn!("Background saving error: {e}");
            } else {
                srv.persistence.rdb.bgsave_started = None;
                tracing::info!("Background saving stopped");
            }
            srv.persistence.rdb.bgsave_cancel = false;
        }
    }
}

/// Write a snapshot to `target` through a temporary file in its directory (BGSAVE, and a
/// replica's disk-based full sync). Returns the error, if any.
pub async fn save_snapshot_to(
    shared: &Arc<Shared>,
    snap: &mut Snapshot,
    target: &Path,
    cancelled: impl Fn(&Server) -> bool,
) -> Option<String> {
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
    let tmp = temp_path(&dir, "bgsave");
    match BackgroundFile::create(&tmp) {
        Ok(file) => write_snapshot(shared, snap, file, target, cancelled).await,
        Err(e) => {
            tracing::warn!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                tmp.display(),
                dir.display()
            );
            Some(format!("Failed opening the temp RDB file: {e}"))
        }
    }
}

/// A background save ended: its state for INFO, LASTSAVE and MISCONF.
pub fn finish_bgsave(srv: &mut Server, ok: bool, dirty_at_start: u64) {
    if let Some((started, _)) = srv.persistence.rdb.bgsave_started.take() {
        srv.persistence.rdb.last_bgsave_time_sec = started.elapsed().as_secs() as i64;
    }
    if ok {
        saved(srv, dirty_at_start);
    } else {
        srv.persistence.rdb.last_bgsave_ok = false;
    }
}

/// Produce the snapshot step by step under the lock and hand the bytes to the writer
/// thread; then publish the file as `target`. Returns the error, if any (a save that
/// `cancelled` stops is one).
pub async fn write_snapshot(
    shared: &Arc<Shared>,
    snap: &mut Snapshot,
    mut file: BackgroundFile,
    target: &Path,
    cancelled: impl Fn(&Server) -> bool,
) -> Option<String> {
    loop {
        let step = {
            let mut srv = shared.lock();
            if cancelled(&srv) || !snap.is_current(&srv) {
                None
            } else {
                Some((snap.step(&mut srv, STEP_KEYS), snap.is_done()))
            }
        };
        let Some((bytes, done)) = step else {
            file.abort().await;
            return Some("cancelled".into());
        };
        if file.write(bytes).await.is_err() {
            let e = file.abort().await;
            let e = e.map(|e| e.to_string()).unwrap_or_default();
            return Some(format!("Write error saving DB on disk: {e}"));
        }
        if done {
            break;
        }
        tokio::task::yield_now().await;
    }
    file.publish(target)
        .await
        .err()
        .map(|e| format!("Error moving temp DB file on the final destination: {e}"))
}

/// Before exiting (SHUTDOWN, SIGTERM): stop a background save, and save if save points are
/// configured (or SAVE was asked), unless NOSAVE or still loading. Returns whether the
/// server may exit: false when the final save failed (it exits anyway when forced).
pub fn prepare_for_shutdown(srv: &mut Server, req: crate::server::ShutdownRequest) -> bool {
    if let Some(sig) = req.signal {
        tracing::warn!("User requested shutdown... ({sig})");
    }
    if srv.persistence.rdb.bgsave_started.is_some() {
        tracing::warn!("There is a background save in progress. Stopping it!");
        srv.persistence.rdb.bgsave_cancel = true;
    }
    // The AOF switched on by CONFIG SET is not written yet: exiting would lose the data.
    if srv.persistence.aof.as_ref().is_some_and(|a| a.wait_rewrite) {
        if req.force {
            tracing::warn!("Writing initial AOF. Exit anyway.");
        } else {
            tracing::warn!("Writing initial AOF, can't exit.");
            return false;
        }
    }
    crate::persist::aof::flush(srv);
    if let Some(aof) = srv.persistence.aof.as_mut() {
        // Acknowledged writes the AOF could not take would be lost with the process (the
        // AOF, not an RDB, is what the next start loads): Redis exits anyway, picket does
        // only when forced.
        if !aof.pending.is_empty() {
            if req.force {
                tracing::warn!("Error writing to the AOF file before exiting. Exit anyway.");
            } else {
                tracing::warn!("Error writing to the AOF file before exiting, can't exit.");
                return false;
            }
        }
        tracing::info!("Calling fsync() on the AOF file.");
        if let Err(e) = aof.file.sync_all() {
            tracing::warn!(
                "Fail to fsync the AOF file: {}.",
                crate::persist::aof::strerror(&e)
            );
        }
    }
    let save =
        !srv.persistence.rdb.loading && (req.save || (!req.nosave && !srv.cfg.save.is_empty()));
    if save {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if save_now(srv).is_err() {
            if req.force {
                tracing::warn!("Error trying to save the DB. Exit anyway.");
            } else {
                tracing::warn!("Error trying to save the DB, can't exit.");
                return false;
            }
        }
    }
    true
}

/// Save points (cron): start a background save when some point is reached, or when one
/// was scheduled (BGSAVE SCHEDULE).
pub fn check_save_points(srv: &mut Server) {
    if srv.persistence.rdb.loading || busy(srv) {
        return;
    }
    if srv.persistence.rdb.bgsave_scheduled {
        let retry_ok = srv.persistence.rdb.last_bgsave_ok
            || srv.now_ms - srv.persistence.rdb.last_bgsave_try_ms > RETRY_DELAY_MS;
        if retry_ok {
            let _ = start_bgsave(srv);
        }
        return;
    }
    if srv.cfg.save.is_empty() {
        return;
    }
    let now_s = srv.now_ms / 1000;
    let retry_ok = srv.persistence.rdb.last_bgsave_ok
        || srv.now_ms - srv.persistence.rdb.last_bgsave_try_ms > RETRY_DELAY_MS;
    let point = srv.cfg.save.iter().find(|p| {
        srv.dirty >= p.changes as u64 && now_s - srv.persistence.lastsave_s > p.seconds && retry_ok
    });
    if let Some(p) = point {
        tracing::info!("{} changes in {} seconds. Saving...", p.changes, p.seconds);
        let _ = start_bgsave(srv);
    }
}
