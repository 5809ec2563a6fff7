//! The replica's link with its master as a sans-IO state machine (Redis 7.0's
//! `server.repl_state` and `syncWithMaster`, plus the `repl-timeout` and ACK duties of
//! `replicationCron`), in the style of `quinn-proto`: the shell (`replica.rs`) connects,
//! moves bytes and tells the machine what happened ([`Link::handle`]); the machine says what
//! to write ([`Link::poll_transmit`]), when to wake it up ([`Link::poll_timeout`]) and what
//! the link decided ([`Link::poll_output`]: a full or partial resynchronization, the link is
//! up, the link is down and why).
//!
//! The handshake: `PING` → `AUTH [user] pass` (with masterauth) → `REPLCONF listening-port
//! <port>` → `REPLCONF ip-address <ip>` (with replica-announce-ip) → `REPLCONF capa eof capa
//! psync2` → `PSYNC <replid> <offset+1>` (or `PSYNC ? -1` without a history, `... FAILOVER`
//! when handing over), falling back to `SYNC` when the master does not know PSYNC. AUTH and
//! the REPLCONFs are pipelined and their replies read in order; REPLCONF errors are ignored.
//!
//! Picket's failover epoch (docs/failover-safety.md, rule 2): a replica whose epoch `E` is
//! above 0, or that runs `failover-safety strict`, pipelines `REPLCONF failover-epoch <E>`
//! after the capabilities (a classic replica at epoch 0 sends exactly Redis's bytes). The
//! master answers its own epoch `:M`; a master that does not know the option (Redis) counts
//! as `M = 0`. `M < E` fails the attempt: this replica refuses the stream of a master that a
//! newer failover superseded. Otherwise the link reports [`Output::MasterEpoch`] (the shell
//! adopts `M` when it is newer than its own) and PSYNC follows.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;

use picket_common::resp::append_command;

use super::handshake::{cmd, parse_psync_reply, HandshakeParams, PsyncAnswer, PsyncReply};

/// Redis's `repl_state` (the states the shell can see; Redis's transient "send" states
/// pass within one event here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplState {
    /// Must connect.
    Connect,
    /// Connecting (non-blocking connect in Redis).
    Connecting,
    ReceivePingReply,
    ReceiveAuthReply,
    ReceivePortReply,
    ReceiveIpReply,
    ReceiveCapaReply,
    /// The reply to `REPLCONF failover-epoch` (picket).
    ReceiveEpochReply,
    ReceivePsyncReply,
    /// Receiving the RDB of a full synchronization.
    Transfer,
    Connected,
}

impl ReplState {
    /// ROLE's `handshake` (the shell shows `connect`, `connecting`, `sync` and `connected`
    /// for the other states).
    pub fn in_handshake(self) -> bool {
        !matches!(
            self,
            ReplState::Connect | ReplState::Connecting | ReplState::Transfer | ReplState::Connected
        )
    }
}

/// What happened on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The connection to the master is established.
    Connected,
    /// A reply line from the master (without CRLF) during the handshake.
    Line(&'a [u8]),
    /// Bytes arrived from the master (the RDB or the stream): it is alive.
    Data,
    /// The synchronization is done (the RDB loaded, or the partial one accepted): the
    /// stream follows, from this offset.
    Synced { offset: u64 },
    /// The stream was applied up to this offset; `getack` when the master asked for an ACK
    /// (`REPLCONF GETACK`) in it.
    Applied { offset: u64, getack: bool },
    /// The deadline of [`Link::poll_timeout`] passed.
    Timeout,
    /// The connection failed or was closed (a message for the log).
    Error(&'a str),
}

/// Why the link is down, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    pub reason: String,
    /// The link was up and broke: reconnect at once (Redis reconnects at once "to not risk
    /// the backlog being recycled"); otherwise after a pause.
    pub reconnect_now: bool,
}

/// What the link decided, for the shell to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The master answered PSYNC (or SYNC): receive the RDB (`Full`, `LegacySync`) or
    /// continue (`Continue`), then report [`Event::Synced`].
    Psync(PsyncReply),
    /// The link is up: the stream is being applied.
    Up,
    Down(Down),
    /// The master's failover epoch, learned in the handshake and not older than this
    /// replica's: the shell remembers it for the link (REPLFENCE compares it) and adopts
    /// it when it is newer than its own.
    MasterEpoch(u64),
}

/// The link's state machine.
#[derive(Debug)]
pub struct Link {
    params: HandshakeParams,
    /// `repl-timeout`.
    timeout: Duration,
    state: ReplState,
    /// Replies still expected to pipelined handshake commands, in order.
    expect: VecDeque<ReplState>,
    transmit: BytesMut,
    outputs: VecDeque<Output>,
    /// Last bytes from the master (or the start of the current step).
    last_io: Instant,
    /// Connected: when the next periodic ACK is due.
    next_ack: Option<Instant>,
    /// Connected: the offset applied so far.
    offset: u64,
    /// The master's failover epoch, once its reply to `REPLCONF failover-epoch` is read.
    master_epoch: Option<u64>,
}

