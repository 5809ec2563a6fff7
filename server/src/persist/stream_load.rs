//! Loading an RDB while it is read, through a bounded buffer: from a file read in chunks
//! (a replica's disk-based full sync), or from the master's socket (diskless load). The
//! caller owns the input; [`StreamLoad::step`] applies what the buffer holds, a bounded
//! number of keys per lock hold, and says when it needs more bytes. Memory is the dataset
//! being built plus the buffer (about twice the biggest item at most), never the whole file.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use thiserror::Error;
use tokio::time::Instant;

use crate::persist::loader::{allow_resizing, apply_item, LoadInfo, State};
use crate::persist::rdb::codec::RdbError;
use crate::persist::rdb::stream::{Next, StreamParser};
use crate::server::Server;
use crate::shared::Shared;

/// Items applied per lock hold, as the start-up loader.
const KEYS_PER_STEP: usize = 1000;
/// Bytes read from a file at a time.
const FILE_CHUNK: usize = 1 << 20;
/// Without a known length, RESIZEDB pre-sizes the tables for at most this many keys (the
/// counts come from the peer; the tables grow on their own past it).
const PRESIZE_UNKNOWN: usize = 1 << 20;

/// Why a load failed.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{0}")]
    Format(#[from] RdbError),
    #[error("{0}")]
    Data(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What [`StreamLoad::step`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Applied a batch: yield, then call again.
    More,
    /// The buffer ends within an item: append more input, then call again.
    NeedInput,
    /// The RDB ended (its checksum verified); bytes after it are left in the buffer.
    Done,
}

/// A load in progress.
pub struct StreamLoad {
    parser: StreamParser,
    st: State,
    /// Bound for the RESIZEDB pre-sizing.
    presize: usize,
    last_log: Instant,
    total: Option<u64>,
}

impl StreamLoad {
    /// A load of an RDB of `len` bytes if known, into databases already emptied. A replica
    /// keeps keys that are already expired (`keep_expired`): its master deletes them.
    pub fn new(len: Option<u64>, keep_expired: bool) -> StreamLoad {
        StreamLoad {
            parser: StreamParser::new(len),
            st: State::new(keep_expired),
            presize: len.map_or(PRESIZE_UNKNOWN, |l| {
                usize::try_from(l).unwrap_or(usize::MAX)
            }),
            last_log: Instant::now(),
            total: len,
        }
    }

    /// Bytes of the RDB parsed so far.
    pub fn offset(&self) -> usize {
        self.parser.offset()
    }

    /// Everything has arrived (see [`StreamParser::set_eager`]).
    pub fn set_eager(&mut self) {
        self.parser.set_eager();
    }

    /// Input paused: try a cut item again (see [`StreamParser::retry_now`]).
    pub fn retry_now(&mut self, buf_len: usize) -> bool {
        self.parser.retry_now(buf_len)
    }

    /// Keys loaded so far.
    pub fn keys(&self) -> u64 {
        self.st.loaded
    }

    /// Apply up to a batch of items from the front of `buf` (their bytes are dropped from
    /// it). `complete`: no more input will come.
    pub fn step(
        &mut self,
        srv: &mut Server,
        buf: &mut BytesMut,
        complete: bool,
    ) -> Result<Progress, LoadError> {
        let mut progress = Progress::More;
        for _ in 0..KEYS_PER_STEP {
            let at = self.parser.offset();
            match self.parser.next(buf, complete)? {
                Next::Item(item) => {
                    apply_item(srv, &mut self.st, item, at, self.presize)
                        .map_err(LoadError::Data)?;
                }
                Next::NeedMore => {
                    progress = Progress::NeedInput;
                    break;
                }
                Next::End => {
                    progress = Progress::Done;
                    break;
                }
            }
        }
        srv.persistence.rdb.loading_loaded_bytes = self.parser.offset() as u64;
        if srv.persistence.rdb.loading {
            srv.persistence.rdb.last_load_keys_loaded = self.st.loaded;
        }
        if progress == Progress::Done {
            allow_resizing(srv);
            tracing::info!("Done loading RDB, keys loaded: {}.", self.st.loaded);
        } else if self.last_log.elapsed().as_secs() >= 1 {
            self.last_log = Instant::now();
            match self.total {
                Some(t) => tracing::info!(
                    "Loading: {:.0}% ({} keys)",
                    self.parser.offset() as f64 * 100.0 / t.max(1) as f64,
                    self.st.loaded
                ),
                None => tracing::info!(
                    "Loading: {} bytes ({} keys)",
                    self.parser.offset(),
                    self.st.loaded
                ),
            }
        }
        Ok(progress)
    }

    /// The replication info the file carried, and the number of keys loaded.
    pub fn finish(self) -> LoadInfo {
        let mut info = self.st.info;
        info.keys = self.st.loaded;
        info
    }

    /// After a failure: the tables may resize again.
    pub fn abort(srv: &mut Server) {
        allow_resizing(srv);
    }
}

/// Load the RDB file at `path` into the (already emptied) keyspace, reading it 1 MB at a
/// time. Reads are plain blocking reads of a local file, as Redis's `rdbLoad`.
pub async fn load_file(shared: &Arc<Shared>, path: &Path) -> Result<LoadInfo, LoadError> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    {
        let mut srv = shared.lock();
        srv.persistence.rdb.loading_started = Some(Instant::now());
        srv.persistence.rdb.loading_total_bytes = len;
        srv.persistence.rdb.loading_loaded_bytes = 0;
    }
    let mut load = StreamLoad::new(Some(len), true);
    let mut buf = BytesMut::new();
    let mut read: u64 = 0;
    loop {
        let complete = read >= len;
        let step = {
            let mut srv = shared.lock();
            let r = load.step(&mut srv, &mut buf, complete);
            if r.is_err() {
                StreamLoad::abort(&mut srv);
            }
            r?
        };
        match step {
            Progress::Done => break,
            Progress::More => tokio::task::yield_now().await,
            Progress::NeedInput => {
                let want = FILE_CHUNK.min((len - read) as usize);
                let start = buf.len();
                buf.resize(start + want, 0);
                let n = file.read(&mut buf[start..])?;
                buf.truncate(start + n);
                if n == 0 {
                    // The file is shorter than its size said: the parser reports the cut.
                    read = len;
                } else {
                    read += n as u64;
                }
            }
        }
    }
    if !buf.is_empty() {
        return Err(LoadError::Format(RdbError::corrupt(
            "data after the end of the RDB",
            load.offset(),
        )));
    }
    Ok(load.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestServer;

    /// An RDB of a few keys of every type, as picket saves it.
    fn rdb() -> Vec<u8> {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        t.line(c, "SET s hello");
        t.line(c, "SET n 12345");
        t.line(c, "RPUSH l a b c");
        t.line(c, "SADD set 1 2 3");
        t.line(c, "HSET h f v g w");
        t.line(c, "ZADD z 1 a 2 b");
        t.line(c, "SELECT 3");
        t.line(c, "SET big {}");
        for i in 0..2000 {
            t.line(c, &format!("SET k{i} {}", "v".repeat(i % 300)));
        }
        crate::persist::snapshot::Snapshot::whole(&mut t.srv)
    }

    /// Load `data` fed `piece` bytes at a time; returns the server and what was left.
    fn load(
        data: &[u8],
        piece: usize,
        len: Option<u64>,
    ) -> Result<(TestServer, Vec<u8>), LoadError> {
        let mut t = TestServer::new(&[]);
        let mut l = StreamLoad::new(len, true);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        loop {
            match l.step(&mut t.srv, &mut buf, fed == data.len())? {
                Progress::Done => return Ok((t, buf.to_vec())),
                Progress::More => {}
                Progress::NeedInput => {
                    let n = piece.min(data.len() - fed);
                    buf.extend_from_slice(&data[fed..fed + n]);
                    fed += n;
                }
            }
        }
    }

    #[test]
    fn loads_in_pieces_what_it_would_load_at_once() {
        let data = rdb();
        for piece in [1, 1000, 1 << 20] {
            let (mut t, rest) = load(&data, piece, Some(data.len() as u64)).unwrap();
            assert!(rest.is_empty());
            let c = t.connect();
            assert_eq!(t.line(c, "GET s"), "$5\r\nhello\r\n");
            assert_eq!(
                t.line(c, "LRANGE l 0 -1"),
                "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
            );
            assert_eq!(t.line(c, "SELECT 3"), "+OK\r\n");
            assert_eq!(t.line(c, "DBSIZE"), ":2001\r\n");
        }
    }

    #[test]
    fn a_cut_or_corrupt_file_is_an_error() {
        let data = rdb();
        assert!(load(&data[..data.len() - 3], 500, None).is_err());
        let mut bad = data.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        assert!(load(&bad, 500, None).is_err());
    }
}
