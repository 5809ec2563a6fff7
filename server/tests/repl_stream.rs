//! The replication stream and the AOF, byte for byte against Redis 7.0: the same command
//! sequences run on picket and on redis-server, each with a fake replica attached
//! (`PSYNC ? -1`, disk RDB skipped) and `appendonly yes`; what the replica receives after
//! the RDB, the incr AOF file, the replies and the replication offsets must be equal, with
//! absolute times (unix seconds or milliseconds computed by the servers) masked.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Conn, Server};

/// A connection that speaks the replica side of a full sync, then collects the stream.
struct FakeReplica {
    s: TcpStream,
    buf: Vec<u8>,
}

impl FakeReplica {
    fn attach(port: u16) -> FakeReplica {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut r = FakeReplica { s, buf: Vec::new() };
        r.send(&["REPLCONF", "listening-port", "1"]);
        assert_eq!(r.line(), "+OK");
        // No `capa eof`: a disk RDB sent as `$<len>\r\n<bytes>`.
        r.send(&["PSYNC", "?", "-1"]);
        let full = r.line();
        assert!(full.starts_with("+FULLRESYNC "), "{full}");
        let head = r.line();
        let len: usize = head
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("RDB header {head:?}"));
        r.take(len);
        r
    }

    fn send(&mut self, args: &[&str]) {
        self.s
            .write_all(&picket_common::resp::encode_command(args))
            .expect("write");
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self.s.read(&mut chunk).expect("read from the master");
        assert!(n > 0, "the master closed the link");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// One line, skipping the bare `\n` keepalives a master sends while it prepares the RDB.
    fn line(&mut self) -> String {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            }
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = String::from_utf8_lossy(&self.buf[..p]).into_owned();
                self.buf.drain(..p + 2);
                return l;
            }
            self.fill();
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        self.buf.drain(..n).collect()
    }

    /// Everything that arrived until nothing more came for a while.
    fn stream(&mut self) -> Vec<u8> {
        self.s
            .set_read_timeout(Some(Duration::from_millis(400)))
            .expect("timeout");
        let mut chunk = [0u8; 65536];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.buf)
    }
}

/// Replace every run of 10 or 13 digits that reads as a time near now (unix seconds or
/// milliseconds) by as many `T`s: lengths, and so offsets, stay comparable.
fn mask_times(b: &[u8]) -> String {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let run = std::str::from_utf8(&b[start..i]).expect("digits");
            let v: u64 = run.parse().unwrap_or(0);
            let near = |t: u64| t + 86_400 * 3 >= now_s && t <= now_s + 86_400 * 3;
            if (run.len() == 10 && near(v)) || (run.len() == 13 && near(v / 1000)) {
                out.push_str(&"T".repeat(run.len()));
            } else {
                out.push_str(run);
            }
        } else {
            out.push_str(&String::from_utf8_lossy(&b[i..i + 1]));
            i += 1;
        }
    }
    out
}

/// A step of a scenario.
enum Step<'a> {
    /// Run a command on connection N and record its reply.
    Cmd(usize, &'a str),
    /// Send a command on connection N without reading (a blocking command).
    Send(usize, &'a str),
    /// Read one reply on connection N.
    Read(usize),
    /// Wait (keys expire meanwhile).
    Sleep(u64),
    /// DUMP key on connection 0, then RESTORE <dst> <ttl> <payload> <opts...>.
    DumpRestore(&'a str, &'a str, &'a str, &'a str),
}
use Step::*;

fn words(line: &str) -> Vec<String> {
    line.split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| if s == "''" { String::new() } else { s.into() })
        .collect()
}

#[derive(Debug, PartialEq)]
struct Observed {
    replies: Vec<String>,
    stream: String,
    stream_len: usize,
    aof: String,
    offset_delta: i64,
}

fn info_offset(c: &mut Conn) -> i64 {
    let text = c.q("INFO replication").text();
    text.lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("master_repl_offset")
}

fn incr_aof(dir: &std::path::Path) -> Vec<u8> {
    std::fs::read(dir.join("appendonlydir").join("appendonly.aof.1.incr.aof")).unwrap_or_default()
}

