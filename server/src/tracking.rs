//! Client-side caching (CLIENT TRACKING), as Redis 7.0's `tracking.c`: the table of keys
//! that clients read (default mode), the prefixes clients in BCAST mode listen to, and the
//! invalidation messages a change of a key sends them.
//!
//! Each client's tracking state lives here, by client id, rather than in its record: an
//! invalidation may concern the client whose command runs (its record is checked out of the
//! registry then), and the registry (`crate::clients`) delivers to every client alike.
//!
//! As in Redis, keys are tracked by name only (not by database), a client that disconnects
//! or turns tracking off leaves its ids in the key table until those keys change or are
//! evicted from it (`tracking-table-max-keys` bounds the table), and the clients whose own
//! command caused an invalidation get it after the command's reply (`flush_pending`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::{Bytes, BytesMut};
use picket_common::resp::{Proto, ReplyBuf};
use tokio::time::Instant;

use crate::client::ClientId;
use crate::clients::Clients;
use crate::config::BufferLimit;

/// A client's tracking flags (Redis's `CLIENT_TRACKING*`).
pub mod tflags {
    pub const ON: u32 = 1 << 0;
    /// The client it redirects to is gone.
    pub const BROKEN_REDIR: u32 = 1 << 1;
    pub const BCAST: u32 = 1 << 2;
    pub const OPTIN: u32 = 1 << 3;
    pub const OPTOUT: u32 = 1 << 4;
    /// CLIENT CACHING yes (OPTIN) or no (OPTOUT) was given for the next command.
    pub const CACHING: u32 = 1 << 5;
    pub const NOLOOP: u32 = 1 << 6;
}

/// The channel RESP2 clients get invalidations on, through the client they redirect to.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// One client's tracking state.
#[derive(Debug, Default, Clone)]
pub struct ClientTracking {
    pub flags: u32,
    /// The client invalidations go to (0: the client itself). Kept when tracking is turned
    /// off, as Redis's `client_tracking_redirection`.
    pub redirect: ClientId,
    /// BCAST prefixes, in order.
    pub prefixes: BTreeSet<Bytes>,
    /// Some of `prefixes` overlap (Redis lets them in when the overlap is between two new
    /// prefixes other than the first: see `check_prefixes`).
    overlapping: bool,
    /// Nodes of the radix tree Redis keeps the BCAST prefixes in (0 when not BCAST): CLIENT
    /// LIST counts 32 bytes each in `tot-mem`.
    pub rax_nodes: usize,
}

impl ClientTracking {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// A BCAST prefix: the keys under it changed since the last broadcast (with the client
/// that changed each last, for NOLOOP), and the clients listening to it.
#[derive(Debug, Default)]
struct Bcast {
    keys: BTreeMap<Bytes, Option<ClientId>>,
    clients: BTreeSet<ClientId>,
}

/// What an invalidation carries.
#[derive(Clone, Copy)]
enum Msg<'a> {
    /// One key: an array of one bulk.
    Key(&'a [u8]),
    /// Every key (a flush): a null in the protocol of the tracking client.
    Null,
    /// An array of keys, already encoded (BCAST).
    Encoded(&'a [u8]),
}

/// Where invalidations go: the registry of clients, under their output buffer limits.
pub struct Sink<'a> {
    pub clients: &'a mut Clients,
    pub limits: &'a [BufferLimit; 3],
    pub now: Instant,
}

impl Sink<'_> {
    fn send(&mut self, id: ClientId, bytes: &[u8]) {
        self.clients
            .deliver(id, &|o: &mut ReplyBuf| o.raw(bytes), self.limits, self.now);
    }
}

/// The key table: keys → the clients that may cache them, with O(1) random pick for
/// `tracking-table-max-keys` (the map is never iterated).
struct KeyTable {
    slots: Vec<(Bytes, BTreeSet<ClientId>)>,
    index: HashMap<Bytes, usize, foldhash::fast::FixedState>,
}

