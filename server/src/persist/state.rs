//! What the server's persistence state is (a part of `Server`): the RDB side (background
//! saves, loading progress, save statistics) and a rewrite of the AOF while it is off. The
//! AOF itself is `persist::aof_file`; the engines that change these are above them.

use tokio::time::Instant;

use super::aof_file::Aof;

/// What the server owns of persistence: written by the persistence engines (`persist`),
/// read by INFO, LASTSAVE and the write checks (MISCONF).
#[derive(Debug)]
pub struct Persistence {
    /// The append-only file, when `appendonly` is on (and loaded).
    pub aof: Option<Aof>,
    /// RDB persistence state.
    pub rdb: RdbState,
    /// When the dataset was last saved (unix seconds; LASTSAVE).
    pub lastsave_s: i64,
}

/// A BGREWRITEAOF with the AOF off.
#[derive(Debug, Default)]
pub struct OffRewrite {
    /// Running since.
    pub started: Option<Instant>,
    /// Asked while another snapshot ran, or superseded by one: the cron starts it later.
    pub scheduled: bool,
    /// The epoch of its snapshot.
    pub epoch: u64,
}

/// RDB persistence state, as INFO persistence reports it.
#[derive(Debug)]
pub struct RdbState {
    /// A background save is running (started at, unix seconds).
    pub bgsave_started: Option<(Instant, i64)>,
    /// Ask the running background save to stop (SHUTDOWN, FLUSHALL...).
    pub bgsave_cancel: bool,
    pub last_bgsave_ok: bool,
    pub last_bgsave_time_sec: i64,
    /// When the last background save was tried (unix ms), for the retry delay.
    pub last_bgsave_try_ms: i64,
    pub saves: u64,
    /// Loading the dataset at start-up.
    pub loading: bool,
    pub loading_started: Option<Instant>,
    pub loading_total_bytes: u64,
    pub loading_loaded_bytes: u64,
    /// The `used-mem` aux field of the RDB being loaded (INFO `loading_rdb_used_mem`).
    pub loading_rdb_used_mem: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// BGSAVE SCHEDULE while another snapshot ran: started by the cron when possible.
    pub bgsave_scheduled: bool,
    /// Counts the snapshots begun (see `Snapshot::is_current`).
    pub snapshot_epoch: u64,
    /// A BGREWRITEAOF with the AOF off (Redis 7.0 writes a base anyway).
    pub aof_off_rewrite: OffRewrite,
}

impl RdbState {
    /// INFO `loading_eta_seconds`, as Redis computes it.
    pub fn loading_eta_seconds(&self) -> u64 {
        let elapsed = self.loading_started.map_or(0, |t| t.elapsed().as_secs());
        if elapsed == 0 {
            return 1;
        }
        let remaining = self
            .loading_total_bytes
            .saturating_sub(self.loading_loaded_bytes);
        elapsed.saturating_mul(remaining) / (self.loading_loaded_bytes + 1)
    }
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            bgsave_started: None,
            bgsave_cancel: false,
            last_bgsave_ok: true,
            last_bgsave_time_sec: -1,
            last_bgsave_try_ms: 0,
            saves: 0,
            loading: false,
            loading_started: None,
            loading_total_bytes: 0,
            loading_loaded_bytes: 0,
            loading_rdb_used_mem: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            bgsave_scheduled: false,
            snapshot_epoch: 0,
            aof_off_rewrite: Default::default(),
        }
    }
}
