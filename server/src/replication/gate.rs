//! The acknowledgement gate of `failover-safety strict`, on plain data: a client's replies
//! wait until the replicas hold the writes they acknowledge.
//!
//! In strict mode a write is applied and propagated at once, but its reply leaves only when
//! enough replicas acknowledged the replication offset that ends it (`REPLCONF ACK`), so
//! that an acknowledged write is on every replica set the sentinels can promote from (the
//! argument is in `docs/failover-safety.md`). Replies that follow a write on the same
//! connection wait behind it, so a client sees its replies in order. A write that is not
//! acknowledged within the lease (`failover-lease-ms`) gets an error instead of its reply:
//! it was applied on this master and may or may not survive a failover, which is what an
//! error means to a client of Redis as well (a timeout).
//!
//! The connection (`conn.rs`) hands each batch's output to [`Gate::push`] with the byte
//! ranges of the writes in it, and writes what [`Gate::release`] returns. The times are
//! the server's monotonic clock.

use std::collections::VecDeque;

use bytes::BytesMut;
use tokio::time::Instant;

/// The reply a write gets when its acknowledgement did not come within the lease.
pub const NOT_ACKNOWLEDGED: &str = "NOREPLICAS Not enough good replicas acknowledged the write within failover-lease-ms; it was applied on the master and may or may not survive a failover.";

/// A write's reply inside a batch's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write {
    /// Its reply is `output[start..end]`.
    pub start: usize,
    pub end: usize,
    /// The replication offset its effects end at (the client's `woff` after it).
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    /// Its reply is `held[start..end]`.
    start: usize,
    end: usize,
    offset: u64,
    deadline: Instant,
}

/// What a client has replied but may not send yet.
#[derive(Debug, Default)]
pub struct Gate {
    /// Output not yet released, from the first unacknowledged write on.
    held: BytesMut,
    /// The writes in `held` whose acknowledgement is awaited, in order.
    pending: VecDeque<Pending>,
}

impl Gate {
    /// Whether anything is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Bytes held (they count in the client's output buffer).
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// The offset the oldest held write waits for, and until when.
    pub fn waiting_for(&self) -> Option<(u64, Instant)> {
        self.pending.front().map(|p| (p.offset, p.deadline))
    }

    /// A batch's output, with its writes (ordered, inside `output`), each of which must be
    /// acknowledged by `deadline`. Output with no write before it, and nothing held ahead
    /// of it, passes at the next [`Gate::release`].
    pub fn push(&mut self, output: BytesMut, writes: &[Write], deadline: Instant) {
        let base = self.held.len();
        for w in writes {
            debug_assert!(w.start <= w.end && w.end <= output.len());
            self.pending.push_back(Pending {
                start: base + w.start,
                end: base + w.end,
                offset: w.offset,
                deadline,
            });
        }
        if self.held.is_empty() {
            self.held = output;
        } else {
            self.held.extend_from_slice(&output);
        }
    }

    /// What may be sent now: everything up to the first write that `acked` does not cover
    /// and whose deadline is still ahead. A write whose deadline passed is released with
    /// the error `err` (a full RESP error frame) in place of its reply. Returns the bytes
    /// and how many writes got the error.
    pub fn release(
        &mut self,
        acked: impl Fn(u64) -> bool,
        now: Instant,
        err: &[u8],
    ) -> (BytesMut, usize) {
        let mut out = BytesMut::new();
        let mut failed = 0;
        // Bytes of `held` already copied to `out` (or skipped, for a replaced reply).
        let mut done = 0;
        while let Some(&p) = self.pending.front() {
            let ok = acked(p.offset);
            if !ok && p.deadline > now {
                break;
            }
            self.pending.pop_front();
            out.extend_from_slice(&self.held[done..p.start]);
            if ok {
                out.extend_from_slice(&self.held[p.start..p.end]);
            } else {
                out.extend_from_slice(err);
                failed += 1;
            }
            done = p.end;
        }
        let upto = match self.pending.front() {
            Some(p) => p.start,
            None => self.held.len(),
        };
        out.extend_from_slice(&self.held[done..upto]);
        let rest = self.held.split_off(upto);
        self.held = rest;
        for p in self.pending.iter_mut() {
            p.start -= upto;
            p.end -= upto;
        }
        (out, failed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ERR: &[u8] = b"-NOACK\r\n";

    fn s(b: &BytesMut) -> &str {
        std::str::from_utf8(b).expect("utf-8 test output")
    }

    #[tokio::test(start_paused = true)]
    async fn replies_wait_for_their_writes_and_keep_their_order() {
        let t0 = Instant::now();
        let lease = t0 + Duration::from_millis(500);
        let mut g = Gate::default();
        // GET (no write), SET k (ends at offset 100), GET k, INCR (ends at 130), PING.
        let out = BytesMut::from("$1\r\na\r\n+OK\r\n$1\r\nb\r\n:1\r\n+PONG\r\n");
        let writes = [
            Write {
                start: 7,
                end: 12,
                offset: 100,
            },
            Write {
                start: 19,
                end: 23,
                offset: 130,
            },
        ];
        g.push(out, &writes, lease);
        assert_eq!(g.waiting_for(), Some((100, lease)));
        // Nothing acknowledged: only the reply before the first write leaves.
        assert_eq!(s(&g.release(|_| false, t0, ERR).0), "$1\r\na\r\n");
        assert_eq!(s(&g.release(|_| false, t0, ERR).0), "");
        // The first write acknowledged: its reply and the read behind it.
        assert_eq!(s(&g.release(|o| o <= 100, t0, ERR).0), "+OK\r\n$1\r\nb\r\n");
        assert_eq!(g.waiting_for(), Some((130, lease)));
        // Output of a later batch waits behind the held write.
        g.push(BytesMut::from("+QUEUED\r\n"), &[], lease);
        assert_eq!(s(&g.release(|o| o <= 129, t0, ERR).0), "");
        assert_eq!(
            s(&g.release(|o| o <= 130, t0, ERR).0),
            ":1\r\n+PONG\r\n+QUEUED\r\n"
        );
        assert!(g.is_empty());
        assert_eq!(g.waiting_for(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_not_acknowledged_within_the_lease_gets_the_error() {
        let t0 = Instant::now();
        let lease = t0 + Duration::from_millis(500);
        let mut g = Gate::default();
        let out = BytesMut::from("+OK\r\n:5\r\n");
        let writes = [
            Write {
                start: 0,
                end: 5,
                offset: 10,
            },
            Write {
                start: 5,
                end: 9,
                offset: 20,
            },
        ];
        g.push(out, &writes, lease);
        assert_eq!(
            s(&g.release(|_| false, lease - Duration::from_millis(1), ERR)
                .0),
            ""
        );
        // At the deadline: the first write was acknowledged meanwhile, the second not.
        let (bytes, failed) = g.release(|o| o <= 10, lease, ERR);
        assert_eq!(s(&bytes), "+OK\r\n-NOACK\r\n");
        assert_eq!(failed, 1);
        assert!(g.is_empty());
        assert_eq!(g.held_len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn output_with_no_write_passes_at_once() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        g.push(BytesMut::from("+PONG\r\n"), &[], t0);
        assert_eq!(g.held_len(), 7);
        assert_eq!(s(&g.release(|_| false, t0, ERR).0), "+PONG\r\n");
        assert!(g.is_empty());
    }
}
