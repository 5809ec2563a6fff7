//! The append-only file as files on disk: the manifest, the current incremental file,
//! appends with Redis's short-write and fsync policies, and their errors. A part of the
//! server's state (`Server::aof`); switching the AOF on and off, opening it from the
//! configuration and flushing the batch's effects into it are in `persist::aof`.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use thiserror::Error;
use tokio::time::Instant;

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
    #[error("{0}")]
    Rewrite(&'static str),
}

/// The incremental file of an AOF waiting for its first base (Redis's name).
pub(super) fn temp_incr_name(filename: &str) -> String {
    format!("temp-{filename}.incr")
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AofError + '_ {
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

    pub(super) fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.seq) + 1
    }

    pub(super) fn next_incr_seq(&self) -> u64 {
        self.incrs.iter().map(|f| f.seq).max().unwrap_or(0) + 1
    }
}

/// How long an append's write and fsync took, in ms (when they ran).
#[derive(Debug, Default, Clone, Copy)]
pub struct WriteTimes {
    pub write_ms: Option<u64>,
    pub fsync_ms: Option<u64>,
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
    /// Effects not written yet (Redis's `aof_buf`): after a failed write they stay here, and
    /// every batch and cron tick tries again.
    pub pending: Vec<u8>,
    /// Why the last write failed (`strerror` text), until a write succeeds: writes are then
    /// refused with `-MISCONF` (Redis's `aof_last_write_status`).
    pub last_write_error: Option<String>,
    /// The last background fsync's failure, until one succeeds (Redis's
    /// `aof_bio_fsync_status`): refuses writes as a write error does.
    pub fsync_error: Arc<std::sync::Mutex<Option<String>>>,
    /// When a write error was last logged (Redis logs it at most every 30 s).
    pub write_error_logged: Option<Instant>,
    /// Switched on by CONFIG SET and not written yet (Redis's AOF_WAIT_REWRITE): writes go
    /// to a temporary incremental file, and `manifest` is the old one, whose files the first
    /// rewrite replaces.
    pub wait_rewrite: bool,
    /// A rewrite asked while another snapshot ran (or to retry the first base): the cron
    /// starts it.
    pub rewrite_scheduled: bool,
    pub rewrite_failed_at: Option<Instant>,
    /// The epoch of the running rewrite's snapshot: its task applies its result only while
    /// this AOF still waits for it.
    pub rewrite_epoch: u64,
}

pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), AofError> {
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
    pub(super) fn manifest_path(dir: &Path, filename: &str) -> PathBuf {
        dir.join(format!("{filename}.manifest"))
    }

    pub fn save_manifest(&self) -> Result<(), AofError> {
        write_atomic(
            &Self::manifest_path(&self.dir, &self.filename),
            self.manifest.render().as_bytes(),
        )
    }

    pub(super) fn open_incr(dir: &Path, name: &str) -> Result<File, AofError> {
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

    /// Write `bytes` after what is pending, and fsync under `always`. On failure the bytes
    /// stay pending (retried by the next call), a short write is trimmed off the file so it
    /// stays loadable, and the error says whether it was the write or the fsync.
    ///
    /// With `times`, the write's and the fsync's durations are measured into it (for the
    /// latency monitor's "aof-write" and "aof-fsync-always" events).
    pub fn append(
        &mut self,
        bytes: &[u8],
        mut times: Option<&mut WriteTimes>,
    ) -> Result<(), AofWriteError> {
        self.pending.extend_from_slice(bytes);
        if self.pending.is_empty() {
            return Ok(());
        }
        let started = times.is_some().then(Instant::now);
        let (written, r) = write_fully(&mut self.file, &self.pending);
        if let (Some(t), Some(s)) = (times.as_deref_mut(), started) {
            t.write_ms = Some(s.elapsed().as_millis() as u64);
        }
        if let Err(e) = r {
            let total = self.pending.len();
            if written > 0 {
                self.log_write_error(|| {
                    tracing::warn!(
                        "Short write while writing to the AOF file: (nwritten={written}, expected={total})"
                    )
                });
                // Cut the partial record, so that the file ends where the last complete
                // write ended and later writes do not follow half a command.
                // (Seek too: a file not opened for appending would go on where the cut
                // write ended, leaving a hole of zeros.)
                let end = self.current_size;
                match self.file.set_len(end) {
                    Ok(()) => {
                        if let Err(se) = self.file.seek(std::io::SeekFrom::Start(end)) {
                            tracing::warn!(
                                "Can't seek to the end of the AOF file: {}",
                                strerror(&se)
                            );
                        }
                    }
                    Err(te) => {
                        tracing::warn!(
                            "Could not remove short write from the append-only file. Redis may refuse to load the AOF the next time it starts. ftruncate: {}",
                            strerror(&te)
                        );
                        // What is in the file is not written again.
                        self.current_size += written as u64;
                        self.pending.drain(..written);
                    }
                }
            } else {
                self.log_write_error(|| {
                    tracing::warn!("Error writing to the AOF file: {}", strerror(&e))
                });
            }
            self.last_write_error = Some(strerror(&e));
            return Err(AofWriteError::Write(strerror(&e)));
        }
        self.current_size += self.pending.len() as u64;
        self.pending.clear();
        if self.fsync == Fsync::Always {
            let started = times.is_some().then(Instant::now);
            let synced = self.file.sync_data();
            if let (Some(t), Some(s)) = (times, started) {
                t.fsync_ms = Some(s.elapsed().as_millis() as u64);
            }
            if let Err(e) = synced {
                self.last_write_error = Some(strerror(&e));
                return Err(AofWriteError::Fsync(strerror(&e)));
            }
        } else {
            self.unsynced = true;
        }
        if self.last_write_error.take().is_some() {
            self.write_error_logged = None;
            tracing::warn!("AOF write error looks solved, Redis can write again.");
        }
        Ok(())
    }

    /// Log a write error at most every 30 seconds while it lasts (Redis's
    /// `AOF_WRITE_LOG_ERROR_RATE`).
    fn log_write_error(&mut self, log: impl FnOnce()) {
        let now = Instant::now();
        if self
            .write_error_logged
            .is_none_or(|t| now.saturating_duration_since(t).as_secs() >= 30)
        {
            self.write_error_logged = Some(now);
            log();
        }
    }

    /// Why writes are refused, if they are: the last write failed, or the last background
    /// fsync did (Redis's `writeCommandsDeniedByDiskError` for the AOF).
    pub fn write_denied(&self) -> Option<String> {
        if let Some(e) = &self.last_write_error {
            return Some(e.clone());
        }
        self.fsync_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `everysec`: fsync what was written in the last second (cron).
    pub fn fsync_if_due(&mut self) {
        // After a failed fsync, try again every second even with nothing new written.
        let failed = self
            .fsync_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if self.fsync == Fsync::EverySec
            && (self.unsynced || failed)
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
            let status = self.fsync_error.clone();
            // Off the runtime thread: an fsync can take long, and every client waits for
            // this thread. (In a simulation without a runtime there is no disk: sync here.)
            // A failure refuses writes until an fsync succeeds, as Redis's bio thread.
            let job = move || {
                let r = file.sync_data();
                let mut st = status.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(()) => {
                        if st.take().is_some() {
                            tracing::warn!("AOF fsync error looks solved, Redis can write again.");
                        }
                    }
                    Err(e) => {
                        if st.is_none() {
                            tracing::warn!("Can't persist AOF for fsync error: {}", strerror(&e));
                        }
                        *st = Some(strerror(&e));
                    }
                }
                drop(st);
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

/// Why an AOF write failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AofWriteError {
    #[error("Error writing to the AOF file: {0}")]
    Write(String),
    #[error("Can't fsync the AOF file: {0}")]
    Fsync(String),
}

/// Write all of `data`, retrying interrupted and short writes; returns how much was written
/// and, if not everything, the error that stopped it.
pub fn write_fully(w: &mut impl Write, data: &[u8]) -> (usize, std::io::Result<()>) {
    let mut written = 0;
    while written < data.len() {
        match w.write(&data[written..]) {
            Ok(0) => return (written, Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (written, Err(e)),
        }
    }
    (written, Ok(()))
}

/// C's `strerror` text of an I/O error ("No space left on device"), as Redis shows it.
pub fn strerror(e: &std::io::Error) -> String {
    picket_common::fdlimit::os_error_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk that takes `room` more bytes, in chunks of at most 7, then fails.
    struct Disk {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            let n = b.len().min(self.room).min(7);
            self.data.extend_from_slice(&b[..n]);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_report_what_was_written() {
        let mut d = Disk {
            data: Vec::new(),
            room: 100,
        };
        assert_eq!(write_fully(&mut d, &[1; 30]).0, 30);
        let (n, r) = write_fully(&mut d, &[2; 100]);
        assert_eq!(n, 70);
        let e = r.unwrap_err();
        assert_eq!(strerror(&e), "No space left on device");
        assert_eq!(d.data.len(), 100);
    }

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
