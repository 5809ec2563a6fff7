//! WAIT and min-replicas-to-write accounting, on plain data: the replicas' acknowledged
//! offsets and last ACK times, and the clients waiting in WAIT (Redis 7.0's
//! `replicationCountAcksByOffset`, `refreshGoodSlavesCount`, `processClientsWaitingReplicas`).
//!
//! The master side (`master.rs`) tells it what happens (a replica attached, went online,
//! acknowledged, left; a client waits) and asks it the counts; times are the server's
//! monotonic clock.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// A client's id (`crate::client::ClientId`; not imported, so this engine depends on no
/// other module).
pub type ClientId = u64;

/// What is known of one replica's acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaAck {
    /// The greatest offset it acknowledged (`repl_ack_off`).
    pub offset: u64,
    /// Its last ACK, or when it went online (`repl_ack_time`).
    pub last_ack: Instant,
    /// It gets the stream (a replica still in its full sync does not count).
    pub online: bool,
}

/// A client in WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    pub client: ClientId,
    /// Its writes end at this offset (`c->woff`).
    pub offset: u64,
    pub numreplicas: usize,
    /// None: wait forever (timeout 0).
    pub deadline: Option<Instant>,
}

/// How WAIT answers when it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStart {
    /// Reply with this count now.
    Reply(usize),
    /// Block until enough replicas acknowledge or the deadline passes.
    Block,
}

/// The replicas' ACKs and the WAITs pending on them.
#[derive(Debug, Default)]
pub struct Acks {
    replicas: BTreeMap<ClientId, ReplicaAck>,
    /// In the order they blocked.
    waiters: Vec<Waiter>,
}

impl Acks {
    /// Record a replica's state as its connection knows it (attached, online, ACKed).
    pub fn set(&mut self, replica: ClientId, ack: ReplicaAck) {
        self.replicas.insert(replica, ack);
    }

    /// `REPLCONF ACK <offset>`: offsets only grow; the time is refreshed either way.
    pub fn ack(&mut self, replica: ClientId, offset: u64, now: Instant) {
        if let Some(r) = self.replicas.get_mut(&replica) {
            r.offset = r.offset.max(offset);
            r.last_ack = now;
        }
    }

    pub fn get(&self, replica: ClientId) -> Option<&ReplicaAck> {
        self.replicas.get(&replica)
    }

    /// The replica is gone.
    pub fn remove(&mut self, replica: ClientId) {
        self.replicas.remove(&replica);
    }

    /// Forget the replicas `keep` rejects.
    pub fn retain(&mut self, mut keep: impl FnMut(ClientId) -> bool) {
        self.replicas.retain(|id, _| keep(*id));
    }

    /// Online replicas that acknowledged at least `offset`.
    pub fn count_acked(&self, offset: u64) -> usize {
        self.replicas
            .values()
            .filter(|r| r.online && r.offset >= offset)
            .count()
    }

    /// Online replicas whose last ACK is at most `max_lag_s` whole seconds old (Redis's
    /// `refreshGoodSlavesCount`, with its one-second granularity).
    pub fn good_replicas(&self, now: Instant, max_lag_s: u64) -> usize {
        self.replicas
            .values()
            .filter(|r| {
                r.online && now.saturating_duration_since(r.last_ack).as_secs() <= max_lag_s
            })
            .count()
    }

    /// WAIT numreplicas timeout, with the client's write offset: answer now when enough
    /// replicas acknowledged it or the client cannot block (MULTI, scripts), else block.
    pub fn start(&self, offset: u64, numreplicas: i64, can_block: bool) -> WaitStart {
        let acked = self.count_acked(offset);
        if acked as i64 >= numreplicas || !can_block {
            WaitStart::Reply(acked)
        } else {
            WaitStart::Block
        }
    }

    /// A client blocks in WAIT; `timeout` zero waits forever.
    pub fn add_waiter(
        &mut self,
        client: ClientId,
        offset: u64,
        numreplicas: usize,
        now: Instant,
        timeout: Duration,
    ) {
        self.remove_waiter(client);
        self.waiters.push(Waiter {
            client,
            offset,
            numreplicas,
            deadline: (!timeout.is_zero()).then(|| now + timeout),
        });
    }

    /// The client stopped waiting (served, timed out elsewhere, unblocked, disconnected).
    pub fn remove_waiter(&mut self, client: ClientId) {
        self.waiters.retain(|w| w.client != client);
    }

    /// A waiter [`Acks::poll`] returned goes on waiting (its client could not be answered).
    pub fn put_back(&mut self, w: Waiter) {
        self.remove_waiter(w.client);
        self.waiters.push(w);
    }

    pub fn waiters(&self) -> &[Waiter] {
        &self.waiters
    }

    /// The waiters that are done, with their reply (the replicas that acknowledged their
    /// offset), in the order they blocked: those with enough ACKs, and those whose deadline
    /// passed. They are no longer waiting.
    pub fn poll(&mut self, now: Instant) -> Vec<(ClientId, usize)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.waiters.len() {
            let w = self.waiters[i];
            let acked = self.count_acked(w.offset);
            if acked >= w.numreplicas || w.deadline.is_some_and(|d| d <= now) {
                done.push((w.client, acked));
                self.waiters.remove(i);
            } else {
                i += 1;
            }
        }
        done
    }
}

