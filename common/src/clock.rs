//! Time for code that the simulation runs.
//!
//! Monotonic time is `tokio::time::Instant` (virtual under turmoil). Wall-clock unix time is a
//! base fixed at start plus tokio's elapsed time: the binaries take the base from the system
//! clock once, the simulation passes a fixed epoch, so a seed replays exactly.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_unix_us: u64,
    base: Instant,
}

impl Clock {
    /// A clock whose unix time starts at `base_unix_ms` now. Call it inside the runtime that
    /// will use it (under turmoil, inside the host).
    pub fn starting_at(base_unix_ms: u64) -> Self {
        Clock {
            base_unix_us: base_unix_ms * 1000,
            base: Instant::now(),
        }
    }

    /// A clock based on the system's real time: the one place real wall-clock time enters.
    pub fn system() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Clock {
            base_unix_us: now.as_micros() as u64,
            base: Instant::now(),
        }
    }

    /// Monotonic now.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    pub fn unix_us(&self) -> u64 {
        self.base_unix_us + self.base.elapsed().as_micros() as u64
    }

    pub fn unix_ms(&self) -> u64 {
        self.unix_us() / 1000
    }

    /// Unix time of a monotonic instant.
    pub fn unix_ms_at(&self, at: Instant) -> u64 {
        (self.base_unix_us + at.saturating_duration_since(self.base).as_micros() as u64) / 1000
    }

    /// Time since the clock was created.
    pub fn uptime(&self) -> Duration {
        self.base.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn unix_time_follows_tokio_time() {
        let c = Clock::starting_at(1_000_000);
        assert_eq!(c.unix_ms(), 1_000_000);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(c.unix_ms(), 1_001_500);
        assert_eq!(c.uptime(), Duration::from_millis(1500));
    }
}
