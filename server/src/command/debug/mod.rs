//! DEBUG: the subcommands that tests, tools and client libraries' test suites use, behind
//! `enable-debug-command`, with Redis 7.0's replies and errors (`src/debug.c`).
//!
//! - `digest`: DIGEST and DIGEST-VALUE, Redis's SHA1 fingerprint of the data;
//! - `reload`: RELOAD and LOADAOF, a round trip of the dataset through its files;
//! - `inspect`: OBJECT, LISTPACK and QUICKLIST, which describe how a value is stored;
//! - `protocol`: PROTOCOL, a sample reply of each RESP type;
//! - here: the knobs tests turn (SLEEP, SET-ACTIVE-EXPIRE, QUICKLIST-PACKED-THRESHOLD,
//!   REPLYBUFFER, PAUSE-CRON, SET-SKIP-CHECKSUM-VALIDATION), POPULATE, CHANGE-REPL-ID,
//!   REPLICATE, LOG, ERROR and STRINGMATCH-TEST.
//!
//! Subcommands Redis has and picket does not (crash and restart helpers, allocator and
//! cluster ones) get Redis's reply to an unknown subcommand, and HELP lists only those
//! picket has.

pub mod digest;
mod inspect;
pub mod knobs;
mod protocol;
mod reload;

use bytes::Bytes;

use super::args::{lower, parse_i64};
use super::client_cmd::help_reply;
use super::{CmdError, CmdResult, Ctx};
use crate::config::Allow;
use crate::db::Value;

const DEBUG_DENIED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

pub use knobs::{DEFAULT_PACKED_THRESHOLD, DEFAULT_PEAK_RESET_MS};

/// Redis 7.0's HELP text for the subcommands picket has, in Redis's order.
const HELP: &[&str] = &[
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
];

pub fn debug(ctx: &mut Ctx) -> CmdResult {
    let allowed = match ctx.srv.cfg.enable_debug_command {
        Allow::Yes => true,
        Allow::No => false,
        Allow::Local => crate::client::is_local(&ctx.client.addr),
    };
    if !allowed {
        return Err(CmdError::Reply(DEBUG_DENIED.into()));
    }
    let sub = lower(&ctx.args[1]);
    let a = ctx.args;
    // The argument counts each subcommand accepts are Redis's; any other count is an
    // unknown subcommand, as there.
    match (sub.as_str(), a.len()) {
        ("help", 2) => {
            help_reply(ctx, "DEBUG", HELP);
            Ok(())
        }
        ("reload", _) => reload::reload(ctx),
        ("loadaof", _) => reload::loadaof(ctx),
        ("object", 3) => inspect::object(ctx),
        ("listpack", 3) => inspect::listpack(ctx),
        ("quicklist", 3 | 4) => inspect::quicklist(ctx),
        ("populate", 3..=5) => populate(ctx),
        ("digest", 2) => {
            let d = digest::dataset_digest(&ctx.srv.keyspace.dbs);
            ctx.out.simple(&digest::hex(&d));
            Ok(())
        }
        ("digest-value", _) => {
            let db = &ctx.srv.keyspace.dbs[ctx.client.db];
            ctx.out.array(a.len() - 2);
            for key in &a[2..] {
                ctx.out.simple(&digest::hex(&digest::value_digest(db, key)));
            }
            Ok(())
        }
        ("protocol", 3) => protocol::protocol(ctx),
        ("sleep", 3) => {
            // DEBUG SLEEP stalls the whole server on purpose, as in Redis.
            if let Some(d) = sleep_duration(&a[2]) {
                std::thread::sleep(d);
            }
            ctx.out.ok();
            Ok(())
        }
        ("set-active-expire", 3) => {
            ctx.srv.keyspace.active_expire_enabled = atoi(&a[2]) != 0;
            ctx.out.ok();
            Ok(())
        }
        ("quicklist-packed-threshold", 3) => {
            let size = std::str::from_utf8(&a[2])
                .ok()
                .and_then(picket_common::sds::memtoull);
            // Redis's `quicklistisSetPackedThreshold`: at most 4 GB less 1 MB; 0 restores
            // the default.
            match size {
                Some(n) if n <= (1u64 << 32) - (1 << 20) => {
                    ctx.srv.debug.packed_threshold =
                        if n == 0 { DEFAULT_PACKED_THRESHOLD } else { n };
                    ctx.out.ok();
                    Ok(())
                }
                _ => Err(CmdError::err(
                    "argument must be a memory value bigger than 1 and smaller than 4gb",
                )),
            }
        }
        ("set-skip-checksum-validation", 3) => {
            ctx.srv.debug.skip_checksum_validation = atoi(&a[2]) != 0;
            ctx.out.ok();
            Ok(())
        }
        ("pause-cron", 3) => {
            ctx.srv.debug.pause_cron = atoi(&a[2]) != 0;
            ctx.out.ok();
            Ok(())
        }
        ("replybuffer", 4) => replybuffer(ctx),
        ("change-repl-id", 2) => {
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            let id = picket_common::ids::random_hex40(&mut ctx.srv.rng);
            ctx.srv.repl.replid = id;
            ctx.srv.repl.clear_replid2();
            ctx.out.ok();
            Ok(())
        }
        ("replicate", 3..) => {
            replicate(ctx);
            ctx.out.ok();
            Ok(())
        }
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&a[2]));
            ctx.out.ok();
            Ok(())
        }
        ("error", 3) => {
            // Written as is, like Redis's `addReplySds`: not counted as an error reply.
            let mut e = Vec::with_capacity(a[2].len() + 3);
            e.push(b'-');
            e.extend(a[2].iter().map(|&b| match b {
                b'\r' | b'\n' => b' ',
                b => b,
            }));
            e.extend_from_slice(b"\r\n");
            ctx.out.raw(&e);
            Ok(())
        }
        ("stringmatch-test", 2) => {
            stringmatch_fuzz(ctx);
            ctx.out
                .simple("Apparently Redis did not crash: test passed");
            Ok(())
        }
        _ => Err(ctx.subcommand_syntax_error()),
    }
}

