//! Redis 7.0's accounting of a client's buffers, as CLIENT LIST / CLIENT INFO show it
//! (`qbuf`, `qbuf-free`, `argv-mem`, `rbs`, `rbp`, `obl`, `oll`, `omem`, `tot-mem`).
//!
//! The connection's real buffers follow the same policies (a big argument is received into
//! a buffer sized for it at once; an idle client's query buffer is released), but their
//! sizes come from Rust's allocator. What the fields report is Redis's arithmetic on the
//! same events: sds headers, jemalloc's size classes, `readQueryFromClient`'s room making,
//! `clientsCronResizeQueryBuffer` and `clientsCronResizeOutputBuffer`, so that tools that
//! watch these numbers see what they see on Redis.

/// Redis's `PROTO_IOBUF_LEN`: what one read asks for.
pub const PROTO_IOBUF_LEN: usize = 16 * 1024;
/// Redis's `PROTO_MBULK_BIG_ARG`: from this size on, an argument is read on its own.
pub const PROTO_MBULK_BIG_ARG: usize = 32 * 1024;
const PROTO_RESIZE_THRESHOLD: usize = 32 * 1024;
const PROTO_REPLY_CHUNK_BYTES: usize = 16 * 1024;
const PROTO_REPLY_MIN_BYTES: usize = 1024;
/// `reply-buffer-peak-reset-time` (a DEBUG setting in Redis): 5 s.
const REPLY_BUFFER_PEAK_RESET_MS: i64 = 5000;
/// `SDS_MAX_PREALLOC`.
const SDS_MAX_PREALLOC: usize = 1024 * 1024;
/// `zmalloc_size(client)` of Redis 7.0 on 64 bits.
const CLIENT_STRUCT: usize = 768;
const PTR: usize = 8;
/// `sizeof(multiCmd)`, `sizeof(dictEntry)`, `sizeof(listNode)`.
const MULTI_CMD: usize = 24;
const DICT_ENTRY: usize = 24;
const LIST_NODE: usize = 24;

/// jemalloc's usable size for a request of `n` bytes: 8, then multiples of 16 up to 128,
/// then four classes per power of two.
pub fn malloc_usable(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let k = usize::BITS - 1 - (n - 1).leading_zeros();
    let step = 1usize << (k - 2);
    n.div_ceil(step) * step
}

/// The header size of an sds string holding up to `len` bytes (types 8, 16, 32, 64; type 5
/// is never used for buffers that grow).
fn sds_header(len: usize) -> usize {
    if len < 1 << 8 {
        3
    } else if len < 1 << 16 {
        5
    } else if len < 1 << 32 {
        9
    } else {
        17
    }
}

/// The allocation (`sdsalloc`) of an sds made to hold `len` bytes: jemalloc's usable size
/// less the header and the terminator.
fn sds_alloc(len: usize) -> usize {
    let hdr = sds_header(len);
    malloc_usable(hdr + len + 1) - hdr - 1
}

/// `sdsZmallocSize`: the whole allocation of an sds.
fn sds_zmalloc_size(alloc: usize) -> usize {
    let hdr = sds_header(alloc);
    malloc_usable(hdr + alloc + 1)
}

/// The query buffer as Redis sizes it.
#[derive(Debug, Clone, Default)]
pub struct QueryBuf {
    /// `sdslen`: bytes held (received and not trimmed yet).
    pub len: usize,
    /// `sdsalloc`.
    pub alloc: usize,
    /// `querybuf_peak`.
    pub peak: usize,
    /// The big argument being received (`bulklen` when >= 32 KB).
    pub big_arg: Option<usize>,
}

impl QueryBuf {
    /// The room `readQueryFromClient` makes before a read of `readlen` bytes: exactly what
    /// is needed for a big argument or a first allocation, greedily otherwise.
    pub fn make_room(&mut self, readlen: usize) {
        let avail = self.alloc.saturating_sub(self.len);
        if avail >= readlen {
            return;
        }
        let mut newlen = self.len + readlen;
        if self.big_arg.is_none() && self.alloc >= PROTO_IOBUF_LEN {
            newlen = if newlen < SDS_MAX_PREALLOC {
                newlen * 2
            } else {
                newlen + SDS_MAX_PREALLOC
            };
        }
        self.alloc = sds_alloc(newlen);
    }

    /// `n` bytes were read.
    pub fn read(&mut self, n: usize) {
        self.len += n;
        self.peak = self.peak.max(self.len);
    }

