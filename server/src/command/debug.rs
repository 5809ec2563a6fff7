//! DEBUG: the subcommands tests and tools use (SLEEP, OBJECT, POPULATE, SET-ACTIVE-EXPIRE),
//! behind `enable-debug-command`.

use super::args::{lower, parse_i64};
use super::client_cmd::help_reply;
use super::{CmdError, CmdResult, Ctx};
use crate::config::Allow;
use crate::db::{idle_seconds, Value};

const DEBUG_DENIED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

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
    match (sub.as_str(), a.len()) {
        ("help", 2) => {
            help_reply(
                ctx,
                "DEBUG",
                &[
                    "OBJECT <key>",
                    "    Show low level info about the `key` and associated value.",
                    "POPULATE <count> [<prefix>] [<size>]",
                    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                    "    it is used instead of the 'key' prefix. These are not propagated to",
                    "    replicas. Cluster slots are not respected so keys not belonging to the",
                    "    current node can be created in cluster mode.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not",
                    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                    "    default.",
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                ],
            );
            Ok(())
        }
        ("sleep", 3) => {
            // DEBUG SLEEP stalls the whole server on purpose, as in Redis.
            if let Some(d) = sleep_duration(&a[2]) {
                std::thread::sleep(d);
            }
            ctx.out.ok();
            Ok(())
        }
        ("set-active-expire", 3) => {
            ctx.srv.active_expire_enabled = atoi(&a[2]) != 0;
            ctx.out.ok();
            Ok(())
        }
        ("object", 3) => {
            let db = ctx.client.db;
            let clock = ctx.srv.lru_clock();
            let Some(e) = ctx.srv.dbs[db].get(&a[2]) else {
                return Err(CmdError::NoSuchKey);
            };
            let line = format!(
                "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e as *const _ as usize,
                e.val.encoding(),
                serialized_len(&e.val),
                e.lru,
                idle_seconds(e.lru, clock)
            );
            ctx.out.simple(&line);
            Ok(())
        }
        ("populate", 3..=5) => {
            let count = positive(&a[2])?;
            let prefix: &[u8] = a.get(3).map(|b| &b[..]).unwrap_or(b"key");
            let size = match a.get(4) {
                Some(s) => positive(s)? as usize,
                None => 0,
            };
            let db = ctx.client.db;
            let lru = ctx.srv.lru_clock();
            for i in 0..count {
                let mut key = prefix.to_vec();
                key.push(b':');
                key.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                if ctx.srv.dbs[db].contains(&key) {
                    continue;
                }
                let mut val = format!("value:{i}").into_bytes();
                if size > 0 {
                    val.resize(size, 0);
                }
                ctx.srv.dbs[db].set(&key, Value::string(&val), lru, false);
                // WATCH sees it (Redis's `signalModifiedKey`); no event, no dirty.
                ctx.srv.signal_modified(db, &key);
            }
            ctx.out.ok();
            Ok(())
        }
        _ => Err(ctx.subcommand_syntax_error()),
    }
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

/// The length of a value in an RDB dump, as DEBUG OBJECT reports it (uncompressed estimate).
fn serialized_len(v: &Value) -> usize {
    match v {
        Value::Int(n) => {
            if i8::try_from(*n).is_ok() {
                2
            } else if i16::try_from(*n).is_ok() {
                3
            } else if i32::try_from(*n).is_ok() {
                5
            } else {
                v.str_len() + 1
            }
        }
        _ => {
            let len = v.str_len();
            len + if len < 64 {
                1
            } else if len < 16384 {
                2
            } else {
                5
            }
        }
    }
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
}
