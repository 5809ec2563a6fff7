//! Pub/Sub against Redis 7.0: SUBSCRIBE/UNSUBSCRIBE/PSUBSCRIBE/PUNSUBSCRIBE/PUBLISH/PUBSUB
//! between several clients, the RESP2 subscribed context, RESP3 push frames interleaved with
//! replies, keyspace notifications, and the pubsub output buffer hard limit.

mod common;
mod util;

use std::time::Duration;

use common::{Conn, Pair, Reply, Server};
use util::{same_raw, same_scenario, wait_until};

fn same_lines(pair: &Pair, lines: &[&str]) {
    let cmds: Vec<Vec<&str>> = lines.iter().map(|l| util::words(l)).collect();
    let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
    pair.same(&refs);
}

/// Read `n` replies.
fn read_n(c: &mut Conn, n: usize) -> Vec<Reply> {
    (0..n).map(|_| c.read()).collect()
}

#[test]
fn command_errors_and_confirmations() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "SUBSCRIBE",
            "PSUBSCRIBE",
            "PUBLISH a",
            "PUBLISH a b c",
            "PUBLISH a b",
            "PUBSUB",
            "PUBSUB FOO",
            "PUBSUB CHANNELS a b",
            "PUBSUB NUMSUB",
            "PUBSUB NUMPAT x",
            "PUBSUB CHANNELS",
            "PUBSUB NUMPAT",
            // Unsubscribing while subscribed to nothing answers with a null name.
            "UNSUBSCRIBE",
            "PUNSUBSCRIBE",
            "UNSUBSCRIBE a",
            "PUNSUBSCRIBE a*",
        ],
    );
    // Confirmations count channels and patterns together; repeats are confirmed again.
    same_raw(
        &pair,
        b"SUBSCRIBE a b a\r\nPSUBSCRIBE p* p* a\r\nUNSUBSCRIBE a z\r\nPUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\n",
    );
}

#[test]
fn resp2_subscribed_context() {
    let Some(pair) = Pair::start(&[]) else { return };
    // In RESP2, a subscribed client may only (un)subscribe, PING, QUIT and RESET.
    same_raw(
        &pair,
        b"SUBSCRIBE ch\r\nPING\r\nPING hello\r\nGET a\r\nECHO x\r\nMULTI\r\nCLIENT ID\r\nPUBLISH ch x\r\nNOSUCH\r\nPSUBSCRIBE p*\r\nUNSUBSCRIBE\r\nPING\r\nPUNSUBSCRIBE\r\nPING\r\nECHO free\r\n",
    );
    same_raw(
        &pair,
        b"PSUBSCRIBE p*\r\nSELECT 1\r\nRESET\r\nECHO free\r\n",
    );
    same_raw(&pair, b"SUBSCRIBE ch\r\nQUIT\r\n");
    // Arity errors come before the context check.
    same_raw(&pair, b"SUBSCRIBE ch\r\nGET\r\nECHO\r\n");
}

#[test]
fn messages_between_clients() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut out = Vec::new();
        let mut s1 = Conn::connect(port);
        let mut s2 = Conn::connect(port);
        let mut s3 = Conn::connect(port);
        let mut p = Conn::connect(port);
        s1.send(&["SUBSCRIBE", "news", "sport"]);
        out.extend(read_n(&mut s1, 2));
        s2.send(&["PSUBSCRIBE", "n*", "*s*"]);
        out.extend(read_n(&mut s2, 2));
        s3.send(&["SUBSCRIBE", "news"]);
        out.extend(read_n(&mut s3, 1));
        s3.send(&["PSUBSCRIBE", "news"]);
        out.extend(read_n(&mut s3, 1));
        // news: s1, s3 by channel; s2 twice (two patterns); s3 by pattern.
        out.push(p.cmd(&["PUBLISH", "news", "hello"]));
        out.extend(read_n(&mut s1, 1));
        let mut s2msgs = read_n(&mut s2, 2);
        s2msgs.sort_by_key(|r| format!("{r:?}"));
        out.extend(s2msgs);
        out.extend(read_n(&mut s3, 2));
        out.push(p.cmd(&["PUBLISH", "sport", "goal"]));
        out.extend(read_n(&mut s1, 1));
        out.extend(read_n(&mut s2, 1));
        out.push(p.cmd(&["PUBLISH", "weather", "rain"]));
        out.push(p.cmd(&["PUBLISH", "nothing", "x"]));
        out.extend(read_n(&mut s2, 1));
        // Binary-safe channel and message.
        s1.send(&[&b"SUBSCRIBE"[..], b"b\x00\xff"]);
        out.push(s1.read());
        out.push(p.cmd(&[&b"PUBLISH"[..], b"b\x00\xff", b"\r\n\x00"]));
        out.push(s1.read());
        // PUBSUB views (CHANNELS in any order, as Redis's dict).
        let mut chans = p.q("PUBSUB CHANNELS").items();
        chans.sort_by_key(|r| format!("{r:?}"));
        out.push(Reply::Array(chans));
        let mut chans = p.q("PUBSUB CHANNELS n*").items();
        chans.sort_by_key(|r| format!("{r:?}"));
        out.push(Reply::Array(chans));
        out.push(p.q("PUBSUB NUMSUB news sport weather"));
        out.push(p.q("PUBSUB NUMPAT"));
        // A client leaving drops its subscriptions.
        drop(s3);
        wait_until(Duration::from_secs(5), || {
            p.q("PUBSUB NUMSUB news").items()[1] == Reply::Int(1)
        });
        out.push(p.q("PUBSUB NUMSUB news"));
        out.push(p.q("PUBSUB NUMPAT"));
        out.push(p.cmd(&["PUBLISH", "news", "again"]));
        out
    });
}

