//! BZPOPMIN / BZPOPMAX / BZMPOP with several clients: wake-up, first blocked first served,
//! time-outs, several keys, keys of another type, wake-up by MULTI/EXEC and by the STORE
//! commands, no blocking inside MULTI. Each scenario runs on picket and on Redis 7.0 and the
//! transcripts must be equal.

#[path = "zsets_support.rs"]
mod support;

use std::time::{Duration, Instant};

use support::common::{Conn, Reply};
use support::Duo;

/// Wait until `n` clients are blocked (INFO clients).
fn wait_blocked(c: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = c.q("INFO clients").text();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Run `scenario` on both servers; their transcripts must be equal.
fn on_both(scenario: fn(u16) -> Vec<Reply>) {
    let Some(d) = Duo::start(&[]) else { return };
    let p = scenario(d.picket.port);
    let r = scenario(d.redis.port);
    assert_eq!(p, r, "picket (left) and redis (right) transcripts differ");
}

#[test]
fn woken_in_the_order_they_blocked() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut c1 = Conn::connect(port);
        let mut c2 = Conn::connect(port);
        let mut c3 = Conn::connect(port);
        let mut p = Conn::connect(port);
        c1.send(&["BZPOPMIN", "k", "0"]);
        wait_blocked(&mut p, 1);
        c2.send(&["BZPOPMAX", "other", "k", "0"]);
        wait_blocked(&mut p, 2);
        c3.send(&["BZMPOP", "0", "1", "k", "MIN", "COUNT", "2"]);
        wait_blocked(&mut p, 3);
        out.push(p.q("ZADD k 1 a 2 b 3 c 4 d 5 e"));
        out.push(c1.read());
        out.push(c2.read());
        out.push(c3.read());
        out.push(p.q("ZRANGE k 0 -1 WITHSCORES"));
        // Fewer members than waiters: the rest keep waiting.
        c1.send(&["BZPOPMIN", "j", "0"]);
        wait_blocked(&mut p, 1);
        c2.send(&["BZPOPMIN", "j", "0"]);
        wait_blocked(&mut p, 2);
        out.push(p.q("ZADD j 1 x"));
        out.push(c1.read());
        wait_blocked(&mut p, 1);
        out.push(p.q("EXISTS j"));
        out.push(p.q("ZADD j 2 y"));
        out.push(c2.read());
        // The pipelined command after a blocking one waits for it.
        c1.send(&["BZPOPMAX", "a", "b", "0"]);
        c1.send(&["ECHO", "after"]);
        wait_blocked(&mut p, 1);
        out.push(p.q("ZADD b 7 m"));
        out.push(c1.read());
        out.push(c1.read());
        out
    });
}

#[test]
fn woken_by_transactions_and_store_commands() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        p.q("ZADD src 1 a 2 b 3 c");
        // Served after the whole transaction, from the final state.
        w.send(&["BZPOPMAX", "t", "0"]);
        wait_blocked(&mut p, 1);
        p.q("MULTI");
        p.q("ZADD t 1 a");
        p.q("ZADD t 5 b");
        p.q("ZREM t a");
        out.push(p.q("EXEC"));
        out.push(w.read());
        // ZUNIONSTORE, ZRANGESTORE, ZINCRBY, RENAME, COPY create the key.
        for (i, cmd) in [
            "ZUNIONSTORE u 1 src",
            "ZRANGESTORE u src 1 1",
            "ZINCRBY u 3 x",
            "RENAME src u",
        ]
        .iter()
        .enumerate()
        {
            let how = if i % 2 == 0 { "BZPOPMIN" } else { "BZPOPMAX" };
            w.send(&[how, "u", "0"]);
            wait_blocked(&mut p, 1);
            out.push(p.q(cmd));
            out.push(w.read());
            out.push(p.q("DEL u"));
        }
        p.q("ZADD orig 1 o");
        w.send(&["BZMPOP", "0", "2", "none", "c", "MAX"]);
        wait_blocked(&mut p, 1);
        out.push(p.q("COPY orig c"));
        out.push(w.read());
        out
    });
}

