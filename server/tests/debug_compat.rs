//! DEBUG against Redis 7.0: every subcommand picket has answers as Redis does (HELP, the
//! argument errors, PROTOCOL in RESP2 and RESP3, OBJECT, the knobs), and DIGEST /
//! DIGEST-VALUE of the same data set (every type and encoding, TTLs, several databases)
//! are equal on both, whether the data came by commands or by picket's RDB file.

mod common;
mod persist_util;
mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Conn, Pair, Reply, Server};
use persist_util::{populate_all, wait_loaded};

const DEBUG_ON: &[&str] = &["--enable-debug-command", "yes"];

fn pair() -> Option<Pair> {
    Pair::start(DEBUG_ON)
}

/// Every key of every database, with the database.
fn all_keys(c: &mut Conn) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for db in 0..16 {
        c.q(&format!("SELECT {db}"));
        for k in c.q("KEYS *").items() {
            if let Reply::Bulk(b) = k {
                out.push((db, b));
            }
        }
    }
    c.q("SELECT 0");
    out.sort();
    out
}

/// DIGEST and the DIGEST-VALUE of every key (and of a missing one), per database.
fn digests(c: &mut Conn) -> (Reply, Vec<Reply>) {
    let whole = c.q("DEBUG DIGEST");
    let mut values = Vec::new();
    let keys = all_keys(c);
    for db in 0..16 {
        let mut args: Vec<Vec<u8>> = vec![b"DEBUG".to_vec(), b"DIGEST-VALUE".to_vec()];
        args.extend(
            keys.iter()
                .filter(|(d, _)| *d == db)
                .map(|(_, k)| k.clone()),
        );
        args.push(b"no-such-key".to_vec());
        c.q(&format!("SELECT {db}"));
        values.push(c.cmd(&args));
    }
    c.q("SELECT 0");
    (whole, values)
}

#[test]
fn help_lists_redis_text_for_what_picket_has() {
    let Some(p) = pair() else { return };
    let lines = |r: Reply| -> Vec<String> { r.items().iter().map(Reply::text).collect() };
    let ours = lines(p.picket.conn().q("DEBUG HELP"));
    let redis = lines(p.redis.conn().q("DEBUG HELP"));
    assert_eq!(ours.first(), redis.first());
    assert_eq!(ours[ours.len() - 2..], redis[redis.len() - 2..]);
    // Each entry (a subcommand line and its indented description) is Redis's, in its order.
    let entries = |l: &[String]| -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for line in &l[1..l.len() - 2] {
            if line.starts_with(' ') {
                out.last_mut().expect("an entry").push(line.clone());
            } else {
                out.push(vec![line.clone()]);
            }
        }
        out
    };
    let (ours, redis) = (entries(&ours), entries(&redis));
    let mut at = 0;
    for e in &ours {
        let found = redis[at..]
            .iter()
            .position(|r| r == e)
            .unwrap_or_else(|| panic!("{e:?} is not in Redis's help (in this order)"));
        at += found + 1;
    }
    let names: Vec<&str> = ours.iter().map(|e| e[0].as_str()).collect();
    for sub in [
        "DIGEST",
        "DIGEST-VALUE <key> [<key> ...]",
        "RELOAD [option ...]",
        "LOADAOF",
        "PROTOCOL <type>",
        "CHANGE-REPL-ID",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "LISTPACK <key>",
        "STRINGMATCH-TEST",
        "REPLYBUFFER RESIZING <0|1>",
        "SLEEP <seconds>",
    ] {
        assert!(names.contains(&sub), "{sub} missing from {names:?}");
    }
}