impl KeyTable {
    fn new(seed: u64) -> Self {
        KeyTable {
            slots: Vec::new(),
            index: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(seed)),
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn ids_mut(&mut self, key: &[u8]) -> &mut BTreeSet<ClientId> {
        let pos = match self.index.get(key) {
            Some(&p) => p,
            None => {
                let k = Bytes::copy_from_slice(key);
                self.index.insert(k.clone(), self.slots.len());
                self.slots.push((k, BTreeSet::new()));
                self.slots.len() - 1
            }
        };
        &mut self.slots[pos].1
    }

    fn remove(&mut self, key: &[u8]) -> Option<BTreeSet<ClientId>> {
        let pos = self.index.remove(key)?;
        let (_, ids) = self.slots.swap_remove(pos);
        if let Some((moved, _)) = self.slots.get(pos) {
            self.index.insert(moved.clone(), pos);
        }
        Some(ids)
    }

    fn key_at(&self, pos: usize) -> Option<Bytes> {
        self.slots.get(pos).map(|(k, _)| k.clone())
    }

    fn clear(&mut self) {
        self.slots = Vec::new();
        self.index.clear();
        self.index.shrink_to_fit();
    }
}

pub struct Tracking {
    /// Clients that ever turned tracking on and are still connected.
    clients: BTreeMap<ClientId, ClientTracking>,
    /// Clients with tracking on (INFO `tracking_clients`).
    on: usize,
    /// The table exists once a client turned tracking on (Redis's `TrackingTable`).
    created: bool,
    table: KeyTable,
    /// Client ids across the table (INFO `tracking_total_items`).
    total_items: u64,
    prefixes: BTreeMap<Bytes, Bcast>,
    /// Invalidations for the running client, written after its command's reply: a key, or
    /// None for a flush.
    pending: Vec<Option<Bytes>>,
    /// Commands running (`exec::call` nests for EXEC and scripts): Redis's
    /// `server.fixed_time_expire`.
    pub call_depth: u32,
    /// The script running and its caller: the caller's keys its reads track.
    pub script: Option<ScriptCaller>,
    /// Rounds the table stayed over `tracking-table-max-keys`.
    limit_rounds: u32,
}

/// The client whose script runs, and the keys it declared (empty unless its reads are
/// tracked).
#[derive(Debug, Clone)]
pub struct ScriptCaller {
    pub id: ClientId,
    pub keys: Vec<Bytes>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            clients: BTreeMap::new(),
            on: 0,
            created: false,
            table: KeyTable::new(0),
            total_items: 0,
            prefixes: BTreeMap::new(),
            pending: Vec::new(),
            call_depth: 0,
            script: None,
            limit_rounds: 0,
        }
    }
}

impl Tracking {
    /// Create the key table, its hashing seeded with `seed`, when a client first turns
    /// tracking on (the server's random draws stay as they were for servers that never
    /// track).
    pub fn create(&mut self, seed: u64) {
        if !self.created {
            self.table = KeyTable::new(seed);
            self.created = true;
        }
    }

    /// Whether a change of a key may concern anyone (the table exists).
    #[inline]
    pub fn active(&self) -> bool {
        self.created
    }

    pub fn state(&self, id: ClientId) -> Option<&ClientTracking> {
        self.clients.get(&id)
    }

    /// The flags of a client (0 when it never tracked).
    pub fn flags(&self, id: ClientId) -> u32 {
        self.clients.get(&id).map_or(0, |c| c.flags)
    }

