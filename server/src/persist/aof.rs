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

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use thiserror::Error;
use tokio::time::Instant;

use crate::persist::bgfile::BackgroundFile;
use crate::persist::save::write_snapshot;
use crate::persist::snapshot::Snapshot;
use crate::runtime::Shared;
use crate::server::Server;

#[derive(Debug, Error)]
pub enum AofError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad AOF manifest {path} line {line}: {what}")]
    Manifest {
        path: PathBuf,
        line: usize,
        what: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AofError + '_ {
    move |source| AofError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    /// `b` base, `i` incremental, `h` history (to delete).
    pub kind: char,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
}

impl Manifest {
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, AofError> {
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| AofError::Manifest {
                path: path.to_path_buf(),
                line: i + 1,
                what: what.to_string(),
            };
            let args = picket_common::sds::split_args(line.as_bytes())
                .ok_or_else(|| bad("unbalanced quotes"))?;
            let mut name = None;
            let mut seq = None;
            let mut kind = None;
            for kv in args.chunks(2) {
                let [k, v] = kv else {
                    return Err(bad("odd number of fields"));
                };
                let v = String::from_utf8_lossy(v).into_owned();
                match &k[..] {
                    b"file" => name = Some(v),
                    b"seq" => seq = v.parse::<u64>().ok(),
                    b"type" => kind = v.chars().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("missing file, seq or type"));
            };
            if name.contains('/') {
                return Err(bad("file names may not contain '/'"));
            }
            let f = AofFile { name, seq, kind };
            match kind {
                'b' => {
                    if m.base.is_some() {
                        return Err(bad("more than one base file"));
                    }
                    m.base = Some(f);
                }
                'i' => m.incrs.push(f),
                'h' => m.history.push(f),
                _ => return Err(bad("unknown file type")),
            }
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |f: &AofFile, out: &mut String| {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                picket_common::sds::bare_or_repr(&f.name),
                f.seq,
                f.kind
            ));
        };
        if let Some(b) = &self.base {
            line(b, &mut out);
        }
        for h in &self.history {
            line(h, &mut out);
        }
        for i in &self.incrs {
            line(i, &mut out);
        }
        out
    }

    fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.seq) + 1
    }

    fn next_incr_seq(&self) -> u64 {
        self.incrs.iter().map(|f| f.seq).max().unwrap_or(0) + 1
    }
}

/// The AOF of a running server.
#[derive(Debug)]
pub struct Aof {
    pub dir: PathBuf,
    pub filename: String,
    pub manifest: Manifest,
    pub file: File,
    pub fsync: Fsync,
    pub last_fsync: Instant,
    pub unsynced: bool,
    /// An `everysec` fsync runs on a blocking thread (as Redis's bio thread): set while it
    /// does, so they do not pile up on a slow disk.
    pub fsync_running: Arc<AtomicBool>,
    /// Bytes in the current incremental file, and in all of them plus the base at the last
    /// rewrite (for auto-aof-rewrite-percentage).
    pub current_size: u64,
    pub base_size: u64,
    pub rewrite_started: Option<Instant>,
    pub last_rewrite_ok: bool,
    pub last_rewrite_time_sec: i64,
    pub rewrites: u64,
    pub last_write_error: Option<String>,
}