#[test]
fn bad_arguments_answer_as_redis() {
    let Some(p) = pair() else { return };
    p.same(&[
        &["DEBUG"],
        &["DEBUG", "HELP", "x"],
        &["DEBUG", "nosuch"],
        &["DEBUG", "JMAP"],
        &["DEBUG", "DICT-RESIZING", "0"],
        &["DEBUG", "STRINGMATCH-LEN"],
        &["DEBUG", "DIGEST", "x"],
        &["DEBUG", "DIGEST-VALUE"],
        &["DEBUG", "OBJECT"],
        &["DEBUG", "OBJECT", "nokey"],
        &["DEBUG", "OBJECT", "a", "b"],
        &["DEBUG", "LISTPACK"],
        &["DEBUG", "LISTPACK", "nokey"],
        &["DEBUG", "QUICKLIST", "nokey"],
        &["DEBUG", "QUICKLIST", "a", "1", "2"],
        &["DEBUG", "PROTOCOL"],
        &["DEBUG", "PROTOCOL", "nosuch"],
        &["DEBUG", "PROTOCOL", "string", "x"],
        &["DEBUG", "SLEEP"],
        &["DEBUG", "SET-ACTIVE-EXPIRE"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "abc"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "-1"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4gb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "10xb"],
        &["DEBUG", "CHANGE-REPL-ID", "x"],
        &["DEBUG", "STRINGMATCH-TEST", "x"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "abc"],
        &["DEBUG", "REPLYBUFFER", "nosuch", "1"],
        &["DEBUG", "PAUSE-CRON"],
        &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION"],
        &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1", "2"],
        &["DEBUG", "POPULATE"],
        &["DEBUG", "POPULATE", "-1"],
        &["DEBUG", "POPULATE", "abc"],
        &["DEBUG", "POPULATE", "1", "p", "-5"],
        &["DEBUG", "POPULATE", "1", "p", "5", "x"],
        &["DEBUG", "RELOAD", "FAST"],
        &["DEBUG", "RELOAD", "MERGE", "x"],
        &["DEBUG", "LOG"],
        &["DEBUG", "ERROR"],
        &["DEBUG", "REPLICATE"],
    ]);
    // The wrong type: LISTPACK and QUICKLIST say which encoding they need.
    p.same(&[
        &["SET", "str", "v"],
        &["RPUSH", "list", "a"],
        &["HSET", "hash", "f", "v"],
        &["ZADD", "zset", "1", "m"],
        &["SADD", "set", "1"],
        &["DEBUG", "LISTPACK", "str"],
        &["DEBUG", "LISTPACK", "list"],
        &["DEBUG", "LISTPACK", "set"],
        &["DEBUG", "LISTPACK", "hash"],
        &["DEBUG", "LISTPACK", "zset"],
        &["DEBUG", "QUICKLIST", "hash"],
        &["DEBUG", "QUICKLIST", "list"],
        &["DEBUG", "QUICKLIST", "list", "1"],
        // A key past its time still counts for DIGEST-VALUE (a debugging command sees it
        // until it is deleted), and is gone for LISTPACK, which expires it.
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["HSET", "gone", "f", "v"],
        &["PEXPIRE", "gone", "1"],
        &["DEBUG", "SLEEP", "0.01"],
        &["DEBUG", "DIGEST-VALUE", "gone"],
        &["DEBUG", "LISTPACK", "gone"],
        &["DEBUG", "DIGEST-VALUE", "gone"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ]);
    // The structures went to stdout (the log file here), entries included.
    let out = p.picket.log_text();
    assert!(out.contains("{listpack of key hash}"), "{out}");
    assert!(out.contains("{quicklist of key list}"), "{out}");
    assert!(out.contains("{index 1} {len 1} v"), "{out}");
}

#[test]
fn debug_is_refused_unless_enabled() {
    let Some(p) = Pair::start(&[]) else { return };
    p.same(&[&["DEBUG", "DIGEST"], &["DEBUG", "HELP"]]);
}

/// Send `cmd` then PING and read the raw bytes up to PING's answer: every byte of the
/// reply, whatever its RESP type.
fn raw_reply(s: &mut TcpStream, cmd: &[&str]) -> String {
    let mut b = Vec::new();
    for c in [cmd, &["PING"][..]] {
        b.extend_from_slice(&picket_common::resp::encode_command(c));
    }
    s.write_all(&b).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.ends_with(b"+PONG\r\n") {
        let n = s.read(&mut chunk).expect("reply");
        assert!(n > 0, "closed");
        got.extend_from_slice(&chunk[..n]);
    }
    got.truncate(got.len() - 7);
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn protocol_replies_byte_for_byte_in_resp2_and_resp3() {
    let Some(p) = pair() else { return };
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false", "STRING", "nosuch",
    ];
    for proto in [2, 3] {
        let mut conns: Vec<TcpStream> = [p.picket.port, p.redis.port]
            .iter()
            .map(|&port| {
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                s
            })
            .collect();
        for s in conns.iter_mut() {
            let hello = raw_reply(s, &["HELLO", &proto.to_string()]);
            assert!(
                hello.starts_with(if proto == 3 { "%" } else { "*" }),
                "{hello}"
            );
        }
        for t in types {
            let ours = raw_reply(&mut conns[0], &["DEBUG", "PROTOCOL", t]);
            let redis = raw_reply(&mut conns[1], &["DEBUG", "PROTOCOL", t]);
            assert_eq!(ours, redis, "DEBUG PROTOCOL {t} in RESP{proto}");
        }
    }
}

#[test]
fn digests_of_the_same_data_are_redis_digests() {
    let Some(p) = pair() else { return };
    let mut pc = p.picket.conn();
    let mut rc = p.redis.conn();
    let zeros = Reply::simple(&"0".repeat(40));
    assert_eq!(pc.q("DEBUG DIGEST"), zeros);
    assert_eq!(rc.q("DEBUG DIGEST"), zeros);
    populate_all(&mut pc);
    populate_all(&mut rc);
    let ours = digests(&mut pc);
    assert_eq!(ours, digests(&mut rc));
    assert_ne!(ours.0, zeros);
    // Values differ from each other (the digest sees content, type and TTL).
    p.same(&[
        &["SET", "x", "1"],
        &["SADD", "y", "1"],
        &["SET", "z", "1", "EX", "1000"],
        &["DEBUG", "DIGEST-VALUE", "x", "y", "z"],
    ]);
    // Moving data to another database changes the digest, as in Redis.
    p.same(&[&["SWAPDB", "0", "1"], &["DEBUG", "DIGEST"]]);
    assert_eq!(digests(&mut pc), digests(&mut rc));
    // Encodings converted by growth or by loading do not change it.
    p.same(&[
        &["RPUSH", "l", "a"],
        &["HSET", "h", "f", "v"],
        &["ZADD", "zz", "1", "m"],
        &["SADD", "s", "1"],
        &["DEBUG", "DIGEST"],
        &["HSET", "h", "long", &"v".repeat(100)],
        &["ZADD", "zz", "2", &"m".repeat(100)],
        &["SADD", "s", "text"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "RELOAD"],
        &["DEBUG", "DIGEST"],
    ]);
    p.same(&[&["FLUSHALL"], &["DEBUG", "DIGEST"]]);
}

#[test]
fn redis_loading_picket_rdb_has_the_same_digest() {
    let picket = Server::start(DEBUG_ON);
    let mut pc = picket.conn();
    populate_all(&mut pc);
    let ours = digests(&mut pc);
    assert_eq!(pc.q("SAVE"), Reply::ok());
    let dir = picket.dir.path().to_str().unwrap().to_string();
    let Some(redis) = Server::redis(&["--enable-debug-command", "yes", "--dir", &dir]) else {
        return;
    };
    let mut rc = redis.conn();
    wait_loaded(&mut rc);
    assert_eq!(ours, digests(&mut rc));
}

/// DEBUG OBJECT with the address and the LRU clock masked (they are the process's own).
fn object_line(c: &mut Conn, key: &str) -> String {
    let r = c.q(&format!("DEBUG OBJECT {key}"));
    let Reply::Simple(s) = r else {
        return format!("{r:?}");
    };
    s.split(' ')
        .map(|w| {
            if w.starts_with("at:") {
                "at:?"
            } else if w.starts_with("lru:") {
                "lru:?"
            } else if w.starts_with("lru_seconds_idle:") {
                "idle:?"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn object_reports_redis_encoding_lengths_and_quicklist_figures() {
    let Some(p) = pair() else { return };
    let keys = [
        ("SET s:int 12345", "s:int"),
        ("SET s:shared 42", "s:shared"),
        ("SET s:embstr hello", "s:embstr"),
        ("SET s:long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "s:long"),
        ("RPUSH l:small a b c 1 2 300", "l:small"),
        ("SADD set:int 1 2 3", "set:int"),
        ("SADD set:str a b", "set:str"),
        ("HSET h:small f v g 12", "h:small"),
        ("ZADD z:small 1 a 2.5 b", "z:small"),
    ];
    let mut pc = p.picket.conn();
    let mut rc = p.redis.conn();
    // The serialized length is the RDB encoding's; picket's LZF compressor is not Redis's
    // (both read each other's output), so compressed lengths differ: compare without.
    p.same(&[&["CONFIG", "SET", "rdbcompression", "no"]]);
    for (cmd, key) in keys {
        pc.q(cmd);
        rc.q(cmd);
        assert_eq!(
            object_line(&mut pc, key),
            object_line(&mut rc, key),
            "{key}"
        );
    }
    // Big lists: several quicklist nodes; then with a packed threshold, plain nodes.
    let items: Vec<String> = (0..2000).map(|i| format!("item-{i}")).collect();
    let mut push = vec!["RPUSH".to_string(), "l:big".to_string()];
    push.extend(items);
    for c in [&mut pc, &mut rc] {
        c.cmd(&push);
    }
    assert_eq!(object_line(&mut pc, "l:big"), object_line(&mut rc, "l:big"));
    // (Redis decides plain or packed when an element is inserted, picket when it looks at
    // the list: the figures agree while the threshold is the one the list was built with.)
    p.same(&[
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "10b"],
        &[
            "RPUSH",
            "l:plain",
            "a",
            "bbbbbbbbbbbbbbbbbbbb",
            "c",
            "d",
            "eeeeeeeeeeeeeeeeeeeeeeeee",
        ],
    ]);
    assert_eq!(
        object_line(&mut pc, "l:plain"),
        object_line(&mut rc, "l:plain")
    );
    // DUMP writes the plain nodes too, byte for byte as Redis.
    p.same(&[
        &["DUMP", "l:plain"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
    ]);
    // Compressed, the length is that of the compressed RDB encoding (as DUMP writes it:
    // type byte + encoding + 10 bytes of footer).
    p.same(&[&["CONFIG", "SET", "rdbcompression", "yes"]]);
    for key in ["s:long", "l:big"] {
        let line = object_line(&mut pc, key);
        let len: usize = line
            .split(' ')
            .find_map(|w| w.strip_prefix("serializedlength:"))
            .and_then(|n| n.parse().ok())
            .unwrap();
        let Reply::Bulk(dump) = pc.q(&format!("DUMP {key}")) else {
            panic!("DUMP {key}")
        };
        assert_eq!(len, dump.len() - 11, "{key}: {line}");
        let plain = object_line(&mut rc, key);
        assert!(plain.contains("serializedlength:"), "{plain}");
    }
    // The data is the same for all that, and survives a reload with plain nodes.
    p.same(&[
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"],
        &["DEBUG", "RELOAD"],
        &["LRANGE", "l:plain", "0", "-1"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
    ]);
}

#[test]
fn knobs_and_small_subcommands_answer_as_redis() {
    let Some(p) = pair() else { return };
    p.same(&[
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "3gb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "NEVER"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "reset"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "0"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "1"],
        &["DEBUG", "PAUSE-CRON", "0"],
        &["DEBUG", "SLEEP", "0"],
        &["DEBUG", "LOG", "hello from the test"],
        &["DEBUG", "ERROR", "MYERR something\r\nfailed"],
        &["DEBUG", "ERROR", "plain"],
        &["DEBUG", "STRINGMATCH-TEST"],
        &["DEBUG", "REPLICATE", "SET", "k", "v"],
        &["GET", "k"],
        &["DEBUG", "CHANGE-REPL-ID"],
        &["DEBUG", "POPULATE", "5"],
        &["DEBUG", "POPULATE", "3", "p", "20"],
        &["DEBUG", "POPULATE", "3", "q", "2"],
        &["MGET", "key:0", "key:4", "p:2", "q:1", "key:5"],
        &["DEBUG", "POPULATE", "7"],
        &["DBSIZE"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "DIGEST-VALUE", "key:0", "p:0"],
    ]);
    assert!(p
        .picket
        .log_text()
        .contains("DEBUG LOG: hello from the test"));
    // CHANGE-REPL-ID: a new replication id, and no previous one.
    for c in [&mut p.picket.conn(), &mut p.redis.conn()] {
        let field = |c: &mut Conn, name: &str| -> String {
            let info = c.q("INFO replication").text();
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap()
                .to_string()
        };
        let before = field(c, "master_replid");
        assert_eq!(c.q("DEBUG CHANGE-REPL-ID"), Reply::ok());
        let after = field(c, "master_replid");
        assert_ne!(before, after);
        assert_eq!(after.len(), 40);
        assert_eq!(field(c, "master_replid2"), "0".repeat(40));
    }
}

#[test]
fn pause_cron_stops_active_expiry_as_in_redis() {
    let Some(p) = pair() else { return };
    // With the cron paused, keys past their time stay in memory (DBSIZE counts them) until
    // the cron runs again.
    let scenario = |port: u16| -> (Reply, bool) {
        let mut c = Conn::connect(port);
        c.q("DEBUG PAUSE-CRON 1");
        for i in 0..20 {
            c.q(&format!("SET k{i} v PX 10"));
        }
        std::thread::sleep(Duration::from_millis(300));
        let held = c.q("DBSIZE");
        c.q("DEBUG PAUSE-CRON 0");
        let drained = util::wait_until(Duration::from_secs(10), || c.q("DBSIZE") == Reply::Int(0));
        (held, drained)
    };
    let r = util::same_scenario(&p, scenario);
    assert_eq!(r, (Reply::Int(20), true));
}
