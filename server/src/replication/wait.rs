//! WAIT and min-replicas-to-write accounting, on plain data: the replicas' acknowledged
//! offsets and last ACK times, and the clients waiting in WAIT (Redis 7.0's
//! `replicationCountAcksByOffset`, `refreshGoodSlavesCount`, `processClientsWaitingReplicas`).
//!
//! It is the one record of the replicas' acknowledgements: the master side (`master.rs`)
//! tells it what happens (a replica attached, continued its history, went online,
//! acknowledged, left; a client waits) and everything that reads an ACK offset or time
//! (INFO, ROLE, min-replicas, WAIT, FAILOVER, the replica timeout) asks it. Times are the
//! server's monotonic clock.

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

/// The replicas' ACKs and the WAITs pending on them. The single record of what each
/// replica acknowledged and when: everything that reads it (INFO, ROLE, min-replicas,
/// WAIT, FAILOVER, the replica timeout) asks here.
#[derive(Debug, Default)]
pub struct Acks {
    replicas: BTreeMap<ClientId, ReplicaAck>,
    /// In the order they blocked.
    waiters: Vec<Waiter>,
    /// Good replicas as last counted by [`Acks::refresh_good`] (`repl_good_slaves_count`:
    /// min-replicas-to-write and INFO read this count, not a fresh one).
    good: usize,
}

impl Acks {
    /// A replica attached for a full synchronization (SYNC, or a PSYNC answered with
    /// +FULLRESYNC): not online, its clock starts now. A replica attaching again keeps
    /// the offset it acknowledged; a new one starts at 0.
    pub fn attached(&mut self, replica: ClientId, now: Instant) {
        let r = self.replicas.entry(replica).or_insert(ReplicaAck {
            offset: 0,
            last_ack: now,
            online: false,
        });
        r.last_ack = now;
        r.online = false;
    }

    /// A replica's PSYNC continued from the backlog: online at once, with everything up to
    /// `offset` (the byte before the first one it is sent) counted as acknowledged.
    pub fn continued(&mut self, replica: ClientId, offset: u64, now: Instant) {
        self.replicas.insert(
            replica,
            ReplicaAck {
                offset,
                last_ack: now,
                online: true,
            },
        );
    }

    /// A full synchronization's RDB is delivered: the replica gets the stream from now on
    /// (its lag counts from now). Unknown replicas are ignored.
    pub fn went_online(&mut self, replica: ClientId, now: Instant) {
        if let Some(r) = self.replicas.get_mut(&replica) {
            r.online = true;
            r.last_ack = now;
        }
    }

    /// `REPLCONF ACK <offset>`: offsets only grow; the time is refreshed either way.
    /// Unknown replicas are ignored.
    pub fn ack(&mut self, replica: ClientId, offset: u64, now: Instant) {
        if let Some(r) = self.replicas.get_mut(&replica) {
            r.offset = r.offset.max(offset);
            r.last_ack = now;
        }
    }

    /// Online replicas whose last ACK is at most `within` old: the lease of
    /// `failover-safety strict` holds while there are enough of them.
    pub fn fresh(&self, now: Instant, within: Duration) -> usize {
        self.replicas
            .values()
            .filter(|r| r.online && now.saturating_duration_since(r.last_ack) <= within)
            .count()
    }

    /// The replica is gone.
    pub fn left(&mut self, replica: ClientId) {
        self.replicas.remove(&replica);
    }

    pub fn get(&self, replica: ClientId) -> Option<&ReplicaAck> {
        self.replicas.get(&replica)
    }

    /// INFO's `lag` of a replica: whole seconds since its last ACK when online, 0 while it
    /// is still in its full sync. None for an unknown replica.
    pub fn lag(&self, replica: ClientId, now: Instant) -> Option<u64> {
        self.get(replica).map(|r| match r.online {
            true => now.saturating_duration_since(r.last_ack).as_secs(),
            false => 0,
        })
    }

    /// Whether an online replica's last ACK is more than `timeout_s` whole seconds old
    /// (`repl-timeout`; a replica in its full sync is never timed out here).
    pub fn timed_out(&self, replica: ClientId, now: Instant, timeout_s: u64) -> bool {
        self.lag(replica, now).is_some_and(|lag| lag > timeout_s)
    }