    /// The header of a big argument (`bulk` bytes) was parsed with `unparsed` bytes after
    /// it: Redis trims the buffer to start at the argument and makes room for all of it.
    pub fn big_arg_header(&mut self, bulk: usize, unparsed: usize) {
        if self.big_arg == Some(bulk) {
            return;
        }
        self.big_arg = Some(bulk);
        if unparsed <= bulk + 2 {
            self.len = unparsed;
            if self.alloc < bulk + 2 {
                self.alloc = sds_alloc(bulk + 2);
            }
        }
    }

    /// The bytes still held after a batch of commands ran (`sdsrange`); a big argument that
    /// completed leaves a buffer sized for another one, as Redis.
    pub fn processed(&mut self, remaining: usize) {
        if let Some(bulk) = self.big_arg.take() {
            self.alloc = self.alloc.max(sds_alloc(bulk + 2));
        }
        self.len = remaining;
    }

    /// `clientsCronResizeQueryBuffer`: release the free space of an idle client (idle more
    /// than 2 s) or trim a buffer much larger than its recent peak. Returns the new
    /// allocation when it changed, for the connection to resize its real buffer.
    pub fn cron(&mut self, idle_s: u64) -> Option<usize> {
        let mut resized = None;
        if self.alloc.saturating_sub(self.len) > 4 * 1024 {
            if idle_s > 2 {
                self.alloc = self.len;
                resized = Some(self.alloc);
            } else if self.alloc > PROTO_RESIZE_THRESHOLD && self.alloc / 2 > self.peak {
                let size = self.len.max(self.peak).max(self.big_arg.map_or(0, |b| b));
                self.alloc = size;
                resized = Some(self.alloc);
            }
        }
        self.peak = self.len.max(self.big_arg.unwrap_or(0));
        resized
    }

    /// `qbuf-free`.
    pub fn free(&self) -> usize {
        self.alloc.saturating_sub(self.len)
    }

    /// `sdsZmallocSize(querybuf)`.
    pub fn memory(&self) -> usize {
        sds_zmalloc_size(self.alloc)
    }
}

/// The static reply buffer Redis 7.0 resizes in the cron (`buf`, `buf_usable_size`,
/// `buf_peak`).
#[derive(Debug, Clone)]
pub struct ReplyBuf {
    /// `rbs`: its usable size.
    pub size: usize,
    /// `rbp`: the most it held since the peak was last reset.
    pub peak: usize,
    /// When the peak was last reset (unix ms). Redis sets it in seconds at creation and
    /// compares milliseconds, so the first cron run resets it: 0 does the same.
    pub peak_reset_ms: i64,
    /// `bufpos`: the bytes it holds.
    pos: usize,
    /// Replies went past it into the reply list: it takes no more until that is written.
    spilled: bool,
}

impl Default for ReplyBuf {
    fn default() -> Self {
        let size = malloc_usable(PROTO_REPLY_CHUNK_BYTES);
        ReplyBuf {
            size,
            peak: size,
            peak_reset_ms: 0,
            pos: 0,
            spilled: false,
        }
    }
}

impl ReplyBuf {
    /// `pending` reply bytes are waiting: the buffer holds up to its size of them, and once
    /// replies went past it into the list, no more until they are written.
    pub fn note(&mut self, pending: usize) {
        if pending <= self.pos {
            self.pos = pending;
            self.spilled = false;
        } else if !self.spilled {
            self.pos = pending.min(self.size);
            self.spilled = pending > self.size;
        }
        self.peak = self.peak.max(self.pos);
    }

    /// `clientsCronResizeOutputBuffer`: halve toward the peak, double when it was full,
    /// reset the peak every 5 s to what the buffer holds now (`pending`).
    pub fn cron(&mut self, now_ms: i64, pending: usize) {
        let shrink_to = self.size / 2;
        let expand_to = self.size * 2;
        let mut new_size = 0;
        if shrink_to >= PROTO_REPLY_MIN_BYTES && self.peak < shrink_to {
            new_size = PROTO_REPLY_MIN_BYTES.max(self.peak + 1);
        } else if expand_to < PROTO_REPLY_CHUNK_BYTES * 2 && self.peak == self.size {
            new_size = PROTO_REPLY_CHUNK_BYTES.min(expand_to);
        }
        if now_ms - self.peak_reset_ms >= REPLY_BUFFER_PEAK_RESET_MS {
            self.note(pending);
            self.peak = self.pos;
            self.peak_reset_ms = now_ms;
        }
        if new_size > 0 {
            self.size = malloc_usable(new_size);
        }
    }

