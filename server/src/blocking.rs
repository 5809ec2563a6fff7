//! Blocking commands: clients waiting for keys (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, ...).
//!
//! A blocking command that finds nothing to serve calls [`Ctx::block_on_keys`]: the client is
//! registered in FIFO queues per key and its connection stops processing input (it keeps
//! reading, so a disconnection is noticed). Whenever a command creates one of those keys with
//! the wanted type, the key is marked ready ([`Server::signal_ready`]); after that command
//! (at the end of its execution unit, so also after EXEC) [`serve_ready_keys`] re-executes the
//! waiting clients' commands in the order they blocked, each as its own unit, so what they do
//! is propagated as the plain command (`LPOP`, `LMOVE`, `ZPOPMIN`). A client whose command
//! still finds nothing (another got the data first) stays blocked in its place. Time-outs
//! are watched by each connection task, with the deadline kept here; CLIENT UNBLOCK and
//! disconnection remove a waiter.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::client::{cflags, Client};
use crate::command::error::CmdError;
use crate::ctx::Ctx;
use crate::server::Server;

pub use crate::client::Blocked;

/// Parse a blocking command's timeout in seconds (a float, as Redis 7.0's
/// `getTimeoutFromObjectOrReply`): milliseconds rounded up, so 0.0001 is 1 ms; 0 means
/// forever. Redis converts the product to a C `long long`: infinity and values past its
/// range come out negative there, hence its "timeout is negative" for them.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let not_float = || CmdError::err("timeout is not a float or out of range");
    let secs = crate::command::args::parse_f64(arg).ok_or_else(not_float)?;
    let ms = (secs * 1000.0).ceil();
    // `i64::MAX as f64` is 2^63, the first value past a `long long`; NaN and the infinities
    // are outside the range too.
    if !(0.0..i64::MAX as f64).contains(&ms) {
        return Err(CmdError::err("timeout is negative"));
    }
    Ok(if ms == 0.0 {
        None
    } else {
        // Far deadlines are as good as forever; keep the Instant arithmetic in range.
        Some(Duration::from_millis(
            (ms as u64).min(100 * 365 * 86_400_000),
        ))
    })
}

impl Ctx<'_> {
    /// `keys` in the order a blocking command should try them: when it runs again because
    /// a key got data, that key first (Redis serves a waiter from the key that became ready).
    pub fn serve_order(&self, keys: &[Bytes]) -> Vec<Bytes> {
        let mut v = keys.to_vec();
        if let Some(k) = &self.srv.call.serving_key {
            if let Some(i) = v.iter().position(|x| x == k) {
                let k = v.remove(i);
                v.insert(0, k);
            }
        }
        v
    }

    /// Whether the command may block: not inside MULTI/EXEC (where Redis answers as if the
    /// time-out had expired at once).
    pub fn can_block(&self) -> bool {
        !self.client.has(cflags::DENY_BLOCKING)
    }

    /// Block the client until one of `keys` (in its current db) holds a value of type
    /// `want`, or `timeout` passes. The command writes no reply now. When the client is
    /// already blocked (its command is being re-executed because a key became ready, but
    /// found nothing), it keeps its place and deadline.
    pub fn block_on_keys(&mut self, keys: &[Bytes], want: &'static str, timeout: Option<Duration>) {
        let args = self.args.to_vec();
        self.block_on_keys_with(keys, want, timeout, args);
    }

    /// [`Ctx::block_on_keys`], running `args` when served instead of the command as typed
    /// (XREAD's `$` becomes the ID it stood for when the client blocked).
    pub fn block_on_keys_with(
        &mut self,
        keys: &[Bytes],
        want: &'static str,
        timeout: Option<Duration>,
        args: Vec<Bytes>,
    ) {
        if self.client.blocked.is_some() {
            self.srv.call.reblocked = true;
            return;
        }
        let db = self.client.db;
        for k in keys {
            let q = self
                .srv
                .keyspace
                .blocking
                .entry((db, k.clone()))
                .or_default();
            if !q.contains(&self.client.id) {
                q.push_back(self.client.id);
            }
            if self.spec.name == "xreadgroup" {
                *self
                    .srv
                    .keyspace
                    .group_waits
                    .entry((db, k.clone()))
                    .or_default() += 1;
            }
        }
        self.client.blocked = Some(Blocked {
            db,
            keys: keys.to_vec(),
            want,
            deadline: timeout.map(|t| Instant::now() + t),
            spec: self.spec,
            args,
            wait: None,
            postponed: false,
        });
        self.client.flags |= cflags::BLOCKED;
    }
}

impl Server {
    /// Number of clients blocked on keys.
    pub fn blocked_clients(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.blocked.is_some())
            .count()
    }
}

/// Remove a client from the queues of the keys it waits for, and clear its blocked state.
pub fn unblock(srv: &mut Server, client: &mut Client) {
    let Some(b) = client.blocked.take() else {
        return;
    };
    client.flags &= !cflags::BLOCKED;
    if b.wait.is_some() {
        srv.repl.acks.remove_waiter(client.id);
    }
    // Its arguments are released with the command.
    client.argv_mem = 0;
    client.argc = 0;
    for k in b.keys {
        let slot = (b.db, k);
        if b.spec.name == "xreadgroup" {
            if let Some(n) = srv.keyspace.group_waits.get_mut(&slot) {
                *n -= 1;
                if *n == 0 {
                    srv.keyspace.group_waits.remove(&slot);
                }
            }
        }
        if let Some(q) = srv.keyspace.blocking.get_mut(&slot) {
            q.retain(|&id| id != client.id);
            if q.is_empty() {
                srv.keyspace.blocking.remove(&slot);
            }
        }
    }
}

pub use crate::keyspace::Queue;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_like_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.1").unwrap(),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            parse_timeout(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_timeout(b"0.0001").unwrap(),
            Some(Duration::from_millis(1))
        );
        assert_eq!(
            parse_timeout(b"inf").unwrap_err().to_string(),
            "ERR timeout is negative"
        );
        // (Redis computes in long double: exactly at the edge, f64 rounds up to 2^63.)
        assert!(parse_timeout(b"9223372036854000").unwrap().is_some());
        assert!(parse_timeout(b"-1").is_err());
        assert!(parse_timeout(b"abc").is_err());
        assert!(parse_timeout(b"inf").is_err());
    }
}
