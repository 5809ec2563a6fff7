//! Saving the state into the config file.

use super::*;

impl Shared {
    /// Save the state into the config file.
    pub fn flush(&self, core: &Core) -> bool {
        let s = self.settings();
        let started = Instant::now();
        let r = crate::config::rewrite(&self.config_path, core, &s);
        drop(s);
        let took = started.elapsed().as_millis() as u64;
        if took >= 500 {
            tracing::warn!(
                "Saving the sentinel state to {} took {took} ms (a slow disk stalls the sentinel meanwhile)",
                self.config_path.display()
            );
        }
        self.persist_pause_ms
            .fetch_add(took, std::sync::atomic::Ordering::SeqCst);
        match r {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                );
                false
            }
        }
    }
}