fn observe(server: &Server, steps: &[Step]) -> Observed {
    let mut admin = server.conn();
    // A replica attached: the backlog exists and the stream starts with a SELECT.
    let mut replica = FakeReplica::attach(server.port);
    let start = info_offset(&mut admin);
    let aof_start = incr_aof(server.dir.path()).len();
    let mut conns: Vec<Conn> = Vec::new();
    let mut replies = Vec::new();
    for step in steps {
        let mut conn = |n: usize| {
            while conns.len() <= n {
                conns.push(server.conn());
            }
            n
        };
        match step {
            Cmd(n, line) => {
                let n = conn(*n);
                let r = conns[n].cmd(&words(line));
                replies.push(format!(
                    "{line} -> {}",
                    mask_times(format!("{r:?}").as_bytes())
                ));
            }
            Send(n, line) => {
                let n = conn(*n);
                conns[n].send(&words(line));
            }
            Read(n) => {
                let n = conn(*n);
                let r = conns[n].read();
                replies.push(format!("read {n} -> {r:?}"));
            }
            Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            DumpRestore(src, dst, ttl, opts) => {
                let n = conn(0);
                let common::Reply::Bulk(payload) = conns[n].cmd(&["DUMP", src]) else {
                    panic!("DUMP {src}")
                };
                let mut args: Vec<Vec<u8>> = vec![
                    b"RESTORE".to_vec(),
                    dst.as_bytes().to_vec(),
                    ttl.as_bytes().to_vec(),
                    payload,
                ];
                args.extend(words(opts).into_iter().map(String::into_bytes));
                let r = conns[n].cmd(&args);
                replies.push(format!("RESTORE {dst} {ttl} {opts} -> {r:?}"));
            }
        }
    }
    let stream = replica.stream();
    let offset_delta = info_offset(&mut admin) - start;
    // The AOF is written before replies go out; `everysec` fsync does not matter here.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut aof = incr_aof(server.dir.path());
    while aof.len() < aof_start && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        aof = incr_aof(server.dir.path());
    }
    Observed {
        replies,
        stream: mask_times(&stream),
        stream_len: stream.len(),
        aof: mask_times(&aof[aof_start.min(aof.len())..]),
        offset_delta,
    }
}

