#!/usr/bin/env python3
"""Generate server/src/command/table.rs (the command table) and handlers.rs (its handlers).

The metadata of each command (arity, flags, legacy key positions, ACL categories, tips, key
specifications, and the COMMAND DOCS text: summary, since, group, complexity, history,
arguments) is read from a running Redis 7.0 (`COMMAND INFO` / `COMMAND DOCS`), so that our
COMMAND replies, arity checks and flags are exactly Redis's. The handlers are ours: HANDLERS
below maps each implemented command (and subcommand) to its Rust function. Commands not in
HANDLERS are not in the table (they get "unknown command").

The table is data only (it sits below the command families, so that the configuration's
`rename-command` and the client records can use it); the handlers, indexed by each
command's `id`, are in handlers.rs, which names the command families.

Usage: redis-server --port 7000 --save "" &   # Debian's redis-server 7.0
       python3 server/tools/gen_table.py 7000   # writes server/src/command/{table,handlers}.rs
"""
import os
import socket
import sys

HANDLERS = {
    # connection
    "ping": "connection::ping", "echo": "connection::echo", "quit": "connection::quit",
    "hello": "connection::hello", "auth": "connection::auth", "select": "connection::select",
    "reset": "connection::reset",
    "client": {
        "id": "client_cmd::id", "setname": "client_cmd::setname", "getname": "client_cmd::getname",
        "list": "client_cmd::list", "info": "client_cmd::info", "kill": "client_cmd::kill",
        "reply": "client_cmd::reply", "help": "client_cmd::help", "no-evict": "client_cmd::no_evict",
        "unblock": "client_cmd::unblock", "pause": "client_cmd::pause", "unpause": "client_cmd::unpause",
        "tracking": "tracking_cmd::tracking", "caching": "tracking_cmd::caching",
        "getredir": "tracking_cmd::getredir", "trackinginfo": "tracking_cmd::trackinginfo",
    },
    # server
    "dbsize": "server_cmds::dbsize", "time": "server_cmds::time", "lastsave": "server_cmds::lastsave",
    "save": "server_cmds::save", "bgsave": "server_cmds::bgsave", "bgrewriteaof": "server_cmds::bgrewriteaof",
    "info": "info::info", "monitor": "server_cmds::monitor", "shutdown": "server_cmds::shutdown",
    "debug": "debug::debug", "role": "replication_cmds::role",
    "replicaof": "replication_cmds::replicaof", "slaveof": "replication_cmds::replicaof",
    "sync": "replication_cmds::sync", "psync": "replication_cmds::psync",
    "replconf": "replication_cmds::replconf", "wait": "replication_cmds::wait",
    "failover": "replication_cmds::failover",
    "flushdb": "keys::flushdb", "flushall": "keys::flushall", "swapdb": "keys::swapdb",
    "command": {
        "": "server_cmds::command_all",
        "count": "server_cmds::command_count", "info": "server_cmds::command_info",
        "docs": "server_cmds::command_docs", "list": "server_cmds::command_list",
        "getkeys": "server_cmds::command_getkeys", "getkeysandflags": "server_cmds::command_getkeysandflags",
        "help": "server_cmds::command_help",
    },
    "config": {
        "get": "server_cmds::config_get", "set": "server_cmds::config_set",
        "rewrite": "server_cmds::config_rewrite", "resetstat": "server_cmds::config_resetstat",
        "help": "server_cmds::config_help",
    },
    "memory": {
        "doctor": "memory::doctor", "help": "memory::help", "malloc-stats": "memory::malloc_stats",
        "purge": "memory::purge", "stats": "memory::stats", "usage": "memory::usage",
    },
    "latency": {
        "latest": "latency_cmd::latest", "history": "latency_cmd::history",
        "graph": "latency_cmd::graph", "doctor": "latency_cmd::doctor",
        "reset": "latency_cmd::reset", "histogram": "latency_cmd::histogram",
        "help": "latency_cmd::help",
    },
    "slowlog": {
        "get": "server_cmds::slowlog_get", "len": "server_cmds::slowlog_len",
        "reset": "server_cmds::slowlog_reset", "help": "server_cmds::slowlog_help",
    },
    # strings
    "set": "strings::set", "get": "strings::get", "getset": "strings::getset", "getdel": "strings::getdel",
    "getex": "strings::getex", "mset": "strings::mset", "msetnx": "strings::msetnx", "mget": "strings::mget",
    "append": "strings::append", "strlen": "strings::strlen", "incr": "strings::incr", "decr": "strings::decr",
    "incrby": "strings::incrby", "decrby": "strings::decrby", "incrbyfloat": "strings::incrbyfloat",
    "setnx": "strings::setnx", "setex": "strings::setex", "psetex": "strings::psetex",
    "getrange": "strings::getrange", "substr": "strings::getrange", "setrange": "strings::setrange",
    "setbit": "bitops::setbit", "getbit": "bitops::getbit", "bitcount": "bitops::bitcount",
    "bitpos": "bitops::bitpos", "bitop": "bitops::bitop",
    "bitfield": "bitops::bitfield", "bitfield_ro": "bitops::bitfield_ro", "lcs": "bitops::lcs",
    "pfadd": "hll::pfadd", "pfcount": "hll::pfcount", "pfmerge": "hll::pfmerge",
    "pfdebug": "hll::pfdebug", "pfselftest": "hll::pfselftest",
    "geoadd": "geo::geoadd", "geopos": "geo::geopos", "geodist": "geo::geodist", "geohash": "geo::geohash",
    "georadius": "geo::georadius", "georadius_ro": "geo::georadius_ro",
    "georadiusbymember": "geo::georadiusbymember", "georadiusbymember_ro": "geo::georadiusbymember_ro",
    "geosearch": "geo::geosearch", "geosearchstore": "geo::geosearchstore",
    # keys
    "del": "keys::del", "unlink": "keys::del", "exists": "keys::exists", "type": "keys::type_",
    "expire": "expire::expire", "pexpire": "expire::pexpire", "expireat": "expire::expireat",
    "pexpireat": "expire::pexpireat", "ttl": "expire::ttl", "pttl": "expire::pttl",
    "expiretime": "expire::expiretime", "pexpiretime": "expire::pexpiretime", "persist": "expire::persist",
    "rename": "keys::rename", "renamenx": "keys::renamenx", "copy": "keys::copy", "move": "keys::move_",
    "touch": "keys::touch", "keys": "keys::keys", "scan": "keys::scan", "randomkey": "keys::randomkey",
    "dump": "dump::dump", "restore": "dump::restore", "restore-asking": "dump::restore",
    "object": {
        "encoding": "keys::object_encoding", "freq": "keys::object_freq",
        "idletime": "keys::object_idletime", "refcount": "keys::object_refcount", "help": "keys::object_help",
    },
    # pub/sub
    "subscribe": "pubsub::subscribe", "unsubscribe": "pubsub::unsubscribe",
    "psubscribe": "pubsub::psubscribe", "punsubscribe": "pubsub::punsubscribe", "publish": "pubsub::publish",
    "ssubscribe": "pubsub::ssubscribe", "sunsubscribe": "pubsub::sunsubscribe", "spublish": "pubsub::spublish",
    "pubsub": {
        "channels": "pubsub::pubsub_channels", "numsub": "pubsub::pubsub_numsub",
        "shardchannels": "pubsub::pubsub_shardchannels", "shardnumsub": "pubsub::pubsub_shardnumsub",
        "numpat": "pubsub::pubsub_numpat", "help": "pubsub::pubsub_help",
    },
    # lists
    "lpush": "lists::lpush", "rpush": "lists::rpush", "lpushx": "lists::lpushx", "rpushx": "lists::rpushx", "lpop": "lists::lpop", "rpop": "lists::rpop", "llen": "lists::llen", "lrange": "lists::lrange", "lindex": "lists::lindex", "lset": "lists::lset", "linsert": "lists::linsert", "lrem": "lists::lrem", "ltrim": "lists::ltrim", "lpos": "lists::lpos", "rpoplpush": "lists::rpoplpush", "lmove": "lists::lmove", "lmpop": "lists::lmpop", "blpop": "lists::blpop", "brpop": "lists::brpop", "blmove": "lists::blmove", "brpoplpush": "lists::brpoplpush", "blmpop": "lists::blmpop",
    # hashes
    "hset": "hashes::hset", "hsetnx": "hashes::hsetnx", "hget": "hashes::hget", "hmset": "hashes::hmset", "hmget": "hashes::hmget", "hgetall": "hashes::hgetall", "hdel": "hashes::hdel", "hexists": "hashes::hexists", "hlen": "hashes::hlen", "hkeys": "hashes::hkeys", "hvals": "hashes::hvals", "hincrby": "hashes::hincrby", "hincrbyfloat": "hashes::hincrbyfloat", "hstrlen": "hashes::hstrlen", "hrandfield": "hashes::hrandfield", "hscan": "hashes::hscan",
    # sets
    "sadd": "sets::sadd", "srem": "sets::srem", "smembers": "sets::smembers", "sismember": "sets::sismember", "smismember": "sets::smismember", "scard": "sets::scard", "spop": "sets::spop", "srandmember": "sets::srandmember", "smove": "sets::smove", "sinter": "sets::sinter", "sintercard": "sets::sintercard", "sunion": "sets::sunion", "sdiff": "sets::sdiff", "sinterstore": "sets::sinterstore", "sunionstore": "sets::sunionstore", "sdiffstore": "sets::sdiffstore", "sscan": "sets::sscan",
    # zsets
    "zadd": "zsets::zadd", "zincrby": "zsets::zincrby", "zscore": "zsets::zscore", "zmscore": "zsets::zmscore", "zcard": "zsets::zcard", "zcount": "zsets::zcount", "zlexcount": "zsets::zlexcount", "zrange": "zsets::zrange", "zrangestore": "zsets::zrangestore", "zrangebyscore": "zsets::zrangebyscore", "zrevrangebyscore": "zsets::zrevrangebyscore", "zrangebylex": "zsets::zrangebylex", "zrevrangebylex": "zsets::zrevrangebylex", "zrevrange": "zsets::zrevrange", "zrank": "zsets::zrank", "zrevrank": "zsets::zrevrank", "zrem": "zsets::zrem", "zremrangebyscore": "zsets::zremrangebyscore", "zremrangebyrank": "zsets::zremrangebyrank", "zremrangebylex": "zsets::zremrangebylex", "zpopmin": "zsets::zpopmin", "zpopmax": "zsets::zpopmax", "zmpop": "zsets::zmpop", "bzpopmin": "zsets::bzpopmin", "bzpopmax": "zsets::bzpopmax", "bzmpop": "zsets::bzmpop", "zunion": "zsets::zunion", "zinter": "zsets::zinter", "zdiff": "zsets::zdiff", "zunionstore": "zsets::zunionstore", "zinterstore": "zsets::zinterstore", "zdiffstore": "zsets::zdiffstore", "zintercard": "zsets::zintercard", "zrandmember": "zsets::zrandmember", "zscan": "zsets::zscan",
    # sort
    "sort": "sort::sort", "sort_ro": "sort::sort_ro",
    # scripting
    "eval": "scripting::eval", "evalsha": "scripting::evalsha", "eval_ro": "scripting::eval_ro",
    "evalsha_ro": "scripting::evalsha_ro",
    "script": {
        "load": "scripting::script_load", "exists": "scripting::script_exists",
        "flush": "scripting::script_flush", "kill": "scripting::script_kill",
        "help": "scripting::script_help",
    },
    "fcall": "scripting::fcall", "fcall_ro": "scripting::fcall_ro",
    "function": {
        "load": "scripting::function_load", "delete": "scripting::function_delete",
        "flush": "scripting::function_flush", "list": "scripting::function_list",
        "dump": "scripting::function_dump", "restore": "scripting::function_restore",
        "stats": "scripting::function_stats", "kill": "scripting::function_kill",
        "help": "scripting::function_help",
    },
    # transactions
    "multi": "multi::multi", "exec": "multi::exec", "discard": "multi::discard",
    "watch": "multi::watch", "unwatch": "multi::unwatch",
}

