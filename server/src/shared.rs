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
    pub state: Mutex<Server>,
    pub cancel: CancellationToken,
    pub net: Arc<NetCounters>,
    pub tracker: TaskTracker,
    /// How tasks below the command layer (the AOF loader, the replica link) run commands.
    pub pipeline: Pipeline,
    /// Where released locks send the effects their holder emitted (the runtime starts them).
    effects: UnboundedSender<Effect>,
}

impl Shared {
    pub fn new(server: Server, pipeline: Pipeline, effects: UnboundedSender<Effect>) -> Shared {
        let net = server.net.clone();
        Shared {
            state: Mutex::new(server),
            cancel: CancellationToken::new(),
            net,
            tracker: TaskTracker::new(),
            pipeline,
            effects,
        }
    }

    /// Take the server lock. The effects emitted while it is held go to the runtime when it
    /// is released.
    pub fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock is a bug we do not want to turn into a dead server:
        // the state is still consistent at command granularity, so keep serving.
        let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Locked {
            guard: Some(guard),
            effects: &self.effects,
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
    effects: &'a UnboundedSender<Effect>,
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
        if guard.effects.is_empty() {
            return;
        }
        let effects = guard.effects.take();
        drop(guard);
        for e in effects {
            // The runtime is gone only at shutdown, when nothing new is started.
            let _ = self.effects.send(e);
        }
    }
}
