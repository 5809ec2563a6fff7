//! The pure parts of receiving a full synchronization's payload (Redis 7.0's
//! `readSyncBulkPayload`): the bulk header in its two forms, `$<len>` and `$EOF:<mark>`,
//! the search for the EOF mark that keeps only the last bytes in memory, and the errors,
//! whose texts are Redis's log lines.

use thiserror::Error;

use crate::persist::stream_load::LoadError;

/// The length of the EOF mark (`CONFIG_RUN_ID_SIZE`).
pub const MARK_LEN: usize = 40;

/// How the payload is delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bulk {
    /// `$<len>`: exactly this many bytes.
    Len(u64),
    /// `$EOF:<mark>`: the payload ends with these 40 bytes (a diskless master).
    Mark([u8; MARK_LEN]),
}

impl Bulk {
    /// The declared length, if any.
    pub fn declared_len(&self) -> Option<u64> {
        match self {
            Bulk::Len(n) => Some(*n),
            Bulk::Mark(_) => None,
        }
    }
}

/// Why a full synchronization stopped. The texts are Redis's log lines, except where Redis
/// has none (it does not check the bulk length).
#[derive(Debug, Error)]
pub enum SyncError {
    /// REPLICAOF changed (or the server stops): not a failure, nothing is logged.
    #[error("the master changed")]
    Changed,
    #[error("I/O error reading bulk count from MASTER: {0}")]
    ReadHeader(String),
    #[error("MASTER aborted replication with an error: {0}")]
    MasterError(String),
    #[error("Bad protocol from MASTER, the first byte is not '$' (we received '{0}'), are you sure the host and port are right?")]
    NotBulk(String),
    #[error("Bad protocol from MASTER, the bulk length is not a length (we received '{0}')")]
    BadLength(String),
    #[error(
        "Bad protocol from MASTER, the EOF mark is not {MARK_LEN} bytes long (we received '{0}')"
    )]
    BadMark(String),
    #[error("Opening the temp file needed for MASTER <-> REPLICA synchronization: {0}")]
    TempFile(std::io::Error),
    #[error("I/O error trying to sync with MASTER: {0}")]
    Read(String),
    #[error("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")]
    Timeout,
    #[error("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {0}")]
    Write(std::io::Error),
    #[error("Error truncating the RDB file received from the master for SYNC: {0}")]
    Truncate(std::io::Error),
    #[error(
        "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {0}"
    )]
    Fsync(std::io::Error),
    #[error(
        "Failed trying to rename the temp DB into {0} in MASTER <-> REPLICA synchronization: {1}"
    )]
    Rename(String, std::io::Error),
    #[error("Failed trying to sync DB directory {0} in MASTER <-> REPLICA synchronization: {1}")]
    SyncDir(String, std::io::Error),
    #[error("Failed trying to load the MASTER synchronization DB from disk: {0}")]
    LoadDisk(LoadError),
    #[error("Failed trying to load the MASTER synchronization DB from socket: {0}")]
    LoadSocket(LoadError),
    #[error("Replication stream EOF marker is broken")]
    BrokenMark,
}

/// Parse the line announcing the payload. `Ok(None)` for an empty line: a keepalive the
/// master sends while it prepares the RDB.
pub fn parse_bulk_header(line: &[u8]) -> Result<Option<Bulk>, SyncError> {
    let text = || String::from_utf8_lossy(line).into_owned();
    match line.first() {
        None => Ok(None),
        Some(b'-') => Err(SyncError::MasterError(
            String::from_utf8_lossy(&line[1..]).into_owned(),
        )),
        Some(b'$') => {
            let spec = &line[1..];
            if let Some(mark) = spec.strip_prefix(b"EOF:") {
                let m: [u8; MARK_LEN] = mark.try_into().map_err(|_| SyncError::BadMark(text()))?;
                return Ok(Some(Bulk::Mark(m)));
            }
            // Digits only: no sign, no spaces (Redis's strtol would take "-5" or "abc" as
            // a length and misbehave).
            if spec.is_empty() || spec.len() > 19 || !spec.iter().all(u8::is_ascii_digit) {
                return Err(SyncError::BadLength(text()));
            }
            std::str::from_utf8(spec)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .map(|n| Some(Bulk::Len(n)))
                .ok_or_else(|| SyncError::BadLength(text()))
        }
        Some(_) => Err(SyncError::NotBulk(text())),
    }
}

/// Where the EOF mark was found in a chunk (see [`MarkFinder::find`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkAt {
    /// Bytes at the start of the chunk that are payload.
    pub payload: usize,
    /// Bytes given before as payload (the end of earlier chunks) that are the mark's start.
    pub overlap: usize,
    /// Where the bytes after the mark start in the chunk.
    pub after: usize,
}

/// Finds the EOF mark in a stream seen chunk by chunk, keeping only the last 39 bytes.
#[derive(Debug)]
pub struct MarkFinder {
    mark: [u8; MARK_LEN],
    /// The last bytes seen (fewer than the mark).
    tail: Vec<u8>,
}

