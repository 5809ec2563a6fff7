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

#[cfg(test)]
mod tests {
    use crate::testkit::TestServer;

    #[test]
    fn background_saves_are_asked_for_as_effects_not_started_under_the_lock() {
        let dir = std::env::temp_dir().join(format!("picket-effects-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut t = TestServer::new(&["--dir", dir.to_str().expect("utf-8 temp dir")]);
        let c = t.connect();
        assert_eq!(t.line(c, "BGSAVE"), "+Background saving started\r\n");
        assert_eq!(t.srv.effects.names(), ["bgsave"]);
        // A save already asked for (its snapshot frozen) refuses a second one, which asks
        // for nothing.
        assert!(t
            .line(c, "BGSAVE")
            .starts_with("-ERR Background save already in progress"));
        assert_eq!(t.srv.effects.names(), ["bgsave"]);
        let taken = t.srv.effects.take();
        assert_eq!(taken.len(), 1);
        assert!(t.srv.effects.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
