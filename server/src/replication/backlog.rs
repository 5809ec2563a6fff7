//! The replication backlog: the last `size` bytes of the replication stream, so a replica
//! that lost its link can continue from its offset (Redis's `repl_backlog`).
//!
//! Offsets are Redis's: the stream's first byte has offset 1, `master_repl_offset` is the
//! offset of the last byte produced, and a replica that applied everything up to X asks
//! for X + 1 (`PSYNC <replid> <X+1>`).

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
    /// Offset of the first byte held (`repl_backlog_first_byte_offset`).
    first: u64,
}

impl Backlog {
    /// An empty backlog continuing a stream whose last byte has offset `master_offset`.
    pub fn new(size: u64, master_offset: u64) -> Backlog {
        let size = size as usize;
        Backlog {
            buf: VecDeque::with_capacity(size.min(1 << 20)),
            size,
            first: master_offset + 1,
        }
    }

    pub fn size(&self) -> u64 {
        self.size as u64
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn first_byte_offset(&self) -> u64 {
        self.first
    }

    /// `repl_backlog_histlen`.
    pub fn histlen(&self) -> u64 {
        self.buf.len() as u64
    }

    pub fn append(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.size {
            // Only the tail fits.
            let drop = self.buf.len() + bytes.len() - self.size;
            self.first += drop as u64;
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.size..]);
            return;
        }
        let over = (self.buf.len() + bytes.len()).saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
            self.first += over as u64;
        }
        self.buf.extend(bytes);
    }

    /// Change the size (CONFIG SET repl-backlog-size), keeping the newest bytes.
    pub fn resize(&mut self, size: u64) {
        self.size = size as usize;
        let over = self.buf.len().saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
            self.first += over as u64;
        }
    }

    /// Whether a replica asking for `offset` (the next byte it needs) can be served from
    /// here: `first <= offset <= first + histlen`.
    pub fn covers(&self, offset: u64) -> bool {
        offset >= self.first && offset <= self.first + self.histlen()
    }

    /// The bytes from `offset` (covered) to the end.
    pub fn since(&self, offset: u64) -> Vec<u8> {
        let skip = (offset.saturating_sub(self.first) as usize).min(self.buf.len());
        self.buf.range(skip..).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_redis() {
        let mut b = Backlog::new(16, 0);
        assert_eq!(b.first_byte_offset(), 1);
        assert!(b.covers(1));
        assert!(!b.covers(2));
        b.append(b"0123456789");
        // master_repl_offset is now 10: a replica that applied 4 bytes asks for 5.
        assert!(b.covers(5) && b.covers(11) && !b.covers(12));
        assert_eq!(b.since(5), b"456789");
        assert_eq!(b.since(11), b"");
        b.append(b"abcdefghij");
        // 20 bytes produced, 16 kept: the first held byte is offset 5.
        assert_eq!(b.first_byte_offset(), 5);
        assert_eq!(b.histlen(), 16);
        assert!(!b.covers(4) && b.covers(5));
        assert_eq!(b.since(5), b"456789abcdefghij");
    }

    #[test]
    fn a_write_bigger_than_the_backlog_keeps_its_tail() {
        let mut b = Backlog::new(4, 100);
        b.append(b"xy");
        b.append(b"0123456789");
        assert_eq!(b.first_byte_offset(), 101 + 8);
        assert_eq!(b.since(109), b"6789");
        b.resize(2);
        assert_eq!(b.since(b.first_byte_offset()), b"89");
        assert_eq!(b.first_byte_offset(), 111);
    }
}
