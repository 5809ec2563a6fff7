//! A snapshot as commands (an AOF base with `aof-use-rdb-preamble no`), as Redis's
//! `rewriteAppendOnlyFileRio`: one command per key, collections in batches of 64 items, then
//! PEXPIREAT for keys with a TTL.

use bytes::{Bytes, BytesMut};
use picket_common::resp::append_command;

use super::snapshot::{Sink, Snapshot};
use crate::db::{Set, Value};
use crate::server::Server;

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

#[derive(Default)]
pub struct CommandSink {
    buf: bytes::BytesMut,
}

fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

impl CommandSink {
    fn batched(&mut self, cmd: &'static [u8], key: &[u8], items: impl Iterator<Item = Vec<Bytes>>) {
        let mut args = vec![Bytes::from_static(cmd), b(key)];
        let mut n = 0;
        for it in items {
            args.extend(it);
            n += 1;
            if n == ITEMS_PER_CMD {
                append_command(&mut self.buf, &args);
                args.truncate(2);
                n = 0;
            }
        }
        if n > 0 {
            append_command(&mut self.buf, &args);
        }
    }
}

impl Sink for CommandSink {
    fn begin_db(&mut self, db: usize, _keys: usize, _expires: usize) {
        append_command(
            &mut self.buf,
            &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
        );
    }

    fn entry(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>) {
        match value {
            Value::Int(_) | Value::Small { .. } | Value::Big { .. } => {
                append_command(
                    &mut self.buf,
                    &[Bytes::from_static(b"SET"), b(key), b(&value.bytes())],
                );
            }
            Value::List(l) => self.batched(b"RPUSH", key, l.iter().map(|i| vec![b(i)])),
            Value::Set(s) => match s {
                Set::Intset(v) => self.batched(
                    b"SADD",
                    key,
                    v.iter().map(|i| vec![Bytes::from(i.to_string())]),
                ),
                Set::Table(d) => self.batched(b"SADD", key, d.keys().map(|k| vec![b(k)])),
            },
            Value::Hash(h) => self.batched(
                b"HMSET",
                key,
                h.iter()
                    .map(|(f, x)| vec![Bytes::copy_from_slice(f), Bytes::copy_from_slice(x)]),
            ),
            Value::ZSet(z) => self.batched(
                b"ZADD",
                key,
                z.iter()
                    .map(|(m, s)| vec![Bytes::from(picket_common::resp::format_double(s)), b(m)]),
            ),
            Value::Stream(s) => rewrite_stream(&mut self.buf, key, s),
        }
        if let Some(t) = expire_ms {
            append_command(
                &mut self.buf,
                &[
                    Bytes::from_static(b"PEXPIREAT"),
                    b(key),
                    Bytes::from(t.to_string()),
                ],
            );
        }
    }

    fn finish(&mut self) {}

    fn take(&mut self) -> Vec<u8> {
        self.buf.split().to_vec()
    }

    fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Convenience for the AOF rewrite: a snapshot that writes commands.
pub struct CommandWriter;

impl CommandWriter {
    /// The function libraries come first, as FUNCTION LOAD commands (Redis's
    /// `rewriteFunctions`), then the databases.
    pub fn begin(srv: &mut Server) -> Snapshot {
        let mut sink = CommandSink::default();
        for lib in srv.functions.ctx.libraries.values() {
            append_command(
                &mut sink.buf,
                &[
                    Bytes::from_static(b"FUNCTION"),
                    Bytes::from_static(b"LOAD"),
                    lib.code.clone(),
                ],
            );
        }
        Snapshot::begin_with(srv, Box::new(sink))
    }
}

/// A stream as Redis 7.0's `rewriteStreamObject` writes it: an XADD per entry (or, for an
/// empty stream, an XADD trimmed away at once so the key exists), an XSETID with the
/// metadata, and per group an XGROUP CREATE, an XCLAIM per pending entry and an XGROUP
/// CREATECONSUMER per consumer without pending entries.
fn rewrite_stream(buf: &mut BytesMut, key: &[u8], s: &crate::db::Stream) {
    use crate::db::stream::StreamId;
    let id = |i: StreamId| Bytes::from(i.to_bytes());
    let num = |n: i64| Bytes::from(n.to_string());
    let k = b(key);
    if s.length > 0 {
        s.walk(StreamId::MIN, StreamId::MAX, false, false, |node, e| {
            let mut args = vec![Bytes::from_static(b"XADD"), k.clone(), id(e.id)];
            for (f, v) in node.fields(e) {
                args.push(Bytes::from(f.bytes().into_owned()));
                args.push(Bytes::from(v.bytes().into_owned()));
            }
            append_command(buf, &args);
            true
        });
    } else {
        append_command(
            buf,
            &[
                Bytes::from_static(b"XADD"),
                k.clone(),
                Bytes::from_static(b"MAXLEN"),
                Bytes::from_static(b"0"),
                Bytes::from_static(b"0-1"),
                Bytes::from_static(b"x"),
                Bytes::from_static(b"y"),
            ],
        );
    }
    append_command(
        buf,
        &[
            Bytes::from_static(b"XSETID"),
            k.clone(),
            id(s.last_id),
            Bytes::from_static(b"ENTRIESADDED"),
            num(s.entries_added as i64),
            Bytes::from_static(b"MAXDELETEDID"),
            id(s.max_deleted_entry_id),
        ],
    );
    for (gname, g) in &s.groups {
        let gn = b(gname);
        append_command(
            buf,
            &[
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATE"),
                k.clone(),
                gn.clone(),
                id(g.last_id),
                Bytes::from_static(b"ENTRIESREAD"),
                num(g.entries_read),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                append_command(
                    buf,
                    &[
                        Bytes::from_static(b"XGROUP"),
                        Bytes::from_static(b"CREATECONSUMER"),
                        k.clone(),
                        gn.clone(),
                        b(cname),
                    ],
                );
                continue;
            }
            for pid in &c.pel {
                let Some(n) = g.pel.get(pid) else { continue };
                append_command(
                    buf,
                    &[
                        Bytes::from_static(b"XCLAIM"),
                        k.clone(),
                        gn.clone(),
                        b(cname),
                        Bytes::from_static(b"0"),
                        id(*pid),
                        Bytes::from_static(b"TIME"),
                        num(n.delivery_time),
                        Bytes::from_static(b"RETRYCOUNT"),
                        num(n.delivery_count as i64),
                        Bytes::from_static(b"JUSTID"),
                        Bytes::from_static(b"FORCE"),
                    ],
                );
            }
        }
    }
}
