//! The settings DEBUG subcommands change, as a part of the server's state.

pub use crate::persist::rdb::write::DEFAULT_PACKED_THRESHOLD;
/// Redis's `REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME` (ms).
pub const DEFAULT_PEAK_RESET_MS: i64 = 5000;

/// The settings DEBUG subcommands change (process-wide in Redis, per server here).
#[derive(Debug, Clone)]
pub struct Knobs {
    /// DEBUG QUICKLIST-PACKED-THRESHOLD: list elements of at least this many bytes are saved
    /// in a quicklist node of their own, as Redis's plain nodes.
    pub packed_threshold: u64,
    /// DEBUG REPLYBUFFER PEAK-RESET-TIME (ms, -1 for never). Kept and accepted as Redis does;
    /// picket's reply buffers grow and shrink with their content, so there is no fixed
    /// buffer whose peak it would govern.
    pub reply_peak_reset_ms: i64,
    /// DEBUG REPLYBUFFER RESIZING (see `reply_peak_reset_ms`).
    pub reply_resizing: bool,
    /// DEBUG PAUSE-CRON: the periodic duties (active expiry, statistics, save points,
    /// replication cron) do not run.
    pub pause_cron: bool,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE payloads and the RDB files DEBUG RELOAD
    /// and LOADAOF read are accepted with a wrong checksum.
    pub skip_checksum_validation: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            packed_threshold: DEFAULT_PACKED_THRESHOLD,
            reply_peak_reset_ms: DEFAULT_PEAK_RESET_MS,
            reply_resizing: true,
            pause_cron: false,
            skip_checksum_validation: false,
        }
    }
}