    /// INFO: `tracking_clients`, `tracking_total_keys`, `tracking_total_items`,
    /// `tracking_total_prefixes`.
    pub fn tracking_clients(&self) -> usize {
        self.on
    }
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }
    pub fn total_items(&self) -> u64 {
        self.total_items
    }
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// CLIENT TRACKING on (Redis's `enableTracking`), once the options were checked.
    /// Call [`create`](Self::create) first.
    pub fn enable(&mut self, id: ClientId, redirect: ClientId, options: u32, prefixes: &[Bytes]) {
        self.created = true;
        let c = self.clients.entry(id).or_default();
        if !c.has(tflags::ON) {
            self.on += 1;
        }
        c.flags |= tflags::ON;
        c.flags &= !(tflags::BROKEN_REDIR
            | tflags::BCAST
            | tflags::OPTIN
            | tflags::OPTOUT
            | tflags::NOLOOP);
        c.redirect = redirect;
        if options & tflags::BCAST != 0 {
            c.flags |= tflags::BCAST;
            let mut add = |p: &Bytes, c: &mut ClientTracking| {
                let bs = self.prefixes.entry(p.clone()).or_default();
                if bs.clients.insert(id) {
                    c.prefixes.insert(p.clone());
                }
            };
            if prefixes.is_empty() {
                add(&Bytes::new(), c);
            }
            for p in prefixes {
                add(p, c);
            }
            c.rax_nodes = rax_nodes(&c.prefixes);
            // (Sorted: an overlapping pair shows up between neighbours.)
            c.overlapping = c
                .prefixes
                .iter()
                .zip(c.prefixes.iter().skip(1))
                .any(|(a, b)| overlap(a, b));
        }
        c.flags |= options & (tflags::OPTIN | tflags::OPTOUT | tflags::NOLOOP);
    }

    /// CLIENT TRACKING off, RESET, or the client is gone (Redis's `disableTracking`).
    pub fn disable(&mut self, id: ClientId) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.has(tflags::BCAST) {
            for p in std::mem::take(&mut c.prefixes) {
                if let Some(bs) = self.prefixes.get_mut(&p) {
                    bs.clients.remove(&id);
                    if bs.clients.is_empty() {
                        self.prefixes.remove(&p);
                    }
                }
            }
            c.overlapping = false;
            c.rax_nodes = 0;
        }
        if c.has(tflags::ON) {
            self.on -= 1;
            c.flags = 0;
        }
    }

    /// The client disconnected.
    pub fn forget(&mut self, id: ClientId) {
        self.disable(id);
        self.clients.remove(&id);
    }

    /// CLIENT CACHING yes|no.
    pub fn set_caching(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.flags |= tflags::CACHING;
        }
    }

    /// After a command (outside MULTI, other than CLIENT): CACHING applied to it only.
    pub fn clear_caching(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.flags &= !tflags::CACHING;
        }
    }

    /// Whether the keys `id` reads now are remembered for it (Redis's checks around
    /// `trackingRememberKeys`: tracking on, not BCAST, and OPTIN/OPTOUT as CACHING says).
    pub fn wants_keys(&self, id: ClientId) -> bool {
        let Some(c) = self.clients.get(&id) else {
            return false;
        };
        if !c.has(tflags::ON) || c.has(tflags::BCAST) {
            return false;
        }
        let caching = c.has(tflags::CACHING);
        !(c.has(tflags::OPTIN) && !caching || c.has(tflags::OPTOUT) && caching)
    }

    /// Remember that `id` may cache `keys` (Redis's `trackingRememberKeys`).
    pub fn remember<'k>(&mut self, id: ClientId, keys: impl IntoIterator<Item = &'k Bytes>) {
        for k in keys {
            if self.table.ids_mut(k).insert(id) {
                self.total_items += 1;
            }
        }
    }

    /// Whether the running client has invalidations waiting for its reply to go out.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A key changed (Redis's `trackingInvalidateKey`): `modifier` is the client that
    /// changed it (None for expiry and eviction); `bcast` is false when the key is only
    /// dropped from the table (`tracking-table-max-keys`).
    pub fn invalidate_key(
        &mut self,
        key: &[u8],
        modifier: Option<ClientId>,
        bcast: bool,
        sink: &mut Sink,
    ) {
        if !self.created {
            return;
        }
        if bcast && !self.prefixes.is_empty() {
            self.remember_to_broadcast(key, modifier);
        }
        let Some(ids) = self.table.remove(key) else {
            return;
        };
        self.total_items -= ids.len() as u64;
        let running = sink.clients.running_id();
        for id in ids {
            let Some(c) = self.clients.get(&id) else {
                continue;
            };
            if !c.has(tflags::ON) || c.has(tflags::BCAST) {
                continue;
            }
            if c.has(tflags::NOLOOP) && running == Some(id) {
                continue;
            }
            if running == Some(id) && self.call_depth > 0 {
                self.pending.push(Some(Bytes::copy_from_slice(key)));
            } else {
                self.send(id, Msg::Key(key), sink);
            }
        }
    }

    fn remember_to_broadcast(&mut self, key: &[u8], modifier: Option<ClientId>) {
        // Many prefixes and a short key: look up the key's own prefixes (each lookup costs
        // up to the key's length); otherwise test every prefix, as Redis does.
        if key.len() > 256 || self.prefixes.len() <= key.len() + 1 {
            for (p, bs) in self.prefixes.iter_mut() {
                if key.starts_with(p) {
                    bs.keys.insert(Bytes::copy_from_slice(key), modifier);
                }
            }
        } else {
            for n in 0..=key.len() {
                if let Some(bs) = self.prefixes.get_mut(&key[..n]) {
                    bs.keys.insert(Bytes::copy_from_slice(key), modifier);
                }
            }
        }
    }

    /// One or all databases were flushed (Redis's `trackingInvalidateKeysOnFlush`): every
    /// tracking client is told that all its keys are invalid, and the table is emptied.
    pub fn invalidate_all(&mut self, sink: &mut Sink) {
        if self.on > 0 {
            let running = sink.clients.running_id();
            let ids: Vec<ClientId> = self
                .clients
                .iter()
                .filter(|(_, c)| c.has(tflags::ON))
                .map(|(&id, _)| id)
                .collect();
            for id in ids {
                if running == Some(id) {
                    self.pending.push(None);
                } else {
                    self.send(id, Msg::Null, sink);
                }
            }
        }
        if self.created {
            self.table.clear();
            self.total_items = 0;
        }
    }

    /// After the running client's command: the invalidations it caused to itself (Redis's
    /// `trackingHandlePendingKeyInvalidations`).
    pub fn flush_pending(&mut self, sink: &mut Sink) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let Some(id) = sink.clients.running_id() else {
            return;
        };
        for p in &pending {
            match p {
                Some(k) => self.send(id, Msg::Key(k), sink),
                None => self.send(id, Msg::Null, sink),
            }
        }
    }

    /// Keep the table within `max_keys` (Redis's `trackingLimitUsedSlots`): random keys are
    /// dropped, their clients told as if they changed. The effort grows while the table
    /// stays over the limit. `pick` draws a random index below its argument.
    pub fn limit(&mut self, max_keys: u64, sink: &mut Sink, mut pick: impl FnMut(usize) -> usize) {
        if !self.created || max_keys == 0 {
            return;
        }
        let max = usize::try_from(max_keys).unwrap_or(usize::MAX);
        if self.table.len() <= max {
            self.limit_rounds = 0;
            return;
        }
        let mut effort = 100 * (self.limit_rounds as u64 + 1);
        while effort > 0 {
            effort -= 1;
            let n = self.table.len();
            if n == 0 {
                break;
            }
            let Some(key) = self.table.key_at(pick(n)) else {
                break;
            };
            self.invalidate_key(&key, None, false, sink);
            if self.table.len() <= max {
                self.limit_rounds = 0;
                return;
            }
        }
        self.limit_rounds += 1;
    }

    /// Send the BCAST invalidations gathered since the last call (Redis's
    /// `trackingBroadcastInvalidationMessages`, run before the event loop sleeps).
    pub fn broadcast(&mut self, sink: &mut Sink) {
        if !self.created || self.on == 0 {
            return;
        }
        let mut sends: Vec<(ClientId, Bytes)> = Vec::new();
        for bs in self.prefixes.values_mut() {
            if bs.keys.is_empty() {
                continue;
            }
            let common = encode_keys(&bs.keys, None).map(BytesMut::freeze);
            for &id in &bs.clients {
                let noloop = self.clients.get(&id).is_some_and(|c| c.has(tflags::NOLOOP));
                if noloop {
                    if let Some(adhoc) = encode_keys(&bs.keys, Some(id)) {
                        sends.push((id, adhoc.freeze()));
                    }
                } else if let Some(p) = &common {
                    sends.push((id, p.clone()));
                }
            }
            bs.keys.clear();
        }
        for (id, msg) in sends {
            self.send(id, Msg::Encoded(&msg), sink);
        }
    }

    /// Whether BCAST invalidations wait for `broadcast`.
    pub fn broadcast_due(&self) -> bool {
        self.on > 0 && self.prefixes.values().any(|b| !b.keys.is_empty())
    }

    /// Send one invalidation for client `id` (Redis's `sendTrackingMessage`): to itself in
    /// RESP3, or to the client it redirects to (a push in RESP3, a message on
    /// `__redis__:invalidate` to a RESP2 client with subscriptions); a RESP2 client without
    /// redirection gets nothing. A redirection to a client that is gone is reported to a
    /// RESP3 client as `tracking-redir-broken`.
    fn send(&mut self, id: ClientId, msg: Msg, sink: &mut Sink) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let Some((own_proto, _)) = sink.clients.proto_and_pubsub(id) else {
            return;
        };
        let mut dest = id;
        let redirected = c.redirect != 0;
        if redirected {
            if !sink.clients.exists(c.redirect) {
                c.flags |= tflags::BROKEN_REDIR;
                if own_proto == Proto::Resp3 {
                    let mut b = BytesMut::new();
                    b.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n");
                    header(&mut b, b':', c.redirect as i64);
                    sink.send(id, &b);
                }
                return;
            }
            dest = c.redirect;
        }
        let Some((proto, pubsub)) = sink.clients.proto_and_pubsub(dest) else {
            return;
        };
        let mut b = BytesMut::new();
        if proto == Proto::Resp3 {
            b.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
        } else if redirected && pubsub {
            b.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
        } else {
            return;
        }
        match msg {
            Msg::Key(k) => {
                b.extend_from_slice(b"*1\r\n");
                bulk(&mut b, k);
            }
            // The null of the tracking client's protocol, whoever receives it (Redis).
            Msg::Null => b.extend_from_slice(match own_proto {
                Proto::Resp2 => b"$-1\r\n",
                Proto::Resp3 => b"_\r\n",
            }),
            Msg::Encoded(e) => b.extend_from_slice(e),
        }
        sink.send(dest, &b);
    }
}

