//! A file written by a thread of its own, for the background saves (BGSAVE, the AOF
//! rewrite's new base). The runtime thread serves every client: it must never wait on the
//! disk, and `write` can block for tens of milliseconds when the kernel throttles dirty
//! pages, `fsync` of a big file for seconds. So the snapshot task produces the bytes under
//! the server lock and hands them over here; a bounded queue makes it wait (asynchronously)
//! when the disk is slower than the snapshot.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};

/// Chunks queued at most: a few step outputs, so memory stays bounded.
const QUEUE: usize = 8;

enum Msg {
    Data(Vec<u8>),
    /// Flush to disk, rename over `target`, and sync the directory.
    Publish(PathBuf),
}

pub struct BackgroundFile {
    tx: mpsc::Sender<Msg>,
    done: oneshot::Receiver<io::Result<()>>,
    tmp: PathBuf,
}

impl BackgroundFile {
    /// Create `tmp` (here, so an error is reported at once) and start its writer thread.
    pub fn create(tmp: &Path) -> io::Result<BackgroundFile> {
        let file = File::create(tmp)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let (done_tx, done) = oneshot::channel();
        let path = tmp.to_path_buf();
        std::thread::Builder::new()
            .name("bg-file".into())
            .spawn(move || {
                let _ = done_tx.send(writer(file, &path, rx));
            })?;
        Ok(BackgroundFile {
            tx,
            done,
            tmp: tmp.to_path_buf(),
        })
    }

    /// Queue bytes; waits while the queue is full. An error means the thread stopped on a
    /// write error: `finish`/`abort` report it.
    pub async fn write(&mut self, bytes: Vec<u8>) -> Result<(), ()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.tx.send(Msg::Data(bytes)).await.map_err(|_| ())
    }

    /// Everything written: make it durable and move it to `target`.
    pub async fn publish(self, target: &Path) -> io::Result<()> {
        let BackgroundFile { tx, done, tmp } = self;
        let sent = tx.send(Msg::Publish(target.to_path_buf())).await;
        drop(tx);
        let res = match done.await {
            Ok(r) => r,
            Err(_) => Err(io::Error::other("the writer thread died")),
        };
        if res.is_err() || sent.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        match (res, sent) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(_)) => Err(io::Error::other("the writer thread stopped early")),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// Give up: the temporary file is removed. Returns the write error, if one happened.
    pub async fn abort(self) -> Option<io::Error> {
        let BackgroundFile { tx, done, tmp } = self;
        drop(tx);
        let res = done.await.ok().and_then(|r| r.err());
        let _ = std::fs::remove_file(&tmp);
        res
    }
}

fn writer(mut file: File, tmp: &Path, mut rx: mpsc::Receiver<Msg>) -> io::Result<()> {
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Data(bytes) => file.write_all(&bytes)?,
            Msg::Publish(target) => {
                file.sync_all()?;
                drop(file);
                std::fs::rename(tmp, &target)?;
                sync_dir(&target);
                return Ok(());
            }
        }
    }
    // The sender went away without publishing: an abort.
    Ok(())
}

/// fsync the directory holding `path`, so a rename survives a crash.
pub fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_then_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("t.tmp");
        let target = dir.path().join("t.rdb");
        let mut f = BackgroundFile::create(&tmp).unwrap();
        for i in 0..100u8 {
            f.write(vec![i; 1000]).await.unwrap();
        }
        f.publish(&target).await.unwrap();
        let data = std::fs::read(&target).unwrap();
        assert_eq!(data.len(), 100_000);
        assert_eq!(data[99_999], 99);
        assert!(!tmp.exists());
    }

    #[tokio::test]
    async fn abort_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("t.tmp");
        let mut f = BackgroundFile::create(&tmp).unwrap();
        f.write(b"partial".to_vec()).await.unwrap();
        assert!(f.abort().await.is_none());
        assert!(!tmp.exists());
    }

    #[tokio::test]
    async fn publish_into_a_missing_directory_fails_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("t.tmp");
        let f = BackgroundFile::create(&tmp).unwrap();
        let err = f.publish(&dir.path().join("nope/t.rdb")).await;
        assert!(err.is_err());
        assert!(!tmp.exists());
    }
}