/// POPULATE count [prefix] [size]: string keys `prefix:N` holding `value:N` (cut or
/// zero-padded to `size`), skipping existing keys. Not propagated, no event, no dirty.
fn populate(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let count = positive(&a[2])?;
    let prefix: &[u8] = a.get(3).map(|b| &b[..]).unwrap_or(b"key");
    let size = match a.get(4) {
        Some(s) => positive(s)? as usize,
        None => 0,
    };
    let db = ctx.client.db;
    let lru = ctx.srv.lru_clock();
    let mut num = itoa::Buffer::new();
    for i in 0..count {
        let mut key = prefix.to_vec();
        key.push(b':');
        key.extend_from_slice(num.format(i).as_bytes());
        // Redis's `lookupKeyWrite`: an expired key is deleted and replaced.
        if ctx.srv.data().exists(db, &key) {
            continue;
        }
        let mut val = format!("value:{i}").into_bytes();
        if size > 0 {
            val.resize(size, 0);
        }
        ctx.srv.keyspace.dbs[db].set(&key, Value::plain(&val), lru, false);
        // WATCH sees it (Redis's `signalModifiedKey`); no event, no dirty.
        ctx.srv.data().signal_modified(db, &key);
    }
    ctx.out.ok();
    Ok(())
}

/// REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|ms> | RESIZING <0|1>.
fn replybuffer(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    match lower(&a[2]).as_str() {
        "peak-reset-time" => {
            ctx.srv.debug.reply_peak_reset_ms = match lower(&a[3]).as_str() {
                "never" => -1,
                "reset" => DEFAULT_PEAK_RESET_MS,
                _ => parse_i64(&a[3]).ok_or(CmdError::NotInteger)?,
            };
        }
        "resizing" => ctx.srv.debug.reply_resizing = atoi(&a[3]) != 0,
        _ => return Err(ctx.subcommand_syntax_error()),
    }
    ctx.out.ok();
    Ok(())
}