/// The directory of the AOF files.
pub fn aof_dir(srv: &Server) -> PathBuf {
    Path::new(&srv.cfg.dir).join(srv.config.store().get_str("appenddirname"))
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), AofError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(data).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(d) = path.parent() {
        if let Ok(d) = File::open(d) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

impl Aof {
    fn manifest_path(dir: &Path, filename: &str) -> PathBuf {
        dir.join(format!("{filename}.manifest"))
    }

    pub fn save_manifest(&self) -> Result<(), AofError> {
        write_atomic(
            &Self::manifest_path(&self.dir, &self.filename),
            self.manifest.render().as_bytes(),
        )
    }

    fn open_incr(dir: &Path, name: &str) -> Result<File, AofError> {
        let p = dir.join(name);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(io(&p))
    }

    /// The manifest of an existing AOF, if there is one.
    pub fn read_manifest(dir: &Path, filename: &str) -> Result<Option<Manifest>, AofError> {
        let p = Self::manifest_path(dir, filename);
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(Manifest::parse(&t, &p)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&p)(e)),
        }
    }

    /// Open the AOF for appending after loading: a new incremental file (as Redis does on
    /// start), or, with no AOF yet, a base from the current data and a first incremental file.
    pub fn open(srv: &mut Server, existing: Option<Manifest>) -> Result<Aof, AofError> {
        let dir = aof_dir(srv);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let filename = srv.config.store().get_str("appendfilename").to_string();
        let mut manifest = existing.unwrap_or_default();
        let mut base_size = 0;
        if manifest.base.is_none() && manifest.incrs.is_empty() {
            let name = format!("{filename}.1.base.rdb");
            tracing::info!("Creating AOF base file {name} on server start");
            let bytes = Snapshot::whole(srv);
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
            fsync: Fsync::parse(srv.config.store().get_str("appendfsync")),
            last_fsync: Instant::now(),
            unsynced: false,
            fsync_running: Arc::new(AtomicBool::new(false)),
            current_size: 0,
            base_size,
            rewrite_started: None,
            last_rewrite_ok: true,
            last_rewrite_time_sec: -1,
            rewrites: 0,
            last_write_error: None,
        };
        aof.save_manifest()?;
        Ok(aof)
    }

    /// Append bytes; fsync now under `always`.
    pub fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let r = self.file.write_all(bytes).and_then(|()| {
            if self.fsync == Fsync::Always {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => {
                self.current_size += bytes.len() as u64;
                self.unsynced = self.fsync != Fsync::Always;
                if self.last_write_error.take().is_some() {
                    tracing::warn!("AOF write error looks solved, Redis can write again.");
                }
            }
            Err(e) => {
                if self.last_write_error.is_none() {
                    tracing::warn!("Error writing to the AOF file: {e}");
                }
                self.last_write_error = Some(e.to_string());
            }
        }
    }

    /// `everysec`: fsync what was written in the last second (cron).
    pub fn fsync_if_due(&mut self) {
        if self.fsync == Fsync::EverySec
            && self.unsynced
            && self.last_fsync.elapsed().as_millis() >= 1000
        {
            if self.fsync_running.load(Ordering::Acquire) {
                return;
            }
            let file = match self.file.try_clone() {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!("Can't fsync the AOF file: {e}");
                    return;
                }
            };
            let running = self.fsync_running.clone();
            running.store(true, Ordering::Release);
            // Off the runtime thread: an fsync can take long, and every client waits for
            // this thread. (In a simulation without a runtime there is no disk: sync here.)
            let job = move || {
                if let Err(e) = file.sync_data() {
                    tracing::warn!("Can't fsync the AOF file: {e}");
                }
                running.store(false, Ordering::Release);
            };
            match tokio::runtime::Handle::try_current() {
                Ok(h) => drop(h.spawn_blocking(job)),
                Err(_) => job(),
            }
            self.unsynced = false;
            self.last_fsync = Instant::now();
        }
    }
}

/// CONFIG SET appendonly: start (a new AOF from the current data) or stop the AOF.
pub fn set_enabled(srv: &mut Server, on: bool) -> Result<(), AofError> {
    if on && srv.aof.is_none() {
        let existing =
            Aof::read_manifest(&aof_dir(srv), srv.config.store().get_str("appendfilename"))?;
        // The files of an AOF switched off earlier are stale: start from the current data.
        let aof = Aof::open(srv, None)?;
        if let Some(old) = existing {
            for f in old.base.iter().chain(&old.incrs).chain(&old.history) {
                if !aof.manifest.incrs.iter().any(|x| x.name == f.name)
                    && aof.manifest.base.as_ref().is_none_or(|b| b.name != f.name)
                {
                    let _ = std::fs::remove_file(aof.dir.join(&f.name));
                }
            }
            aof.save_manifest()?;
        }
        srv.propagator.enabled = true;
        srv.propagator.reset_selected_db();
        srv.aof = Some(aof);
        tracing::info!("Append only file enabled");
    } else if !on {
        if let Some(aof) = srv.aof.take() {
            let _ = aof.file.sync_all();
            tracing::info!("Append only file disabled");
        }
        srv.propagator.enabled = srv.repl.backlog.is_some();
    }
    Ok(())
}

/// The commands a write changed since the last call go to the AOF (called after each batch
/// of commands and each cron tick, under the lock).
pub fn flush(srv: &mut Server) {
    crate::replication::feed(srv);
    if srv.repl.aof_buf.is_empty() {
        return;
    }
    let bytes = srv.repl.aof_buf.split();
    if let Some(aof) = srv.aof.as_mut() {
        aof.append(&bytes);
    }
}

