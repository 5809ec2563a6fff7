//! The effects outbox: what code below the runtime asks the runtime to start.
//!
//! The state parts and the engines (persistence, replication) run under the server lock
//! and hold no handle on the running server. When they need work that outlives the call
//! (a background save, an AOF rewrite, a full sync to a replica), they put an [`Effect`]
//! in `Server::effects`. The lock guard ([`crate::shared::Locked`]) hands the outbox to the
//! runtime when it is released, and the runtime starts each effect with the running server
//! (`crate::runtime`), as the sentinel's shell performs its core's `Action`s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::shared::Shared;

/// A task of the running server.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The start of a background task, given the running server.
pub type Start = Box<dyn FnOnce(Arc<Shared>) -> Task + Send + 'static>;

/// What the runtime must do once the lock is released.
pub enum Effect {
    /// Start a background task (on the server's task tracker, so shutdown waits for it).
    Spawn {
        /// What it is, for logs and tests: "bgsave", "aof-rewrite", "full-sync"...
        what: &'static str,
        start: Start,
    },
    /// Run the clients a pause held, now that it ended (the pipeline's `resume`): asked
    /// outside a command, where no command's end would run them.
    ResumeHeld,
}

impl std::fmt::Debug for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::Spawn { what, .. } => write!(f, "Spawn({what})"),
            Effect::ResumeHeld => write!(f, "ResumeHeld"),
        }
    }
}

/// The effects emitted since the lock was taken, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    effects: Vec<Effect>,
}

impl Outbox {
    /// Ask for `task(server)` to be started as a background task.
    pub fn spawn<F, Fut>(&mut self, what: &'static str, task: F)
    where
        F: FnOnce(Arc<Shared>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.effects.push(Effect::Spawn {
            what,
            start: Box::new(move |shared| Box::pin(task(shared))),
        });
    }

    /// Ask for the clients a pause held to run again.
    pub fn resume_held(&mut self) {
        self.effects.push(Effect::ResumeHeld);
    }

    pub fn is_empty(&self) -> bool {
        self.effects.is_empty()
    }

    /// What the effects are, in order (tests).
    pub fn names(&self) -> Vec<&'static str> {
        self.effects
            .iter()
            .map(|e| match e {
                Effect::Spawn { what, .. } => *what,
                Effect::ResumeHeld => "resume-held",
            })
            .collect()
    }

    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }
}