# Picket's own commands (not in Redis): their COMMAND INFO / COMMAND DOCS entries, in
# Redis's reply shapes, since no Redis can give them.
PICKET_COMMANDS = {
    # docs/failover-safety.md, rule 2: a failover leader fences a replica at its epoch.
    "replfence": (
        ["replfence", 2, ["admin", "noscript", "loading", "stale"], 0, 0, 0,
         ["@admin", "@slow", "@dangerous"], [], [], []],
        ["summary", "Raise the failover epoch and stop taking the stream of a master whose failover epoch is older; replies the role, the epoch, the replication id and offset",
         "since", "picket", "group", "server", "complexity", "O(1)",
         "arguments", [["name", "epoch", "type", "integer"]]],
    ),
}
HANDLERS["replfence"] = "replication_cmds::replfence"
# access control lists
HANDLERS["acl"] = {sub: "acl_cmd::" + sub for sub in [
    "cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log", "save",
    "setuser", "users", "whoami"]}
# streams
HANDLERS.update({
    "xadd": "streams::xadd", "xrange": "streams::xrange", "xrevrange": "streams::xrevrange",
    "xlen": "streams::xlen", "xdel": "streams::xdel", "xtrim": "streams::xtrim",
    "xread": "streams::xread", "xsetid": "streams::xsetid",
    "xgroup": {sub: "stream_groups::xgroup" for sub in
               ["create", "setid", "destroy", "createconsumer", "delconsumer", "help"]},
    "xreadgroup": "stream_groups::xreadgroup", "xack": "stream_pel::xack",
    "xpending": "stream_pel::xpending", "xclaim": "stream_pel::xclaim",
    "xautoclaim": "stream_pel::xautoclaim",
    "xinfo": {sub: "stream_info::xinfo" for sub in ["stream", "groups", "consumers", "help"]},
})

