//! Reading an RDB as it arrives (from a socket, or from a file read in chunks), item by item,
//! through a buffer that holds only the bytes not consumed yet: the bytes of every item
//! returned are dropped from its front, and the checksum is computed on the way.
//!
//! An item cut at the end of the buffer is parsed again once more bytes came. The parser
//! asks for the buffer to grow by half (64 KB at least, up to the end of the input when its
//! length is known) before the next attempt, so a big item costs a few attempts only and
//! the buffer holds at most about twice the biggest item. Without a known length, the
//! caller says when everything has arrived ([`StreamParser::set_eager`]) or when input
//! paused ([`StreamParser::retry_now`]), so the end of the file is not waited for.

use bytes::{Buf, BytesMut};

use super::codec::{Crc64Table, RdbError, Reader, CRC64};
use super::read::{check_header, read_record, Item};

/// The least the buffer grows by between two attempts at a cut item.
const MIN_GROWTH: usize = 64 * 1024;

/// What [`StreamParser::next`] found.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// An item (`Item::Eof` once the checksum after it is verified).
    Item(Item),
    /// The buffer ends within an item: append more input and call again.
    NeedMore,
    /// The file ended (after `Item::Eof`); the bytes left in the buffer follow the RDB.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Items,
    Checksum,
    Done,
}

/// A parser fed with a buffer the caller appends input to.
pub struct StreamParser {
    /// Offset in the input of the buffer's first byte.
    offset: usize,
    /// Where the input ends, if known (`usize::MAX` otherwise): lengths read are checked
    /// against it.
    end: usize,
    digest: crc::Digest<'static, u64, Crc64Table>,
    version: u32,
    phase: Phase,
    /// After a cut item: the buffer length to wait for before trying again, and the length
    /// it had at that attempt.
    retry_at: usize,
    tried_len: usize,
    /// Try again at every call (see [`StreamParser::set_eager`]).
    eager: bool,
}

impl StreamParser {
    /// A parser for an input of `len` bytes, if known.
    pub fn new(len: Option<u64>) -> StreamParser {
        StreamParser {
            offset: 0,
            end: len.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
            digest: CRC64.digest(),
            version: 0,
            phase: Phase::Header,
            retry_at: 0,
            tried_len: 0,
            eager: false,
        }
    }

    /// The rest of the input has arrived (though more bytes may follow it, such as an EOF
    /// mark): try a cut item again at every call instead of waiting for the buffer to
    /// grow, which it may no longer do.
    pub fn set_eager(&mut self) {
        self.eager = true;
    }

    /// Input stopped coming for a while: maybe everything is here. Makes the next call try
    /// a cut item again if the buffer (now `buf_len` bytes) grew since the last attempt;
    /// returns whether it will.
    pub fn retry_now(&mut self, buf_len: usize) -> bool {
        if self.retry_at > 0 && buf_len > self.tried_len {
            self.retry_at = 0;
            return true;
        }
        false
    }