/// Whether `min-replicas-to-write` lets a master take writes (Redis's
/// `checkGoodReplicasStatus`; a replica ignores it): off when either setting is 0.
pub fn min_replicas_ok(min_to_write: usize, max_lag_s: u64, good: usize) -> bool {
    min_to_write == 0 || max_lag_s == 0 || good >= min_to_write
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn online(offset: u64, last_ack: Instant) -> ReplicaAck {
        ReplicaAck {
            offset,
            last_ack,
            online: true,
        }
    }

    #[test]
    fn acks_count_online_replicas_at_or_past_the_offset() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.set(1, online(100, t0));
        a.set(2, online(50, t0));
        a.set(
            3,
            ReplicaAck {
                offset: 500,
                last_ack: t0,
                online: false,
            },
        );
        assert_eq!(a.count_acked(0), 2);
        assert_eq!(a.count_acked(50), 2);
        assert_eq!(a.count_acked(51), 1);
        assert_eq!(a.count_acked(101), 0);
        // Offsets never go back; the time moves on.
        a.ack(1, 80, t0 + S);
        assert_eq!(a.get(1), Some(&online(100, t0 + S)));
        a.ack(2, 120, t0 + S);
        assert_eq!(a.count_acked(101), 1);
        // Unknown replicas are ignored.
        a.ack(9, 1000, t0);
        assert_eq!(a.count_acked(1000), 0);
        a.remove(2);
        assert_eq!(a.count_acked(101), 0);
    }

    #[test]
    fn good_replicas_follow_min_replicas_max_lag() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.set(1, online(0, t0));
        a.set(2, online(0, t0 + 5 * S));
        a.set(
            3,
            ReplicaAck {
                offset: 0,
                last_ack: t0 + 5 * S,
                online: false,
            },
        );
        assert_eq!(a.good_replicas(t0 + 5 * S, 10), 2);
        // Lag 10.9 s is 10 whole seconds: still good.
        assert_eq!(a.good_replicas(t0 + 10 * S + S * 9 / 10, 10), 2);
        assert_eq!(a.good_replicas(t0 + 11 * S, 10), 1);
        assert_eq!(a.good_replicas(t0 + 16 * S, 10), 0);
        assert_eq!(a.good_replicas(t0 + 5 * S, 0), 1);
    }

    #[test]
    fn wait_answers_at_once_or_blocks() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        // No replicas: WAIT 0 answers 0, WAIT 1 blocks (until its timeout, as Redis 7.0).
        assert_eq!(a.start(10, 0, true), WaitStart::Reply(0));
        assert_eq!(a.start(10, 1, true), WaitStart::Block);
        // Inside MULTI: the count at once.
        assert_eq!(a.start(10, 1, false), WaitStart::Reply(0));
        a.set(1, online(10, t0));
        assert_eq!(a.start(10, 1, true), WaitStart::Reply(1));
        assert_eq!(a.start(11, 1, true), WaitStart::Block);
        assert_eq!(a.start(11, -5, true), WaitStart::Reply(0));
    }

    #[test]
    fn poll_serves_satisfied_and_timed_out_waiters_in_order() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.set(1, online(0, t0));
        a.set(2, online(0, t0));
        a.add_waiter(10, 100, 1, t0, 5 * S);
        a.add_waiter(11, 200, 2, t0, Duration::ZERO);
        a.add_waiter(12, 100, 2, t0, 2 * S);
        assert_eq!(a.poll(t0 + S), []);
        a.ack(1, 150, t0 + S);
        assert_eq!(a.poll(t0 + S), [(10, 1)]);
        // Timed out with one of the two ACKs it wanted.
        assert_eq!(a.poll(t0 + 2 * S), [(12, 1)]);
        // Timeout 0 waits forever.
        assert_eq!(a.poll(t0 + 3600 * S), []);
        a.ack(2, 199, t0 + S);
        a.ack(1, 250, t0 + S);
        assert_eq!(a.poll(t0 + 3600 * S), []);
        a.ack(2, 200, t0 + S);
        assert_eq!(a.poll(t0 + 3600 * S), [(11, 2)]);
        assert!(a.waiters().is_empty());
    }

    #[test]
    fn min_replicas_to_write() {
        assert!(min_replicas_ok(0, 10, 0));
        assert!(min_replicas_ok(2, 0, 0));
        assert!(!min_replicas_ok(2, 10, 1));
        assert!(min_replicas_ok(2, 10, 2));
    }

    #[test]
    fn removed_waiters_are_not_served() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.set(1, online(500, t0));
        a.add_waiter(10, 100, 1, t0, S);
        a.add_waiter(11, 100, 1, t0, S);
        a.remove_waiter(10);
        assert_eq!(a.poll(t0), [(11, 1)]);
        // Put back as it was, deadline included.
        a.put_back(Waiter {
            client: 11,
            offset: 600,
            numreplicas: 1,
            deadline: Some(t0 + S),
        });
        assert_eq!(a.poll(t0), []);
        assert_eq!(a.poll(t0 + S), [(11, 0)]);
    }
}