FLAGS = {
    "write": "WRITE", "readonly": "READONLY", "denyoom": "DENYOOM", "admin": "ADMIN", "pubsub": "PUBSUB",
    "noscript": "NOSCRIPT", "blocking": "BLOCKING", "loading": "LOADING", "stale": "STALE",
    "skip_monitor": "SKIP_MONITOR", "skip_slowlog": "SKIP_SLOWLOG", "fast": "FAST", "no_auth": "NO_AUTH",
    "may_replicate": "MAY_REPLICATE", "no_mandatory_keys": "NO_MANDATORY_KEYS", "no_multi": "NO_MULTI",
    "movablekeys": "MOVABLEKEYS", "allow_busy": "ALLOW_BUSY", "no_async_loading": "NO_ASYNC_LOADING",
    "sentinel": "SENTINEL", "only_sentinel": "ONLY_SENTINEL", "protected": "PROTECTED",
    "asking": "ASKING",
}


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        b = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            b += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(b)
        return self.read()

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("unexpected %r" % line)


def pairs(lst):
    return {lst[i]: lst[i + 1] for i in range(0, len(lst), 2)}


def rs(s):
    if s is None:
        return "None"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def opt(s):
    return "None" if s is None else "Some(%s)" % rs(s)


def strs(lst):
    return "&[" + ", ".join(rs(x) for x in lst) + "]"


