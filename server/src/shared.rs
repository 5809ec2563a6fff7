//! The running server as its tasks share it: the state behind its one lock, the
//! cancellation token of shutdown, the task tracker, and the channel that carries the
//! effects outbox to the runtime.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use bytes::Bytes;
use picket_common::resp::ReplyBuf;

use crate::client::Client;
use crate::ctx::Flow;
use crate::effects::Effect;
use crate::server::Server;
use crate::stats::NetCounters;

/// What connection tasks, the cron and background tasks share.
pub struct Shared {
    state: Mutex<Server>,
    pub cancel: CancellationToken,
    pub net: Arc<NetCounters>,
    pub tracker: TaskTracker,
    /// How tasks below the command layer (the AOF loader, the replica link) run commands.
    pub pipeline: Pipeline,
    /// Where released locks send the effects their holder emitted (the runtime starts them).
    effects: UnboundedSender<Effect>,
    /// The running script, as connections see it without the lock (-BUSY, SCRIPT KILL).
    pub script: Arc<crate::scripts::ScriptWatch>,
    /// The TLS configuration in force, readable without the lock (the server's
    /// `process.tls`).
    pub tls: crate::tls::Current,
}

impl Shared {
    pub fn new(server: Server, pipeline: Pipeline, effects: UnboundedSender<Effect>) -> Shared {
        let net = server.net.clone();
        let script = server.scripts.watch.clone();
        let tls = server.process.tls.clone();
        Shared {
            script,
            tls,
            state: Mutex::new(server),
            cancel: CancellationToken::new(),
            net,
            tracker: TaskTracker::new(),
            pipeline,
            effects,
        }
    }

    /// Take the server lock if no one holds it.
    pub fn try_lock(&self) -> Option<Locked<'_>> {
        let guard = match self.state.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(Locked {
            guard: Some(guard),
            to_runtime: &self.effects,
            stop: &self.cancel,
        })
    }

    /// Take the server lock. The effects emitted while it is held go to the runtime when it
    /// is released.
    pub fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock is a bug we do not want to turn into a dead server:
        // the state is still consistent at command granularity, so keep serving.
        let guard = match self.state.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                // A script may hold the lock for long (busy-reply-threshold and beyond): a
                // runtime worker waiting for it hands its other tasks to another thread
                // first, so that connections can still answer -BUSY and SCRIPT KILL.
                let multi_thread = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                if multi_thread && self.script.running() {
                    self.script.wait_hand_off();
                    tokio::task::block_in_place(|| {
                        self.state.lock().unwrap_or_else(|e| e.into_inner())
                    })
                } else {
                    self.state.lock().unwrap_or_else(|e| e.into_inner())
                }
            }
        };
        Locked {
            guard: Some(guard),
            to_runtime: &self.effects,
            stop: &self.cancel,
        }
    }
}

/// The entry into the command pipeline for commands that do not come from a connection,
/// given by the runtime (`crate::command::reentry::PIPELINE`) to the layers below it.
#[derive(Clone, Copy)]
pub struct Pipeline {
    /// Run a replayed command (AOF, the master's stream) through the whole pipeline.
    pub replay: fn(&mut Server, &mut Client, &mut ReplyBuf, &[Bytes]) -> Flow,
    /// Whether the arguments name a command of this server (renames applied).
    pub resolves: fn(&Server, &[Bytes]) -> bool,
}

/// The server lock, held.
pub struct Locked<'a> {
    // Invariant: `Some` from creation until `drop`, which alone takes it.
    guard: Option<MutexGuard<'a, Server>>,
    to_runtime: &'a UnboundedSender<Effect>,
    stop: &'a CancellationToken,
}

impl Deref for Locked<'_> {
    type Target = Server;
    fn deref(&self) -> &Server {
        // Invariant above: only `drop` empties it.
        self.guard
            .as_deref()
            .expect("lock guard present until dropped")
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Server {
        // Invariant above: only `drop` empties it.
        self.guard
            .as_deref_mut()
            .expect("lock guard present until dropped")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        // A fatal error (an AOF write that `appendfsync always` could not make durable):
        // every task stops before another can take the lock, so no reply or acknowledgement
        // leaves any more (Redis exits at once); `main` exits with status 1.
        if guard.process.fatal.is_some() {
            self.stop.cancel();
        }
        if guard.effects.is_empty() {
            return;
        }
        let effects = guard.effects.take();
        drop(guard);
        for e in effects {
            // The runtime is gone only at shutdown, when nothing new is started.
            let _ = self.to_runtime.send(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc::unbounded_channel;

    use super::*;
    use crate::testkit::TestServer;

    fn shared() -> (Shared, tokio::sync::mpsc::UnboundedReceiver<Effect>) {
        let (tx, rx) = unbounded_channel();
        let srv = TestServer::new(&[]).srv;
        (Shared::new(srv, crate::command::reentry::PIPELINE, tx), rx)
    }

    #[test]
    fn releasing_the_lock_hands_the_effects_to_the_runtime_in_order() {
        let (shared, mut rx) = shared();
        {
            let mut srv = shared.lock();
            srv.effects.resume_held();
            srv.effects.spawn("bgsave", |_| async {});
            assert!(
                rx.try_recv().is_err(),
                "nothing leaves while the lock is held"
            );
        }
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| format!("{e:?}"))
            .collect();
        assert_eq!(got, ["ResumeHeld", "Spawn(bgsave)"]);
        assert!(shared.lock().effects.is_empty());
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_fatal_error_stops_every_task_before_the_lock_is_free() {
        let (shared, _rx) = shared();
        drop(shared.lock());
        assert!(!shared.cancel.is_cancelled());
        let mut srv = shared.lock();
        srv.process.fatal = Some("AOF write error".into());
        drop(srv);
        assert!(shared.cancel.is_cancelled());
    }
}