/// REPLICATE command [arg ...]: send a command to the replicas only (not to the AOF, not
/// applied here), as Redis's `replicationFeedSlaves` into the stream's current database.
/// A replica, or a master without a replication stream, sends nothing.
fn replicate(ctx: &mut Ctx) {
    if ctx.srv.repl.is_replica() {
        return;
    }
    // What this client's earlier commands produced goes first, in order.
    crate::replication::feed(ctx.srv);
    let mut bytes = bytes::BytesMut::new();
    let args: Vec<Bytes> = ctx.args[2..].to_vec();
    picket_common::resp::append_command(&mut bytes, &args);
    crate::replication::feed_stream(ctx.srv, &bytes);
}

/// STRINGMATCH-TEST: match random patterns against random strings (Redis's
/// `stringmatchlen_fuzz_test`, with the server's seeded generator), to show the matcher
/// ends on anything.
fn stringmatch_fuzz(ctx: &mut Ctx) {
    // Redis runs 10 million; a tenth of a million keeps the server's pause short.
    const CYCLES: usize = 100_000;
    let mut matches = 0u64;
    let (mut s, mut p) = ([0u8; 32], [0u8; 32]);
    for _ in 0..CYCLES {
        let lens = ctx.srv.data().random_u64();
        let (slen, plen) = ((lens % 32) as usize, ((lens >> 8) % 32) as usize);
        // Bytes below 128, as Redis's `rand() % 128`, eight from each random word.
        for chunk in s[..slen].chunks_mut(8).chain(p[..plen].chunks_mut(8)) {
            let word = ctx.srv.data().random_u64().to_le_bytes();
            for (b, w) in chunk.iter_mut().zip(word) {
                *b = w % 128;
            }
        }
        if picket_common::glob::string_match(&p[..plen], &s[..slen], false) {
            matches += 1;
        }
    }
    tracing::info!("DEBUG STRINGMATCH-TEST: {matches} matches in {CYCLES} cycles");
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default message.
fn positive(arg: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::err("value is out of range, must be positive")),
    }
}

/// C's `atoi`: optional blanks and sign, then the leading digits; 0 if none.
fn atoi(arg: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(arg);
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n = digits.parse::<i64>().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// How long `DEBUG SLEEP <seconds>` sleeps: Redis converts `strtod(arg) * 1e6` to a long
/// long of microseconds, so an unparsable argument sleeps 0 seconds, and a value whose
/// microseconds do not fit (1e20) does not sleep at all (on x86-64 the conversion gives a
/// negative time and `nanosleep` refuses it): the reply is `+OK` at once, never a panic.
fn sleep_duration(arg: &[u8]) -> Option<std::time::Duration> {
    let us = strtod_prefix(arg) * 1_000_000.0;
    // `i64::MAX as f64` rounds up to 2^63, which no longer fits: compare strictly.
    (us.is_finite() && us >= 1.0 && us < i64::MAX as f64)
        .then(|| std::time::Duration::from_micros(us as u64))
}

/// C's `strtod`: the longest leading part that is a number; 0 if none.
fn strtod_prefix(arg: &[u8]) -> f64 {
    // A number is short: looking at the start is enough, and keeps this linear.
    let s = String::from_utf8_lossy(&arg[..arg.len().min(64)]);
    let s = s.trim_start();
    (1..=s.len())
        .rev()
        .filter(|&n| s.is_char_boundary(n))
        .find_map(|n| s[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sleep_durations_never_overflow() {
        assert_eq!(sleep_duration(b"0.5"), Some(Duration::from_millis(500)));
        assert_eq!(sleep_duration(b"2xyz"), Some(Duration::from_secs(2)));
        // What Redis does not sleep for: nothing, negative, NaN, infinite, too large.
        for arg in [
            &b"abc"[..],
            b"0",
            b"-1",
            b"nan",
            b"inf",
            b"1e20",
            b"9223372036854.775807",
            b"1e308",
        ] {
            assert_eq!(
                sleep_duration(arg),
                None,
                "{}",
                String::from_utf8_lossy(arg)
            );
        }
        // The largest that fits sleeps as long as Redis would.
        assert!(sleep_duration(b"9223372036854").is_some());
    }

    #[test]
    fn atoi_as_c() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b"  -12abc"), -12);
        assert_eq!(atoi(b"x1"), 0);
        assert_eq!(atoi(b""), 0);
    }
}