def keyspec(ks, ind):
    d = pairs(ks)
    b = pairs(d["begin_search"])
    bspec = pairs(b["spec"]) if b.get("spec") else {}
    if b["type"] == "index":
        begin = "BeginSearch::Index(%d)" % bspec["index"]
    elif b["type"] == "keyword":
        begin = "BeginSearch::Keyword { keyword: %s, startfrom: %d }" % (rs(bspec["keyword"]), bspec["startfrom"])
    else:
        begin = "BeginSearch::Unknown"
    fk = pairs(d["find_keys"])
    fspec = pairs(fk["spec"]) if fk.get("spec") else {}
    if fk["type"] == "range":
        find = "FindKeys::Range { lastkey: %d, keystep: %d, limit: %d }" % (fspec["lastkey"], fspec["keystep"], fspec["limit"])
    elif fk["type"] == "keynum":
        find = "FindKeys::Keynum { keynumidx: %d, firstkey: %d, keystep: %d }" % (fspec["keynumidx"], fspec["firstkey"], fspec["keystep"])
    else:
        find = "FindKeys::Unknown"
    return "%sKeySpec { notes: %s, flags: %s, begin: %s, find: %s }" % (
        ind, opt(d.get("notes")), strs(d["flags"]), begin, find)


def argument(a, ind):
    d = pairs(a)
    sub = d.get("arguments") or []
    inner = "&[]" if not sub else "&[\n" + ",\n".join(argument(x, ind + "    ") for x in sub) + ",\n" + ind + "]"
    return ("%sArg { name: %s, typ: %s, key_spec_index: %d, token: %s, summary: %s, since: %s, "
            "flags: %s, deprecated_since: %s, display: %s, args: %s }") % (
        ind, rs(d["name"]), rs(d["type"]), d.get("key_spec_index", -1), opt(d.get("token")),
        opt(d.get("summary")), opt(d.get("since")), strs(d.get("flags") or []),
        opt(d.get("deprecated_since")), opt(d.get("display")), inner)


