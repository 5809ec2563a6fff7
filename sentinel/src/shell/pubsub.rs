//! Events to the command server's subscribers (SUBSCRIBE / PSUBSCRIBE on the sentinel's
//! own port).

use super::*;

/// A client of the command server subscribed to events.
pub struct Subscriber {
    pub channels: BTreeSet<String>,
    pub patterns: BTreeSet<String>,
    pub tx: mpsc::UnboundedSender<(Option<String>, String, String)>,
    pub resp3: bool,
}

impl Shared {
    /// Distinct channels and patterns the command server's clients are subscribed to (INFO
    /// `pubsub_channels`, `pubsub_patterns`).
    pub fn pubsub_counts(&self) -> (usize, usize) {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let channels: BTreeSet<&String> = subs.values().flat_map(|s| &s.channels).collect();
        let patterns: BTreeSet<&String> = subs.values().flat_map(|s| &s.patterns).collect();
        (channels.len(), patterns.len())
    }

    /// Publish an event to the command server's subscribers.
    pub fn publish(&self, channel: &str, msg: &str) -> usize {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for s in subs.values() {
            if s.channels.contains(channel) {
                let _ = s.tx.send((None, channel.to_string(), msg.to_string()));
                n += 1;
            }
            for p in &s.patterns {
                if picket_common::glob::string_match_str(p, channel, false) {
                    let _ =
                        s.tx.send((Some(p.clone()), channel.to_string(), msg.to_string()));
                    n += 1;
                }
            }
        }
        n
    }
}
