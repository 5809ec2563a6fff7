//! Receiving and loading the RDB of a full synchronization, as Redis 7.0's
//! `readSyncBulkPayload`, in bounded memory:
//!
//! - `repl-diskless-load disabled` (the default, and `swapdb`, see below): the payload goes
//!   to `temp-<unixtime>.<pid>.rdb` in `dir` as it arrives (synced every 8 MB, as
//!   `REPL_MAX_WRITTEN_BEFORE_FSYNC`), then is fsynced and renamed over `dir/dbfilename`,
//!   and loaded from there through a bounded buffer. Until the transfer is complete the old
//!   dataset stays; a transfer that fails (connection lost, `repl-timeout`, a write error
//!   such as a full disk) deletes the temporary file, and the link retries.
//! - `on-empty-db` with an empty dataset: parsed from the socket as it arrives.
//! - `swapdb`: Redis parses from the socket into a second dataset; picket keeps no second
//!   dataset and receives to disk as with `disabled` (the log says so), which keeps the old
//!   data until the new one is complete.
//!
//! Memory is bounded by the buffer (the largest item at most, about twice over), not by
//! the transfer: an endless `$EOF:` stream can only fill the disk, and the write error then
//! ends it and deletes the file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use picket_common::net::Conn;
use picket_common::resp::ReplyReader;
use tokio::io::AsyncReadExt;

use super::config::DisklessLoad;
use super::payload::{parse_bulk_header, Bulk, MarkFinder, SyncError, MARK_LEN};
use crate::persist::loader::LoadInfo;
use crate::persist::stream_load::{self, Progress, StreamLoad};
use crate::shared::Shared;

/// Bytes read from the master at a time (Redis's `PROTO_IOBUF_LEN` is 16 KB).
const READ_CHUNK: usize = 64 * 1024;
/// A pause in the master's bytes after which a diskless load tries a cut item again.
const PAUSE: Duration = Duration::from_millis(100);
/// Sync the temporary file every this many bytes (`REPL_MAX_WRITTEN_BEFORE_FSYNC`).
const FSYNC_EVERY: u64 = 8 * 1024 * 1024;

/// The link to the master while the payload arrives.
pub struct Link<'a, C> {
    pub shared: &'a Arc<Shared>,
    pub conn: &'a mut C,
    /// Bytes read and not consumed yet: what follows the payload stays here for the
    /// command stream.
    pub buf: &'a mut BytesMut,
    /// The REPLICAOF generation this link serves.
    pub gen: u64,
    /// `repl-timeout`: the longest wait for the master's next bytes.
    pub timeout: Duration,
}

impl<C: Conn> Link<'_, C> {
    /// Read more bytes into `buf`.
    async fn read(&mut self) -> Result<usize, SyncError> {
        let wake = self.shared.lock().repl.wake.clone();
        self.buf.reserve(READ_CHUNK);
        let n = loop {
            tokio::select! {
                biased;
                _ = wake.notified() => {
                    if self.changed() {
                        return Err(SyncError::Changed);
                    }
                }
                r = tokio::time::timeout(self.timeout, self.conn.read_buf(self.buf)) => match r {
                    Err(_) => return Err(SyncError::Timeout),
                    Ok(Ok(0)) => return Err(SyncError::Read("connection lost".into())),
                    Ok(Ok(n)) => break n,
                    Ok(Err(e)) => return Err(SyncError::Read(e.to_string())),
                },
            }
        };
        let mut srv = self.shared.lock();
        if srv.repl.generation != self.gen {
            return Err(SyncError::Changed);
        }
        let now = srv.clock.now();
        if let Some(m) = srv.repl.master.as_mut() {
            m.sync_last_io = Some(now);
            m.last_io = Some(now);
        }
        Ok(n)
    }

    /// Payload bytes received so far (INFO's `master_sync_read_bytes`).
    fn received(&self, bytes: u64) {
        let mut srv = self.shared.lock();
        if let Some(m) = srv.repl.master.as_mut() {
            m.sync_read = bytes;
        }
    }

    fn changed(&self) -> bool {
        self.shared.lock().repl.generation != self.gen
    }

    /// The line announcing the payload, after any keepalive newlines.
    async fn header(&mut self) -> Result<Bulk, SyncError> {
        loop {
            let line = loop {
                match ReplyReader::default().read_line(self.buf) {
                    Ok(Some(line)) => break line,
                    Ok(None) => {}
                    Err(e) => return Err(SyncError::ReadHeader(e.to_string())),
                }
                match self.read().await {
                    Ok(_) => {}
                    Err(SyncError::Read(e)) => return Err(SyncError::ReadHeader(e)),
                    Err(e) => return Err(e),
                }
            };
            if let Some(bulk) = parse_bulk_header(&line)? {
                return Ok(bulk);
            }
        }
    }
}

