//! The propagation hook: the effects of write commands, as a RESP command stream.
//!
//! Every command that changed data hands its effect here (its arguments, or the rewrite Redis
//! propagates: relative expiry as absolute PXAT/PEXPIREAT, INCRBYFLOAT as SET KEEPTTL, expired
//! keys as DEL...). The stream carries a `SELECT` whenever the database changes, exactly like
//! Redis's replication stream, and its byte count is the replication offset. Consumers
//! (replication backlog and replicas, AOF) attach later; without any, nothing is encoded.

use bytes::{Bytes, BytesMut};

#[derive(Debug, Default)]
pub struct Propagator {
    /// Whether a consumer is attached; without one, effects are not encoded.
    pub enabled: bool,
    selected_db: Option<usize>,
    /// Effects of the execution unit under way (one command, or a whole EXEC): emitted at its
    /// end, wrapped in MULTI/EXEC when there is more than one, as Redis 7.0's
    /// `propagatePendingCommands`.
    unit: Option<Vec<(usize, Vec<Bytes>)>>,
    /// Encoded effects not yet taken by the consumers.
    pub pending: BytesMut,
    /// Total bytes ever produced (the master replication offset).
    pub offset: u64,
}

impl Propagator {
    /// Start an execution unit.
    pub fn begin_unit(&mut self) {
        if self.unit.is_none() {
            self.unit = Some(Vec::new());
        }
    }

    /// End the execution unit: emit its effects, atomically when there are several.
    pub fn end_unit(&mut self) {
        let Some(effects) = self.unit.take() else {
            return;
        };
        let wrap = effects.len() > 1;
        if wrap {
            self.emit(None, &[Bytes::from_static(b"MULTI")]);
        }
        for (db, args) in &effects {
            self.emit(Some(*db), args);
        }
        if wrap {
            self.emit(None, &[Bytes::from_static(b"EXEC")]);
        }
    }

    /// Add one command's effect, executed in database `db`, to the current unit (or emit it
    /// at once outside of one).
    pub fn feed(&mut self, db: usize, args: &[Bytes]) {
        if !self.enabled {
            return;
        }
        match &mut self.unit {
            Some(u) => u.push((db, args.to_vec())),
            None => self.emit(Some(db), args),
        }
    }

    fn emit(&mut self, db: Option<usize>, args: &[Bytes]) {
        let start = self.pending.len();
        if let Some(db) = db {
            if self.selected_db != Some(db) {
                let n = itoa::Buffer::new().format(db).to_string();
                encode(
                    &mut self.pending,
                    &[Bytes::from_static(b"SELECT"), Bytes::from(n)],
                );
                self.selected_db = Some(db);
            }
        }
        encode(&mut self.pending, args);
        self.offset += (self.pending.len() - start) as u64;
    }

    /// Force the next effect to be preceded by SELECT (e.g. for a new replica).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// The database the stream has selected, if any.
    pub fn selected_db(&self) -> Option<usize> {
        self.selected_db
    }

    /// Take the bytes produced since the last call.
    pub fn take(&mut self) -> BytesMut {
        self.pending.split()
    }

    /// Stop propagating while a command replays other commands that must not reach the
    /// stream (DEBUG LOADAOF runs the AOF through the pipeline): the execution unit under
    /// way is set aside, and nothing is encoded until [`Propagator::resume`].
    pub fn suspend(&mut self) -> Suspended {
        Suspended {
            enabled: std::mem::replace(&mut self.enabled, false),
            unit: self.unit.take(),
        }
    }

    /// Propagate again, continuing the unit that [`Propagator::suspend`] set aside.
    pub fn resume(&mut self, s: Suspended) {
        self.enabled = s.enabled;
        self.unit = s.unit;
    }
}

/// What [`Propagator::suspend`] set aside.
#[derive(Debug)]
#[must_use]
pub struct Suspended {
    enabled: bool,
    unit: Option<Vec<(usize, Vec<Bytes>)>>,
}

/// Encode a command as a RESP multibulk of bulk strings.
pub fn encode(buf: &mut BytesMut, args: &[Bytes]) {
    let mut n = itoa::Buffer::new();
    buf.extend_from_slice(b"*");
    buf.extend_from_slice(n.format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        buf.extend_from_slice(b"$");
        buf.extend_from_slice(n.format(a.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_is_emitted_when_the_db_changes() {
        let mut p = Propagator {
            enabled: true,
            ..Default::default()
        };
        p.feed(
            0,
            &[
                Bytes::from_static(b"SET"),
                Bytes::from_static(b"k"),
                Bytes::from_static(b"v"),
            ],
        );
        p.feed(0, &[Bytes::from_static(b"DEL"), Bytes::from_static(b"k")]);
        p.feed(3, &[Bytes::from_static(b"DEL"), Bytes::from_static(b"k")]);
        let s = p.take();
        assert_eq!(
            &s[..],
            &b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"[..]
        );
        assert_eq!(p.offset as usize, s.len());
    }

    #[test]
    fn units_wrap_several_effects_in_multi_exec() {
        let mut p = Propagator {
            enabled: true,
            ..Default::default()
        };
        let set = vec![
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"a"),
            Bytes::from_static(b"1"),
        ];
        p.begin_unit();
        p.feed(0, &set);
        p.end_unit();
        let one = p.take();
        assert!(!one.windows(5).any(|w| w == b"MULTI"));
        p.begin_unit();
        p.feed(0, &[Bytes::from_static(b"DEL"), Bytes::from_static(b"x")]);
        p.feed(0, &set);
        p.end_unit();
        let s = p.take();
        let text = String::from_utf8_lossy(&s);
        let del = text.find("DEL").unwrap();
        let multi = text.find("MULTI").unwrap();
        let exec = text.find("EXEC").unwrap();
        assert!(multi < del && del < exec);
    }

    #[test]
    fn disabled_produces_nothing() {
        let mut p = Propagator::default();
        p.feed(0, &[Bytes::from_static(b"PING")]);
        assert!(p.take().is_empty());
        assert_eq!(p.offset, 0);
    }
}
