//! The handshake's data: what the replica announces ([`HandshakeParams`]) and how it reads
//! the master's reply to PSYNC ([`parse_psync_reply`], Redis 7.0's
//! `slaveTryPartialResynchronization`). The handshake itself is the link's state machine,
//! `link.rs`.

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
    /// This replica's failover epoch (`failover-epoch`, docs/failover-safety.md rule 2).
    pub failover_epoch: u64,
    /// `failover-safety strict`: the epoch is exchanged even while it is 0.
    pub strict: bool,
    /// Strict mode, and `psync_from` is a history this same master gave us: a full
    /// resynchronization that would drop part of it (another replication id, or an offset
    /// behind ours) is refused.
    pub keep_history: bool,
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

/// What the master's reply to PSYNC means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncAnswer {
    /// A synchronization follows; `LegacySync` when the master does not know PSYNC: send
    /// `SYNC`, whose payload comes without a reply line.
    Sync(PsyncReply),
    /// The master is busy (loading, or without its own master): try again later.
    Retry(String),
    /// Give up this attempt, with the reason for the log.
    Fail(String),
}

pub(super) fn cmd(parts: &[&str]) -> Vec<Bytes> {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}

/// Interpret the reply to PSYNC (Redis's `slaveTryPartialResynchronization`).
pub fn parse_psync_reply(text: &str) -> PsyncAnswer {
    if let Some(rest) = text.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let replid = it.next().unwrap_or("");
        let offset = it.next().and_then(|o| o.parse::<u64>().ok());
        return match (replid.len() == 40, offset) {
            (true, Some(offset)) => PsyncAnswer::Sync(PsyncReply::Full {
                replid: replid.to_string(),
                offset,
            }),
            // Malformed: a full sync without a usable history.
            _ => PsyncAnswer::Sync(PsyncReply::Full {
                replid: String::new(),
                offset: 0,
            }),
        };
    }
    if let Some(rest) = text.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        let new_replid = (id.len() == 40).then(|| id.to_string());
        return PsyncAnswer::Sync(PsyncReply::Continue { new_replid });
    }
    if text.starts_with("-NOMASTERLINK") || text.starts_with("-LOADING") {
        return PsyncAnswer::Retry(format!(
            "Master is currently unable to PSYNC but should be in the future: {text}"
        ));
    }
    if text.starts_with("-ERR") || text.starts_with('-') {
        // A master that does not know PSYNC: the legacy SYNC.
        return PsyncAnswer::Sync(PsyncReply::LegacySync);
    }
    PsyncAnswer::Fail(format!("Unexpected reply to PSYNC from master: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_replies() {
        let id = "c".repeat(40);
        assert_eq!(
            parse_psync_reply(&format!("+CONTINUE {id}")),
            PsyncAnswer::Sync(PsyncReply::Continue {
                new_replid: Some(id)
            })
        );
        assert!(matches!(
            parse_psync_reply("-NOMASTERLINK Can't SYNC while not connected with my master"),
            PsyncAnswer::Retry(_)
        ));
        assert!(matches!(
            parse_psync_reply("-LOADING Redis is loading the dataset in memory"),
            PsyncAnswer::Retry(_)
        ));
        // An old master without PSYNC: legacy SYNC.
        assert_eq!(
            parse_psync_reply("-ERR unknown command 'PSYNC'"),
            PsyncAnswer::Sync(PsyncReply::LegacySync)
        );
        // A malformed FULLRESYNC still means a full sync.
        assert_eq!(
            parse_psync_reply("+FULLRESYNC short"),
            PsyncAnswer::Sync(PsyncReply::Full {
                replid: String::new(),
                offset: 0
            })
        );
    }
}