fn header(b: &mut BytesMut, tag: u8, n: i64) {
    b.extend_from_slice(&[tag]);
    b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    b.extend_from_slice(b"\r\n");
}

fn bulk(b: &mut BytesMut, s: &[u8]) {
    header(b, b'$', s.len() as i64);
    b.extend_from_slice(s);
    b.extend_from_slice(b"\r\n");
}

/// The array of the changed keys, without those `except` changed last (NOLOOP); None if
/// that leaves none (Redis's `trackingBuildBroadcastReply`).
fn encode_keys(
    keys: &BTreeMap<Bytes, Option<ClientId>>,
    except: Option<ClientId>,
) -> Option<BytesMut> {
    let count = match except {
        None => keys.len(),
        Some(c) => keys.values().filter(|m| **m != Some(c)).count(),
    };
    if except.is_some() && count == 0 {
        return None;
    }
    let mut b = BytesMut::with_capacity(count * 15 + 8);
    header(&mut b, b'*', count as i64);
    for (k, m) in keys {
        if except.is_some() && *m == except {
            continue;
        }
        bulk(&mut b, k);
    }
    Some(b)
}

/// The nodes of a Redis radix tree (`rax`) holding `keys`: the head, and every position of
/// the trie of the keys that ends a key, branches, or is a child of a branching position
/// (runs of single-child positions are one compressed node). One walk in sorted order with
/// a stack along the current key.
pub fn rax_nodes(keys: &BTreeSet<Bytes>) -> usize {
    #[derive(Default)]
    struct Pos {
        children: usize,
        key: bool,
        /// Children that are nodes only if this position branches.
        pending: usize,
    }
    let mut count = 0;
    // Pop the deepest position: its children are final now.
    let pop = |stack: &mut Vec<Pos>, count: &mut usize| {
        let Some(p) = stack.pop() else { return };
        if p.children >= 2 {
            *count += p.pending;
        }
        if p.key || p.children >= 2 {
            *count += 1;
        } else if let Some(parent) = stack.last_mut() {
            parent.pending += 1;
        }
    };
    // stack[d]: the position of length d along the current key.
    let mut stack: Vec<Pos> = vec![Pos::default()];
    let mut prev: Option<&Bytes> = None;
    for k in keys {
        let l = prev.map_or(0, |p| {
            p.iter().zip(k.iter()).take_while(|(a, b)| a == b).count()
        });
        while stack.len() > l + 1 {
            pop(&mut stack, &mut count);
        }
        if k.len() > l {
            stack[l].children += 1;
            // Each new position but the last has the next one as its child.
            for d in l + 1..=k.len() {
                stack.push(Pos {
                    children: usize::from(d < k.len()),
                    ..Pos::default()
                });
            }
        }
        if let Some(last) = stack.last_mut() {
            last.key = true;
        }
        prev = Some(k);
    }
    while stack.len() > 1 {
        pop(&mut stack, &mut count);
    }
    // The head is always there.
    let root = &stack[0];
    count + 1 + if root.children >= 2 { root.pending } else { 0 }
}

