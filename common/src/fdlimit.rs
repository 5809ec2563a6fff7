//! The open-files limit (`RLIMIT_NOFILE`) and running out of descriptors.
//!
//! At start each binary asks the OS for `maxclients` plus a reserve of descriptors for its
//! own files and links (Redis's `adjustOpenFilesLimit`, `CONFIG_MIN_RESERVED_FDS` = 32): it
//! raises the soft limit (and the hard one if it may), steps down when the OS refuses, and
//! when it cannot get enough lowers `maxclients` to what fits, so an excess client is refused
//! with `-ERR max number of clients reached` instead of starving persistence or links.
//! Unlike Redis it never lowers the hard limit, so a later CONFIG SET maxclients may still
//! raise the soft one.
//!
//! [`plan`] is the arithmetic over an injected `setrlimit`, unit-tested; [`adjust`] runs it
//! on the process. Both are start-up (and CONFIG SET) code of the real binaries, never run
//! by the simulation. [`AcceptErrors`] is what accept loops do when `accept()` fails (out of
//! descriptors above all): log at a bounded rate and back off instead of spinning.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

/// Descriptors kept beyond `maxclients` for listeners, logs, persistence and links (Redis's
/// `CONFIG_MIN_RESERVED_FDS`).
pub const MIN_RESERVED_FDS: u64 = 32;

/// The limit assumed when it cannot be read (Redis's choice).
pub const ASSUMED_LIMIT: u64 = 1024;

/// Redis's step when the OS refuses a limit.
const DECR_STEP: u64 = 16;

/// The soft and hard `RLIMIT_NOFILE` (`u64::MAX` for unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoFile {
    pub soft: u64,
    pub hard: u64,
}

/// Reading or setting the limit failed.
#[derive(Debug, thiserror::Error)]
pub enum FdLimitError {
    #[error("getrlimit: {0}")]
    Get(io::Error),
    #[error("setrlimit: {0}")]
    Set(io::Error),
}

/// What [`plan`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adjustment {
    /// The soft limit already allowed `maxclients` + reserve.
    Enough { limit: u64 },
    /// The soft limit was raised from `from` to `to`.
    Raised { from: u64, to: u64 },
    /// The OS refused `wanted` descriptors (`errno` of the last refusal); the limit is now
    /// `limit` and `maxclients` must be lowered to `maxclients`.
    Reduced {
        requested: u64,
        wanted: u64,
        limit: u64,
        maxclients: u64,
        errno: i32,
    },
    /// Not even one client fits in the limit `limit` (the process must not start).
    TooLow { limit: u64, wanted: u64 },
    /// The limit could not be read; [`ASSUMED_LIMIT`] is assumed.
    Unknown { errno: i32, maxclients: u64 },
}

/// How loud a message of [`Adjustment::messages`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Notice,
    Warning,
}

/// The text of an OS error as `strerror` gives it (Rust adds " (os error N)").
pub fn strerror(errno: i32) -> String {
    os_error_text(&io::Error::from_raw_os_error(errno))
}

/// An I/O error's text without Rust's " (os error N)" suffix, as Redis logs errors.
pub fn os_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match (e.raw_os_error(), s.rfind(" (os error ")) {
        (Some(_), Some(i)) => s[..i].to_string(),
        _ => s,
    }
}

impl Adjustment {
    /// `maxclients` after the adjustment, for a request of `requested`.
    pub fn maxclients(&self, requested: u64) -> u64 {
        match *self {
            Adjustment::Reduced { maxclients, .. } | Adjustment::Unknown { maxclients, .. } => {
                maxclients.min(requested)
            }
            _ => requested,
        }
    }

    /// The soft limit in force afterwards (assumed for [`Adjustment::Unknown`]).
    pub fn limit(&self) -> u64 {
        match *self {
            Adjustment::Enough { limit }
            | Adjustment::Reduced { limit, .. }
            | Adjustment::TooLow { limit, .. } => limit,
            Adjustment::Raised { to, .. } => to,
            Adjustment::Unknown { .. } => ASSUMED_LIMIT,
        }
    }

