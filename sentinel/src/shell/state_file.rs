//! Saving the state into the config file, off the core's lock: the state writer.
//!
//! A save renders the file's new text under the core's lock (no disk wait: the old text
//! comes from memory when a write is still under way) and hands it to the writer task with
//! a sequence number; the task writes it (temp file, fsync, rename, fsync of the directory)
//! while the core goes on ticking, and announces each sequence number it finished. The
//! newest text wins: a text handed while a write is under way replaces any other waiting
//! one and is written next. What must be durable before it acts (a vote's reply, a config
//! change's OK, a failover acting on its new epoch) waits for [`Shared::saved`] of its
//! number.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{watch, Notify};

use super::*;

/// Where and how the writer puts the file.
pub trait StateStore: Send + Sync + 'static {
    /// Replace the file at `path` with `text` durably.
    fn write(
        &self,
        path: PathBuf,
        text: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;
}

/// The local disk ([`crate::config::write_atomically`]). `on_thread`: the write runs on
/// tokio's blocking pool (the binary: its single-threaded runtime never waits for the
/// disk); otherwise inline in the writer task (the simulation: no threads, and a real file
/// write takes no simulated time).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskStore {
    pub on_thread: bool,
}

impl StateStore for DiskStore {
    fn write(
        &self,
        path: PathBuf,
        text: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> {
        let on_thread = self.on_thread;
        Box::pin(async move {
            if on_thread {
                tokio::task::spawn_blocking(move || crate::config::write_atomically(&path, &text))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            } else {
                crate::config::write_atomically(&path, &text)
            }
        })
    }
}

/// A save handed to the writer, or refused at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saving {
    /// Written once the writer finishes this sequence number.
    Queued(u64),
    /// The text could not be made (the old file unreadable, a TOML file that does not
    /// parse): nothing was handed, as a failed save.
    Failed,
}

/// The last write the writer finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub seq: u64,
    /// Whether it reached the disk (a later successful write covers an earlier failure).
    pub ok: bool,
}

#[derive(Default)]
struct Queue {
    /// The number of the last text handed.
    handed: u64,
    /// The text waiting for the writer (the newest handed, not yet taken).
    pending: Option<String>,
    /// The last text handed: the base of the next rewrite while it is not yet on disk.
    latest: Option<String>,
}

/// The writer's state in [`Shared`].
pub struct StateWriter {
    queue: Mutex<Queue>,
    wake: Notify,
    done: watch::Sender<Written>,
    store: Mutex<Arc<dyn StateStore>>,
}

impl Default for StateWriter {
    fn default() -> Self {
        StateWriter {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            done: watch::Sender::new(Written::default()),
            store: Mutex::new(Arc::new(DiskStore::default())),
        }
    }
}

impl StateWriter {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last write finished.
    pub fn written(&self) -> Written {
        *self.done.borrow()
    }

    /// A receiver of finished writes.
    pub fn subscribe(&self) -> watch::Receiver<Written> {
        self.done.subscribe()
    }
}

impl Shared {
    /// Replace where the state is written (the binary: on a thread; tests: a slow disk).
    pub fn set_state_store(&self, store: Arc<dyn StateStore>) {
        *self.writer.store.lock().unwrap_or_else(|e| e.into_inner()) = store;
    }

    /// Hand the state, as `core` has it now, to the writer (Redis's `sentinelFlushConfig`,
    /// without the wait: see [`Shared::saved`]).
    pub fn save(&self, core: &Core) -> Saving {
        let mut q = self.writer.queue();
        let unwritten = q.handed > self.writer.written().seq;
        let old = match (&q.latest, unwritten) {
            (Some(t), true) => Ok(t.clone()),
            _ => crate::config::read_old(&self.config_path),
        };
        let text = old
            .and_then(|old| crate::config::render(&self.config_path, &old, core, &self.settings()));
        match text {
            Ok(text) => {
                q.handed += 1;
                let seq = q.handed;
                q.latest = Some(text.clone());
                q.pending = Some(text);
                drop(q);
                self.writer.wake.notify_one();
                Saving::Queued(seq)
            }
            Err(e) => {
                tracing::warn!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                );
                Saving::Failed
            }
        }
    }

    /// Wait until the save is on disk; whether it got there.
    pub async fn saved(&self, saving: Saving) -> bool {
        let Saving::Queued(seq) = saving else {
            return false;
        };
        let mut rx = self.writer.subscribe();
        let r = match rx.wait_for(|w| w.seq >= seq).await {
            Ok(w) => w.ok,
            // The writer is gone only with the whole shell.
            Err(_) => false,
        };
        r
    }

    /// Save the state and wait until it is on disk (start, SHUTDOWN, SIGTERM).
    pub async fn save_now(&self) -> bool {
        let saving = {
            let core = self.lock();
            self.save(&core)
        };
        self.saved(saving).await
    }
}

/// The writer task: takes the newest text handed and writes it, until the shell stops
/// (what was handed before that is written first).
pub(super) async fn writer(shared: Arc<Shared>) {
    let cancel = shared.cancel.clone();
    loop {
        let job = {
            let mut q = shared.writer.queue();
            let handed = q.handed;
            q.pending.take().map(|t| (handed, t))
        };
        let Some((seq, text)) = job else {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = shared.writer.wake.notified() => continue,
            }
        };
        let store = shared
            .writer
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let started = Instant::now();
        let r = store.write(shared.config_path.clone(), text).await;
        let took = started.elapsed().as_millis();
        if took >= 500 {
            tracing::warn!(
                "Saving the sentinel state to {} took {took} ms",
                shared.config_path.display()
            );
        }
        if let Err(e) = &r {
            tracing::warn!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
            );
        }
        shared
            .writer
            .done
            .send_replace(Written { seq, ok: r.is_ok() });
    }
}