/// Run the steps on Redis 7.0 and on picket, started with the same extra arguments, and
/// require the same observations.
fn same(extra: &[&str], steps: &[Step]) {
    let mut args = vec![
        "--appendonly",
        "yes",
        "--repl-diskless-sync",
        "no",
        "--repl-ping-replica-period",
        "3600",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    let Some(redis) = Server::redis(&args) else {
        return;
    };
    let picket = Server::start(&[&["--save", ""][..], &args].concat());
    let r = observe(&redis, steps);
    let p = observe(&picket, steps);
    assert_eq!(
        p.replies, r.replies,
        "replies: picket (left), redis (right)"
    );
    assert_eq!(
        p.stream, r.stream,
        "replication stream: picket (left), redis (right)"
    );
    assert_eq!(p.aof, r.aof, "AOF: picket (left), redis (right)");
    assert_eq!(p.offset_delta, r.offset_delta, "replication offsets");
    assert_eq!(
        p.offset_delta as usize, p.stream_len,
        "offset counts the stream"
    );
}

#[test]
fn transactions_select_before_multi_and_unwrap_single_writes() {
    same(
        &[],
        &[
            Cmd(0, "SELECT 3"),
            Cmd(0, "MULTI"),
            Cmd(0, "SET a 1"),
            Cmd(0, "INCR n"),
            Cmd(0, "EXEC"),
            // A single write: no MULTI/EXEC around it.
            Cmd(0, "MULTI"),
            Cmd(0, "SET b 2"),
            Cmd(0, "GET b"),
            Cmd(0, "EXEC"),
            // Only reads: nothing.
            Cmd(0, "MULTI"),
            Cmd(0, "GET a"),
            Cmd(0, "EXEC"),
            Cmd(0, "MULTI"),
            Cmd(0, "EXEC"),
            // SELECT inside: the SELECT before MULTI is the first write's db.
            Cmd(0, "SELECT 0"),
            Cmd(0, "MULTI"),
            Cmd(0, "SELECT 5"),
            Cmd(0, "SET c 3"),
            Cmd(0, "SELECT 6"),
            Cmd(0, "SET d 4"),
            Cmd(0, "SELECT 0"),
            Cmd(0, "EXEC"),
            Cmd(0, "SET e 5"),
            // A failing command inside does not propagate.
            Cmd(0, "MULTI"),
            Cmd(0, "SET s x"),
            Cmd(0, "LPUSH s y"),
            Cmd(0, "SET t y"),
            Cmd(0, "EXEC"),
            // Discarded and aborted transactions leave nothing.
            Cmd(0, "MULTI"),
            Cmd(0, "SET f 1"),
            Cmd(0, "DISCARD"),
            Cmd(0, "MULTI"),
            Cmd(0, "SET g 1"),
            Cmd(0, "NOSUCHCOMMAND"),
            Cmd(0, "EXEC"),
            // The other client's db comes first.
            Cmd(1, "SELECT 9"),
            Cmd(1, "SET h 1"),
            Cmd(0, "SET i 1"),
        ],
    );
}

#[test]
fn relative_expiry_becomes_absolute() {
    same(
        &[],
        &[
            Cmd(0, "SET k v"),
            Cmd(0, "EXPIRE k 100"),
            Cmd(0, "PEXPIRE k 100000"),
            Cmd(0, "EXPIREAT k 4000000000"),
            Cmd(0, "PEXPIREAT k 4000000000000"),
            Cmd(0, "EXPIRE k 100 GT"),
            Cmd(0, "EXPIRE k 100 LT"),
            Cmd(0, "PERSIST k"),
            Cmd(0, "EXPIRE k -1"),
            Cmd(0, "SET k v EX 100"),
            Cmd(0, "SET k v PX 100000"),
            Cmd(0, "SET k v EXAT 4000000000"),
            Cmd(0, "SET k v PXAT 4000000000000"),
            Cmd(0, "SET k v KEEPTTL"),
            Cmd(0, "SET k w XX GET EX 100"),
            Cmd(0, "SET k v EXAT 1"),
            Cmd(0, "SETEX k 100 v"),
            Cmd(0, "PSETEX k 100000 v"),
            Cmd(0, "GETEX k EX 100"),
            Cmd(0, "GETEX k PX 100000"),
            Cmd(0, "GETEX k EXAT 4000000000"),
            Cmd(0, "GETEX k PERSIST"),
            Cmd(0, "GETEX k"),
            Cmd(0, "GETEX k EXAT 1"),
            Cmd(0, "SET m v"),
            Cmd(0, "GETDEL m"),
            Cmd(0, "SET r v"),
            DumpRestore("r", "r2", "100000", ""),
            DumpRestore("r", "r3", "4000000000000", "ABSTTL"),
            DumpRestore("r", "r4", "0", ""),
            DumpRestore("r", "r2", "5000", "REPLACE"),
            DumpRestore("r", "r5", "1", "ABSTTL"),
        ],
    );
}

#[test]
fn expired_keys_propagate_as_del() {
    same(
        &[],
        &[
            Cmd(0, "DEBUG SET-ACTIVE-EXPIRE 0"),
            Cmd(0, "SET a 1 PX 20"),
            Cmd(0, "SET b 1 PX 20"),
            Cmd(0, "SET c 1 PX 20"),
            Cmd(0, "SET d 1 PX 20"),
            Cmd(0, "RPUSH l x"),
            Cmd(0, "PEXPIRE l 20"),
            Sleep(100),
            // Lazy expiry on a read: DEL alone.
            Cmd(0, "GET a"),
            // On a write: MULTI, DEL, the write, EXEC.
            Cmd(0, "SET b 2"),
            Cmd(0, "INCR c"),
            // Inside a transaction: in its MULTI/EXEC.
            Cmd(0, "MULTI"),
            Cmd(0, "EXISTS d"),
            Cmd(0, "SET z 1"),
            Cmd(0, "EXEC"),
            Cmd(0, "RPUSH l y"),
            // The active cycle: a plain DEL (one key: the cycle samples in random order).
            Cmd(0, "SET e 1 PX 20"),
            Cmd(0, "DEBUG SET-ACTIVE-EXPIRE 1"),
            Sleep(400),
            Cmd(0, "DBSIZE"),
        ],
    );
}

#[test]
fn expired_keys_propagate_as_unlink_with_lazyfree_lazy_expire() {
    same(
        &["--lazyfree-lazy-expire", "yes"],
        &[
            Cmd(0, "DEBUG SET-ACTIVE-EXPIRE 0"),
            Cmd(0, "SET a 1 PX 20"),
            Cmd(0, "SET b 1 PX 20"),
            Sleep(100),
            Cmd(0, "GET a"),
            Cmd(0, "DEBUG SET-ACTIVE-EXPIRE 1"),
            Sleep(400),
        ],
    );
}

#[test]
fn float_increments_sets_and_blocking_pops_are_rewritten() {
    same(
        &[],
        &[
            Cmd(0, "SET f 1.5 EX 1000"),
            Cmd(0, "INCRBYFLOAT f 2.25"),
            Cmd(0, "INCRBYFLOAT g 3"),
            Cmd(0, "HINCRBYFLOAT h x 1.5"),
            Cmd(0, "HINCRBYFLOAT h x 1e3"),
            Cmd(0, "SADD s a"),
            Cmd(0, "SPOP s"),
            Cmd(0, "SPOP s"),
            Cmd(0, "SADD s a"),
            Cmd(0, "SPOP s 5"),
            Cmd(0, "SADD s a"),
            Cmd(0, "SPOP s 0"),
            Cmd(0, "SRANDMEMBER s 3"),
            Cmd(0, "RPUSH q a b c"),
            Cmd(0, "BLPOP q 0"),
            Cmd(0, "BRPOP q 0"),
            Cmd(0, "BLMOVE q q2 LEFT RIGHT 0"),
            Cmd(0, "BRPOPLPUSH q2 q3 0"),
            Cmd(0, "ZADD z 1 a 2 b 3 c"),
            Cmd(0, "BZPOPMIN z 0"),
            Cmd(0, "BZPOPMAX z 0"),
            Cmd(0, "BLMPOP 0 1 q3 LEFT"),
            Cmd(0, "BZMPOP 0 1 z MIN"),
            // Served later, when another client pushes.
            Send(1, "BLPOP w 0"),
            Sleep(100),
            Cmd(0, "RPUSH w 1 2"),
            Read(1),
            Send(1, "BLMOVE w2 w3 RIGHT LEFT 0"),
            Sleep(100),
            Cmd(0, "MULTI"),
            Cmd(0, "RPUSH w2 x"),
            Cmd(0, "SET after 1"),
            Cmd(0, "EXEC"),
            Read(1),
            Send(1, "BZPOPMIN zz 0"),
            Sleep(100),
            Cmd(0, "ZADD zz 1 m"),
            Read(1),
        ],
    );
}

#[test]
fn keyspace_commands() {
    same(
        &[],
        &[
            Cmd(0, "SET a 1"),
            Cmd(0, "MOVE a 2"),
            Cmd(0, "SET b 1"),
            Cmd(0, "RENAME b c"),
            Cmd(0, "RENAMENX c d"),
            Cmd(0, "COPY d e DB 4"),
            Cmd(0, "SWAPDB 0 4"),
            Cmd(0, "SELECT 4"),
            Cmd(0, "SET x 1"),
            Cmd(0, "FLUSHDB"),
            Cmd(0, "SET y 1"),
            Cmd(0, "FLUSHALL"),
            Cmd(0, "FLUSHALL ASYNC"),
            Cmd(0, "SET y 1"),
            Cmd(0, "FLUSHDB SYNC"),
            Cmd(0, "DEL nothing"),
            Cmd(0, "SET z 1"),
            Cmd(0, "UNLINK z"),
            Cmd(0, "PUBLISH ch hello"),
            Cmd(0, "EXPIRE nothing 10"),
        ],
    );
}

/// Scripts propagate their effects (wrapped in MULTI/EXEC when there are several), never
/// the script: the replica and the AOF get exactly what Redis 7.0 sends, `redis.set_repl`
/// included.
#[test]
fn scripts_propagate_their_effects() {
    same(
        &[],
        &[
            Cmd(0, "SELECT 3"),
            Cmd(0, "EVAL redis.call('set',KEYS[1],'1');redis.call('incr',KEYS[1]);return(1) 1 a"),
            // One write: no MULTI/EXEC.
            Cmd(0, "EVAL return(redis.call('set','b','2')) 0"),
            // Only reads: nothing.
            Cmd(0, "EVAL return(redis.call('get','b')) 0"),
            Cmd(0, "EVAL_RO return(redis.call('get','b')) 0"),
            // Relative expiry becomes absolute, inside the transaction.
            Cmd(0, "EVAL redis.call('expire','b',100);redis.call('set','c','x','ex','100');return(1) 0"),
            // The script's SELECT stays inside it.
            Cmd(0, "EVAL redis.call('select','5');redis.call('set','x','1');redis.call('select','6');redis.call('set','y','1') 0"),
            Cmd(0, "SET back-in-3 1"),
            // A failing command after a write: the write stays.
            Cmd(0, "EVAL redis.call('set','d','1');redis.call('lpush','d','x') 0"),
            // EVALSHA too.
            Cmd(0, "SCRIPT LOAD redis.call('incr','n');redis.call('incr','n')"),
            Cmd(0, "EVALSHA 43c3e7ab47b83f04aa5f2b29c9c3c22ecdfee968 0"),
            // redis.set_repl chooses the targets.
            Cmd(0, "EVAL redis.set_repl(redis.REPL_AOF);redis.call('set','aofonly','1');redis.set_repl(redis.REPL_ALL);redis.call('set','both','1') 0"),
            Cmd(0, "EVAL redis.set_repl(redis.REPL_REPLICA);redis.call('set','replonly','1') 0"),
            Cmd(0, "EVAL redis.set_repl(redis.REPL_NONE);redis.call('set','none','1') 0"),
            // Keys expired by the script's lookups.
            Cmd(0, "DEBUG SET-ACTIVE-EXPIRE 0"),
            Cmd(0, "SET e 1 PX 1"),
            Sleep(20),
            Cmd(0, "EVAL return(redis.call('get','e')) 0"),
            Cmd(0, "DEBUG SET-ACTIVE-EXPIRE 1"),
        ],
    );
}