    /// Redis 7.0's log lines for this outcome (`adjustOpenFilesLimit`).
    pub fn messages(&self) -> Vec<(Severity, String)> {
        match self {
            Adjustment::Enough { .. } => Vec::new(),
            Adjustment::Raised { from, to } => vec![(
                Severity::Notice,
                format!("Increased maximum number of open files to {to} (it was originally set to {from})."),
            )],
            Adjustment::Reduced {
                requested,
                wanted,
                limit,
                maxclients,
                errno,
            } => vec![
                (
                    Severity::Warning,
                    format!("You requested maxclients of {requested} requiring at least {wanted} max file descriptors."),
                ),
                (
                    Severity::Warning,
                    format!(
                        "Server can't set maximum open files to {wanted} because of OS error: {}.",
                        strerror(*errno)
                    ),
                ),
                (
                    Severity::Warning,
                    format!("Current maximum open files is {limit}. maxclients has been reduced to {maxclients} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."),
                ),
            ],
            Adjustment::TooLow { limit, wanted } => vec![(
                Severity::Warning,
                format!("Your current 'ulimit -n' of {limit} is not enough for the server to start. Please increase your open file limit to at least {wanted}. Exiting."),
            )],
            Adjustment::Unknown { errno, .. } => vec![(
                Severity::Warning,
                format!(
                    "Unable to obtain the current NOFILE limit ({}), assuming {ASSUMED_LIMIT} and setting the max clients configuration accordingly.",
                    strerror(*errno)
                ),
            )],
        }
    }

    /// Log [`Adjustment::messages`] through `tracing`.
    pub fn log(&self) {
        for (severity, msg) in self.messages() {
            match severity {
                Severity::Notice => tracing::info!("{msg}"),
                Severity::Warning => tracing::warn!("{msg}"),
            }
        }
    }
}

/// Redis's `adjustOpenFilesLimit` as arithmetic: make room for `maxclients` + `reserved`
/// descriptors given the `current` limits, calling `try_set` (the `setrlimit`, an errno on
/// refusal) for each limit it tries. It tries the whole need first (raising the hard limit
/// if needed, which takes privileges), then the hard limit (raising the soft limit up to it
/// takes none), then steps down by 16 while above the current soft limit. The hard limit is
/// never lowered.
pub fn plan(
    maxclients: u64,
    reserved: u64,
    current: NoFile,
    mut try_set: impl FnMut(NoFile) -> Result<(), i32>,
) -> Adjustment {
    let wanted = maxclients.saturating_add(reserved);
    let old = current.soft;
    if old >= wanted {
        return Adjustment::Enough { limit: old };
    }
    let mut best = wanted;
    let mut errno = 0;
    let mut got = false;
    while best > old {
        let hard = current.hard.max(best);
        match try_set(NoFile { soft: best, hard }) {
            Ok(()) => {
                got = true;
                break;
            }
            Err(e) => errno = e,
        }
        if best > current.hard && current.hard > old {
            best = current.hard;
        } else if best < DECR_STEP {
            break;
        } else {
            best -= DECR_STEP;
        }
    }
    if !got {
        best = old;
    }
    if best >= wanted {
        return Adjustment::Raised {
            from: old,
            to: best,
        };
    }
    if best <= reserved {
        return Adjustment::TooLow { limit: old, wanted };
    }
    Adjustment::Reduced {
        requested: maxclients,
        wanted,
        limit: best,
        maxclients: best - reserved,
        errno,
    }
}

// rlim_t is u64 on Linux but not everywhere.
#[allow(clippy::unnecessary_cast)]
fn to_u64(v: libc::rlim_t) -> u64 {
    if v == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        v as u64
    }
}

fn to_rlim(v: u64) -> libc::rlim_t {
    if v == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        libc::rlim_t::try_from(v).unwrap_or(libc::RLIM_INFINITY)
    }
}

/// The process's `RLIMIT_NOFILE`.
pub fn current() -> Result<NoFile, FdLimitError> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
        return Err(FdLimitError::Get(io::Error::last_os_error()));
    }
    Ok(NoFile {
        soft: to_u64(l.rlim_cur),
        hard: to_u64(l.rlim_max),
    })
}

/// Set the process's `RLIMIT_NOFILE`.
pub fn set(limits: NoFile) -> Result<(), FdLimitError> {
    let l = libc::rlimit {
        rlim_cur: to_rlim(limits.soft),
        rlim_max: to_rlim(limits.hard),
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } != 0 {
        return Err(FdLimitError::Set(io::Error::last_os_error()));
    }
    Ok(())
}

/// [`plan`] on this process: make room for `maxclients` + `reserved` descriptors.
pub fn adjust(maxclients: u64, reserved: u64) -> Adjustment {
    let now = match current() {
        Ok(n) => n,
        Err(FdLimitError::Get(e) | FdLimitError::Set(e)) => {
            return Adjustment::Unknown {
                errno: e.raw_os_error().unwrap_or(0),
                maxclients: ASSUMED_LIMIT.saturating_sub(reserved).max(1),
            }
        }
    };
    plan(maxclients, reserved, now, |l| match set(l) {
        Ok(()) => Ok(()),
        Err(FdLimitError::Get(e) | FdLimitError::Set(e)) => Err(e.raw_os_error().unwrap_or(0)),
    })
}

