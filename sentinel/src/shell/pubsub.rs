//! Events to the command server's subscribers (SUBSCRIBE / PSUBSCRIBE on the sentinel's
//! own port).

//!
//! A subscriber that does not read must neither grow the sentinel's memory without bound
//! nor block anything: its messages wait in its own queue ([`outbox`]), bounded in bytes
//! (over the bound the client is dropped, as Redis's `client-output-buffer-limit pubsub`
//! does), and its connection task writes them with a deadline ([`write_within`]): a write
//! that makes no progress for [`PubsubLimits::write_stall`] closes the client.

use std::sync::atomic::AtomicBool;

use super::*;

/// One pushed message: the pattern that matched (PSUBSCRIBE), the channel, the payload.
pub type Push = (Option<String>, String, String);

/// The bounds of a client's outgoing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubsubLimits {
    /// The most bytes of messages queued for one client (Redis's default hard limit of
    /// `client-output-buffer-limit pubsub`, 32 MB).
    pub max_queued_bytes: usize,
    /// How long a write to a client may make no progress before the client is closed.
    pub write_stall: Duration,
}

impl Default for PubsubLimits {
    fn default() -> Self {
        PubsubLimits {
            max_queued_bytes: 32 * 1024 * 1024,
            write_stall: Duration::from_secs(30),
        }
    }
}

/// The sending half of a client's queue of messages.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Push>,
    queued: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    closed: CancellationToken,
}

/// The receiving half, read by the client's connection task.
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Push>,
    queued: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    /// Cancelled when the client went over its queue's bound: the connection closes.
    pub closed: CancellationToken,
}

/// A new queue of messages for one client.
pub fn outbox() -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let overflowed = Arc::new(AtomicBool::new(false));
    let closed = CancellationToken::new();
    (
        Outbox {
            tx,
            queued: queued.clone(),
            overflowed: overflowed.clone(),
            closed: closed.clone(),
        },
        Inbox {
            rx,
            queued,
            overflowed,
            closed,
        },
    )
}

fn push_size(p: &Push) -> usize {
    p.0.as_ref().map_or(0, String::len) + p.1.len() + p.2.len()
}

impl Outbox {
    /// Queue a message, unless that takes the queue over `limit` bytes: then the client is
    /// closed (and false returned).
    pub fn offer(&self, p: Push, limit: usize) -> bool {
        if self.closed.is_cancelled() {
            return false;
        }
        let size = push_size(&p);
        let before = self.queued.fetch_add(size, Ordering::SeqCst);
        if before.saturating_add(size) > limit {
            self.queued.fetch_sub(size, Ordering::SeqCst);
            self.overflowed.store(true, Ordering::SeqCst);
            self.closed.cancel();
            return false;
        }
        if self.tx.send(p).is_err() {
            self.queued.fetch_sub(size, Ordering::SeqCst);
            return false;
        }
        true
    }
}

impl Inbox {
    /// The next message (None once every sender is gone).
    pub async fn recv(&mut self) -> Option<Push> {
        let p = self.rx.recv().await?;
        self.queued.fetch_sub(push_size(&p), Ordering::SeqCst);
        Some(p)
    }

    /// A message already queued, if any.
    pub fn try_recv(&mut self) -> Option<Push> {
        let p = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(push_size(&p), Ordering::SeqCst);
        Some(p)
    }

    /// Bytes waiting.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Whether the client was closed for going over its queue's bound.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::SeqCst)
    }
}

/// Why a write to a client failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no progress writing to the client for {0:?}")]
    Stalled(Duration),
    #[error("the client was closed")]
    Closed,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Write all of `bytes`, as long as each write makes progress within `stall` and `closed`
/// is not cancelled, then flush them (a TLS connection holds what its socket did not take
/// until flushed).
pub async fn write_within<C: Conn>(
    conn: &mut C,
    bytes: &[u8],
    stall: Duration,
    closed: &CancellationToken,
) -> Result<(), WriteError> {
    let mut off = 0;
    while off < bytes.len() {
        let n = tokio::select! {
            biased;
            _ = closed.cancelled() => return Err(WriteError::Closed),
            r = tokio::time::timeout(stall, conn.write(&bytes[off..])) => match r {
                Err(_) => return Err(WriteError::Stalled(stall)),
                Ok(r) => r?,
            },
        };
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
        }
        off += n;
    }
    tokio::select! {
        biased;
        _ = closed.cancelled() => Err(WriteError::Closed),
        r = tokio::time::timeout(stall, conn.flush()) => match r {
            Err(_) => Err(WriteError::Stalled(stall)),
            Ok(r) => Ok(r?),
        },
    }
}

/// A client of the command server subscribed to events.
pub struct Subscriber {
    pub channels: BTreeSet<String>,
    pub patterns: BTreeSet<String>,
    pub tx: Outbox,
    pub resp3: bool,
}

impl Shared {
    /// Distinct channels and patterns the command server's clients are subscribed to (INFO
    /// `pubsub_channels`, `pubsub_patterns`).
    pub fn pubsub_counts(&self) -> (usize, usize) {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let channels: BTreeSet<&String> = subs.values().flat_map(|s| &s.channels).collect();
        let patterns: BTreeSet<&String> = subs.values().flat_map(|s| &s.patterns).collect();
        (channels.len(), patterns.len())
    }

    /// Publish an event to the command server's subscribers.
    /// A client over its queue's bound is dropped (its connection closes).
    pub fn publish(&self, channel: &str, msg: &str) -> usize {
        let limit = self.pubsub_limits().max_queued_bytes;
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        let mut over = Vec::new();
        for (id, s) in subs.iter() {
            let mut ok = true;
            if s.channels.contains(channel) {
                ok &=
                    s.tx.offer((None, channel.to_string(), msg.to_string()), limit);
                n += 1;
            }
            for p in &s.patterns {
                if ok && picket_common::glob::string_match_str(p, channel, false) {
                    let push = (Some(p.clone()), channel.to_string(), msg.to_string());
                    ok &= s.tx.offer(push, limit);
                    n += 1;
                }
            }
            if !ok {
                over.push(*id);
            }
        }
        for id in over {
            subs.remove(&id);
            tracing::warn!(
                "Client id={id} closed for overcoming of output buffer limits (pubsub: more than {limit} bytes queued)."
            );
        }
        n
    }

    /// The bounds of subscribers' queues and writes.
    pub fn pubsub_limits(&self) -> PubsubLimits {
        *self.pubsub_limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change them (tests use small ones).
    pub fn set_pubsub_limits(&self, l: PubsubLimits) {
        *self.pubsub_limits.lock().unwrap_or_else(|e| e.into_inner()) = l;
    }
}
