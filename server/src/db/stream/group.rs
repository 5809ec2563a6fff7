//! Consumer groups (`streamCG`): the last delivered ID, the entries-read counter, the
//! pending entries list (PEL) and the consumers, each with its own PEL. Redis shares one
//! NACK between the group's PEL and its consumer's; here the group's PEL holds the NACK
//! (with its consumer's name) and a consumer's PEL the IDs, kept in step by the methods.

use std::collections::{BTreeMap, BTreeSet};

use super::StreamId;
use crate::db::SmallBytes;

/// Redis's `SCG_INVALID_ENTRIES_READ`.
pub const INVALID_ENTRIES_READ: i64 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: SmallBytes,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumer {
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    pub fn mem_usage(&self) -> usize {
        self.pel.len() * 64
            + self
                .consumers
                .iter()
                .map(|(n, c)| n.len() + 48 + c.pel.len() * 24)
                .sum::<usize>()
    }

    /// Remove `id` from the PEL (and its consumer's); true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(n.consumer.as_ref()) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Give the pending entry `id` to `consumer` (creating the NACK if needed), with the
    /// delivery time and count given.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: i64, count: u64) {
        if let Some(old) = self.pel.get(&id) {
            if old.consumer.as_ref() != consumer {
                if let Some(c) = self.consumers.get_mut(old.consumer.as_ref()) {
                    c.pel.remove(&id);
                }
            }
        }
        self.pel.insert(
            id,
            Nack {
                delivery_time: time,
                delivery_count: count,
                consumer: SmallBytes::from(consumer),
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Delete a consumer and its pending entries; the number it had pending.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}
