//! Stream values in an RDB file or DUMP payload (`RDB_TYPE_STREAM_LISTPACKS_2`, as Redis
//! 7.0 writes them; `RDB_TYPE_STREAM_LISTPACKS` of Redis 5 and 6 is read too). The nodes
//! are listpacks stored as they are in memory, so writing copies them and reading checks
//! them (`streamValidateListpackIntegrity`) before keeping them.

use crate::db::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::db::SmallBytes;

use super::codec::{ty, RdbError, Reader, Writer};

fn id_pair(r: &mut Reader) -> Result<StreamId, RdbError> {
    let ms = r.len()?;
    let seq = r.len()?;
    Ok(StreamId::new(ms, seq))
}

fn raw_id(r: &mut Reader) -> Result<StreamId, RdbError> {
    let at = r.offset();
    let b = r.bytes(16)?;
    StreamId::decode(b).ok_or_else(|| RdbError::corrupt("bad stream ID", at))
}

/// Read a stream value of type `t` (after its type byte and key).
pub fn read(r: &mut Reader, t: u8) -> Result<Stream, RdbError> {
    let mut s = Stream::new();
    let nodes = r.len()?;
    for _ in 0..nodes {
        let at = r.offset();
        let key = r.string()?;
        let master = StreamId::decode(&key).ok_or_else(|| {
            RdbError::corrupt("Stream node key entry is not the size of a stream ID", at)
        })?;
        let at = r.offset();
        let lp = r.string()?;
        if crate::db::stream::lp::validate(&lp).is_none_or(|n| n == 0) {
            return Err(RdbError::corrupt(
                "Stream listpack integrity check failed",
                at,
            ));
        }
        if s.nodes.insert(master, lp).is_some() {
            return Err(RdbError::corrupt("Listpack re-added with existing key", at));
        }
    }
    let at = r.offset();
    s.length = r.len()?;
    s.last_id = id_pair(r)?;
    if t == ty::STREAM_LISTPACKS_2 {
        s.first_id = id_pair(r)?;
        s.max_deleted_entry_id = id_pair(r)?;
        s.entries_added = r.len()?;
    } else {
        s.entries_added = s.length;
        s.first_id = if s.length == 0 {
            StreamId::MIN
        } else {
            s.edge_id(true, true)
        };
    }
    if s.length > 0 && s.nodes.is_empty() {
        return Err(RdbError::corrupt(
            "Stream length inconsistent with rax entries",
            at,
        ));
    }
    match s.validate_nodes() {
        Some(n) if n == s.length => {}
        _ => {
            return Err(RdbError::corrupt(
                "Stream listpack integrity check failed",
                at,
            ))
        }
    }
    let groups = r.len()?;
    for _ in 0..groups {
        let at = r.offset();
        let name = r.string()?;
        let last_id = id_pair(r)?;
        let entries_read = if t == ty::STREAM_LISTPACKS_2 {
            r.len()? as i64
        } else {
            s.estimate_distance(last_id)
        };
        let mut g = Group::new(last_id, entries_read);
        let pel = r.len()?;
        for _ in 0..pel {
            let id = raw_id(r)?;
            let time = r.u64_le()? as i64;
            let count = r.len()?;
            let nack = Nack {
                delivery_time: time,
                delivery_count: count,
                consumer: SmallBytes::from(&b""[..]),
            };
            if g.pel.insert(id, nack).is_some() {
                return Err(RdbError::corrupt(
                    "Duplicated global PEL entry loading stream consumer group",
                    at,
                ));
            }
        }
        let consumers = r.len()?;
        for _ in 0..consumers {
            let at = r.offset();
            let cname = r.string()?;
            let seen = r.u64_le()? as i64;
            let mut c = Consumer {
                seen_time: seen,
                ..Consumer::default()
            };
            let n = r.len()?;
            for _ in 0..n {
                let id = raw_id(r)?;
                match g.pel.get_mut(&id) {
                    Some(nack) => nack.consumer = SmallBytes::from(cname.as_slice()),
                    None => {
                        return Err(RdbError::corrupt(
                            "Consumer entry not found in group global PEL",
                            at,
                        ))
                    }
                }
                c.pel.insert(id);
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err(RdbError::corrupt("Duplicate stream consumer detected", at));
            }
        }
        if g.pel.values().any(|n| n.consumer.is_empty()) {
            return Err(RdbError::corrupt(
                "Stream CG PELs entry without consumer",
                at,
            ));
        }
        if s.groups.insert(name, g).is_some() {
            return Err(RdbError::corrupt("Duplicated consumer group name", at));
        }
    }
    Ok(s)
}

/// Write a stream value (after its type byte and key), as `rdbSaveObject`.
pub fn write(w: &mut Writer, s: &Stream) {
    w.len(s.nodes.len() as u64);
    for (master, lp) in &s.nodes {
        w.string(&master.encode());
        w.string(lp);
    }
    w.len(s.length);
    w.len(s.last_id.ms);
    w.len(s.last_id.seq);
    w.len(s.first_id.ms);
    w.len(s.first_id.seq);
    w.len(s.max_deleted_entry_id.ms);
    w.len(s.max_deleted_entry_id.seq);
    w.len(s.entries_added);
    w.len(s.groups.len() as u64);
    for (name, g) in &s.groups {
        w.string(name);
        w.len(g.last_id.ms);
        w.len(g.last_id.seq);
        w.len(g.entries_read as u64);
        w.len(g.pel.len() as u64);
        for (id, n) in &g.pel {
            w.bytes(&id.encode());
            w.u64_le(n.delivery_time as u64);
            w.len(n.delivery_count);
        }
        w.len(g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            w.string(cname);
            w.u64_le(c.seen_time as u64);
            w.len(c.pel.len() as u64);
            for id in &c.pel {
                w.bytes(&id.encode());
            }
        }
    }
}