    /// Whether a replica is online and acknowledged exactly `offset` (FAILOVER's target
    /// has caught up with the whole stream).
    pub fn caught_up(&self, replica: ClientId, offset: u64) -> bool {
        self.get(replica)
            .is_some_and(|r| r.online && r.offset == offset)
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

    /// Recount the good replicas (Redis's `refreshGoodSlavesCount`) and keep the count.
    pub fn refresh_good(&mut self, now: Instant, max_lag_s: u64) -> usize {
        self.good = self.good_replicas(now, max_lag_s);
        self.good
    }

    /// The good replicas as last counted by [`Acks::refresh_good`].
    pub fn good(&self) -> usize {
        self.good
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

    /// A replica attached for a full sync that acknowledged `offset` (not online).
    fn syncing(a: &mut Acks, replica: ClientId, offset: u64, now: Instant) {
        a.attached(replica, now);
        a.ack(replica, offset, now);
    }

    #[test]
    fn acks_count_online_replicas_at_or_past_the_offset() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.continued(1, 100, t0);
        a.continued(2, 50, t0);
        syncing(&mut a, 3, 500, t0);
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
        assert_eq!(a.get(9), None);
        a.left(2);
        assert_eq!(a.count_acked(101), 0);
        assert_eq!(a.get(2), None);
    }

    #[test]
    fn a_replica_goes_from_attached_to_online_to_gone() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.attached(1, t0);
        let attached = ReplicaAck {
            offset: 0,
            last_ack: t0,
            online: false,
        };
        assert_eq!(a.get(1), Some(&attached));
        // In its full sync: no lag, no timeout, not counted, however long it takes.
        assert_eq!(a.lag(1, t0 + 100 * S), Some(0));
        assert!(!a.timed_out(1, t0 + 100 * S, 60));
        assert_eq!(a.count_acked(0), 0);
        assert_eq!(a.good_replicas(t0, 10), 0);
        // Its RDB is delivered at t0 + 100 s: the lag counts from then.
        a.went_online(1, t0 + 100 * S);
        assert_eq!(a.get(1), Some(&online(0, t0 + 100 * S)));
        assert_eq!(a.lag(1, t0 + 103 * S), Some(3));
        assert_eq!(a.count_acked(0), 1);
        a.ack(1, 42, t0 + 104 * S);
        assert_eq!(a.get(1), Some(&online(42, t0 + 104 * S)));
        assert_eq!(a.lag(1, t0 + 104 * S), Some(0));
        // Attaching again (after RESET) starts a new sync but keeps what it acknowledged.
        a.attached(1, t0 + 200 * S);
        assert_eq!(
            a.get(1),
            Some(&ReplicaAck {
                offset: 42,
                last_ack: t0 + 200 * S,
                online: false,
            })
        );
        // Unknown replicas are ignored.
        a.went_online(7, t0);
        assert_eq!(a.get(7), None);
        assert_eq!(a.lag(7, t0), None);
        assert!(!a.timed_out(7, t0 + 100 * S, 1));
        a.left(1);
        assert_eq!(a.get(1), None);
        assert_eq!(a.lag(1, t0), None);
        // Leaving twice is harmless.
        a.left(1);
    }