#[test]
fn another_type_does_not_serve_and_time_outs() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        w.send(&["BZPOPMIN", "k", "0"]);
        wait_blocked(&mut p, 1);
        out.push(p.q("SET k str"));
        out.push(p.q("DEL k"));
        out.push(p.q("RPUSH k x"));
        out.push(p.q("DEL k"));
        wait_blocked(&mut p, 1);
        out.push(p.q("ZADD k 3 z"));
        out.push(w.read());
        // Time-outs: a null array.
        let t = Instant::now();
        out.push(w.q("BZPOPMIN nothing 0.1"));
        assert!(t.elapsed() >= Duration::from_millis(100));
        out.push(w.q("BZMPOP 0.05 2 n1 n2 MIN"));
        out.push(w.q("BZPOPMAX nothing -1"));
        out.push(w.q("BZPOPMAX nothing abc"));
        out.push(w.q("BZMPOP abc 1 k MIN"));
        out.push(w.q("BZMPOP -1 1 k MIN"));
        out.push(w.q("BZMPOP abc 0 k MIN"));
        out.push(w.q("BZMPOP abc 1 k MIN COUNT 0"));
        out.push(w.q("BZMPOP 0 1 k BAD"));
        w.q("HELLO 3");
        out.push(w.q("BZPOPMIN nothing 0.05"));
        out.push(w.q("BZMPOP 0.05 1 nothing MIN"));
        out.push(p.q("SET str v"));
        out.push(w.q("BZPOPMIN str 0"));
        out.push(w.q("BZPOPMIN nothing str 0"));
        out.push(w.q("BZMPOP 0 2 nothing str MIN"));
        out
    });
}

#[test]
fn no_blocking_inside_multi() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut c = Conn::connect(port);
        c.q("MULTI");
        c.q("BZPOPMIN k 0");
        c.q("BZPOPMAX k 10");
        c.q("BZMPOP 0 1 k MIN");
        c.send(&["EXEC"]);
        let mut raw = [0u8; 64];
        let n = std::io::Read::read(&mut c.stream, &mut raw).unwrap();
        out.push(Reply::Bulk(raw[..n].to_vec()));
        c.q("ZADD k 1 a 2 b 3 c");
        c.q("MULTI");
        c.q("BZPOPMIN k 0");
        c.q("BZMPOP 0 1 k MAX COUNT 5");
        c.q("BZPOPMIN k 0");
        out.push(c.q("EXEC"));
        out
    });
}

#[test]
fn unblocked_by_client_unblock_and_disconnection() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        let id = w.q("CLIENT ID").int().to_string();
        w.send(&["BZPOPMIN", "k", "0"]);
        wait_blocked(&mut p, 1);
        out.push(p.cmd(&["CLIENT", "UNBLOCK", &id]));
        out.push(w.read());
        w.send(&["BZMPOP", "0", "1", "k", "MIN"]);
        wait_blocked(&mut p, 1);
        out.push(p.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]));
        out.push(w.read());
        {
            let mut gone = Conn::connect(port);
            gone.send(&["BZPOPMIN", "k", "0"]);
            wait_blocked(&mut p, 1);
        }
        wait_blocked(&mut p, 0);
        out.push(p.q("ZADD k 1 a"));
        out.push(p.q("ZCARD k"));
        out
    });
}

#[test]
fn served_from_the_key_that_became_ready() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        // Both keys get data in one transaction: the first one signalled serves.
        w.send(&["BZPOPMIN", "a", "b", "0"]);
        wait_blocked(&mut p, 1);
        p.q("MULTI");
        p.q("ZADD b 1 x");
        p.q("ZADD a 1 y");
        out.push(p.q("EXEC"));
        out.push(w.read());
        w.send(&["BZMPOP", "0", "2", "c", "d", "MAX", "COUNT", "2"]);
        wait_blocked(&mut p, 1);
        p.q("MULTI");
        p.q("ZADD d 1 x 2 y 3 z");
        p.q("ZADD c 1 y");
        out.push(p.q("EXEC"));
        out.push(w.read());
        // Another waited-for key turned into a string meanwhile: no WRONGTYPE.
        w.send(&["BZPOPMAX", "x", "k", "0"]);
        wait_blocked(&mut p, 1);
        out.push(p.q("SET x str"));
        out.push(p.q("ZADD k 1 a 2 b"));
        out.push(w.read());
        out.push(p.q("ZRANGE a 0 -1"));
        out.push(p.q("ZRANGE c 0 -1"));
        out
    });
}

fn dirty(c: &mut Conn) -> i64 {
    let info = c.q("INFO persistence").text();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

#[test]
fn served_pops_count_as_changes() {
    on_both(|port| {
        let mut out = Vec::new();
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        for (block, add) in [
            (&["BZPOPMIN", "k", "0"][..], "ZADD k 1 a 2 b"),
            (
                &["BZMPOP", "0", "1", "j", "MIN", "COUNT", "5"][..],
                "ZADD j 1 a 2 b 3 c",
            ),
        ] {
            let before = dirty(&mut p);
            w.send(block);
            wait_blocked(&mut p, 1);
            p.q(add);
            out.push(w.read());
            out.push(Reply::Int(dirty(&mut p) - before));
        }
        out
    });
}
