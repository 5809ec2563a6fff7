//! BLMOVE, BRPOPLPUSH and BLMPOP (and BLPOP/BRPOP with them) with several clients: wake-up
//! by push and by moves, FIFO service, time-outs, CLIENT UNBLOCK, disconnection, wake-up
//! through MULTI/EXEC, a destination that changed type, and multi-client scenarios compared
//! with Redis 7.0 reply by reply. Waits are generous; nothing asserts an upper bound on time
//! beyond "it happens".

mod common;
mod lists_util;

use std::time::{Duration, Instant};

use common::{Pair, Server};
use lists_util::{dirty, show, wait_blocked, words, RawConn};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn conns(s: &Server, n: usize) -> Vec<RawConn> {
    (0..n).map(|_| RawConn::connect(s.port)).collect()
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

// ------------------------------------------------------------------------------ picket alone

#[test]
fn blmove_and_brpoplpush_are_woken_by_a_push() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 2);
    let (w, p) = c.split_at_mut(1);
    let (w, p) = (&mut w[0], &mut p[0]);
    w.send(&words("BLMOVE src dst RIGHT LEFT 0"));
    wait_blocked(p, 1);
    assert_eq!(p.q("RPUSH src a b c"), ":3\r\n");
    assert_eq!(text(w.read()), "$1\r\nc\r\n");
    assert_eq!(p.q("LRANGE src 0 -1"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(p.q("LRANGE dst 0 -1"), "*1\r\n$1\r\nc\r\n");
    // BRPOPLPUSH: tail to head; the emptied source disappears.
    p.q("DEL src");
    w.send(&words("BRPOPLPUSH src dst 0"));
    wait_blocked(p, 1);
    assert_eq!(p.q("LPUSH src x"), ":1\r\n");
    assert_eq!(text(w.read()), "$1\r\nx\r\n");
    assert_eq!(p.q("EXISTS src"), ":0\r\n");
    assert_eq!(p.q("LRANGE dst 0 -1"), "*2\r\n$1\r\nx\r\n$1\r\nc\r\n");
    // The waiter's connection goes on normally, and a pipelined command waits for it.
    w.send(&words("BLMOVE q dst LEFT LEFT 0"));
    w.send(&words("ECHO after"));
    wait_blocked(p, 1);
    p.q("RPUSH q y");
    assert_eq!(text(w.read()), "$1\r\ny\r\n");
    assert_eq!(text(w.read()), "$5\r\nafter\r\n");
}

#[test]
fn blmpop_is_woken_with_up_to_count_elements() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 3);
    c[0].send(&words("BLMPOP 0 2 a b RIGHT COUNT 2"));
    c[1].q("HELLO 3");
    c[1].send(&words("BLMPOP 0 1 b LEFT COUNT 10"));
    wait_blocked(&mut c[2], 2);
    assert_eq!(c[2].q("RPUSH b 1 2 3 4"), ":4\r\n");
    assert_eq!(
        text(c[0].read()),
        "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n4\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        text(c[1].read()),
        "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(c[2].q("EXISTS b"), ":0\r\n");
}

#[test]
fn waiters_are_served_first_blocked_first_served() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 5);
    c[0].send(&words("BLMOVE k d1 LEFT RIGHT 0"));
    wait_blocked(&mut c[4], 1);
    c[1].send(&words("BLMPOP 0 2 other k LEFT COUNT 2"));
    wait_blocked(&mut c[4], 2);
    c[2].send(&words("BRPOPLPUSH k d2 0"));
    wait_blocked(&mut c[4], 3);
    c[3].send(&words("BLPOP k 0"));
    wait_blocked(&mut c[4], 4);
    // Four elements: one, two, then one (from the tail), the last waiter keeps waiting.
    assert_eq!(c[4].q("RPUSH k e1 e2 e3 e4"), ":4\r\n");
    assert_eq!(text(c[0].read()), "$2\r\ne1\r\n");
    assert_eq!(
        text(c[1].read()),
        "*2\r\n$1\r\nk\r\n*2\r\n$2\r\ne2\r\n$2\r\ne3\r\n"
    );
    assert_eq!(text(c[2].read()), "$2\r\ne4\r\n");
    wait_blocked(&mut c[4], 1);
    assert_eq!(c[4].q("EXISTS k"), ":0\r\n");
    c[4].q("RPUSH k e5");
    assert_eq!(text(c[3].read()), "*2\r\n$1\r\nk\r\n$2\r\ne5\r\n");
}

