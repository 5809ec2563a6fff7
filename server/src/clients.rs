//! The clients part of the server: the registry of connected clients (Redis's
//! `server.clients`), who watches the command stream (MONITOR), and the slot of the client
//! whose command is running.
//!
//! The running client's record is checked out of the registry for its command (the
//! pipeline passes it to the handler as `&mut Client`); the registry keeps its identity and
//! the pushes addressed to it meanwhile (its own PUBLISH, keyspace events, a WATCH it made
//! dirty), so that [`Clients::deliver`] and [`Clients::mark_dirty_cas`] reach every client
//! alike. The pipeline takes them back when the command ends ([`Clients::finish_running`]).

use std::collections::{BTreeMap, BTreeSet};

use bytes::BytesMut;
use picket_common::resp::{Proto, ReplyBuf};
use tokio::time::Instant;

use crate::client::{cflags, Client, ClientClass, ClientId};
use crate::config::BufferLimit;

/// The registry's clients by id, in id order.
pub type Iter<'a> = std::iter::Map<
    std::collections::btree_map::Iter<'a, ClientId, Box<Client>>,
    fn((&'a ClientId, &'a Box<Client>)) -> (&'a ClientId, &'a Client),
>;

// The map's own item type: `&Box<Client>` is what its iterator yields.
#[allow(clippy::borrowed_box)]
fn unbox_entry<'a>((id, c): (&'a ClientId, &'a Box<Client>)) -> (&'a ClientId, &'a Client) {
    (id, &**c)
}

pub struct Clients {
    /// Every connected client but the running one. Boxed: a command checks its client out
    /// and back in for every batch, which moves a pointer rather than the record (and the
    /// neighbours a B-tree node shifts on insert and remove).
    table: BTreeMap<ClientId, Box<Client>>,
    next_id: ClientId,
    /// Clients in MONITOR mode.
    pub monitors: BTreeSet<ClientId>,
    /// The client whose command is running, and the protocol its pushes are written in.
    running: Option<(ClientId, Proto)>,
    /// Pushes addressed to the running client during its command, written with its reply.
    pub pushes: BytesMut,
    /// How much of `pushes` precedes the command's reply: up to the event of the last
    /// key its lookups expired (Redis deletes such keys at lookup, before it replies).
    /// The rest follows the reply unless the command writes it earlier.
    pub pushes_early: usize,
    /// A key the running client watches was modified by its own command.
    dirty_cas: bool,
    /// The running client has subscriptions (as its command started).
    running_pubsub: bool,
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            table: BTreeMap::new(),
            next_id: 1,
            monitors: BTreeSet::new(),
            running: None,
            pushes: BytesMut::new(),
            pushes_early: 0,
            dirty_cas: false,
            running_pubsub: false,
        }
    }
}

impl Clients {
    /// A new client id (Redis's `server.next_client_id`: never reused).
    pub fn next_id(&mut self) -> ClientId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn get(&self, id: &ClientId) -> Option<&Client> {
        self.table.get(id).map(|c| &**c)
    }

    pub fn get_mut(&mut self, id: &ClientId) -> Option<&mut Client> {
        self.table.get_mut(id).map(|c| &mut **c)
    }

    /// Put a client (back) in the registry.
    pub fn insert(&mut self, id: ClientId, c: Box<Client>) {
        self.table.insert(id, c);
    }

    /// Take a client out of the registry: it disconnected, or its command is to run.
    pub fn remove(&mut self, id: &ClientId) -> Option<Box<Client>> {
        self.table.remove(id)
    }

