//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and XINFO HELP, with Redis
//! 7.0.15's fields in its order (7.0 has `idle` for consumers, no `inactive`/`active-time`).

use super::args::kw;
use super::streams::{read_stream, reply_entry};
use super::{CmdError, CmdResult, Ctx};
use crate::db::stream::group::INVALID_ENTRIES_READ;
use crate::db::stream::{Group, Stream, StreamId};
use picket_common::resp::ReplyBuf;

/// The number of nodes of the radix tree Redis would keep for the stream's node keys (the
/// 16-byte big-endian master IDs): the root, each key, each prefix that branches and each
/// child of a branching prefix (the start of a compressed run).
pub fn rax_nodes(s: &Stream) -> usize {
    let keys: Vec<[u8; 16]> = s.nodes.keys().map(|k| k.encode()).collect();
    if keys.is_empty() {
        return 1;
    }
    fn rec(keys: &[[u8; 16]], d: usize, parent_branches: bool) -> usize {
        if d == 16 {
            return 1;
        }
        let mut groups = Vec::new();
        let mut i = 0;
        while i < keys.len() {
            let mut j = i + 1;
            while j < keys.len() && keys[j][d] == keys[i][d] {
                j += 1;
            }
            groups.push(&keys[i..j]);
            i = j;
        }
        let branches = groups.len() >= 2;
        let here = (d == 0 || parent_branches || branches) as usize;
        here + groups
            .into_iter()
            .map(|g| rec(g, d + 1, branches))
            .sum::<usize>()
    }
    rec(&keys, 0, false)
}

fn entries_read(out: &mut ReplyBuf, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

fn lag(out: &mut ReplyBuf, s: &Stream, g: &Group) {
    match s.group_lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

/// XINFO STREAM|GROUPS|CONSUMERS|HELP (one handler, as Redis's `xinfoCommand`).
pub fn xinfo(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let argc = args.len();
    if kw(&args[1], "help") {
        if argc != 2 {
            return Err(ctx.subcommand_syntax_error());
        }
        super::client_cmd::help_reply(
            ctx,
            "XINFO",
            &[
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ],
        );
        return Ok(());
    } else if argc < 3 {
        return Err(ctx.subcommand_syntax_error());
    }
    let db = ctx.db();
    let now = ctx.srv.now_ms;
    let sub_err = ctx.subcommand_syntax_error();
    let Some(s) = read_stream(ctx.srv, db, &args[2])? else {
        return Err(CmdError::NoSuchKey);
    };
    let out = &mut *ctx.out;
    let opt = &args[1];
    if kw(opt, "consumers") && argc == 4 {
        let Some(g) = s.groups.get(args[3].as_ref()) else {
            return Err(CmdError::Reply(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                super::stream_groups::fmt_arg(&args[3]),
                super::stream_groups::fmt_arg(&args[2])
            )));
        };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int((now - c.seen_time).max(0));
        }
    } else if kw(opt, "groups") && argc == 3 {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            out.bulk(&g.last_id.to_bytes());
            out.bulk(b"entries-read");
            entries_read(out, g);
            out.bulk(b"lag");
            lag(out, s, g);
        }
    } else if kw(opt, "stream") {
        stream_info(out, s, &args[3..], sub_err)?;
    } else {
        return Err(sub_err);
    }
    Ok(())
}

fn stream_info(
    out: &mut ReplyBuf,
    s: &Stream,
    opts: &[bytes::Bytes],
    sub_err: CmdError,
) -> CmdResult {
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !kw(&opts[0], "full") {
            return Err(sub_err);
        }
        if opts.len() == 3 {
            if !kw(&opts[1], "count") {
                return Err(sub_err);
            }
            count = super::args::int(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.nodes.len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(rax_nodes(s) as i64);
    out.bulk(b"last-generated-id");
    out.bulk(&s.last_id.to_bytes());
    out.bulk(b"max-deleted-entry-id");
    out.bulk(&s.max_deleted_entry_id.to_bytes());
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    out.bulk(&s.first_id.to_bytes());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            match s.range(StreamId::MIN, StreamId::MAX, rev, 1).first() {
                Some((id, f)) => reply_entry(out, *id, f),
                None => out.null(),
            }
        }
        return Ok(());
    }
    let n = count as usize;
    let limit = if n == 0 { usize::MAX } else { n };
    out.bulk(b"entries");
    let entries = s.range(StreamId::MIN, StreamId::MAX, false, n);
    super::streams::reply_entries(out, &entries);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        out.bulk(&g.last_id.to_bytes());
        out.bulk(b"entries-read");
        entries_read(out, g);
        out.bulk(b"lag");
        lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        out.array(pel.len());
        for (id, nack) in pel {
            out.array(4);
            out.bulk(&id.to_bytes());
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let ids: Vec<_> = c.pel.iter().take(limit).collect();
            out.array(ids.len());
            for id in ids {
                let (t, dc) = g
                    .pel
                    .get(id)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                out.array(3);
                out.bulk(&id.to_bytes());
                out.int(t);
                out.int(dc as i64);
            }
        }
    }
    Ok(())
}