#[test]
fn a_move_into_a_waited_for_list_wakes_its_waiters() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 4);
    // A chain of blocked moves ending in a BLPOP: one push runs it all.
    c[0].send(&words("BLMOVE s1 s2 RIGHT LEFT 0"));
    wait_blocked(&mut c[3], 1);
    c[1].send(&words("BRPOPLPUSH s2 s3 0"));
    wait_blocked(&mut c[3], 2);
    c[2].send(&words("BLPOP s3 0"));
    wait_blocked(&mut c[3], 3);
    c[3].q("RPUSH s1 job");
    assert_eq!(text(c[0].read()), "$3\r\njob\r\n");
    assert_eq!(text(c[1].read()), "$3\r\njob\r\n");
    assert_eq!(text(c[2].read()), "*2\r\n$2\r\ns3\r\n$3\r\njob\r\n");
    assert_eq!(c[3].q("EXISTS s1 s2 s3"), ":0\r\n");
    // A plain LMOVE / RPOPLPUSH creating the key wakes a waiter too.
    c[0].send(&words("BLMPOP 0 1 t LEFT"));
    wait_blocked(&mut c[3], 1);
    c[3].q("RPUSH from a b");
    assert_eq!(c[3].q("LMOVE from t LEFT LEFT"), "$1\r\na\r\n");
    assert_eq!(text(c[0].read()), "*2\r\n$1\r\nt\r\n*1\r\n$1\r\na\r\n");
    c[0].send(&words("BLPOP t 0"));
    wait_blocked(&mut c[3], 1);
    assert_eq!(c[3].q("RPOPLPUSH from t"), "$1\r\nb\r\n");
    assert_eq!(text(c[0].read()), "*2\r\n$1\r\nt\r\n$1\r\nb\r\n");
    // A rotation served after blocking.
    c[0].send(&words("BLMOVE r r RIGHT LEFT 0"));
    wait_blocked(&mut c[3], 1);
    c[3].q("RPUSH r a b");
    assert_eq!(text(c[0].read()), "$1\r\nb\r\n");
    assert_eq!(c[3].q("LRANGE r 0 -1"), "*2\r\n$1\r\nb\r\n$1\r\na\r\n");
}

#[test]
fn timeouts_answer_a_null_array() {
    let s = Server::start(&[]);
    let mut c = RawConn::connect(s.port);
    for cmd in [
        "BLMOVE nokey d LEFT LEFT 0.1",
        "BRPOPLPUSH nokey d 0.1",
        "BLMPOP 0.1 2 nokey nokey2 LEFT COUNT 2",
    ] {
        let t = Instant::now();
        // Redis 7.0 answers every list time-out with a null array, BLMOVE's included.
        assert_eq!(c.q(cmd), "*-1\r\n", "{cmd}");
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(100), "{cmd}: {waited:?}");
        assert!(waited < Duration::from_secs(5), "{cmd}: {waited:?}");
    }
    c.q("HELLO 3");
    assert_eq!(c.q("BLMOVE nokey d LEFT LEFT 0.05"), "_\r\n");
    assert_eq!(c.q("BLMPOP 0.05 1 nokey RIGHT"), "_\r\n");
    // Nothing was created by a time-out.
    assert_eq!(c.q("EXISTS d"), ":0\r\n");
}

