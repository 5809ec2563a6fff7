//! The propagation hook: the effects of write commands, as a RESP command stream.
//!
//! Every command that changed data hands its effect here (its arguments, or the rewrite Redis
//! propagates: relative expiry as absolute PXAT/PEXPIREAT, INCRBYFLOAT as SET KEEPTTL, expired
//! keys as DEL...). The stream carries a `SELECT` whenever the database changes, exactly like
//! Redis's replication stream, and its byte count is the replication offset. Consumers
//! (replication backlog and replicas, AOF) attach later; without any, nothing is encoded.

use bytes::{Bytes, BytesMut};
use picket_common::resp::{append_command, command_len};

/// Where an effect goes (Redis's `PROPAGATE_REPL` / `PROPAGATE_AOF`).
pub mod target {
    pub const REPL: u8 = 1;
    pub const AOF: u8 = 2;
    pub const BOTH: u8 = REPL | AOF;
}

#[derive(Debug, Default)]
pub struct Propagator {
    /// Whether a consumer is attached; without one, effects are not encoded.
    pub enabled: bool,
    /// The database the replication stream has selected (Redis's `slaveseldb`).
    selected_db: Option<usize>,
    /// The database the AOF has selected (Redis's `aof_selected_db`): the two streams carry
    /// the same commands but each its own SELECTs, as their starting points differ (a
    /// replica's full sync, an AOF rewrite).
    aof_selected_db: Option<usize>,
    /// Effects of the execution unit under way (one command, or a whole EXEC): emitted at its
    /// end, wrapped in MULTI/EXEC when there is more than one, as Redis 7.0's
    /// `propagatePendingCommands`.
    unit: Option<Vec<(usize, Vec<Bytes>, u8)>>,
    /// The unit is not wrapped whatever its size (a direct SCAN or RANDOMKEY that expired
    /// several keys: Redis's `CMD_TOUCHES_ARBITRARY_KEYS`).
    unit_no_multi: bool,
    /// Encoded effects for the replication stream, not yet taken.
    pub pending: BytesMut,
    /// The same effects for the AOF, with the AOF's SELECTs.
    pub aof_pending: BytesMut,
    /// Total bytes ever produced for the replication stream.
    pub offset: u64,
    /// Where the effects of the commands a script runs go (`redis.set_repl`): `None` outside
    /// scripts (everywhere), else a mask of [`target`]s.
    pub script_targets: Option<u8>,
}

impl Propagator {
    /// Start an execution unit.
    pub fn begin_unit(&mut self) {
        if self.unit.is_none() {
            self.unit = Some(Vec::new());
            self.unit_no_multi = false;
        }
    }

    /// The unit under way is not to be wrapped in MULTI/EXEC.
    pub fn unit_without_multi(&mut self) {
        self.unit_no_multi = true;
    }

    /// End the execution unit: emit its effects, atomically when there are several. The
    /// MULTI goes to the first effect's database (so a SELECT comes before it) and the EXEC
    /// to the last one's (so none comes before it), as Redis 7.0.
    pub fn end_unit(&mut self) {
        let Some(effects) = self.unit.take() else {
            return;
        };
        let wrap = effects.len() > 1 && !std::mem::take(&mut self.unit_no_multi);
        if wrap {
            self.emit(effects[0].0, &[Bytes::from_static(b"MULTI")], target::BOTH);
        }
        for (db, args, to) in &effects {
            self.emit(*db, args, *to);
        }
        if wrap {
            let last = effects[effects.len() - 1].0;
            self.emit(last, &[Bytes::from_static(b"EXEC")], target::BOTH);
        }
    }

    /// Forget the effects of the unit under way (a script stopped by SHUTDOWN NOSAVE: they
    /// must reach neither the replicas nor the AOF).
    pub fn discard_unit(&mut self) {
        if let Some(unit) = self.unit.as_mut() {
            unit.clear();
        }
    }

    /// Add one command's effect, executed in database `db`, to the current unit (or emit it
    /// at once outside of one).
    pub fn feed(&mut self, db: usize, args: &[Bytes]) {
        self.feed_to(db, args, target::BOTH);
    }

    /// [`feed`](Self::feed) to the replication stream, the AOF or both (`target`).
    pub fn feed_to(&mut self, db: usize, args: &[Bytes], to: u8) {
        let to = to & self.script_targets.unwrap_or(target::BOTH);
        if !self.enabled || to == 0 {
            return;
        }
        match &mut self.unit {
            Some(u) => u.push((db, args.to_vec(), to)),
            None => self.emit(db, args, to),
        }
    }

    /// Emit an effect at once, outside of the unit under way (evictions before a command,
    /// which Redis propagates on their own, never in the command's MULTI).
    pub fn feed_now(&mut self, db: usize, args: &[Bytes]) {
        if self.enabled {
            self.emit(db, args, target::BOTH);
        }
    }