/// What a full synchronization loaded.
pub struct Loaded {
    pub info: LoadInfo,
    /// Loaded from the socket (the data is not on disk: the server is dirty).
    pub diskless: bool,
}

/// Receive the payload and load it. Returns once the new dataset is loaded; on an error
/// before the load the old dataset is intact, after it the keyspace is empty.
pub async fn receive<C: Conn>(link: &mut Link<'_, C>) -> Result<Loaded, SyncError> {
    let (mode, keys, dir, target, unix_s) = {
        let mut srv = link.shared.lock();
        let keys: usize = srv.keyspace.dbs.iter().map(|d| d.len()).sum();
        let unix_s = srv.clock.unix_ms() / 1000;
        if let Some(m) = srv.repl.master.as_mut() {
            m.sync_total = -1;
            m.sync_read = 0;
        }
        (
            srv.cfg.repl.diskless_load,
            keys,
            PathBuf::from(&srv.cfg.dir),
            crate::persist::save::rdb_path(&srv),
            unix_s,
        )
    };
    let diskless = match mode {
        DisklessLoad::Disabled => false,
        DisklessLoad::OnEmptyDb if keys == 0 => true,
        DisklessLoad::OnEmptyDb => {
            tracing::info!("MASTER <-> REPLICA sync: repl-diskless-load is on-empty-db but the dataset has {keys} keys: the RDB goes to disk first");
            false
        }
        DisklessLoad::SwapDb => {
            tracing::info!("MASTER <-> REPLICA sync: repl-diskless-load is swapdb, which picket does as disabled (no second dataset while loading): the RDB goes to disk first, the old dataset stays until it is complete");
            false
        }
    };
    // As Redis, the temporary file exists from the start of the transfer.
    let mut file = if diskless {
        None
    } else {
        Some(TempFile::create(&dir, unix_s).await?)
    };
    let bulk = link.header().await?;
    {
        let mut srv = link.shared.lock();
        if let Some(m) = srv.repl.master.as_mut() {
            // Redis shows 0 as the total of an EOF-marked transfer.
            m.sync_total = bulk
                .declared_len()
                .map_or(0, |l| l.min(i64::MAX as u64) as i64);
        }
    }
    let to = if diskless { "to parser" } else { "to disk" };
    match &bulk {
        Bulk::Len(n) => {
            tracing::info!("MASTER <-> REPLICA sync: receiving {n} bytes from master {to}")
        }
        Bulk::Mark(_) => {
            tracing::info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {to}"
            )
        }
    }
    match file.take() {
        None => load_from_socket(link, &bulk).await.map(|info| Loaded {
            info,
            diskless: true,
        }),
        Some(mut f) => {
            to_disk(link, &mut f, &bulk).await?;
            stop_background_save(link.shared).await;
            f.publish(&target)?;
            flush_old_data(link.shared, link.gen)?;
            tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
            let loaded = stream_load::load_file(link.shared, &target).await;
            loaded
                .map_err(|e| {
                    empty_after_failure(link.shared);
                    // The file replaced the previous one but holds nothing usable: a
                    // restart must not stop on it (the keyspace is empty too).
                    tracing::warn!(
                        "Removing the RDB file obtained from the master: it can not be loaded"
                    );
                    let _ = std::fs::remove_file(&target);
                    SyncError::LoadDisk(e)
                })
                .map(|info| Loaded {
                    info,
                    diskless: false,
                })
        }
    }
}

/// Stream the payload into the temporary file.
async fn to_disk<C: Conn>(
    link: &mut Link<'_, C>,
    file: &mut TempFile,
    bulk: &Bulk,
) -> Result<(), SyncError> {
    let mut left = bulk.declared_len();
    let mut finder = match bulk {
        Bulk::Mark(m) => Some(MarkFinder::new(*m)),
        Bulk::Len(_) => None,
    };
    loop {
        if let Some(l) = left.as_mut() {
            let take = (*l).min(link.buf.len() as u64) as usize;
            file.write(&link.buf[..take])?;
            link.buf.advance(take);
            *l -= take as u64;
            if *l == 0 {
                link.received(file.written);
                return Ok(());
            }
        } else if let Some(f) = finder.as_mut() {
            if !link.buf.is_empty() {
                match f.find(link.buf) {
                    None => {
                        file.write(link.buf)?;
                        link.buf.clear();
                    }
                    Some(at) => {
                        file.write(&link.buf[..at.payload])?;
                        file.truncate_back(at.overlap as u64)?;
                        link.buf.advance(at.after);
                        link.received(file.written + MARK_LEN as u64);
                        return Ok(());
                    }
                }
            }
        }
        link.received(file.written);
        link.read().await?;
    }
}