impl Link {
    pub fn new(params: HandshakeParams, timeout: Duration, now: Instant) -> Link {
        Link {
            params,
            timeout,
            state: ReplState::Connect,
            expect: VecDeque::new(),
            transmit: BytesMut::new(),
            outputs: VecDeque::new(),
            last_io: now,
            next_ack: None,
            offset: 0,
            master_epoch: None,
        }
    }

    pub fn state(&self) -> ReplState {
        self.state
    }

    /// The master's failover epoch, when this handshake asked for it and accepted it.
    pub fn master_epoch(&self) -> Option<u64> {
        self.master_epoch
    }

    /// Start connecting (the shell connects, then reports [`Event::Connected`]).
    pub fn connect(&mut self, now: Instant) {
        self.state = ReplState::Connecting;
        self.last_io = now;
    }

    /// Bytes to write to the master (all commands queued so far, pipelined).
    pub fn poll_transmit(&mut self) -> Option<BytesMut> {
        (!self.transmit.is_empty()).then(|| self.transmit.split())
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to report [`Event::Timeout`]: the connect and handshake steps time out after
    /// `repl-timeout` without a reply; a connected link wakes every second to ACK and check
    /// that the master is alive. The RDB transfer keeps its own deadlines (`fullsync.rs`).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ReplState::Connecting => Some(self.last_io + self.timeout),
            s if s.in_handshake() => Some(self.last_io + self.timeout),
            ReplState::Connected => self.next_ack,
            _ => None,
        }
    }

    pub fn handle(&mut self, event: Event<'_>, now: Instant) {
        if self.state == ReplState::Connect {
            return;
        }
        match event {
            Event::Connected if self.state == ReplState::Connecting => {
                self.last_io = now;
                self.state = ReplState::ReceivePingReply;
                append_command(&mut self.transmit, &cmd(&["PING"]));
            }
            Event::Line(line) if self.state.in_handshake() => {
                self.last_io = now;
                self.on_line(line);
            }
            Event::Data => self.last_io = now,
            Event::Synced { offset }
                if matches!(self.state, ReplState::Transfer | ReplState::Connected) =>
            {
                self.state = ReplState::Connected;
                self.last_io = now;
                self.next_ack = Some(now + Duration::from_secs(1));
                self.offset = offset;
                // The first ACK at once: a diskless master starts the stream on it.
                self.ack();
                self.outputs.push_back(Output::Up);
            }
            Event::Applied { offset, getack } if self.state == ReplState::Connected => {
                self.offset = offset;
                if getack {
                    self.ack();
                }
            }
            Event::Timeout => self.on_timeout(now),
            Event::Error(e) => {
                let reason = match self.state {
                    ReplState::Connecting | ReplState::Transfer | ReplState::Connected => {
                        e.to_string()
                    }
                    _ => format!("Error reading from MASTER: {e}"),
                };
                self.down(reason);
            }
            // Out of place (a line after the handshake, a second Connected): a bug in the
            // shell or a confused master; drop the link.
            other => self.fail(format!("Unexpected event on the link: {other:?}")),
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        let expired = now >= self.last_io + self.timeout;
        match self.state {
            ReplState::Connecting if expired => {
                self.fail("Timeout connecting to the MASTER...".into());
            }
            s if s.in_handshake() && expired => {
                self.fail("Error reading from MASTER: Timeout connecting to the MASTER...".into());
            }
            ReplState::Connected => {
                let Some(due) = self.next_ack else { return };
                if now < due {
                    return;
                }
                if now.saturating_duration_since(self.last_io) > self.timeout {
                    self.down("MASTER timeout: no data nor PING received...".into());
                    return;
                }
                self.ack();
                // Every second, skipping the ticks that were missed.
                let mut next = due + Duration::from_secs(1);
                while next <= now {
                    next += Duration::from_secs(1);
                }
                self.next_ack = Some(next);
            }
            _ => {}
        }
    }

    fn ack(&mut self) {
        let off = self.offset.to_string();
        append_command(&mut self.transmit, &cmd(&["REPLCONF", "ACK", &off]));
    }

    /// The link ends; a link that was up reconnects at once.
    fn down(&mut self, reason: String) {
        let reconnect_now = self.state == ReplState::Connected;
        self.state = ReplState::Connect;
        self.expect.clear();
        self.next_ack = None;
        self.outputs.push_back(Output::Down(Down {
            reason,
            reconnect_now,
        }));
    }

    /// The attempt fails before the link is up: retry after a pause.
    fn fail(&mut self, reason: String) {
        self.state = ReplState::Connect;
        self.expect.clear();
        self.next_ack = None;
        self.outputs.push_back(Output::Down(Down {
            reason,
            reconnect_now: false,
        }));
    }

    fn expect_next(&mut self) {
        self.state = self
            .expect
            .pop_front()
            .unwrap_or(ReplState::ReceivePsyncReply);
    }

    fn on_line(&mut self, line: &[u8]) {
        // The master may send newlines to keep the link alive while it prepares.
        if line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(line).into_owned();
        match self.state {
            ReplState::ReceivePingReply => {
                // -NOAUTH / -NOPERM / -ERR operation not permitted are fine: AUTH follows.
                if text.starts_with('-')
                    && !text.starts_with("-NOAUTH")
                    && !text.starts_with("-NOPERM")
                    && !text.starts_with("-ERR operation not permitted")
                {
                    return self.fail(format!("Error reply to PING from master: '{text}'"));
                }
                let p = &self.params;
                let mut out = BytesMut::new();
                if !p.masterauth.is_empty() {
                    if p.masteruser.is_empty() {
                        append_command(&mut out, &cmd(&["AUTH", &p.masterauth]));
                    } else {
                        append_command(&mut out, &cmd(&["AUTH", &p.masteruser, &p.masterauth]));
                    }
                    self.expect.push_back(ReplState::ReceiveAuthReply);
                }
                let port = p.listening_port.to_string();
                append_command(&mut out, &cmd(&["REPLCONF", "listening-port", &port]));
                self.expect.push_back(ReplState::ReceivePortReply);
                if !p.announce_ip.is_empty() {
                    append_command(&mut out, &cmd(&["REPLCONF", "ip-address", &p.announce_ip]));
                    self.expect.push_back(ReplState::ReceiveIpReply);
                }
                append_command(
                    &mut out,
                    &cmd(&["REPLCONF", "capa", "eof", "capa", "psync2"]),
                );
                self.expect.push_back(ReplState::ReceiveCapaReply);
                if p.failover_epoch > 0 || p.strict {
                    let e = p.failover_epoch.to_string();
                    append_command(&mut out, &cmd(&["REPLCONF", "failover-epoch", &e]));
                    self.expect.push_back(ReplState::ReceiveEpochReply);
                }
                self.transmit.unsplit(out);
                self.expect_next();
            }
            ReplState::ReceiveAuthReply => {
                if text.starts_with('-') {
                    return self.fail(format!("Unable to AUTH to MASTER: {text}"));
                }
                self.expect_next();
            }
            // Errors are ignored: old masters do not know these options.
            ReplState::ReceivePortReply | ReplState::ReceiveIpReply => self.expect_next(),
            // The epoch's reply comes next when it was asked.
            ReplState::ReceiveCapaReply if !self.expect.is_empty() => self.expect_next(),
            ReplState::ReceiveCapaReply => self.send_psync(),
            ReplState::ReceiveEpochReply => {
                // An error (a master that does not know the option) counts as epoch 0.
                let master = text
                    .strip_prefix(':')
                    .and_then(|m| m.parse::<u64>().ok())
                    .unwrap_or(0);
                let own = self.params.failover_epoch;
                if master < own {
                    return self.fail(format!(
                        "Master's failover epoch {master} is older than this replica's {own}: refusing its stream"
                    ));
                }
                self.master_epoch = Some(master);
                self.outputs.push_back(Output::MasterEpoch(master));
                self.send_psync();
            }
            ReplState::ReceivePsyncReply => self.on_psync_reply(&text),
            _ => {}
        }
    }

    fn send_psync(&mut self) {
        let (id, off) = match &self.params.psync_from {
            Some((id, off)) => (id.clone(), off.to_string()),
            None => ("?".to_string(), "-1".to_string()),
        };
        let mut parts = vec!["PSYNC", &id, &off];
        if self.params.failover {
            parts.push("FAILOVER");
        }
        append_command(&mut self.transmit, &cmd(&parts));
        self.state = ReplState::ReceivePsyncReply;
    }

    fn on_psync_reply(&mut self, text: &str) {
        let answer = parse_psync_reply(text);
        // A FAILOVER hand-over takes only a resynchronization as a yes (no SYNC fallback).
        let resync = matches!(
            answer,
            PsyncAnswer::Sync(PsyncReply::Full { .. } | PsyncReply::Continue { .. })
        );
        if self.params.failover && !resync {
            return self.fail(format!("Failover target rejected psync request: {text}"));
        }
        if let (PsyncAnswer::Sync(PsyncReply::Full { replid, offset }), Some((ours, next)), true) =
            (&answer, &self.params.psync_from, self.params.keep_history)
        {
            let held = next.saturating_sub(1);
            if replid != ours || *offset < held {
                return self.fail(format!(
                    "The master offers a full resynchronization from replication id {replid} \
                     offset {offset}, which would drop this replica's history ({ours} up to \
                     offset {held}) from the same master: refused (failover-safety strict: \
                     acknowledged writes may be only here); a failover or REPLICAOF decides"
                ));
            }
        }
        match answer {
            PsyncAnswer::Sync(reply) => {
                match reply {
                    PsyncReply::Continue { .. } => self.state = ReplState::Connected,
                    PsyncReply::Full { .. } => self.state = ReplState::Transfer,
                    PsyncReply::LegacySync => {
                        // The legacy SYNC, whose payload follows at once.
                        append_command(&mut self.transmit, &cmd(&["SYNC"]));
                        self.state = ReplState::Transfer;
                    }
                }
                self.outputs.push_back(Output::Psync(reply));
            }
            PsyncAnswer::Fail(why) | PsyncAnswer::Retry(why) => self.fail(why),
        }
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