    #[test]
    fn a_continued_replica_is_online_at_its_offset() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.continued(1, 999, t0);
        assert_eq!(a.get(1), Some(&online(999, t0)));
        assert_eq!(a.count_acked(999), 1);
        assert_eq!(a.count_acked(1000), 0);
        assert_eq!(a.lag(1, t0 + 2 * S + S / 2), Some(2));
    }

    #[test]
    fn lag_and_timeout_count_whole_seconds() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.continued(1, 0, t0);
        assert_eq!(a.lag(1, t0), Some(0));
        assert_eq!(a.lag(1, t0 + S - Duration::from_millis(1)), Some(0));
        assert_eq!(a.lag(1, t0 + S), Some(1));
        // A clock that went back (an ACK stamped later than `now`) gives 0.
        assert_eq!(a.lag(1, t0.checked_sub(S).unwrap_or(t0)), Some(0));
        // repl-timeout 60: 60.9 s is 60 whole seconds, not past it; 61 s is.
        assert!(!a.timed_out(1, t0 + 60 * S, 60));
        assert!(!a.timed_out(1, t0 + 60 * S + S * 9 / 10, 60));
        assert!(a.timed_out(1, t0 + 61 * S, 60));
        // An ACK resets it.
        a.ack(1, 5, t0 + 61 * S);
        assert!(!a.timed_out(1, t0 + 61 * S, 60));
        assert_eq!(a.lag(1, t0 + 61 * S), Some(0));
    }

    #[test]
    fn caught_up_means_online_with_exactly_the_offset() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.continued(1, 100, t0);
        a.continued(2, 99, t0);
        syncing(&mut a, 3, 100, t0);
        assert!(a.caught_up(1, 100));
        assert!(!a.caught_up(1, 101));
        assert!(!a.caught_up(2, 100));
        assert!(!a.caught_up(3, 100));
        assert!(!a.caught_up(9, 100));
        a.went_online(3, t0);
        assert!(a.caught_up(3, 100));
    }

    #[test]
    fn good_replicas_follow_min_replicas_max_lag() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.continued(1, 0, t0);
        a.continued(2, 0, t0 + 5 * S);
        a.attached(3, t0 + 5 * S);
        assert_eq!(a.good_replicas(t0 + 5 * S, 10), 2);
        // Lag 10.9 s is 10 whole seconds: still good.
        assert_eq!(a.good_replicas(t0 + 10 * S + S * 9 / 10, 10), 2);
        assert_eq!(a.good_replicas(t0 + 11 * S, 10), 1);
        assert_eq!(a.good_replicas(t0 + 16 * S, 10), 0);
        assert_eq!(a.good_replicas(t0 + 5 * S, 0), 1);
    }

    #[test]
    fn the_good_count_is_kept_until_the_next_refresh() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        assert_eq!(a.good(), 0);
        a.continued(1, 0, t0);
        a.continued(2, 0, t0 + 3 * S);
        // Nothing counted yet.
        assert_eq!(a.good(), 0);
        assert_eq!(a.refresh_good(t0 + 3 * S, 10), 2);
        assert_eq!(a.good(), 2);
        // At the boundary of min-replicas-max-lag 10: replica 1's lag is 10 s, still good.
        assert_eq!(a.refresh_good(t0 + 10 * S + S * 9 / 10, 10), 2);
        // 11 s: no longer good, once recounted.
        assert_eq!(a.good(), 2);
        assert_eq!(a.refresh_good(t0 + 11 * S, 10), 1);
        assert_eq!(a.good(), 1);
        // An ACK makes it good again at the next count.
        a.ack(1, 0, t0 + 11 * S);
        assert_eq!(a.good(), 1);
        assert_eq!(a.refresh_good(t0 + 11 * S, 10), 2);
        // A replica that leaves stops counting at the next count.
        a.left(2);
        assert_eq!(a.good(), 2);
        assert_eq!(a.refresh_good(t0 + 11 * S, 10), 1);
        // Lag 1 at max-lag 1 is good, lag 2 is not.
        assert_eq!(a.refresh_good(t0 + 12 * S, 1), 1);
        assert_eq!(a.refresh_good(t0 + 13 * S, 1), 0);
        assert_eq!(a.good(), 0);
        assert!(!min_replicas_ok(1, 1, a.good()));
        assert!(min_replicas_ok(1, 10, a.refresh_good(t0 + 13 * S, 10)));
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
        a.continued(1, 10, t0);
        assert_eq!(a.start(10, 1, true), WaitStart::Reply(1));
        assert_eq!(a.start(11, 1, true), WaitStart::Block);
        assert_eq!(a.start(11, -5, true), WaitStart::Reply(0));
    }

    #[test]
    fn poll_serves_satisfied_and_timed_out_waiters_in_order() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        a.continued(1, 0, t0);
        a.continued(2, 0, t0);
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
    fn a_replica_in_its_full_sync_does_not_serve_waits() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        syncing(&mut a, 1, 500, t0);
        a.add_waiter(10, 100, 1, t0, Duration::ZERO);
        assert_eq!(a.poll(t0 + S), []);
        a.went_online(1, t0 + S);
        assert_eq!(a.poll(t0 + S), [(10, 1)]);
    }

    #[test]
    fn the_strict_lease_counts_online_replicas_acked_within_it() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut a = Acks::default();
        a.attached(1, t0);
        a.continued(2, 0, t0);
        // Replica 1 is still in its full sync: it does not count.
        assert_eq!(a.fresh(t0, ms(500)), 1);
        a.went_online(1, t0 + ms(100));
        assert_eq!(a.fresh(t0 + ms(500), ms(500)), 2);
        // 2's last ACK is 501 ms old, 1's 401 ms.
        assert_eq!(a.fresh(t0 + ms(501), ms(500)), 1);
        a.ack(2, 10, t0 + ms(550));
        assert_eq!(a.fresh(t0 + ms(600), ms(500)), 2);
        assert_eq!(a.fresh(t0 + ms(1051), ms(500)), 0);
        a.left(2);
        assert_eq!(a.fresh(t0 + ms(600), ms(500)), 1);
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
        a.continued(1, 500, t0);
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