/// Whether an error of `connect()`/`accept()`/`socket()` is this process's or host's own
/// shortage (descriptors, buffers, memory, local ports) rather than anything about the peer.
pub fn is_local_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL)
    )
}

/// What an accept loop does when `accept()` fails: log Redis's warning ("Accepting client
/// connection: ...") at most once per [`AcceptErrors::LOG_EVERY`] with a count of the ones
/// not logged, and wait a little before the next attempt (longer when out of descriptors:
/// the pending connection stays queued and would fail again at once). Uses tokio's clock.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    last_log: Option<Instant>,
    /// Errors since the last line logged.
    unlogged: u64,
    /// Whether the last accept failed (for the "accepting again" line).
    failing: bool,
}

impl AcceptErrors {
    pub const LOG_EVERY: Duration = Duration::from_secs(10);
    /// The wait after a shortage of descriptors, buffers or memory.
    pub const SHORTAGE_WAIT: Duration = Duration::from_millis(100);
    /// The wait after any other error.
    pub const OTHER_WAIT: Duration = Duration::from_millis(10);

    /// Note a failed accept; returns how long to wait before accepting again.
    pub fn failed(&mut self, e: &io::Error) -> Duration {
        let now = Instant::now();
        self.failing = true;
        let due = self
            .last_log
            .is_none_or(|t| now.saturating_duration_since(t) >= Self::LOG_EVERY);
        if due {
            if self.unlogged == 0 {
                tracing::warn!("Accepting client connection: accept: {}", os_error_text(e));
            } else {
                tracing::warn!(
                    "Accepting client connection: accept: {} ({} more failed accepts since the last report)",
                    os_error_text(e),
                    self.unlogged
                );
            }
            self.last_log = Some(now);
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        if is_local_resource_error(e) {
            Self::SHORTAGE_WAIT
        } else {
            Self::OTHER_WAIT
        }
    }

    /// Note a successful accept: logs once when accepting works again after failures.
    pub fn accepted(&mut self) {
        if self.failing {
            self.failing = false;
            tracing::info!("Accepting client connections again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPERM: i32 = libc::EPERM;

    /// An unprivileged process: the soft limit may go up to the hard one, no further.
    fn unprivileged(hard: u64) -> impl FnMut(NoFile) -> Result<(), i32> {
        move |l: NoFile| {
            if l.hard > hard || l.soft > l.hard {
                Err(EPERM)
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn enough_already() {
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 20_000,
                hard: 20_000,
            },
            |_| panic!("no setrlimit needed"),
        );
        assert_eq!(a, Adjustment::Enough { limit: 20_000 });
        assert_eq!(a.maxclients(10_000), 10_000);
        assert!(a.messages().is_empty());
    }

    #[test]
    fn raises_the_soft_limit_up_to_the_need_without_lowering_the_hard_one() {
        let mut tried = Vec::new();
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 1024,
                hard: 524_288,
            },
            |l| {
                tried.push(l);
                Ok(())
            },
        );
        assert_eq!(
            tried,
            vec![NoFile {
                soft: 10_032,
                hard: 524_288
            }]
        );
        assert_eq!(
            a,
            Adjustment::Raised {
                from: 1024,
                to: 10_032
            }
        );
        assert_eq!(a.maxclients(10_000), 10_000);
        assert_eq!(
            a.messages(),
            vec![(
                Severity::Notice,
                "Increased maximum number of open files to 10032 (it was originally set to 1024)."
                    .to_string()
            )]
        );
    }

    #[test]
    fn low_hard_limit_reduces_maxclients_as_redis() {
        // ulimit -n 256 (soft = hard): Redis 7.0 logs these three lines and serves 224.
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 256,
                hard: 256,
            },
            unprivileged(256),
        );
        assert_eq!(
            a,
            Adjustment::Reduced {
                requested: 10_000,
                wanted: 10_032,
                limit: 256,
                maxclients: 224,
                errno: EPERM
            }
        );
        assert_eq!(a.maxclients(10_000), 224);
        assert_eq!(a.limit(), 256);
        let lines: Vec<String> = a.messages().into_iter().map(|(_, m)| m).collect();
        assert_eq!(
            lines,
            vec![
                "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
                "Server can't set maximum open files to 10032 because of OS error: Operation not permitted.",
                "Current maximum open files is 256. maxclients has been reduced to 224 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
            ]
        );
    }

    #[test]
    fn soft_below_hard_goes_up_to_the_hard_limit() {
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 256,
                hard: 4096,
            },
            unprivileged(4096),
        );
        assert_eq!(
            a,
            Adjustment::Reduced {
                requested: 10_000,
                wanted: 10_032,
                limit: 4096,
                maxclients: 4064,
                errno: EPERM
            }
        );
    }

    #[test]
    fn a_privileged_process_raises_the_hard_limit() {
        let mut hard_seen = 0;
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 256,
                hard: 256,
            },
            |l| {
                hard_seen = l.hard;
                Ok(())
            },
        );
        assert_eq!(
            a,
            Adjustment::Raised {
                from: 256,
                to: 10_032
            }
        );
        assert_eq!(hard_seen, 10_032);
    }

    #[test]
    fn steps_down_by_16_when_even_the_hard_limit_is_refused() {
        // A cap below the hard limit (Linux's nr_open, a container's): refused above 1000.
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 256,
                hard: 4096,
            },
            |l| {
                if l.soft > 1000 {
                    Err(EPERM)
                } else {
                    Ok(())
                }
            },
        );
        // 4096, 4080, ... the first at or below 1000 is 4096 - 16 * 194 = 992.
        assert_eq!(a.limit(), 992);
        assert_eq!(a.maxclients(10_000), 960);
    }

    #[test]
    fn nothing_works_keeps_the_current_limit() {
        let a = plan(
            500,
            32,
            NoFile {
                soft: 100,
                hard: 1000,
            },
            |_| Err(EPERM),
        );
        assert_eq!(a.limit(), 100);
        assert_eq!(a.maxclients(500), 68);
    }

    #[test]
    fn too_low_to_start() {
        let a = plan(10_000, 32, NoFile { soft: 30, hard: 30 }, unprivileged(30));
        assert_eq!(
            a,
            Adjustment::TooLow {
                limit: 30,
                wanted: 10_032
            }
        );
        assert_eq!(
            a.messages()[0].1,
            "Your current 'ulimit -n' of 30 is not enough for the server to start. Please increase your open file limit to at least 10032. Exiting."
        );
        // 32 descriptors leave no room for a client either; 33 leave one.
        let a = plan(10_000, 32, NoFile { soft: 32, hard: 32 }, unprivileged(32));
        assert!(matches!(a, Adjustment::TooLow { .. }), "{a:?}");
        let a = plan(10_000, 32, NoFile { soft: 33, hard: 33 }, unprivileged(33));
        assert_eq!(a.maxclients(10_000), 1);
    }

    #[test]
    fn a_larger_reserve_lowers_maxclients_further() {
        let a = plan(
            10_000,
            50,
            NoFile {
                soft: 256,
                hard: 256,
            },
            unprivileged(256),
        );
        assert_eq!(a.maxclients(10_000), 206);
    }

    #[test]
    fn unlimited_hard_limit() {
        let a = plan(
            10_000,
            32,
            NoFile {
                soft: 1024,
                hard: u64::MAX,
            },
            unprivileged(u64::MAX),
        );
        assert_eq!(
            a,
            Adjustment::Raised {
                from: 1024,
                to: 10_032
            }
        );
    }

    #[test]
    fn local_errors_are_recognised() {
        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EADDRNOTAVAIL,
        ] {
            assert!(is_local_resource_error(&io::Error::from_raw_os_error(
                errno
            )));
        }
        for errno in [libc::ECONNREFUSED, libc::ETIMEDOUT, libc::EHOSTUNREACH] {
            assert!(!is_local_resource_error(&io::Error::from_raw_os_error(
                errno
            )));
        }
        assert!(!is_local_resource_error(&io::Error::other("x")));
        assert_eq!(strerror(libc::EMFILE), "Too many open files");
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_and_log_at_a_bounded_rate() {
        let mut a = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(a.failed(&emfile), AcceptErrors::SHORTAGE_WAIT);
        assert!(a.last_log.is_some());
        for _ in 0..50 {
            assert_eq!(a.failed(&emfile), AcceptErrors::SHORTAGE_WAIT);
        }
        assert_eq!(a.unlogged, 50);
        tokio::time::advance(AcceptErrors::LOG_EVERY).await;
        a.failed(&emfile);
        assert_eq!(a.unlogged, 0);
        let other = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(a.failed(&other), AcceptErrors::OTHER_WAIT);
        a.accepted();
        assert!(!a.failing);
    }
}