COUNTER = [0]
HANDLER_OF = {}


def spec(info, docs, handler, parent, ind):
    name, arity, flags, first, last, step, acl, tips, keyspecs, subs = info
    short = name.split("|")[-1]
    cid = COUNTER[0]
    COUNTER[0] += 1
    full = name
    d = pairs(docs)
    fl = " | ".join("flags::" + FLAGS[f] for f in flags) or "0"
    ks = "&[]" if not keyspecs else "&[\n" + ",\n".join(keyspec(k, ind + "        ") for k in keyspecs) + ",\n" + ind + "    ]"
    hist = d.get("history") or []
    hist_s = "&[" + ", ".join("(%s, %s)" % (rs(h[0]), rs(h[1])) for h in hist) + "]"
    args = d.get("arguments") or []
    args_s = "&[]" if not args else "&[\n" + ",\n".join(argument(x, ind + "        ") for x in args) + ",\n" + ind + "    ]"
    if isinstance(handler, dict):
        subdocs = pairs(d.get("subcommands") or [])
        children = []
        for sinfo in sorted(subs, key=lambda x: x[0]):
            sname = sinfo[0].split("|")[1]
            if sname in handler:
                children.append(spec(sinfo, subdocs[sinfo[0]], handler[sname], short, ind + "        "))
        missing = set(handler) - {s[0].split("|")[1] for s in subs} - {""}
        if missing:
            raise SystemExit("no such subcommands of %s in the reference: %s" % (name, missing))
        sub_s = "&[\n" + ",\n".join(children) + ",\n" + ind + "    ]"
        handler_s = handler.get("", "container")
    else:
        sub_s = "&[]"
        handler_s = handler
    HANDLER_OF[cid] = (handler_s, full)
    return """%sCommandSpec {
%s    name: %s,
%s    full_name: %s,
%s    id: %d,
%s    parent: %s,
%s    arity: %d,
%s    flags: %s,
%s    keys: Keys::range(%d, %d, %d),
%s    acl: %s,
%s    tips: %s,
%s    key_specs: %s,
%s    doc: Doc {
%s        summary: %s,
%s        since: %s,
%s        group: %s,
%s        complexity: %s,
%s        doc_flags: %s,
%s        deprecated_since: %s,
%s        replaced_by: %s,
%s        history: %s,
%s        arguments: %s,
%s    },
%s    subcommands: %s,
%s}""" % (ind, ind, rs(short), ind, rs(name), ind, cid, ind, opt(parent), ind, arity, ind, fl, ind, first, last, step,
           ind, strs(acl), ind, strs(tips), ind, ks, ind, ind, rs(d.get("summary", "")), ind, rs(d.get("since", "")),
           ind, rs(d.get("group", "")), ind, rs(d.get("complexity", "")), ind, strs(d.get("doc_flags") or []),
           ind, opt(d.get("deprecated_since")), ind, opt(d.get("replaced_by")), ind, hist_s, ind, args_s, ind,
           ind, sub_s, ind)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7000
    c = Conn(port)
    version = c.cmd("INFO", "server").split("redis_version:")[1].split("\r\n")[0]
    names = sorted(HANDLERS)
    asked = [n for n in names if n not in PICKET_COMMANDS]
    infos = dict(zip(asked, c.cmd("COMMAND", "INFO", *asked)))
    docs = pairs(c.cmd("COMMAND", "DOCS", *asked))
    for n, (info, doc) in PICKET_COMMANDS.items():
        infos[n] = info
        docs[n] = doc
    out = []
    for n in names:
        info = infos[n]
        if info is None:
            raise SystemExit("the reference has no command %r" % n)
        out.append(spec(info, docs[n], HANDLERS[n], None, "    "))
    here = os.path.dirname(os.path.abspath(__file__))
    dest = os.path.join(here, "..", "src", "command")
    with open(os.path.join(dest, "table.rs"), "w") as f:
        f.write("""// @generated by server/tools/gen_table.py from Redis %s's COMMAND INFO and COMMAND DOCS.
// Do not edit by hand: add a command to HANDLERS in the script and run it again.
// Metadata (arity, flags, key specs, docs) is Redis's; the handlers are ours (handlers.rs).

#![allow(clippy::all)]

use super::keyspec::{Arg, BeginSearch, Doc, FindKeys, KeySpec};
use super::spec::{flags, CommandSpec, Keys};

/// Every command, sorted by name.
pub static COMMANDS: &[CommandSpec] = &[
%s,
];

/// Number of commands and subcommands (the range of `CommandSpec::id`).
pub const COMMAND_IDS: usize = %d;
""" % (version, ",\n".join(out), COUNTER[0]))
    rows = "\n".join("    %s, // %d %s" % (HANDLER_OF[i][0], i, HANDLER_OF[i][1]) for i in range(COUNTER[0]))
    with open(os.path.join(dest, "handlers.rs"), "w") as f:
        f.write("""// @generated by server/tools/gen_table.py with table.rs.
// Do not edit by hand: add a command to HANDLERS in the script and run it again.

#![allow(clippy::all)]

use super::{
    acl_cmd, bitops, client_cmd, connection, debug, dump, expire, geo, hashes, hll, info, keys, latency_cmd, lists, memory, multi, pubsub,
    replication_cmds, scripting,
    server_cmds, sets, sort, stream_groups, stream_info, stream_pel, streams, strings, tracking_cmd, zsets,
};
use super::{container, Handler};
use super::table::COMMAND_IDS;

/// The handler of each command and subcommand, by `CommandSpec::id`.
pub static HANDLERS: [Handler; COMMAND_IDS] = [
%s
];
""" % rows)


main()