#[test]
fn client_unblock_ends_the_wait() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 2);
    let id = c[0].q("CLIENT ID");
    let id = id.trim_start_matches(':').trim().to_string();
    for cmd in [
        "BLMOVE a b LEFT LEFT 0",
        "BRPOPLPUSH a b 0",
        "BLMPOP 0 1 a LEFT",
    ] {
        c[0].send(&words(cmd));
        wait_blocked(&mut c[1], 1);
        assert_eq!(c[1].q(&format!("CLIENT UNBLOCK {id} TIMEOUT")), ":1\r\n");
        assert_eq!(text(c[0].read()), "*-1\r\n", "{cmd}");
        c[0].send(&words(cmd));
        wait_blocked(&mut c[1], 1);
        assert_eq!(c[1].q(&format!("CLIENT UNBLOCK {id} ERROR")), ":1\r\n");
        assert_eq!(
            text(c[0].read()),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
            "{cmd}"
        );
        assert_eq!(c[1].q(&format!("CLIENT UNBLOCK {id}")), ":0\r\n");
    }
    // Unblocked, it waits for nothing: a later push stays in the list.
    c[1].q("RPUSH a x");
    assert_eq!(c[1].q("LLEN a"), ":1\r\n");
    assert!(c[0].try_read(Duration::from_millis(100)).is_none());
}

#[test]
fn a_waiter_that_disconnects_leaves_nothing_behind() {
    let s = Server::start(&[]);
    let mut p = RawConn::connect(s.port);
    {
        let mut w = RawConn::connect(s.port);
        w.send(&words("BLMOVE k d LEFT LEFT 0"));
        wait_blocked(&mut p, 1);
    }
    wait_blocked(&mut p, 0);
    assert_eq!(p.q("RPUSH k v"), ":1\r\n");
    assert_eq!(p.q("LLEN k"), ":1\r\n");
    assert_eq!(p.q("EXISTS d"), ":0\r\n");
}

#[test]
fn served_after_exec_with_the_state_the_transaction_left() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 2);
    c[0].send(&words("BLMOVE src dst LEFT RIGHT 0"));
    wait_blocked(&mut c[1], 1);
    for l in ["MULTI", "RPUSH src a", "RPUSH src b", "LPUSH src z"] {
        c[1].q(l);
    }
    assert_eq!(c[1].q("EXEC"), "*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_eq!(text(c[0].read()), "$1\r\nz\r\n");
    assert_eq!(c[1].q("LRANGE src 0 -1"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    // A transaction that creates the key and empties it again serves nobody.
    c[1].q("DEL src");
    c[0].send(&words("BLMPOP 0 1 src LEFT COUNT 5"));
    wait_blocked(&mut c[1], 1);
    for l in ["MULTI", "RPUSH src a b", "DEL src"] {
        c[1].q(l);
    }
    assert_eq!(c[1].q("EXEC"), "*2\r\n:2\r\n:1\r\n");
    wait_blocked(&mut c[1], 1);
    c[1].q("RPUSH src c");
    assert_eq!(text(c[0].read()), "*2\r\n$3\r\nsrc\r\n*1\r\n$1\r\nc\r\n");
}

#[test]
fn a_destination_of_another_type_fails_the_waiter_and_serves_the_next() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 3);
    c[0].send(&words("BLMOVE src dst LEFT LEFT 0"));
    wait_blocked(&mut c[2], 1);
    c[1].send(&words("BLPOP src 0"));
    wait_blocked(&mut c[2], 2);
    c[2].q("SET dst str");
    c[2].q("RPUSH src x");
    assert_eq!(text(c[0].read()), WRONGTYPE);
    assert_eq!(text(c[1].read()), "*2\r\n$3\r\nsrc\r\n$1\r\nx\r\n");
    wait_blocked(&mut c[2], 0);
    assert_eq!(c[2].q("GET dst"), "$3\r\nstr\r\n");
}

#[test]
fn a_key_of_another_type_does_not_serve_a_list_waiter() {
    let s = Server::start(&[]);
    let mut c = conns(&s, 2);
    c[0].send(&words("BLMOVE k d LEFT LEFT 0"));
    wait_blocked(&mut c[1], 1);
    c[1].q("SET k v");
    c[1].q("DEL k");
    c[1].q("HSET k f v");
    wait_blocked(&mut c[1], 1);
    c[1].q("DEL k");
    c[1].q("RPUSH k e");
    assert_eq!(text(c[0].read()), "$1\r\ne\r\n");
}

// ------------------------------------------------------------------------ compared with Redis