/// Whether two prefixes would both match some key (one starts with the other).
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Why new BCAST prefixes are refused (Redis's `checkPrefixCollisionsOrReply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixClash {
    /// New prefix `.0` overlaps the client's prefix `.1`.
    Existing(Bytes, Bytes),
    /// New prefix number `i` overlaps a later one. Redis 7.0 replies with the error and,
    /// unless `i` is 0, goes on to enable tracking and reply +OK as well.
    Provided {
        i: usize,
        first: Bytes,
        other: Bytes,
    },
}

impl PrefixClash {
    pub fn message(&self) -> String {
        let (what, a, b) = match self {
            PrefixClash::Existing(a, b) => ("an existing", a, b),
            PrefixClash::Provided { first, other, .. } => ("another provided", first, other),
        };
        format!(
            "ERR Prefix '{}' overlaps with {what} prefix '{}'. Prefixes for a single client must not overlap.",
            c_str(a),
            c_str(b)
        )
    }
}

/// Redis prints prefixes with `%s`: up to the first NUL byte.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Check new prefixes against the client's and each other, in Redis's order: for each new
/// prefix, the first existing one it overlaps (in sorted order), then the first later new
/// one. Quasi-linear in the input, where Redis's loops are quadratic.
pub fn check_prefixes(existing: &BTreeSet<Bytes>, new: &[Bytes]) -> Result<(), PrefixClash> {
    check_prefixes_with(existing, false, new)
}