/// BGREWRITEAOF: switch writes to a new incremental file now, and write a new base from a
/// snapshot in the background.
pub fn start_rewrite(srv: &mut Server) -> Result<(), &'static str> {
    let Some(shared) = srv.shared.upgrade() else {
        return Err("server is not running");
    };
    if crate::replication::master::snapshot_busy(srv) {
        return Err("Background save already in progress");
    }
    // What came before the snapshot belongs to the old incremental file.
    flush(srv);
    let Some(aof) = srv.aof.as_mut() else {
        return Err("AOF is disabled");
    };
    if aof.rewrite_started.is_some() {
        return Err("Background append only file rewriting already in progress");
    }
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
    aof.rewrite_started = Some(Instant::now());
    let preamble = srv.config.store().get_bool("aof-use-rdb-preamble");
    let snap = if preamble {
        Snapshot::begin(srv)
    } else {
        crate::persist::aof_commands::CommandWriter::begin(srv)
    };
    tracing::info!("Background append only file rewriting started");
    let tracker = shared.tracker.clone();
    tracker.spawn(rewrite_task(shared, snap, seq, preamble));
    Ok(())
}

async fn rewrite_task(shared: Arc<Shared>, mut snap: Snapshot, incr_seq: u64, preamble: bool) {
    let (dir, filename, base_seq) = {
        let srv = shared.lock();
        let Some(aof) = srv.aof.as_ref() else { return };
        (
            aof.dir.clone(),
            aof.filename.clone(),
            aof.manifest.next_base_seq(),
        )
    };
    let ext = if preamble { "rdb" } else { "aof" };
    let name = format!("{filename}.{base_seq}.base.{ext}");
    let tmp = dir.join(format!("temp-rewriteaof-{}.aof", std::process::id()));
    let error = match BackgroundFile::create(&tmp) {
        Ok(file) => {
            let target = dir.join(&name);
            let e = write_snapshot(&shared, &mut snap, file, &target, |srv| srv.aof.is_none());
            if let Some(e) = e.await {
                tracing::warn!("AOF rewrite: {e}");
                true
            } else {
                false
            }
        }
        Err(e) => {
            tracing::warn!("Opening the temp file for AOF rewrite failed: {e}");
            true
        }
    };
    let size = snap.bytes_written;
    let mut srv = shared.lock();
    if error {
        snap.abort(&mut srv);
    }
    let Some(aof) = srv.aof.as_mut() else { return };
    let started = aof.rewrite_started.take();
    aof.last_rewrite_time_sec = started.map_or(-1, |t| t.elapsed().as_secs() as i64);
    if error {
        aof.last_rewrite_ok = false;
        tracing::warn!("Background AOF rewrite failed");
        return;
    }
    // The new base replaces the old base and the incremental files before `incr_seq`.
    let mut history = Vec::new();
    if let Some(mut old) = aof.manifest.base.take() {
        old.kind = 'h';
        history.push(old);
    }
    let (old_incrs, keep): (Vec<AofFile>, Vec<AofFile>) =
        aof.manifest.incrs.drain(..).partition(|f| f.seq < incr_seq);
    history.extend(old_incrs.into_iter().map(|mut f| {
        f.kind = 'h';
        f
    }));
    aof.manifest.incrs = keep;
    aof.manifest.base = Some(AofFile {
        name,
        seq: base_seq,
        kind: 'b',
    });
    aof.manifest.history = history;
    if let Err(e) = aof.save_manifest() {
        tracing::warn!("Can't persist the AOF manifest: {e}");
        aof.last_rewrite_ok = false;
        return;
    }
    for h in std::mem::take(&mut aof.manifest.history) {
        let _ = std::fs::remove_file(aof.dir.join(&h.name));
    }
    let _ = aof.save_manifest();
    aof.base_size = size;
    aof.last_rewrite_ok = true;
    aof.rewrites += 1;
    tracing::info!("Background AOF rewrite terminated with success");
}

/// Auto rewrite (cron): when the AOF grew past `auto-aof-rewrite-percentage` of its size at
/// the last rewrite, and past `auto-aof-rewrite-min-size`.
pub fn check_auto_rewrite(srv: &mut Server) {
    let perc = srv.config.store().get_int("auto-aof-rewrite-percentage");
    let min = srv.config.store().get_int("auto-aof-rewrite-min-size") as u64;
    let Some(aof) = srv.aof.as_ref() else { return };
    if perc <= 0 || aof.rewrite_started.is_some() || srv.rdb.bgsave_started.is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text, Path::new("m")).unwrap();
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.render(), text);
        assert_eq!(m.next_incr_seq(), 3);
        assert!(Manifest::parse("file x seq 1 type z\n", Path::new("m")).is_err());
        assert!(Manifest::parse("file ../x seq 1 type b\n", Path::new("m")).is_err());
        assert!(Manifest::parse("file \"a b\" seq 1\n", Path::new("m")).is_err());
    }
}