/// Parse the payload from the socket as it arrives (diskless load).
async fn load_from_socket<C: Conn>(
    link: &mut Link<'_, C>,
    bulk: &Bulk,
) -> Result<LoadInfo, SyncError> {
    flush_old_data(link.shared, link.gen)?;
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    {
        let mut srv = link.shared.lock();
        srv.persistence.rdb.loading_started = Some(tokio::time::Instant::now());
        srv.persistence.rdb.loading_total_bytes = bulk.declared_len().unwrap_or(0);
        srv.persistence.rdb.loading_loaded_bytes = 0;
    }
    let result = parse_socket(link, bulk).await;
    if result.is_err() {
        empty_after_failure(link.shared);
    }
    result
}

async fn parse_socket<C: Conn>(link: &mut Link<'_, C>, bulk: &Bulk) -> Result<LoadInfo, SyncError> {
    let mut load = StreamLoad::new(bulk.declared_len(), true);
    // Without a length, the end is the mark: once it arrived, nothing more will come
    // before the replica ACKs, so the parser must not wait for its buffer to grow.
    let mut finder = match bulk {
        Bulk::Mark(m) => Some(MarkFinder::new(*m)),
        Bulk::Len(_) => None,
    };
    // Bytes of the input scanned for the mark (the buffer starts at the parser's offset).
    let mut scanned = 0;
    loop {
        if let Some(f) = finder.as_mut() {
            let from = scanned - load.offset();
            if f.find(&link.buf[from..]).is_some() {
                load.set_eager();
                finder = None;
            }
            scanned = load.offset() + link.buf.len();
        }
        let complete = bulk
            .declared_len()
            .is_some_and(|n| (load.offset() + link.buf.len()) as u64 >= n);
        let step = {
            let mut srv = link.shared.lock();
            if srv.repl.generation != link.gen {
                return Err(SyncError::Changed);
            }
            load.step(&mut srv, link.buf, complete)
        };
        match step.map_err(SyncError::LoadSocket)? {
            Progress::Done => break,
            Progress::More => tokio::task::yield_now().await,
            Progress::NeedInput => {
                // A pause in the input may be its end (a master that sends nothing after
                // the mark until the replica ACKs, or a broken mark): try the cut item
                // again, once per growth of the buffer, before waiting on.
                let r = match tokio::time::timeout(PAUSE, link.read()).await {
                    Ok(r) => r,
                    Err(_) if load.retry_now(link.buf.len()) => continue,
                    Err(_) => link.read().await,
                };
                r?;
                link.received((load.offset() + link.buf.len()) as u64);
            }
        }
    }
    if let Some(n) = bulk.declared_len() {
        if load.offset() as u64 != n {
            return Err(SyncError::LoadSocket(stream_load::LoadError::Data(
                format!(
                    "the RDB is {} bytes but the master announced {n}",
                    load.offset()
                ),
            )));
        }
    }
    if let Bulk::Mark(mark) = bulk {
        while link.buf.len() < MARK_LEN {
            link.read().await?;
        }
        if link.buf[..MARK_LEN] != mark[..] {
            return Err(SyncError::BrokenMark);
        }
        link.buf.advance(MARK_LEN);
    }
    Ok(load.finish())
}

/// Redis's "Flushing old data": the new history starts, the old dataset goes.
fn flush_old_data(shared: &Shared, gen: u64) -> Result<(), SyncError> {
    let mut srv = shared.lock();
    if srv.repl.generation != gen {
        return Err(SyncError::Changed);
    }
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    // A new history: our own replicas must resync with us.
    super::replica::disconnect_replicas(&mut srv);
    srv.repl.backlog = None;
    // Clients that cache keys drop them all (Redis's `emptyData` signals the flush).
    srv.data().signal_flushed();
    for db in srv.keyspace.dbs.iter_mut() {
        db.clear();
    }
    // The functions go too: the master's come with its RDB.
    srv.functions.clear();
    srv.persistence.rdb.loading = true;
    Ok(())
}

/// A load that failed midway: what it loaded goes, and there is no history to continue.
fn empty_after_failure(shared: &Shared) {
    let mut srv = shared.lock();
    StreamLoad::abort(&mut srv);
    for db in srv.keyspace.dbs.iter_mut() {
        db.clear();
    }
    srv.functions.clear();
    srv.persistence.rdb.loading = false;
    srv.repl.have_history = false;
}

