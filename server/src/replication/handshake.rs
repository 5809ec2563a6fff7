//! The replica's side of the handshake as a pure state machine, fed with the master's reply
//! lines (Redis 7.0's `syncWithMaster`): `PING` → `AUTH [user] pass` (with masterauth) →
//! `REPLCONF listening-port <port>` → `REPLCONF ip-address <ip>` (with replica-announce-ip)
//! → `REPLCONF capa eof capa psync2` → `PSYNC <replid> <offset+1>` (or `PSYNC ? -1` without
//! a history), falling back to `SYNC` when the master does not know PSYNC.

use bytes::Bytes;

/// What the handshake needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeParams {
    pub masteruser: String,
    pub masterauth: String,
    pub listening_port: u16,
    pub announce_ip: String,
    /// (replid, next offset) to continue from, or None for `PSYNC ? -1`.
    pub psync_from: Option<(String, u64)>,
    /// This server is handing over to the master it connects to (FAILOVER): PSYNC carries
    /// `FAILOVER`.
    pub failover: bool,
}

/// The outcome of PSYNC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncReply {
    /// Full synchronization: the master's replid and the offset of the snapshot.
    Full { replid: String, offset: u64 },
    /// Partial: continue; a new replid when the master's history changed.
    Continue { new_replid: Option<String> },
    /// A legacy SYNC was sent: the payload follows without a reply line.
    LegacySync,
}

/// What the link task does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HsAction {
    /// Write these commands, then feed the reply lines as they come.
    Send(Vec<Vec<Bytes>>),
    /// Read the next reply line.
    Read,
    /// The handshake is over.
    Done(PsyncReply),
    /// Give up this attempt (the link retries later), with the reason for the log.
    Fail(String),
    /// The master is busy (loading, or without its own master): try again later.
    Retry(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Pong,
    Auth,
    Port,
    Ip,
    Capa,
    Psync,
}

/// The handshake state machine: pure, fed with the master's reply lines.
#[derive(Debug)]
pub struct Handshake {
    params: HandshakeParams,
    expect: std::collections::VecDeque<Expect>,
}

pub(super) fn cmd(parts: &[&str]) -> Vec<Bytes> {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}

impl Handshake {
    /// Start: the first thing to send is PING.
    pub fn start(params: HandshakeParams) -> (Handshake, HsAction) {
        let mut hs = Handshake {
            params,
            expect: Default::default(),
        };
        hs.expect.push_back(Expect::Pong);
        (hs, HsAction::Send(vec![cmd(&["PING"])]))
    }

    /// Feed one reply line (without CRLF).
    pub fn on_line(&mut self, line: &[u8]) -> HsAction {
        let text = String::from_utf8_lossy(line).into_owned();
        let Some(&expect) = self.expect.front() else {
            return HsAction::Fail("unexpected reply".into());
        };
        // The master may send newlines to keep the link alive while it prepares.
        if line.is_empty() {
            return HsAction::Read;
        }
        self.expect.pop_front();
        match expect {
            Expect::Pong => {
                // -NOAUTH / -NOPERM / -ERR operation not permitted are fine: AUTH follows.
                if text.starts_with('-')
                    && !text.starts_with("-NOAUTH")
                    && !text.starts_with("-NOPERM")
                    && !text.starts_with("-ERR operation not permitted")
                {
                    return HsAction::Fail(format!("Error reply to PING from master: '{text}'"));
                }
                let p = &self.params;
                let mut out = Vec::new();
                if !p.masterauth.is_empty() {
                    if p.masteruser.is_empty() {
                        out.push(cmd(&["AUTH", &p.masterauth]));
                    } else {
                        out.push(cmd(&["AUTH", &p.masteruser, &p.masterauth]));
                    }
                    self.expect.push_back(Expect::Auth);
                }
                out.push(cmd(&[
                    "REPLCONF",
                    "listening-port",
                    &p.listening_port.to_string(),
                ]));
                self.expect.push_back(Expect::Port);
                if !p.announce_ip.is_empty() {
                    out.push(cmd(&["REPLCONF", "ip-address", &p.announce_ip]));
                    self.expect.push_back(Expect::Ip);
                }
                out.push(cmd(&["REPLCONF", "capa", "eof", "capa", "psync2"]));
                self.expect.push_back(Expect::Capa);
                HsAction::Send(out)
            }
            Expect::Auth => {
                if text.starts_with('-') {
                    return HsAction::Fail(format!("Unable to AUTH to MASTER: {text}"));
                }
                HsAction::Read
            }
            // Errors are ignored: old masters do not know these options.
            Expect::Port | Expect::Ip => HsAction::Read,
            Expect::Capa => {
                let (id, off) = match &self.params.psync_from {
                    Some((id, off)) => (id.clone(), off.to_string()),
                    None => ("?".to_string(), "-1".to_string()),
                };
                self.expect.push_back(Expect::Psync);
                if self.params.failover {
                    HsAction::Send(vec![cmd(&["PSYNC", &id, &off, "FAILOVER"])])
                } else {
                    HsAction::Send(vec![cmd(&["PSYNC", &id, &off])])
                }
            }
            // A FAILOVER hand-over takes only a resynchronization as a yes (no SYNC fallback).
            Expect::Psync => match parse_psync_reply(&text) {
                HsAction::Done(r) if r != PsyncReply::LegacySync => HsAction::Done(r),
                _ if self.params.failover => {
                    HsAction::Fail(format!("Failover target rejected psync request: {text}"))
                }
                other => other,
            },
        }
    }
}