/// [`check_prefixes`] for a client: its prefixes may overlap each other (see
/// [`PrefixClash::Provided`]).
pub fn check_client_prefixes(c: Option<&ClientTracking>, new: &[Bytes]) -> Result<(), PrefixClash> {
    match c {
        Some(c) => check_prefixes_with(&c.prefixes, c.overlapping, new),
        None => check_prefixes_with(&BTreeSet::new(), false, new),
    }
}

fn check_prefixes_with(
    existing: &BTreeSet<Bytes>,
    existing_overlap: bool,
    new: &[Bytes],
) -> Result<(), PrefixClash> {
    if new.is_empty() {
        return Ok(());
    }
    let later = later_overlaps(new);
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = first_existing_overlap(existing, existing_overlap, p) {
            return Err(PrefixClash::Existing(p.clone(), e));
        }
        if later[i] {
            // The first later one, found by a plain scan once.
            if let Some(j) = (i + 1..new.len()).find(|&j| overlap(p, &new[j])) {
                return Err(PrefixClash::Provided {
                    i,
                    first: p.clone(),
                    other: new[j].clone(),
                });
            }
        }
    }
    Ok(())
}

/// The first prefix of `set` (in sorted order) that overlaps `p`. Without overlaps inside
/// the set, the only candidates are `p`'s predecessor (a prefix of `p`) and the first entry
/// from `p` on (one that starts with `p`).
fn first_existing_overlap(set: &BTreeSet<Bytes>, set_overlaps: bool, p: &[u8]) -> Option<Bytes> {
    if set.is_empty() {
        return None;
    }
    if set_overlaps {
        return set.iter().find(|e| overlap(e, p)).cloned();
    }
    use std::ops::Bound;
    let pred = set
        .range::<[u8], _>((Bound::Unbounded, Bound::Included(p)))
        .next_back();
    if let Some(e) = pred.filter(|e| p.starts_with(e)) {
        return Some(e.clone());
    }
    set.range::<[u8], _>((Bound::Included(p), Bound::Unbounded))
        .next()
        .filter(|e| e.starts_with(p))
        .cloned()
}