    /// `obl`, `oll`, `omem` for `pending` reply bytes: the buffer first, then 16 KB blocks.
    pub fn split(&self, pending: usize) -> (usize, usize, usize) {
        let obl = pending.min(self.size);
        let rest = pending - obl;
        let oll = rest.div_ceil(PROTO_REPLY_CHUNK_BYTES);
        (obl, oll, oll * PROTO_REPLY_CHUNK_BYTES)
    }
}

/// What `getClientMemoryUsage` adds up, for `tot-mem`.
pub struct MemParts {
    pub qbuf: usize,
    pub rbs: usize,
    pub omem: usize,
    pub oll: usize,
    pub argv_mem: usize,
    pub argc: usize,
    pub multi_mem: usize,
    pub multi_count: usize,
    pub channels: usize,
    pub patterns: usize,
}

/// `tot-mem`.
pub fn total_memory(p: &MemParts) -> usize {
    // A dict's table: a power of two >= its size, at least 4; none when empty.
    let dict = |n: usize| {
        if n == 0 {
            0
        } else {
            n * DICT_ENTRY + n.next_power_of_two().max(4) * PTR
        }
    };
    // `listNode` + `clientReplyBlock` header per reply block.
    p.omem
        + p.oll * (LIST_NODE + 16)
        + p.qbuf
        + CLIENT_STRUCT
        + p.rbs
        + p.argv_mem
        + PTR * p.argc
        + p.multi_mem
        + MULTI_CMD * p.multi_count
        + dict(p.channels)
        + p.patterns * LIST_NODE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_classes() {
        assert_eq!(malloc_usable(1), 8);
        assert_eq!(malloc_usable(17), 32);
        assert_eq!(malloc_usable(129), 160);
        assert_eq!(malloc_usable(16384), 16384);
        assert_eq!(malloc_usable(16390), 20480);
        assert_eq!(malloc_usable(1_048_588), 1_310_720);
    }

    /// The numbers Redis 7.0.15 shows (see tests/client_list_compat.rs).
    #[test]
    fn first_read_idle_release_and_big_arguments() {
        let mut q = QueryBuf::default();
        assert_eq!(q.memory(), 8);
        q.make_room(PROTO_IOBUF_LEN);
        q.read(26);
        assert_eq!((q.len, q.free()), (26, 20448));
        assert_eq!(q.memory(), 20480);
        q.processed(0);
        assert_eq!(q.cron(1), None);
        assert_eq!(q.cron(3), Some(0));
        assert_eq!((q.len, q.free(), q.memory()), (0, 0, 8));
        // A 1 MB argument: room for it at once, then trimmed back when idle.
        q.make_room(PROTO_IOBUF_LEN);
        q.read(16384);
        q.big_arg_header(1 << 20, 16384 - 34);
        q.make_room((1 << 20) + 2 - q.len);
        q.read(600_000 - q.len);
        assert_eq!(q.len + q.free(), 1_310_710);
        q.processed(0);
        q.cron(1);
        assert_eq!(q.cron(1), Some(0));
        assert_eq!(q.free(), 0);
    }

    #[test]
    fn reply_buffer_shrinks_after_the_first_cron_runs() {
        let mut r = ReplyBuf::default();
        assert_eq!((r.size, r.peak), (16384, 16384));
        r.cron(10_000, 0);
        assert_eq!((r.size, r.peak), (16384, 0));
        r.cron(10_100, 0);
        assert_eq!((r.size, r.peak), (1024, 0));
        r.note(5);
        r.cron(10_200, 0);
        assert_eq!((r.size, r.peak), (1024, 5));
        // A full buffer doubles, up to 16 KB; what went past it waits in the list.
        r.note(5000);
        assert_eq!(r.peak, 1024);
        r.cron(10_300, 5000);
        assert_eq!(r.size, 2048);
        r.note(9000);
        r.cron(10_400, 9000);
        assert_eq!((r.size, r.peak), (2048, 1024));
        assert_eq!(r.split(20_000), (2048, 2, 32768));
    }

    #[test]
    fn total_memory_as_redis_adds_it() {
        let fresh = MemParts {
            qbuf: 20480,
            rbs: 1024,
            omem: 0,
            oll: 0,
            argv_mem: 0,
            argc: 0,
            multi_mem: 0,
            multi_count: 0,
            channels: 0,
            patterns: 0,
        };
        assert_eq!(total_memory(&fresh), 22272);
        let sub = MemParts {
            channels: 2,
            patterns: 1,
            ..fresh
        };
        assert_eq!(total_memory(&sub), 22376);
    }
}