/// Interpret the reply to PSYNC (Redis's `slaveTryPartialResynchronization`).
pub fn parse_psync_reply(text: &str) -> HsAction {
    if let Some(rest) = text.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let replid = it.next().unwrap_or("");
        let offset = it.next().and_then(|o| o.parse::<u64>().ok());
        return match (replid.len() == 40, offset) {
            (true, Some(offset)) => HsAction::Done(PsyncReply::Full {
                replid: replid.to_string(),
                offset,
            }),
            // Malformed: a full sync without a usable history.
            _ => HsAction::Done(PsyncReply::Full {
                replid: String::new(),
                offset: 0,
            }),
        };
    }
    if let Some(rest) = text.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        let new_replid = (id.len() == 40).then(|| id.to_string());
        return HsAction::Done(PsyncReply::Continue { new_replid });
    }
    if text.starts_with("-NOMASTERLINK") || text.starts_with("-LOADING") {
        return HsAction::Retry(format!(
            "Master is currently unable to PSYNC but should be in the future: {text}"
        ));
    }
    if text.starts_with("-ERR") || text.starts_with('-') {
        // A master that does not know PSYNC: the legacy SYNC.
        return HsAction::Send(vec![cmd(&["SYNC"])]);
    }
    HsAction::Fail(format!("Unexpected reply to PSYNC from master: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> HandshakeParams {
        HandshakeParams {
            masteruser: String::new(),
            masterauth: String::new(),
            listening_port: 6380,
            announce_ip: String::new(),
            psync_from: None,
            failover: false,
        }
    }

    fn names(a: &HsAction) -> Vec<String> {
        match a {
            HsAction::Send(cmds) => cmds
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect(),
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn handshake_in_redis_order() {
        let (mut hs, a) = Handshake::start(params());
        assert_eq!(names(&a), ["PING"]);
        let a = hs.on_line(b"+PONG");
        assert_eq!(
            names(&a),
            [
                "REPLCONF listening-port 6380",
                "REPLCONF capa eof capa psync2"
            ]
        );
        assert_eq!(hs.on_line(b"+OK"), HsAction::Read);
        assert_eq!(names(&hs.on_line(b"+OK")), ["PSYNC ? -1"]);
        // Keepalive newlines before the reply are skipped.
        assert_eq!(hs.on_line(b""), HsAction::Read);
        let id = "a".repeat(40);
        assert_eq!(
            hs.on_line(format!("+FULLRESYNC {id} 42").as_bytes()),
            HsAction::Done(PsyncReply::Full {
                replid: id,
                offset: 42
            })
        );
    }

    #[test]
    fn auth_ip_and_psync_continuation() {
        let mut p = params();
        p.masterauth = "secret".into();
        p.masteruser = "repl".into();
        p.announce_ip = "10.0.0.5".into();
        p.psync_from = Some(("b".repeat(40), 101));
        let (mut hs, _) = Handshake::start(p);
        let a = hs.on_line(b"-NOAUTH Authentication required.");
        assert_eq!(
            names(&a),
            [
                "AUTH repl secret",
                "REPLCONF listening-port 6380",
                "REPLCONF ip-address 10.0.0.5",
                "REPLCONF capa eof capa psync2"
            ]
        );
        assert_eq!(hs.on_line(b"+OK"), HsAction::Read);
        // Errors to REPLCONF are ignored.
        assert_eq!(hs.on_line(b"-ERR unknown"), HsAction::Read);
        assert_eq!(hs.on_line(b"+OK"), HsAction::Read);
        assert_eq!(
            names(&hs.on_line(b"+OK")),
            [format!("PSYNC {} 101", "b".repeat(40))]
        );
        assert_eq!(
            hs.on_line(b"+CONTINUE"),
            HsAction::Done(PsyncReply::Continue { new_replid: None })
        );
    }

    #[test]
    fn auth_failure_and_bad_ping_abort() {
        let mut p = params();
        p.masterauth = "x".into();
        let (mut hs, _) = Handshake::start(p);
        hs.on_line(b"+PONG");
        assert!(matches!(
            hs.on_line(b"-WRONGPASS invalid"),
            HsAction::Fail(_)
        ));
        let (mut hs, _) = Handshake::start(params());
        assert!(matches!(hs.on_line(b"-ERR weird"), HsAction::Fail(_)));
    }

    #[test]
    fn psync_replies() {
        let id = "c".repeat(40);
        assert_eq!(
            parse_psync_reply(&format!("+CONTINUE {id}")),
            HsAction::Done(PsyncReply::Continue {
                new_replid: Some(id)
            })
        );
        assert!(matches!(
            parse_psync_reply("-NOMASTERLINK Can't SYNC while not connected with my master"),
            HsAction::Retry(_)
        ));
        assert!(matches!(
            parse_psync_reply("-LOADING Redis is loading the dataset in memory"),
            HsAction::Retry(_)
        ));
        // An old master without PSYNC: legacy SYNC.
        assert_eq!(
            parse_psync_reply("-ERR unknown command 'PSYNC'"),
            HsAction::Send(vec![cmd(&["SYNC"])])
        );
        // A malformed FULLRESYNC still means a full sync.
        assert_eq!(
            parse_psync_reply("+FULLRESYNC short"),
            HsAction::Done(PsyncReply::Full {
                replid: String::new(),
                offset: 0
            })
        );
    }
}