/// A background save would rename its (old) data over the file just received: stop it
/// first, as Redis kills its RDB child.
async fn stop_background_save(shared: &Shared) {
    {
        let mut srv = shared.lock();
        if srv.persistence.rdb.bgsave_started.is_none() {
            return;
        }
        tracing::info!("Replica is about to load the RDB file received from the master, but there is a pending RDB save running. Stopping it and removing its temp file to avoid any race");
        srv.persistence.rdb.bgsave_cancel = true;
    }
    // It stops at its next step; bounded, in case it is stuck on a slow disk.
    for _ in 0..500 {
        if shared.lock().persistence.rdb.bgsave_started.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The temporary file of a transfer: removed when dropped unless published (a transfer
/// that fails, or a link task that stops, leaves nothing behind).
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    synced: u64,
}

impl TempFile {
    /// Create `temp-<unixtime>.<pid>.rdb` in `dir`, as Redis: a name already taken is tried
    /// again for up to 5 seconds (the time in the name moves on).
    pub async fn create(dir: &Path, unix_s: u64) -> Result<TempFile, SyncError> {
        let mut last = None;
        for attempt in 0..5u64 {
            let path = dir.join(format!(
                "temp-{}.{}.rdb",
                unix_s + attempt,
                std::process::id()
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                        written: 0,
                        synced: 0,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(SyncError::TempFile(e)),
            }
        }
        Err(SyncError::TempFile(last.unwrap_or_else(|| {
            std::io::Error::other("no free temp file name")
        })))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&mut self) -> Result<&mut File, SyncError> {
        self.file
            .as_mut()
            .ok_or_else(|| SyncError::Write(std::io::Error::other("file already closed")))
    }

    /// Append payload bytes; every 8 MB, ask the kernel to write them out.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), SyncError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file()?.write_all(bytes).map_err(SyncError::Write)?;
        self.written += bytes.len() as u64;
        if self.written >= self.synced + FSYNC_EVERY {
            let (from, len) = (self.synced, self.written - self.synced);
            let f = self.file()?;
            sync_range(f, from, len);
            self.synced = self.written;
        }
        Ok(())
    }

    /// Take back the last `n` bytes written (the start of an EOF mark split across reads).
    pub fn truncate_back(&mut self, n: u64) -> Result<(), SyncError> {
        if n == 0 {
            return Ok(());
        }
        self.written = self.written.saturating_sub(n);
        let len = self.written;
        self.file()?.set_len(len).map_err(SyncError::Truncate)?;
        Ok(())
    }

    /// The transfer is complete: fsync, rename over `target`, fsync the directory.
    pub fn publish(mut self, target: &Path) -> Result<(), SyncError> {
        let f = self.file()?;
        f.sync_all().map_err(SyncError::Fsync)?;
        self.file = None;
        std::fs::rename(&self.path, target)
            .map_err(|e| SyncError::Rename(target.display().to_string(), e))?;
        // Renamed: nothing to remove any more.
        self.path = PathBuf::new();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SyncError::SyncDir(target.display().to_string(), e))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Start writing out a range of the file without waiting for it (Redis's
/// `rdb_fsync_range`: `sync_file_range` on Linux), so the final fsync is short.
#[cfg(target_os = "linux")]
fn sync_range(f: &File, from: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a file descriptor `f` owns for the duration of the
    // call; no memory is passed.
    unsafe {
        libc::sync_file_range(
            f.as_raw_fd(),
            from as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn sync_range(f: &File, _from: u64, _len: u64) {
    let _ = f.sync_data();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_temp_file_goes_away_unless_published() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = TempFile::create(dir.path(), 1_700_000_000).await.unwrap();
        let path = f.path().to_path_buf();
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("temp-1700000000."));
        f.write(b"partial").unwrap();
        assert!(path.exists());
        drop(f);
        assert!(!path.exists());

        let mut f = TempFile::create(dir.path(), 1_700_000_000).await.unwrap();
        f.write(b"whole file + part of a mark").unwrap();
        f.truncate_back(16).unwrap();
        let target = dir.path().join("dump.rdb");
        let tmp = f.path().to_path_buf();
        f.publish(&target).unwrap();
        assert!(!tmp.exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"whole file ");
    }

    #[tokio::test(start_paused = true)]
    async fn a_taken_name_is_tried_again_a_second_later() {
        let dir = tempfile::tempdir().unwrap();
        let a = TempFile::create(dir.path(), 100).await.unwrap();
        let b = TempFile::create(dir.path(), 100).await.unwrap();
        assert_ne!(a.path(), b.path());
    }
}