impl MarkFinder {
    pub fn new(mark: [u8; MARK_LEN]) -> MarkFinder {
        MarkFinder {
            mark,
            tail: Vec::with_capacity(MARK_LEN),
        }
    }

    fn position(&self, hay: &[u8]) -> Option<usize> {
        let first = self.mark[0];
        let mut from = 0;
        while hay.len() - from >= MARK_LEN {
            let i = from
                + hay[from..=hay.len() - MARK_LEN]
                    .iter()
                    .position(|&b| b == first)?;
            if hay[i..i + MARK_LEN] == self.mark {
                return Some(i);
            }
            from = i + 1;
        }
        None
    }

    /// Look for the mark in `chunk`, or across the previous chunks and this one. `None`:
    /// the whole chunk is payload. Anywhere in the stream, not only at the end of a read as
    /// Redis does, so bytes that follow it in the same read are not taken for payload.
    pub fn find(&mut self, chunk: &[u8]) -> Option<MarkAt> {
        let t = self.tail.len();
        // Across the boundary: a match starting in the tail ends in the chunk's first bytes.
        let head = chunk.len().min(MARK_LEN - 1);
        let found = if t > 0 {
            let mut edge = self.tail.clone();
            edge.extend_from_slice(&chunk[..head]);
            self.position(&edge)
        } else {
            None
        };
        let at = found.or_else(|| self.position(chunk).map(|j| j + t));
        if let Some(i) = at {
            return Some(MarkAt {
                payload: i.saturating_sub(t),
                overlap: t.saturating_sub(i),
                after: i + MARK_LEN - t,
            });
        }
        // Keep the last bytes for the next chunk.
        if chunk.len() >= MARK_LEN - 1 {
            self.tail.clear();
            self.tail
                .extend_from_slice(&chunk[chunk.len() - (MARK_LEN - 1)..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let excess = self.tail.len().saturating_sub(MARK_LEN - 1);
            self.tail.drain(..excess);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> [u8; MARK_LEN] {
        *b"0123456789abcdef0123456789abcdef01234567"
    }

    #[test]
    fn bulk_headers() {
        assert!(matches!(parse_bulk_header(b""), Ok(None)));
        assert!(matches!(parse_bulk_header(b"$0"), Ok(Some(Bulk::Len(0)))));
        assert!(matches!(
            parse_bulk_header(b"$208000000"),
            Ok(Some(Bulk::Len(208_000_000)))
        ));
        let mut eof = b"$EOF:".to_vec();
        eof.extend_from_slice(&mark());
        assert_eq!(parse_bulk_header(&eof).unwrap(), Some(Bulk::Mark(mark())));
        for bad in [
            &b"$-5"[..],
            b"$abc",
            b"$",
            b"$ 5",
            b"$5x",
            b"$+5",
            b"$99999999999999999999",
        ] {
            let e = parse_bulk_header(bad).unwrap_err();
            assert!(matches!(e, SyncError::BadLength(_)), "{bad:?}: {e}");
        }
        assert!(matches!(
            parse_bulk_header(b"$EOF:short"),
            Err(SyncError::BadMark(_))
        ));
        let e = parse_bulk_header(b"-ERR no").unwrap_err();
        assert_eq!(
            e.to_string(),
            "MASTER aborted replication with an error: ERR no"
        );
        let e = parse_bulk_header(b"+FULLRESYNC").unwrap_err();
        assert!(e.to_string().starts_with(
            "Bad protocol from MASTER, the first byte is not '$' (we received '+FULLRESYNC')"
        ));
    }

    /// Feed `data` in chunks of `step`; returns the payload and what followed the mark.
    fn split(data: &[u8], step: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut f = MarkFinder::new(mark());
        let mut payload = Vec::new();
        for (k, chunk) in data.chunks(step).enumerate() {
            match f.find(chunk) {
                None => payload.extend_from_slice(chunk),
                Some(at) => {
                    payload.extend_from_slice(&chunk[..at.payload]);
                    payload.truncate(payload.len() - at.overlap);
                    let mut rest = chunk[at.after..].to_vec();
                    for c in data.chunks(step).skip(k + 1) {
                        rest.extend_from_slice(c);
                    }
                    return Some((payload, rest));
                }
            }
        }
        None
    }

    #[test]
    fn the_mark_is_found_wherever_the_reads_cut() {
        let body: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut data = body.clone();
        data.extend_from_slice(&mark());
        data.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        for step in [1, 2, 13, 39, 40, 41, 64, 1000, 5039, 5040, 5041, 100_000] {
            let (payload, rest) = split(&data, step).unwrap_or_else(|| panic!("step {step}"));
            assert_eq!(payload, body, "step {step}");
            assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n", "step {step}");
        }
        // Only an exact mark ends the payload; an endless stream never does.
        let mut near = body.clone();
        let mut m = mark();
        m[39] = b'x';
        near.extend_from_slice(&m);
        assert!(split(&near, 100).is_none());
        let mut f = MarkFinder::new(mark());
        for _ in 0..1000 {
            assert!(f.find(&[b'0'; 4096]).is_none());
            assert!(f.tail.len() < MARK_LEN);
        }
    }
}