    /// The clients in the registry (not the running one), by id.
    pub fn iter(&self) -> Iter<'_> {
        self.table.iter().map(unbox_entry)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Client> + ExactSizeIterator {
        self.table.values().map(|c| &**c)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Client> + ExactSizeIterator {
        self.table.values_mut().map(|c| &mut **c)
    }

    /// Number of connected clients, the running one included.
    pub fn count(&self) -> usize {
        self.table.len() + usize::from(self.running.is_some())
    }

    /// `client`'s command starts: pushes and WATCH invalidations for it are kept aside.
    pub fn start_running(&mut self, client: &Client) {
        self.running = Some((client.id, client.proto));
        self.running_pubsub = client.total_subscriptions() > 0;
    }

    /// The client whose command is running (Redis's `server.current_client`).
    pub fn running_id(&self) -> Option<ClientId> {
        self.running.map(|(id, _)| id)
    }

    /// Whether a client is connected (the running one included: Redis's
    /// `lookupClientByID`).
    pub fn exists(&self, id: ClientId) -> bool {
        self.running_id() == Some(id) || self.table.contains_key(&id)
    }

    /// A connected client's protocol and whether it has subscriptions.
    pub fn proto_and_pubsub(&self, id: ClientId) -> Option<(Proto, bool)> {
        match self.running {
            Some((r, proto)) if r == id => Some((proto, self.running_pubsub)),
            _ => self
                .table
                .get(&id)
                .map(|c| (c.proto, c.total_subscriptions() > 0)),
        }
    }

    /// Its command ended: the running slot is free. Returns whether a key it watches was
    /// modified meanwhile (its `DIRTY_CAS` flag is the caller's to set); its pushes stay
    /// in `pushes` for the caller to write.
    pub fn finish_running(&mut self) -> bool {
        self.running = None;
        std::mem::take(&mut self.dirty_cas)
    }

    /// Suspend the running slot (DEBUG RELOAD/LOADAOF replay commands of their own).
    pub fn suspend_running(&mut self) -> Option<(ClientId, Proto)> {
        self.running.take()
    }

    pub fn resume_running(&mut self, r: Option<(ClientId, Proto)>) {
        self.running = r;
    }

    /// Write the pushes kept for the running client into its output and clear them (the
    /// common case, none, costs a length check: this runs after every command).
    pub fn write_pushes(&mut self, out: &mut ReplyBuf) {
        if !self.pushes.is_empty() {
            out.raw(&self.pushes);
            self.pushes.clear();
        }
        self.pushes_early = 0;
    }

    /// Make a client's next EXEC fail because a key it watches changed.
    pub fn mark_dirty_cas(&mut self, id: ClientId) {
        if let Some(c) = self.table.get_mut(&id) {
            c.flags |= cflags::DIRTY_CAS;
        } else if self.running.map(|(e, _)| e) == Some(id) {
            self.dirty_cas = true;
        }
    }

    /// Write a push (pub/sub message, MONITOR line) to a client, in its protocol; a client
    /// whose pending output passes its class's limits is closed (`limits`, read at `now`).
    pub fn deliver(
        &mut self,
        id: ClientId,
        write: &dyn Fn(&mut ReplyBuf),
        limits: &[BufferLimit; 3],
        now: Instant,
    ) {
        if let Some((running, proto)) = self.running {
            if running == id {
                let mut rb = ReplyBuf {
                    buf: std::mem::take(&mut self.pushes),
                    proto,
                };
                write(&mut rb);
                self.pushes = rb.buf;
                return;
            }
        }
        if let Some(c) = self.table.get_mut(&id) {
            // A client being closed gets nothing more (Redis's `prepareClientToWrite`).
            if c.has(cflags::CLOSE_ASAP) {
                return;
            }
            let before = c.out.len();
            write(&mut c.out);
            c.out_peak = c.out_peak.max(c.out.len());
            c.rb.note(c.out.len());
            if c.out.len() != before {
                c.notify.notify_one();
            }
            let used = c.out.len();
            check_output_limits(c, used, limits, now);
        }
    }
}

/// Close a client whose pending output (`used` bytes) passed its class's hard limit, or its
/// soft limit for longer than the configured seconds (Redis's
/// `checkClientOutputBufferLimits`).
pub fn check_output_limits(
    c: &mut Client,
    used: usize,
    limits: &[crate::config::BufferLimit; 3],
    now: Instant,
) {
    let lim = match c.class() {
        ClientClass::Normal => limits[0],
        ClientClass::Replica => limits[1],
        ClientClass::Pubsub => limits[2],
    };
    let used = used as u64;
    let over = if lim.hard > 0 && used >= lim.hard {
        true
    } else if lim.soft > 0 && used >= lim.soft {
        // The first time the soft limit is seen reached only starts its clock.
        match c.soft_limit_since {
            None => {
                c.soft_limit_since = Some(now);
                false
            }
            Some(since) => now.saturating_duration_since(since).as_secs() >= lim.soft_seconds,
        }
    } else {
        c.soft_limit_since = None;
        false
    };
    if over && !c.has(cflags::CLOSE_ASAP) {
        tracing::warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.info_line(now)
        );
        c.close_asap("output buffer limits");
    }
}

impl<'a> IntoIterator for &'a Clients {
    type Item = (&'a ClientId, &'a Client);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