    /// Offset in the input of the next byte to parse (the bytes consumed so far).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The RDB version (0 until the header is read).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether the end of the file (and its checksum) was read.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        if self.phase != Phase::Checksum {
            self.digest.update(&buf[..n]);
        }
        buf.advance(n);
        self.offset += n;
    }

    /// The next item from the front of `buf`, whose bytes are then dropped from it.
    /// `complete`: no more input will come, so a cut item is an error.
    pub fn next(&mut self, buf: &mut BytesMut, complete: bool) -> Result<Next, RdbError> {
        loop {
            match self.phase {
                Phase::Header => {
                    if buf.len() < 9 {
                        if complete {
                            return Err(RdbError::corrupt("not an RDB file (too short)", 0));
                        }
                        return Ok(Next::NeedMore);
                    }
                    self.version = check_header(&buf[..9])?;
                    self.consume(buf, 9);
                    self.phase = Phase::Items;
                }
                Phase::Items => {
                    if !complete && !self.eager && buf.len() < self.retry_at {
                        return Ok(Next::NeedMore);
                    }
                    let mut r = Reader::window(&buf[..], self.offset, self.end);
                    match read_record(&mut r) {
                        Ok(item) => {
                            let used = r.offset() - self.offset;
                            self.consume(buf, used);
                            self.retry_at = 0;
                            if item != Item::Eof {
                                return Ok(Next::Item(item));
                            }
                            if self.version < 5 {
                                self.phase = Phase::Done;
                                return Ok(Next::Item(Item::Eof));
                            }
                            self.phase = Phase::Checksum;
                        }
                        Err(RdbError::Truncated { .. }) if !complete => {
                            let grow = (buf.len() / 2).max(MIN_GROWTH);
                            let left = self.end.saturating_sub(self.offset);
                            self.retry_at = (buf.len() + grow).min(left).max(buf.len() + 1);
                            self.tried_len = buf.len();
                            return Ok(Next::NeedMore);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Phase::Checksum => {
                    if buf.len() < 8 {
                        if complete {
                            return Err(RdbError::Truncated {
                                at: self.offset + buf.len(),
                            });
                        }
                        return Ok(Next::NeedMore);
                    }
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&buf[..8]);
                    let stored = u64::from_le_bytes(b);
                    if stored != 0 {
                        let computed = self.digest.clone().finalize();
                        if computed != stored {
                            return Err(RdbError::corrupt(
                                format!(
                                    "wrong RDB checksum: expected {stored:#x}, got {computed:#x}"
                                ),
                                self.offset,
                            ));
                        }
                    }
                    self.consume(buf, 8);
                    self.phase = Phase::Done;
                    return Ok(Next::Item(Item::Eof));
                }
                Phase::Done => return Ok(Next::End),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::read::Parser;

    const REDIS70: &[u8] = include_bytes!("../../../tests/data/redis70-all-types.rdb");

    fn whole(data: &[u8]) -> Vec<Item> {
        let mut p = Parser::new(data).unwrap();
        let mut out = Vec::new();
        while let Some(i) = p.next_item() {
            out.push(i.unwrap());
        }
        out
    }

    /// Feed `data` in pieces of `step` bytes; returns the items and the bytes left after
    /// the file.
    fn streamed(
        data: &[u8],
        step: usize,
        len: Option<u64>,
    ) -> Result<(Vec<Item>, Vec<u8>), RdbError> {
        let mut p = StreamParser::new(len);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut out = Vec::new();
        loop {
            let complete = fed == data.len();
            match p.next(&mut buf, complete)? {
                Next::Item(i) => out.push(i),
                Next::End => return Ok((out, buf.to_vec())),
                Next::NeedMore => {
                    assert!(!complete, "NeedMore with a complete input");
                    let n = step.min(data.len() - fed);
                    buf.extend_from_slice(&data[fed..fed + n]);
                    fed += n;
                }
            }
        }
    }

    #[test]
    fn same_items_as_the_whole_file_parser_whatever_the_pieces() {
        let want = whole(REDIS70);
        for step in [1, 7, 100, 4096, 1 << 20] {
            let (got, rest) = streamed(REDIS70, step, None).unwrap();
            assert_eq!(got, want, "step {step}");
            assert!(rest.is_empty());
            let (got, _) = streamed(REDIS70, step, Some(REDIS70.len() as u64)).unwrap();
            assert_eq!(got, want, "step {step} with a known length");
        }
    }

    #[test]
    fn without_a_length_the_caller_says_when_everything_came() {
        // The whole file then a mark, and nothing more (a diskless master waits for the
        // replica's ACK): the parser must finish without more input.
        let mut data = REDIS70.to_vec();
        data.extend_from_slice(&[b'm'; 40]);
        let mut p = StreamParser::new(None);
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        let mut fed = 0;
        loop {
            match p.next(&mut buf, false).unwrap() {
                Next::Item(i) => items.push(i),
                Next::End => break,
                Next::NeedMore if fed < data.len() => {
                    let n = 1000.min(data.len() - fed);
                    buf.extend_from_slice(&data[fed..fed + n]);
                    fed += n;
                    if fed == data.len() {
                        p.set_eager();
                    }
                }
                Next::NeedMore => panic!("waits for input that will not come"),
            }
        }
        assert_eq!(items, whole(REDIS70));
        assert_eq!(&buf[..], &[b'm'; 40]);
    }

    #[test]
    fn bytes_after_the_file_stay_in_the_buffer() {
        let mut data = REDIS70.to_vec();
        data.extend_from_slice(b"0123456789012345678901234567890123456789*1\r\n$4\r\nPING\r\n");
        let (items, rest) = streamed(&data, 1000, None).unwrap();
        assert_eq!(items.last(), Some(&Item::Eof));
        assert_eq!(&rest[..], &data[REDIS70.len()..]);
    }

    #[test]
    fn corruption_and_truncation_are_errors() {
        for cut in [0, 5, 9, 20, REDIS70.len() / 2, REDIS70.len() - 1] {
            assert!(
                streamed(&REDIS70[..cut], 333, None).is_err(),
                "cut at {cut}"
            );
        }
        for at in (9..REDIS70.len() - 8).step_by(97) {
            let mut bad = REDIS70.to_vec();
            bad[at] ^= 0x5a;
            assert!(streamed(&bad, 333, None).is_err(), "flip at {at}");
        }
        assert!(streamed(b"NOTREDIS0", 4, None).is_err());
        // A garbage stream is refused at its header, whatever follows.
        let garbage = vec![0xAAu8; 100_000];
        assert!(streamed(&garbage, 10, None).is_err());
    }

    #[test]
    fn a_big_item_takes_few_attempts_and_a_bounded_buffer() {
        // One 3 MB string arriving 1 KB at a time: the parser waits for the buffer to
        // grow by half before each new attempt.
        let mut w = crate::persist::rdb::codec::Writer::new(false);
        w.bytes(b"REDIS0010");
        w.u8(0); // string type
        w.string(b"big");
        w.string(&vec![b'x'; 3 << 20]);
        w.u8(0xFF);
        w.u64_le(0);
        let data = w.buf;
        let mut p = StreamParser::new(None);
        let mut buf = BytesMut::new();
        let (mut fed, mut attempts, mut items) = (0, 0, 0);
        while fed < data.len() || !p.is_done() {
            let before = p.retry_at;
            match p.next(&mut buf, fed == data.len()).unwrap() {
                Next::NeedMore => {
                    if p.retry_at != before {
                        attempts += 1;
                    }
                    let n = 1024.min(data.len() - fed);
                    buf.extend_from_slice(&data[fed..fed + n]);
                    fed += n;
                }
                Next::Item(_) => items += 1,
                Next::End => break,
            }
            assert!(buf.len() <= data.len() + 1024);
        }
        assert_eq!(items, 2);
        assert!(attempts < 40, "{attempts} attempts");
    }
}