    fn emit(&mut self, db: usize, args: &[Bytes], to: u8) {
        if to & target::REPL != 0 {
            let start = self.pending.len();
            select(&mut self.pending, &mut self.selected_db, db);
            append_command(&mut self.pending, args);
            self.offset += (self.pending.len() - start) as u64;
            if to & target::AOF != 0 {
                select(&mut self.aof_pending, &mut self.aof_selected_db, db);
                self.aof_pending
                    .extend_from_slice(&self.pending[self.pending.len() - command_len(args)..]);
            }
        } else if to & target::AOF != 0 {
            select(&mut self.aof_pending, &mut self.aof_selected_db, db);
            append_command(&mut self.aof_pending, args);
        }
    }

    /// Force the replication stream's next effect to be preceded by SELECT (a new replica,
    /// a new history).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// Force the AOF's next effect to be preceded by SELECT (a new incr file, the AOF
    /// turned on or off).
    pub fn reset_aof_selected_db(&mut self) {
        self.aof_selected_db = None;
    }

    /// The database the replication stream has selected, if any.
    pub fn selected_db(&self) -> Option<usize> {
        self.selected_db
    }

    /// Take the replication stream's bytes produced since the last call.
    pub fn take(&mut self) -> BytesMut {
        self.pending.split()
    }

    /// Take the AOF's bytes produced since the last call.
    pub fn take_aof(&mut self) -> BytesMut {
        self.aof_pending.split()
    }

    /// Stop propagating while a command replays other commands that must not reach the
    /// stream (DEBUG LOADAOF runs the AOF through the pipeline): the execution unit under
    /// way is set aside, and nothing is encoded until [`Propagator::resume`].
    pub fn suspend(&mut self) -> Suspended {
        Suspended {
            enabled: std::mem::replace(&mut self.enabled, false),
            unit: self.unit.take(),
            unit_no_multi: std::mem::take(&mut self.unit_no_multi),
        }
    }

    /// Propagate again, continuing the unit that [`Propagator::suspend`] set aside.
    pub fn resume(&mut self, s: Suspended) {
        self.enabled = s.enabled;
        self.unit = s.unit;
        self.unit_no_multi = s.unit_no_multi;
    }
}

/// What [`Propagator::suspend`] set aside.
#[derive(Debug)]
#[must_use]
pub struct Suspended {
    enabled: bool,
    unit: Option<Vec<(usize, Vec<Bytes>, u8)>>,
    unit_no_multi: bool,
}

/// A SELECT into `buf` when `current` is not `db`.
fn select(buf: &mut BytesMut, current: &mut Option<usize>, db: usize) {
    if *current != Some(db) {
        let n = itoa::Buffer::new().format(db).to_string();
        append_command(buf, &[Bytes::from_static(b"SELECT"), Bytes::from(n)]);
        *current = Some(db);
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
    fn select_comes_before_multi_and_each_stream_has_its_own() {
        let mut p = Propagator {
            enabled: true,
            ..Default::default()
        };
        let set = |k: &'static [u8]| {
            vec![
                Bytes::from_static(b"SET"),
                Bytes::from_static(k),
                Bytes::from_static(b"1"),
            ]
        };
        p.begin_unit();
        p.feed(5, &set(b"a"));
        p.feed(6, &set(b"b"));
        p.end_unit();
        let repl = crate::testkit::parse_stream(&p.take());
        let aof = crate::testkit::parse_stream(&p.take_aof());
        let expect: Vec<Vec<String>> = [
            "SELECT 5", "MULTI", "SET a 1", "SELECT 6", "SET b 1", "EXEC",
        ]
        .iter()
        .map(|l| l.split(' ').map(String::from).collect())
        .collect();
        assert_eq!(repl, expect);
        assert_eq!(aof, expect);
        // A new replica: only the replication stream selects again.
        p.reset_selected_db();
        p.feed(6, &set(b"c"));
        assert_eq!(crate::testkit::parse_stream(&p.take())[0], ["SELECT", "6"]);
        assert_eq!(
            crate::testkit::parse_stream(&p.take_aof()),
            [["SET", "c", "1"]]
        );
        // A unit that must not be wrapped.
        p.begin_unit();
        p.unit_without_multi();
        p.feed(6, &set(b"d"));
        p.feed(6, &set(b"e"));
        p.end_unit();
        assert_eq!(crate::testkit::parse_stream(&p.take()).len(), 2);
        p.take_aof();
        assert_eq!(p.offset, {
            let mut b = BytesMut::new();
            for l in [
                &[Bytes::from_static(b"SELECT"), Bytes::from_static(b"5")][..],
                &[Bytes::from_static(b"MULTI")],
                &set(b"a"),
                &[Bytes::from_static(b"SELECT"), Bytes::from_static(b"6")],
                &set(b"b"),
                &[Bytes::from_static(b"EXEC")],
                &[Bytes::from_static(b"SELECT"), Bytes::from_static(b"6")],
                &set(b"c"),
                &set(b"d"),
                &set(b"e"),
            ] {
                append_command(&mut b, l);
            }
            b.len() as u64
        });
    }

    #[test]
    fn disabled_produces_nothing() {
        let mut p = Propagator::default();
        p.feed(0, &[Bytes::from_static(b"PING")]);
        assert!(p.take().is_empty());
        assert!(p.take_aof().is_empty());
        assert_eq!(p.offset, 0);
    }
}
