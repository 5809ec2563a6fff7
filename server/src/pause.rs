//! Client pauses, as Redis 7.0's: CLIENT PAUSE / UNPAUSE, and the write pause FAILOVER
//! holds while the target replica catches up.
//!
//! Each purpose keeps its own pause (a kind and an end, the more restrictive kind and the
//! later end when paused again); the server is paused by the most restrictive one that has
//! not ended. `All` holds every command of normal clients, `Write` those that change data or
//! may replicate something (PUBLISH, and EXEC of a transaction holding one). A held command is
//! postponed: the client blocks with it (CLIENT LIST shows `b` and the command), its further
//! input waits, and when the pause ends or gets less restrictive it is processed again from
//! the start, in the order the clients were held (and may be held again). Replica
//! connections, the master's stream and the AOF loader are never held.
//!
//! While writes are paused the dataset stays as it is: keys past their expiry read as
//! missing but are not deleted (nor is DEL propagated) until the pause ends, the active
//! expiry cycle and eviction do not run.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::blocking::Blocked;
use crate::client::{cflags, Client, ClientId};
use crate::command::args::{is, parse_i64};
use crate::command::error::{CmdError, CmdResult};
use crate::ctx::{CommandSpec, Ctx};
use crate::server::Server;

/// What a pause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    Write,
    All,
}

/// Who paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
    ClientCommand,
    Failover,
}

/// The pauses in force and the clients they hold.
#[derive(Debug, Default)]
pub struct Pauses {
    /// Kind and end (unix ms) per purpose.
    by_purpose: BTreeMap<Purpose, (PauseKind, i64)>,
    /// Clients holding a postponed command, in the order they were held.
    pub(crate) held: VecDeque<ClientId>,
    /// A pause ended or eased: the held clients are to be processed again.
    pub(crate) resume_pending: bool,
    pub(crate) resuming: bool,
}

impl Pauses {
    /// Pause for `purpose` until `end` (unix ms); a purpose paused again keeps the more
    /// restrictive kind and the later end (Redis's `pauseClients`).
    pub fn pause(&mut self, purpose: Purpose, kind: PauseKind, end: i64) {
        let e = self.by_purpose.entry(purpose).or_insert((kind, end));
        e.0 = e.0.max(kind);
        e.1 = e.1.max(end);
    }

    /// End `purpose`'s pause; the held clients run again after the current command.
    pub fn unpause(&mut self, purpose: Purpose) {
        if self.by_purpose.remove(&purpose).is_some() {
            self.resume_pending = true;
        }
    }

    /// The pause in force at `now_ms`, if any.
    pub fn current(&self, now_ms: i64) -> Option<PauseKind> {
        self.by_purpose
            .values()
            .filter(|(_, end)| *end > now_ms)
            .map(|(k, _)| *k)
            .max()
    }

    /// Whether the dataset must stay as it is (no expiry deletes, no eviction).
    pub fn writes_paused(&self, now_ms: i64) -> bool {
        self.current(now_ms).is_some()
    }

    /// Drop the pauses that ended by `now_ms`; true if one did.
    pub(crate) fn expire(&mut self, now_ms: i64) -> bool {
        let before = self.by_purpose.len();
        self.by_purpose.retain(|_, (_, end)| *end > now_ms);
        if self.by_purpose.len() != before {
            self.resume_pending = true;
        }
        self.resume_pending
    }

    /// Clients held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// Commands that may replicate without being writes (Redis's `may-replicate` flag, which
/// its COMMAND INFO does not show, so the generated table cannot carry it).
pub(crate) fn may_replicate(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "publish" | "spublish" | "pfcount" | "eval" | "evalsha" | "fcall"
    )
}

/// Whether this command must wait for the pause in force to end (Redis's `processCommand`
/// check, made before a command is queued in MULTI). `declared_write`: for a script or
/// function that declared its flags, whether it may write (it may replicate only then).
pub fn must_wait(
    srv: &Server,
    client: &Client,
    spec: &CommandSpec,
    declared_write: Option<bool>,
) -> bool {
    if client.has(cflags::REPLICA) || client.has(cflags::MASTER) || client.has(cflags::LOADER) {
        return false;
    }
    match srv.pauses.current(srv.now_ms) {
        None => false,
        Some(PauseKind::All) => true,
        Some(PauseKind::Write) => {
            declared_write.unwrap_or_else(|| spec.is_write() || may_replicate(spec))
                || (spec.name == "exec"
                    && client
                        .multi
                        .iter()
                        .any(|q| q.spec.is_write() || may_replicate(q.spec)))
        }
    }
}

/// Hold the client with its command until the pause ends (Redis's `blockPostponeClient`).
pub fn hold(srv: &mut Server, client: &mut Client, spec: &'static CommandSpec, args: &[Bytes]) {
    client.blocked = Some(Blocked {
        db: client.db,
        keys: Vec::new(),
        want: "",
        deadline: None,
        spec,
        args: args.to_vec(),
        wait: None,
        postponed: true,
    });
    client.flags |= cflags::BLOCKED;
    srv.pauses.held.push_back(client.id);
}

/// Forget a disconnected client.
pub fn forget(srv: &mut Server, id: ClientId) {
    srv.pauses.held.retain(|&c| c != id);
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn client_pause(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    if a.len() > 4 {
        return Err(ctx.subcommand_syntax_error());
    }
    let ms = parse_i64(&a[2])
        .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let kind = match a.get(3) {
        None => PauseKind::All,
        Some(m) if is(m, "all") => PauseKind::All,
        Some(m) if is(m, "write") => PauseKind::Write,
        Some(_) => return Err(CmdError::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let end = ctx.srv.now_ms.saturating_add(ms);
    ctx.srv.pauses.pause(Purpose::ClientCommand, kind, end);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
pub fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.pauses.unpause(Purpose::ClientCommand);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_restrictive_pause_in_force_wins() {
        let mut p = Pauses::default();
        assert_eq!(p.current(0), None);
        p.pause(Purpose::ClientCommand, PauseKind::Write, 100);
        p.pause(Purpose::Failover, PauseKind::Write, 1000);
        assert_eq!(p.current(50), Some(PauseKind::Write));
        p.pause(Purpose::ClientCommand, PauseKind::All, 50);
        // Paused again: ALL, and still until 100.
        assert_eq!(p.current(60), Some(PauseKind::All));
        assert_eq!(
            p.current(100),
            Some(PauseKind::Write),
            "the failover's goes on"
        );
        assert!(p.expire(100));
        assert_eq!(p.current(500), Some(PauseKind::Write));
        p.unpause(Purpose::Failover);
        assert_eq!(p.current(500), None);
        assert!(!p.writes_paused(500));
    }
}