#[test]
fn resp3_pushes_interleave_with_replies() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut out = Vec::new();
        let mut s = Conn::connect(port);
        let mut p = Conn::connect(port);
        util::sorted_maps(s.q("HELLO 3"));
        s.send(&["SUBSCRIBE", "a", "b"]);
        out.extend(read_n(&mut s, 2));
        // Any command is allowed in RESP3, PING answers normally.
        out.push(s.q("PING"));
        out.push(s.q("ECHO x"));
        out.push(s.q("GET nokey"));
        // A message published between two commands arrives before the next reply.
        out.push(p.q("PUBLISH a one"));
        out.push(s.q("ECHO y"));
        out.push(s.read());
        // Own PUBLISH: the push comes before the count.
        out.push(s.q("PUBLISH b own"));
        out.push(s.read());
        s.send(&["PSUBSCRIBE", "a*"]);
        out.push(s.read());
        out.push(p.q("PUBLISH a two"));
        out.extend(read_n(&mut s, 2));
        // Inside MULTI the pushes of its own PUBLISH precede the EXEC reply.
        out.push(s.q("MULTI"));
        out.push(s.q("PUBLISH b in-multi"));
        out.push(s.q("EXEC"));
        out.push(s.read());
        // UNSUBSCRIBE without channels answers in Redis's dict order: any order.
        s.send(&["UNSUBSCRIBE"]);
        let unsub = read_n(&mut s, 2);
        let mut names: Vec<Reply> = unsub.iter().map(|r| r.items()[1].clone()).collect();
        names.sort_by_key(|r| format!("{r:?}"));
        out.extend(names);
        out.extend(unsub.iter().map(|r| r.items()[2].clone()));
        s.send(&["PUNSUBSCRIBE"]);
        out.push(s.read());
        out.push(s.q("PING"));
        out
    });
    // The wire format: `>` frames.
    let r = same_raw(
        &pair,
        b"CLIENT REPLY SKIP\r\nHELLO 3\r\nSUBSCRIBE x\r\nPING\r\n",
    );
    assert_eq!(
        r.text(),
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n+PONG\r\n"
    );
}

#[test]
fn keyspace_notifications_from_the_command_line() {
    let Some(pair) = Pair::start(&[
        "--notify-keyspace-events",
        "KEA",
        "--enable-debug-command",
        "yes",
    ]) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut s = Conn::connect(port);
        let mut c = Conn::connect(port);
        s.send(&["PSUBSCRIBE", "__key*__:*"]);
        s.read();
        let mut n = 0;
        for cmd in [
            "SET k v",
            "SET k v2 EX 100",
            "EXPIRE k 200",
            "PERSIST k",
            "DEL k",
            "SET n 1",
            "INCR n",
            "APPEND n x",
            "RENAME n m",
            "GET nokey",
            "MSET a 1 b 2",
            "GETDEL a",
            "SELECT 3",
            "SET z 1",
            "EXPIRE z 0",
            "SETRANGE q 0 x",
            "COPY q q2",
            "DEBUG POPULATE 3",
        ] {
            c.q(cmd);
            n += 1;
        }
        assert_eq!(n, 18);
        // Lazy expiry fires `expired`.
        c.q("SET e 1 PX 1");
        std::thread::sleep(Duration::from_millis(30));
        c.q("GET e");
        c.q("PUBLISH __keyspace@0__:end end");
        let mut msgs = Vec::new();
        loop {
            let m = s.read();
            let done = m.items()[2] == Reply::bulk("__keyspace@0__:end");
            msgs.push(m);
            if done {
                break;
            }
        }
        msgs
    });
}

