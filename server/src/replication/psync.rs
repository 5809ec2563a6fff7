//! Whether a SYNC/PSYNC can be served by a partial resynchronization: a pure decision on
//! plain data (Redis 7.0's `syncCommand` refusals and `masterTryPartialResynchronization`).
//! The master side (`master.rs`) gathers a [`ReplView`], calls [`decide`], and does the I/O
//! and logging of the outcome.
//!
//! Offsets are Redis's: a replica that applied everything up to X asks for X + 1, and the
//! backlog holds `[first_byte_offset, first_byte_offset + histlen)`, so a request for
//! `first_byte_offset + histlen` (= `master_repl_offset + 1`) continues with an empty tail.

use std::fmt;

/// What the replica asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PsyncRequest<'a> {
    /// The replid it continues, or `?` to force a full resynchronization.
    pub replid: &'a str,
    /// The offset of the next byte it needs (-1 with `?`).
    pub offset: i64,
    /// It announced `REPLCONF capa psync2`: `+CONTINUE` carries our replid.
    pub capa_psync2: bool,
}

/// The range of the stream the backlog holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogRange {
    /// `repl_backlog_first_byte_offset`.
    pub first_byte_offset: u64,
    /// `repl_backlog_histlen`.
    pub histlen: u64,
}

/// What this server is, as far as serving replicas goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    /// A replica serving its own replicas (chained replication).
    Replica {
        link_up: bool,
    },
}

/// The replication state the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplView<'a> {
    pub replid: &'a str,
    pub replid2: &'a str,
    /// The offset up to which `replid2` is valid (-1: none).
    pub second_replid_offset: i64,
    pub master_repl_offset: u64,
    /// None: no backlog yet (no replica ever attached).
    pub backlog: Option<BacklogRange>,
    pub role: Role,
    /// This master is running a FAILOVER.
    pub failing_over: bool,
}

/// Why SYNC/PSYNC is refused with an error reply (the replica retries later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    FailingOver,
    MasterLinkDown,
}

impl Refusal {
    /// The error reply, without the leading `-`.
    pub fn reply(self) -> &'static str {
        match self {
            Refusal::FailingOver => "NOMASTERLINK Can't SYNC while failing over",
            Refusal::MasterLinkDown => "NOMASTERLINK Can't SYNC while not connected with my master",
        }
    }
}

/// Why a PSYNC gets a full resynchronization (the log line Redis writes for each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullReason {
    /// `PSYNC ? -1`: the replica has no history (or SYNC).
    Requested,
    /// The replid is neither our replid nor our replid2.
    ReplidMismatch {
        asked: String,
        replid: String,
        replid2: String,
    },
    /// Our replid2, but past the offset where our history diverged from it.
    SecondIdOffset {
        asked: i64,
        second_replid_offset: i64,
    },
    /// The offset is not in the backlog (or there is no backlog); `beyond_master` when it
    /// is greater than `master_repl_offset`, which Redis also warns about.
    NoBacklog { asked: i64, beyond_master: bool },
}

impl FullReason {
    /// Whether it counts in `sync_partial_err` (a forced full sync does not).
    pub fn is_partial_error(&self) -> bool {
        !matches!(self, FullReason::Requested)
    }
}

impl fmt::Display for FullReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FullReason::Requested => write!(f, "Full resync requested by replica"),
            FullReason::ReplidMismatch {
                asked,
                replid,
                replid2,
            } => write!(
                f,
                "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{asked}', my replication IDs are '{replid}' and '{replid2}')"
            ),
            FullReason::SecondIdOffset {
                asked,
                second_replid_offset,
            } => write!(
                f,
                "Partial resynchronization not accepted: Requested offset for second ID was {asked}, but I can reply up to {second_replid_offset}"
            ),
            FullReason::NoBacklog { asked, .. } => write!(
                f,
                "Unable to partial resync with replica: lack of backlog (Replica request was: {asked})."
            ),
        }
    }
}

/// The answer to SYNC/PSYNC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncDecision {
    Refuse(Refusal),
    /// `+CONTINUE <replid_to_send>` (or bare `+CONTINUE`), then the backlog from
    /// `from_offset`.
    Continue {
        replid_to_send: Option<String>,
        from_offset: u64,
    },
    FullResync {
        reason: FullReason,
    },
}

