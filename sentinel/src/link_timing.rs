//! When the shell gives up on a link and when it opens it again, from the `SENTINEL DEBUG`
//! timers (Redis's `sentinelReconnectInstance` and the link checks of
//! `sentinelCheckSubjectivelyDown`):
//!
//! - a link is opened again no sooner than `ping-period` after the previous attempt, so a
//!   server that accepts and at once drops (or refuses) us is not hammered;
//! - a command link whose reply is late is closed only once it is older than
//!   `min-link-reconnect-period`. Picket waits a reply for half of down-after (at least
//!   0.5 s, at most 5 s, where Redis waits half of down-after), as it cannot pipeline past a
//!   silent peer;
//! - a pub/sub link silent for `3 × publish-period` (we hear our own hellos every
//!   publish-period) is closed, again only once older than `min-link-reconnect-period`.
//!
//! Pure functions of the elapsed times, so the policy is tested without sockets.

use std::time::Duration;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// How long to wait before the next attempt to open a link, `since_attempt` after the
/// previous one.
pub fn reconnect_wait(since_attempt: Duration, ping_period_ms: u64) -> Duration {
    ms(ping_period_ms).saturating_sub(since_attempt)
}

/// How long to wait for a reply on a command link opened `age` ago before closing it.
pub fn reply_wait(age: Duration, down_after_ms: u64, min_link_ms: u64) -> Duration {
    let late = ms((down_after_ms / 2).clamp(500, 5000));
    late.max(ms(min_link_ms).saturating_sub(age))
}

/// How long a pub/sub link opened `age` ago may stay silent before it is closed.
pub fn pubsub_wait(age: Duration, publish_period_ms: u64, min_link_ms: u64) -> Duration {
    ms(publish_period_ms.saturating_mul(3)).max(ms(min_link_ms).saturating_sub(age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnections_are_paced_by_the_ping_period() {
        assert_eq!(reconnect_wait(ms(0), 1000), ms(1000));
        assert_eq!(reconnect_wait(ms(300), 1000), ms(700));
        // A link that lived longer than the period is opened again at once.
        assert_eq!(reconnect_wait(ms(60_000), 1000), Duration::ZERO);
        assert_eq!(reconnect_wait(ms(0), 5000), ms(5000));
    }

    #[test]
    fn a_young_link_is_not_closed_for_a_late_reply() {
        // Defaults: down-after 30 s, min-link-reconnect-period 15 s.
        assert_eq!(reply_wait(ms(0), 30_000, 15_000), ms(15_000));
        assert_eq!(reply_wait(ms(12_000), 30_000, 15_000), ms(5000));
        assert_eq!(reply_wait(ms(60_000), 30_000, 15_000), ms(5000));
        // A short down-after: half of it, at least 0.5 s.
        assert_eq!(reply_wait(ms(60_000), 2000, 15_000), ms(1000));
        assert_eq!(reply_wait(ms(60_000), 200, 15_000), ms(500));
        // SENTINEL DEBUG min-link-reconnect-period lowered: the late-reply bound only.
        assert_eq!(reply_wait(ms(0), 2000, 1), ms(1000));
        // Timers up to 2^63-1 never overflow.
        assert_eq!(
            reply_wait(ms(0), u64::MAX, i64::MAX as u64),
            ms(i64::MAX as u64)
        );
    }

    #[test]
    fn a_silent_pubsub_link_waits_three_publish_periods() {
        assert_eq!(pubsub_wait(ms(60_000), 2000, 15_000), ms(6000));
        assert_eq!(pubsub_wait(ms(0), 2000, 15_000), ms(15_000));
        assert_eq!(pubsub_wait(ms(60_000), 100, 15_000), ms(300));
        assert_eq!(
            pubsub_wait(ms(0), i64::MAX as u64, 1),
            ms((i64::MAX as u64).saturating_mul(3))
        );
    }
}