/// For each new prefix, whether a later one overlaps it: the latest overlapping index,
/// from its ancestors (the prefixes of it, a stack while walking the sorted list) and its
/// descendants (a contiguous run of the sorted list, by a segment tree of maxima).
fn later_overlaps(new: &[Bytes]) -> Vec<bool> {
    let n = new.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| new[a].cmp(&new[b]).then(a.cmp(&b)));
    // A segment tree of maxima over the original indices in sorted order.
    let mut seg = vec![0usize; 2 * n];
    for (pos, &i) in order.iter().enumerate() {
        seg[n + pos] = i;
    }
    for k in (1..n).rev() {
        seg[k] = seg[2 * k].max(seg[2 * k + 1]);
    }
    let range_max = |lo: usize, hi: usize| -> usize {
        let (mut l, mut r, mut m) = (lo + n, hi + n, 0);
        while l < r {
            if l & 1 == 1 {
                m = m.max(seg[l]);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                m = m.max(seg[r]);
            }
            l >>= 1;
            r >>= 1;
        }
        m
    };
    let mut latest = vec![0usize; n];
    // Ancestors: a stack of (sorted position, max index along the stack).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        let p = &new[i];
        while let Some(&(top, _)) = stack.last() {
            if p.starts_with(&new[order[top]]) {
                break;
            }
            stack.pop();
        }
        let anc = stack.last().map_or(0, |&(_, m)| m);
        // Descendants: from this position, the run of entries that start with `p`.
        let end = pos + order[pos..].partition_point(|&j| new[j].starts_with(p));
        latest[i] = anc.max(range_max(pos, end));
        let m = anc.max(i);
        stack.push((pos, m));
    }
    (0..n).map(|i| latest[i] > i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bs(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    /// Redis's loops, verbatim, as the reference.
    fn redis_check(existing: &BTreeSet<Bytes>, new: &[Bytes]) -> Result<(), PrefixClash> {
        for i in 0..new.len() {
            for e in existing {
                if overlap(e, &new[i]) {
                    return Err(PrefixClash::Existing(new[i].clone(), e.clone()));
                }
            }
            for j in i + 1..new.len() {
                if overlap(&new[i], &new[j]) {
                    return Err(PrefixClash::Provided {
                        i,
                        first: new[i].clone(),
                        other: new[j].clone(),
                    });
                }
            }
        }
        Ok(())
    }

    #[test]
    fn prefix_checks_agree_with_redis_loops() {
        let alphabet = [
            "", "a", "b", "ab", "abc", "ba", "b\0c", "bb", "c", "aa", "abd",
        ];
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..5000 {
            let ne = next(3);
            let mut existing = BTreeSet::new();
            // Existing sets without overlaps, as CLIENT TRACKING keeps them.
            for _ in 0..ne {
                let cand = Bytes::copy_from_slice(alphabet[next(alphabet.len())].as_bytes());
                if existing.iter().all(|e: &Bytes| !overlap(e, &cand)) {
                    existing.insert(cand);
                }
            }
            let nn = next(6);
            let new: Vec<Bytes> = (0..nn)
                .map(|_| Bytes::copy_from_slice(alphabet[next(alphabet.len())].as_bytes()))
                .collect();
            assert_eq!(
                check_prefixes(&existing, &new),
                redis_check(&existing, &new),
                "existing {existing:?} new {new:?}"
            );
            assert_eq!(
                check_prefixes_with(&existing, true, &new),
                redis_check(&existing, &new)
            );
        }
    }

    #[test]
    fn many_prefixes_are_checked_quickly() {
        let new: Vec<Bytes> = (0..200_000u32)
            .map(|i| Bytes::from(format!("p{i:08}:")))
            .chain([Bytes::from_static(b"p00000007:x")])
            .collect();
        let err = check_prefixes(&BTreeSet::new(), &new).unwrap_err();
        assert_eq!(
            err,
            PrefixClash::Provided {
                i: 7,
                first: Bytes::from_static(b"p00000007:"),
                other: Bytes::from_static(b"p00000007:x"),
            }
        );
        assert!(check_prefixes(&BTreeSet::new(), &new[..200_000]).is_ok());
    }

    #[test]
    fn rax_node_counts_follow_redis_s_tree() {
        let n = |v: &[&str]| rax_nodes(&bs(v).into_iter().collect());
        assert_eq!(n(&[]), 1);
        assert_eq!(n(&[""]), 1);
        assert_eq!(n(&["abc"]), 2);
        assert_eq!(n(&["a", "c"]), 3);
        assert_eq!(n(&["ab", "ac"]), 4);
        assert_eq!(n(&["a", "abc"]), 3);
        assert_eq!(n(&["abc", "abd"]), 4);
        assert_eq!(n(&["abcd", "abx"]), 5);
        assert_eq!(n(&["ab", "b"]), 4);
        assert_eq!(n(&["abc", "x"]), 4);
        assert_eq!(n(&["", "a"]), 2);
    }

    #[test]
    fn messages_are_redis_texts() {
        let e = PrefixClash::Existing(Bytes::from_static(b"ab"), Bytes::from_static(b"a"));
        assert_eq!(
            e.message(),
            "ERR Prefix 'ab' overlaps with an existing prefix 'a'. Prefixes for a single client must not overlap."
        );
        let e = check_prefixes(&BTreeSet::new(), &bs(&["x", "y", "yz"])).unwrap_err();
        assert_eq!(
            e.message(),
            "ERR Prefix 'y' overlaps with another provided prefix 'yz'. Prefixes for a single client must not overlap."
        );
    }

    #[test]
    fn broadcast_arrays_leave_out_the_noloop_clients_own_changes() {
        let mut keys = BTreeMap::new();
        keys.insert(Bytes::from_static(b"a"), Some(1));
        keys.insert(Bytes::from_static(b"b"), None);
        assert_eq!(
            &encode_keys(&keys, None).unwrap()[..],
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            &encode_keys(&keys, Some(1)).unwrap()[..],
            b"*1\r\n$1\r\nb\r\n"
        );
        keys.remove(&b"b"[..]);
        assert!(encode_keys(&keys, Some(1)).is_none());
    }
}