/// One step of a multi-client scenario run on both servers.
enum Step {
    /// Client sends the command and reads the reply; compared.
    Cmd(usize, &'static str),
    /// Client sends a command that blocks; then wait until this many clients are blocked.
    Block(usize, &'static str, usize),
    /// Read a reply a client is owed (a served waiter); compared.
    Read(usize),
    /// Switch a client to RESP3 (HELLO's reply holds the client id: not compared).
    Resp3(usize),
}

fn scenario(pair: &Pair, steps: &[Step]) {
    use Step::*;
    let n = 1 + steps
        .iter()
        .map(|s| match s {
            Cmd(c, _) | Block(c, _, _) | Read(c) | Resp3(c) => *c,
        })
        .max()
        .unwrap_or(0);
    let mut p: Vec<RawConn> = (0..n).map(|_| RawConn::connect(pair.picket.port)).collect();
    let mut r: Vec<RawConn> = (0..n).map(|_| RawConn::connect(pair.redis.port)).collect();
    let mut pc = RawConn::connect(pair.picket.port);
    let mut rc = RawConn::connect(pair.redis.port);
    pc.q("FLUSHALL");
    rc.q("FLUSHALL");
    for (i, step) in steps.iter().enumerate() {
        match step {
            Cmd(c, line) => {
                let (a, b) = (p[*c].cmd(&words(line)), r[*c].cmd(&words(line)));
                assert!(
                    a == b,
                    "step {i} client {c} {line:?}: {} vs {}",
                    show(&a),
                    show(&b)
                );
            }
            Block(c, line, blocked) => {
                p[*c].send(&words(line));
                r[*c].send(&words(line));
                wait_blocked(&mut pc, *blocked);
                wait_blocked(&mut rc, *blocked);
            }
            Read(c) => {
                let (a, b) = (p[*c].read(), r[*c].read());
                assert!(
                    a == b,
                    "step {i} client {c} reply: {} vs {}",
                    show(&a),
                    show(&b)
                );
            }
            Resp3(c) => {
                p[*c].q("HELLO 3");
                r[*c].q("HELLO 3");
            }
        }
    }
    // Nobody is owed anything more on one side than on the other.
    for c in 0..n {
        let a = p[c].try_read(Duration::from_millis(50));
        let b = r[c].try_read(Duration::from_millis(50));
        assert_eq!(a, b, "client {c}: left-over replies");
    }
}

#[test]
fn scenarios_match_redis() {
    use Step::*;
    let Some(pair) = Pair::start(&[]) else { return };
    // Served BLMPOP with COUNT, in RESP2 and RESP3, and from the key that got data.
    scenario(
        &pair,
        &[
            Resp3(1),
            Block(0, "BLMPOP 0 2 a b LEFT COUNT 3", 1),
            Block(1, "BLMPOP 0 2 b a RIGHT COUNT 1", 2),
            Cmd(2, "RPUSH b x y z w"),
            Read(0),
            Read(1),
            Cmd(2, "LRANGE b 0 -1"),
        ],
    );
    // Moves: chains, rotation, a destination that became a string, source types.
    scenario(
        &pair,
        &[
            Block(0, "blmove src dst LEFT RIGHT 0", 1),
            Block(1, "BLPOP dst 0", 2),
            Cmd(2, "RPUSH src e1 e2 e3"),
            Read(0),
            Read(1),
            Cmd(2, "BLMOVE src dst Left Right 0"),
            Cmd(2, "BRPOPLPUSH src dst 0"),
            Block(0, "BRPOPLPUSH src dst 0", 1),
            Cmd(2, "RPUSH src z"),
            Read(0),
            Block(0, "BLMOVE src dst LEFT RIGHT 0", 1),
            Block(1, "BLPOP src 0", 2),
            Cmd(2, "SET dst str"),
            Cmd(2, "RPUSH src v1 v2"),
            Read(0),
            Read(1),
            Cmd(2, "LRANGE src 0 -1"),
            Cmd(2, "DEL dst src"),
            Block(0, "BLMOVE s1 s2 RIGHT LEFT 0", 1),
            Block(1, "BLMOVE s2 s2 RIGHT LEFT 0", 2),
            Cmd(2, "RPUSH s1 chain"),
            Read(0),
            Read(1),
            Cmd(2, "LRANGE s2 0 -1"),
            Block(0, "BLMOVE rot rot LEFT RIGHT 0", 1),
            Cmd(2, "RPUSH rot a b c"),
            Read(0),
            Cmd(2, "LRANGE rot 0 -1"),
        ],
    );
    // Time-outs and MULTI/EXEC.
    scenario(
        &pair,
        &[
            Cmd(0, "BLMOVE nokey d LEFT LEFT 0.05"),
            Cmd(0, "BRPOPLPUSH nokey d 0.05"),
            Cmd(0, "BLMPOP 0.05 1 nokey LEFT"),
            Block(0, "BLMOVE t d RIGHT RIGHT 0", 1),
            Block(1, "BLMPOP 0 1 t RIGHT COUNT 2", 2),
            Cmd(2, "MULTI"),
            Cmd(2, "RPUSH t a b"),
            Cmd(2, "LPUSH t c d"),
            Cmd(2, "RPUSH u x"),
            Cmd(2, "EXEC"),
            Read(0),
            Read(1),
            Cmd(2, "LRANGE t 0 -1"),
            Cmd(2, "LRANGE d 0 -1"),
        ],
    );
}

/// Redis serves a waiter from the key that became ready; when several of its keys become
/// ready in one transaction, from the first of them to get data. Picket runs the waiter's
/// command again, which looks at the keys in argument order.
#[test]
fn a_waiter_on_several_keys_is_served_from_the_first_key_to_get_data() {
    use Step::*;
    let Some(pair) = Pair::start(&[]) else { return };
    scenario(
        &pair,
        &[
            Block(0, "BLPOP a b 0", 1),
            Block(1, "BLMPOP 0 2 a2 b2 LEFT COUNT 5", 2),
            Cmd(2, "MULTI"),
            Cmd(2, "RPUSH b x"),
            Cmd(2, "RPUSH a y"),
            Cmd(2, "RPUSH b2 x"),
            Cmd(2, "RPUSH a2 y"),
            Cmd(2, "EXEC"),
            Read(0),
            Read(1),
        ],
    );
}

/// Redis serves a waiter from the key that became ready without looking at its other keys: one
/// that has meanwhile become another type does not fail it.
#[test]
fn a_waiter_is_served_from_the_ready_key_even_if_another_of_its_keys_changed_type() {
    use Step::*;
    let Some(pair) = Pair::start(&[]) else { return };
    scenario(
        &pair,
        &[
            Block(0, "BLPOP s l 0", 1),
            Block(1, "BLMPOP 0 2 s l2 LEFT", 2),
            Cmd(2, "SET s str"),
            Cmd(2, "RPUSH l x"),
            Cmd(2, "RPUSH l2 y"),
            Read(0),
            Read(1),
        ],
    );
}

/// Redis 7.0's `serveClientBlockedOnList` counts no change for the pop side of a served
/// BLPOP/BRPOP/BLMOVE/BRPOPLPUSH (only BLMPOP counts its elements); picket counts it, because
/// its re-executed command propagates only when it changed data.
#[test]
fn served_waiters_count_changes_as_redis() {
    let Some(pair) = Pair::start(&[]) else { return };
    for (block, push) in [
        ("BLPOP q 0", "RPUSH q a"),
        ("BLMOVE q d LEFT LEFT 0", "RPUSH q a"),
        ("BLMPOP 0 1 q LEFT COUNT 5", "RPUSH q a b c"),
    ] {
        let mut deltas = Vec::new();
        for port in [pair.picket.port, pair.redis.port] {
            let mut w = RawConn::connect(port);
            let mut p = RawConn::connect(port);
            let before = dirty(&mut p);
            w.send(&words(block));
            wait_blocked(&mut p, 1);
            p.q(push);
            w.read();
            deltas.push(dirty(&mut p) - before);
        }
        assert_eq!(deltas[0], deltas[1], "{block}");
    }
}