/// Decide how to answer `PSYNC` (`req`), or `SYNC` (`req` None: always a full sync).
pub fn decide(req: Option<&PsyncRequest<'_>>, st: &ReplView<'_>) -> PsyncDecision {
    if st.failing_over {
        return PsyncDecision::Refuse(Refusal::FailingOver);
    }
    if st.role == (Role::Replica { link_up: false }) {
        return PsyncDecision::Refuse(Refusal::MasterLinkDown);
    }
    let Some(req) = req else {
        return PsyncDecision::FullResync {
            reason: FullReason::Requested,
        };
    };
    let full = |reason| PsyncDecision::FullResync { reason };
    // (Redis compares with `strcasecmp`; replids are lower-case hex, and picket has always
    // compared them exactly.)
    let is_id1 = req.replid == st.replid;
    let is_id2 = req.replid == st.replid2;
    let known = is_id1 || (is_id2 && req.offset <= st.second_replid_offset);
    if !known {
        return full(if req.replid.starts_with('?') {
            FullReason::Requested
        } else if !is_id2 {
            FullReason::ReplidMismatch {
                asked: req.replid.to_string(),
                replid: st.replid.to_string(),
                replid2: st.replid2.to_string(),
            }
        } else {
            FullReason::SecondIdOffset {
                asked: req.offset,
                second_replid_offset: st.second_replid_offset,
            }
        });
    }
    let covered = st.backlog.is_some_and(|b| {
        req.offset >= 0
            && (req.offset as u64) >= b.first_byte_offset
            && (req.offset as u64) <= b.first_byte_offset + b.histlen
    });
    if !covered {
        return full(FullReason::NoBacklog {
            asked: req.offset,
            beyond_master: req.offset > 0 && req.offset as u64 > st.master_repl_offset,
        });
    }
    PsyncDecision::Continue {
        replid_to_send: req.capa_psync2.then(|| st.replid.to_string()),
        from_offset: req.offset as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
    const NONE: &str = "0000000000000000000000000000000000000000";

    /// A master with replid A, previously B up to offset 500 (second_replid_offset 501),
    /// 1000 bytes produced, the backlog holding offsets 201..=1000.
    fn master() -> ReplView<'static> {
        ReplView {
            replid: A,
            replid2: B,
            second_replid_offset: 501,
            master_repl_offset: 1000,
            backlog: Some(BacklogRange {
                first_byte_offset: 201,
                histlen: 800,
            }),
            role: Role::Master,
            failing_over: false,
        }
    }

    fn req(replid: &str, offset: i64) -> PsyncRequest<'_> {
        PsyncRequest {
            replid,
            offset,
            capa_psync2: true,
        }
    }

    fn cont(from: u64) -> PsyncDecision {
        PsyncDecision::Continue {
            replid_to_send: Some(A.to_string()),
            from_offset: from,
        }
    }

    fn no_backlog(asked: i64, beyond_master: bool) -> PsyncDecision {
        PsyncDecision::FullResync {
            reason: FullReason::NoBacklog {
                asked,
                beyond_master,
            },
        }
    }

    #[test]
    fn redis_cases() {
        let m = master();
        let mut empty = master();
        empty.backlog = None;
        let mut chained = master();
        chained.role = Role::Replica { link_up: true };
        let mut cut_off = master();
        cut_off.role = Role::Replica { link_up: false };
        let mut failing = master();
        failing.failing_over = true;
        let cases: Vec<(&str, Option<PsyncRequest>, &ReplView, PsyncDecision)> = vec![
            (
                "replid, offset in backlog",
                Some(req(A, 600)),
                &m,
                cont(600),
            ),
            (
                "first byte of the backlog",
                Some(req(A, 201)),
                &m,
                cont(201),
            ),
            // master_repl_offset + 1: nothing to send but the +CONTINUE.
            ("empty tail", Some(req(A, 1001)), &m, cont(1001)),
            (
                "beyond master_repl_offset",
                Some(req(A, 1002)),
                &m,
                no_backlog(1002, true),
            ),
            (
                "before the backlog",
                Some(req(A, 200)),
                &m,
                no_backlog(200, false),
            ),
            (
                "forced full sync",
                Some(req("?", -1)),
                &m,
                PsyncDecision::FullResync {
                    reason: FullReason::Requested,
                },
            ),
            (
                "SYNC",
                None,
                &m,
                PsyncDecision::FullResync {
                    reason: FullReason::Requested,
                },
            ),
            ("replid2 up to its offset", Some(req(B, 501)), &m, cont(501)),
            ("replid2 well inside", Some(req(B, 300)), &m, cont(300)),
            (
                "replid2 past its offset",
                Some(req(B, 502)),
                &m,
                PsyncDecision::FullResync {
                    reason: FullReason::SecondIdOffset {
                        asked: 502,
                        second_replid_offset: 501,
                    },
                },
            ),
            (
                "unknown replid",
                Some(req(C, 600)),
                &m,
                PsyncDecision::FullResync {
                    reason: FullReason::ReplidMismatch {
                        asked: C.into(),
                        replid: A.into(),
                        replid2: B.into(),
                    },
                },
            ),
            (
                "no backlog yet",
                Some(req(A, 1)),
                &empty,
                no_backlog(1, false),
            ),
            (
                "chained replica, link up",
                Some(req(A, 600)),
                &chained,
                cont(600),
            ),
            (
                "chained replica, link down",
                Some(req(A, 600)),
                &cut_off,
                PsyncDecision::Refuse(Refusal::MasterLinkDown),
            ),
            (
                "master failing over",
                Some(req(A, 600)),
                &failing,
                PsyncDecision::Refuse(Refusal::FailingOver),
            ),
        ];
        for (name, r, st, want) in cases {
            assert_eq!(decide(r.as_ref(), st), want, "{name}");
        }
    }

    #[test]
    fn continue_line_needs_capa_psync2() {
        let mut r = req(A, 600);
        r.capa_psync2 = false;
        assert_eq!(
            decide(Some(&r), &master()),
            PsyncDecision::Continue {
                replid_to_send: None,
                from_offset: 600
            }
        );
        // With psync2 the line carries our replid even when the replica asked with replid2
        // (it then switches its own history, as after a promotion).
        assert_eq!(decide(Some(&req(B, 400)), &master()), cont(400));
    }

    /// The target of `FAILOVER` promotes itself on `PSYNC <its replid> <offset> FAILOVER`
    /// (failover.rs) before the request is decided: its old replid is now its replid2,
    /// valid up to its offset + 1, so the old master continues with the new id.
    #[test]
    fn psync_failover_after_promotion() {
        let promoted = ReplView {
            replid: C,
            replid2: A,
            second_replid_offset: 1001,
            master_repl_offset: 1000,
            backlog: Some(BacklogRange {
                first_byte_offset: 1,
                histlen: 1000,
            }),
            role: Role::Master,
            failing_over: false,
        };
        assert_eq!(
            decide(Some(&req(A, 1001)), &promoted),
            PsyncDecision::Continue {
                replid_to_send: Some(C.to_string()),
                from_offset: 1001
            }
        );
    }

    #[test]
    fn cleared_replid2_never_matches_a_real_request() {
        let mut m = master();
        m.replid2 = NONE;
        m.second_replid_offset = -1;
        assert!(matches!(
            decide(Some(&req(B, 300)), &m),
            PsyncDecision::FullResync {
                reason: FullReason::ReplidMismatch { .. }
            }
        ));
    }

    #[test]
    fn log_lines() {
        assert_eq!(
            FullReason::Requested.to_string(),
            "Full resync requested by replica"
        );
        assert!(!FullReason::Requested.is_partial_error());
        let r = FullReason::SecondIdOffset {
            asked: 502,
            second_replid_offset: 501,
        };
        assert!(r.is_partial_error());
        assert_eq!(r.to_string(), "Partial resynchronization not accepted: Requested offset for second ID was 502, but I can reply up to 501");
        assert_eq!(
            Refusal::MasterLinkDown.reply(),
            "NOMASTERLINK Can't SYNC while not connected with my master"
        );
    }
}