#[test]
fn keyspace_notifications_by_config_set() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_scenario(&pair, |port| {
        let mut s = Conn::connect(port);
        let mut c = Conn::connect(port);
        s.send(&[
            "SUBSCRIBE",
            "__keyevent@0__:set",
            "__keyevent@0__:del",
            "__keyspace@0__:k",
        ]);
        read_n(&mut s, 3);
        let mut out = vec![c.q("SET k 1")];
        out.push(c.q("CONFIG SET notify-keyspace-events E$"));
        out.push(c.q("CONFIG GET notify-keyspace-events"));
        c.q("SET k 2");
        c.q("DEL k");
        out.push(c.q("CONFIG SET notify-keyspace-events Kg"));
        out.push(c.q("CONFIG GET notify-keyspace-events"));
        c.q("SET k 3");
        c.q("DEL k");
        out.push(c.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]));
        c.q("SET k 4");
        c.q("PUBLISH __keyspace@0__:k end");
        loop {
            let m = s.read();
            let done = m.items()[2] == Reply::bulk("end");
            out.push(m);
            if done {
                break;
            }
        }
        out
    });
    same_lines(
        &pair,
        &[
            "CONFIG SET notify-keyspace-events Q",
            "CONFIG SET notify-keyspace-events KEA",
            "CONFIG GET notify-keyspace-events",
            "CONFIG SET notify-keyspace-events Ex$lshzxetdmn",
            "CONFIG GET notify-keyspace-events",
            "CONFIG SET notify-keyspace-events AKEmn",
            "CONFIG GET notify-keyspace-events",
        ],
    );
}

#[test]
fn pubsub_output_buffer_hard_limit() {
    let picket = Server::start(&[]);
    let redis = Server::redis(&[]);
    for s in std::iter::once(&picket).chain(redis.as_ref()) {
        let mut p = s.conn();
        let limit = [
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64kb 32kb 60",
        ];
        assert_eq!(p.cmd(&limit), Reply::ok());
        let mut sub = s.conn();
        sub.q("SUBSCRIBE big");
        // Publish 1 MB messages until the subscriber that never reads is cut off (the
        // kernel's socket buffers absorb a few first).
        let msg = vec![b'm'; 1 << 20];
        let mut published = 0;
        loop {
            let n = p.cmd(&[&b"PUBLISH"[..], b"big", &msg]).int();
            published += 1;
            if n == 0 {
                break;
            }
            assert!(published < 300, "subscriber never disconnected");
        }
        // The publisher is unaffected; the subscriber is gone.
        assert_eq!(p.q("PING"), Reply::simple("PONG"));
        assert_eq!(p.q("PUBSUB NUMSUB big").items()[1], Reply::Int(0));
        assert!(sub.is_closed());
        assert_eq!(util::client_lines(&mut p).len(), 1);
        if !s.is_redis {
            assert!(s
                .log_text()
                .contains("scheduled to be closed ASAP for overcoming of output buffer limits"));
        }
    }
}

#[test]
fn pubsub_info_counters() {
    let s = Server::start(&[]);
    let mut a = s.conn();
    let mut c = s.conn();
    a.send(&["SUBSCRIBE", "x", "y"]);
    read_n(&mut a, 2);
    a.send(&["PSUBSCRIBE", "p*"]);
    a.read();
    assert_eq!(util::info_field(&mut c, "stats", "pubsub_channels"), "2");
    assert_eq!(util::info_field(&mut c, "stats", "pubsub_patterns"), "1");
    assert_eq!(
        util::info_field(&mut c, "stats", "pubsubshard_channels"),
        "0"
    );
}

#[test]
fn pubsub_output_buffer_soft_limit() {
    let picket = Server::start(&[]);
    let redis = Server::redis(&[]);
    for s in std::iter::once(&picket).chain(redis.as_ref()) {
        let mut p = s.conn();
        // No hard limit; over 32 KB for more than a second is too long.
        let limit = [
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 32kb 1",
        ];
        assert_eq!(p.cmd(&limit), Reply::ok());
        let mut sub = s.conn();
        sub.q("SUBSCRIBE soft");
        // Far more than the kernel's socket buffers hold: the rest waits in the server.
        let msg = vec![b's'; 1 << 20];
        for _ in 0..24 {
            assert_eq!(p.cmd(&[&b"PUBLISH"[..], b"soft", &msg]), Reply::Int(1));
        }
        // Redis checks the limit when output is added: keep publishing a little.
        let gone = wait_until(Duration::from_secs(10), || {
            p.cmd(&["PUBLISH", "soft", "tick"]) == Reply::Int(0)
        });
        assert!(
            gone,
            "redis={}: subscriber over the soft limit not closed",
            s.is_redis
        );
        assert!(sub.is_closed());
        assert_eq!(p.q("PING"), Reply::simple("PONG"));
    }
}

