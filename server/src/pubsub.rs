//! Channel and pattern subscriptions (the server side of SUBSCRIBE/PSUBSCRIBE/PUBLISH).
//!
//! Ordered maps keep PUBSUB CHANNELS output and delivery order deterministic; subscribers of a
//! channel are kept in subscription order, as Redis's lists.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::client::ClientId;

#[derive(Debug, Default)]
pub struct PubSub {
    pub channels: BTreeMap<Bytes, Vec<ClientId>>,
    pub patterns: BTreeMap<Bytes, Vec<ClientId>>,
    /// Shard channels (SSUBSCRIBE/SPUBLISH): their own namespace, no patterns.
    pub shard_channels: BTreeMap<Bytes, Vec<ClientId>>,
}

impl PubSub {
    /// Add a subscriber; false if it was already subscribed.
    pub fn subscribe(map: &mut BTreeMap<Bytes, Vec<ClientId>>, name: &Bytes, id: ClientId) -> bool {
        let subs = map.entry(name.clone()).or_default();
        if subs.contains(&id) {
            return false;
        }
        subs.push(id);
        true
    }

    /// Remove a subscriber; false if it was not subscribed.
    pub fn unsubscribe(
        map: &mut BTreeMap<Bytes, Vec<ClientId>>,
        name: &[u8],
        id: ClientId,
    ) -> bool {
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let Some(pos) = subs.iter().position(|&c| c == id) else {
            return false;
        };
        subs.remove(pos);
        if subs.is_empty() {
            map.remove(name);
        }
        true
    }

    /// Who receives a message on `channel`: channel subscribers, then (pattern, subscriber)
    /// for each matching pattern, in Redis's order.
    pub fn receivers(&self, channel: &[u8]) -> (Vec<ClientId>, Vec<(Bytes, ClientId)>) {
        let direct = self.channels.get(channel).cloned().unwrap_or_default();
        let mut by_pattern = Vec::new();
        for (pat, subs) in &self.patterns {
            if picket_common::glob::string_match(pat, channel, false) {
                for &id in subs {
                    by_pattern.push((pat.clone(), id));
                }
            }
        }
        (direct, by_pattern)
    }
}