/// Sharded pub/sub outside a cluster (Redis 7.0): SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH are a
/// namespace of their own (no patterns, apart from PUBLISH's channels), their counts are
/// their own, and they put a RESP2 client in the subscribed context.
#[test]
fn sharded_pubsub_as_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "SSUBSCRIBE",
            "SPUBLISH a",
            "SPUBLISH a b c",
            "SPUBLISH a b",
            "SUNSUBSCRIBE",
            "SUNSUBSCRIBE a",
            "PUBSUB SHARDCHANNELS a b",
            "PUBSUB SHARDCHANNELS",
            "PUBSUB SHARDNUMSUB",
            "PUBSUB SHARDNUMSUB a b",
            "PUBSUB HELP",
        ],
    );
    // Counts: shard channels apart from channels and patterns.
    same_raw(
        &pair,
        b"SSUBSCRIBE a b a\r\nSUBSCRIBE a\r\nPSUBSCRIBE p*\r\nSUNSUBSCRIBE a z\r\nPING\r\nGET x\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nPING\r\nSUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\nPING\r\nECHO free\r\n",
    );
    // Not in a transaction (SUBSCRIBE is).
    same_raw(&pair, b"MULTI\r\nSSUBSCRIBE a\r\nEXEC\r\nECHO free\r\n");
    same_raw(&pair, b"SSUBSCRIBE a\r\nRESET\r\nECHO free\r\n");
    same_scenario(&pair, |port| {
        let mut out = Vec::new();
        let mut s1 = Conn::connect(port);
        let mut s2 = Conn::connect(port);
        let mut p = Conn::connect(port);
        s1.send(&["SSUBSCRIBE", "orders", "{user}:1"]);
        out.extend(read_n(&mut s1, 2));
        s2.send(&["SUBSCRIBE", "orders"]);
        out.extend(read_n(&mut s2, 1));
        s2.send(&["PSUBSCRIBE", "*"]);
        out.extend(read_n(&mut s2, 1));
        // SPUBLISH reaches shard subscribers only; PUBLISH channel subscribers and patterns.
        out.push(p.cmd(&["SPUBLISH", "orders", "o1"]));
        out.extend(read_n(&mut s1, 1));
        out.push(p.cmd(&["PUBLISH", "orders", "o2"]));
        out.extend(read_n(&mut s2, 2));
        out.push(p.cmd(&["SPUBLISH", "{user}:1", "x"]));
        out.extend(read_n(&mut s1, 1));
        out.push(p.cmd(&["SPUBLISH", "nobody", "x"]));
        let mut chans = p.q("PUBSUB SHARDCHANNELS").items();
        chans.sort_by_key(|r| format!("{r:?}"));
        out.push(Reply::Array(chans));
        out.push(p.q("PUBSUB SHARDCHANNELS o*"));
        out.push(p.q("PUBSUB SHARDNUMSUB orders nobody"));
        out.push(p.q("PUBSUB NUMSUB orders"));
        let info = p.q("INFO stats").text();
        let line = info
            .lines()
            .find(|l| l.starts_with("pubsubshard_channels:"))
            .unwrap_or("missing")
            .to_string();
        out.push(Reply::Simple(line));
        let list = p.q("CLIENT LIST").text();
        let mut flags: Vec<String> = list
            .lines()
            .map(|l| {
                l.split(' ')
                    .filter(|f| {
                        ["flags=", "sub=", "psub=", "ssub="]
                            .iter()
                            .any(|p| f.starts_with(p))
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        flags.sort();
        out.push(Reply::Simple(flags.join("|")));
        // A client leaving drops its shard subscriptions.
        drop(s1);
        wait_until(Duration::from_secs(5), || {
            p.q("PUBSUB SHARDNUMSUB orders").items()[1] == Reply::Int(0)
        });
        out.push(p.q("PUBSUB SHARDCHANNELS"));
        out.push(p.cmd(&["SPUBLISH", "orders", "gone"]));
        out
    });
}
