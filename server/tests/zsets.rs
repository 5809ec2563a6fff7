//! Sorted set commands against Redis 7.0, reply by reply: ZADD and its options, ZINCRBY,
//! reads, removals, pops, score parsing and printing, wrong arity and WRONGTYPE, both
//! encodings, RESP2 and RESP3.

#[path = "zsets_support.rs"]
mod support;

use support::common::Reply;
use support::Duo;

/// The servers (kept alive by the caller) and a connection to each.
fn duo(extra: &[&str]) -> Option<(Duo, support::Both)> {
    let d = Duo::start(extra)?;
    let c = d.conns();
    Some((d, c))
}

#[test]
fn zadd_options_and_errors() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines(
        "ZADD z 1 a
         ZADD z 2 b 3 c 1 a
         ZADD z CH 5 a 2 b 9 d
         ZADD z NX 100 a 7 e
         ZADD z XX 100 a 7 f
         ZADD z XX CH 100 a 100 a
         ZADD z GT 50 a 200 a
         ZADD z GT CH 50 a 300 a 1 g
         ZADD z LT CH 50 a 1 b 0 h
         ZADD z XX GT CH 1000 a 1 b
         ZADD z XX LT CH 1000 a 1 b -5 b
         ZADD z NX XX 1 a
         ZADD z NX GT 1 a
         ZADD z NX LT 1 a
         ZADD z GT LT 1 a
         ZADD z INCR 1 a 2 b
         ZADD z INCR 5 a
         ZADD z INCR NX 5 a
         ZADD z INCR XX 5 zz
         ZADD z INCR GT -1 a
         ZADD z INCR LT -1 a
         ZADD z INCR GT 0 a
         ZADD z 1
         ZADD z 1 a 2
         ZADD z nx
         ZADD z abc a
         ZADD z 1 a abc b
         ZADD z nan a
         ZADD z inf a -inf b +inf c
         ZADD z INCR -inf c
         ZADD z INCR inf c
         ZADD z INCR +inf a
         ZSCORE z a
         ZADD z 1e400 a
         ZADD z 1e-400 a
         ZADD z 1e-320 a
         ZSCORE z a
         ZADD z 0x10 a 0x1p-2 b 1E3 c .5 d 5. e -.5e1 f
         ZRANGE z 0 -1 WITHSCORES
         ZADD z 1_0 a
         ZADD z 1e a
         ZADD z '' a
         ZADD z +1 plus
         ZADD z 0.1 p 0.30000000000000004 q 1e17 r 123456789012345678 s 1.5e-7 t
         ZRANGE z 0 -1 WITHSCORES
         ZADD nokey XX 1 a
         EXISTS nokey
         ZADD nokey XX INCR 1 a
         EXISTS nokey
         ZINCRBY z 1 a
         ZINCRBY z -inf a
         ZINCRBY z +inf a
         ZINCRBY z abc a
         ZINCRBY new 2.5 x
         ZINCRBY z nx a
         ZADD z ch ch 1 ch
         ZSCORE z ch
         ZCARD z
         ZCARD nokey",
    );
    // Arguments with spaces and binary members.
    c.same(&["ZADD", "sp", " 1", "a"]);
    c.same(&["ZADD", "sp", "1 ", "a"]);
    c.same(&["ZADD", "sp", "1\0", "a"]);
    c.same(&["ZADD", "sp", "1", "a\0b", "2", ""]);
    c.same(&["ZRANGE", "sp", "0", "-1", "WITHSCORES"]);
    c.same(&["ZADD", "sp", "nx\0x", "1", "a"]);
}

#[test]
fn scores_print_as_17_digit_doubles_in_both_encodings() {
    let Some((_d, mut c)) = duo(&["--zset-max-listpack-entries", "2"]) else {
        return;
    };
    for key in ["small", "big"] {
        let mut a = vec!["ZADD", key];
        if key == "big" {
            a.extend(["0", "pad1", "0", "pad2", "0", "pad3"]);
        }
        a.extend([
            "-0",
            "negzero",
            "0.1",
            "a",
            "1e17",
            "b",
            "-1e-300",
            "c",
            "3.14159265358979",
            "d",
            "4611686018427387904",
            "e",
            "4611686018427387903",
            "f",
            "-4611686018427387904",
            "g",
            "1e308",
            "h",
            "inf",
            "i",
        ]);
        c.same(&a);
        c.lines(&format!(
            "OBJECT ENCODING {key}
             ZRANGE {key} 0 -1 WITHSCORES
             ZSCORE {key} negzero
             ZMSCORE {key} a b nothing c
             ZRANGEBYSCORE {key} -0 0 WITHSCORES
             ZRANK {key} negzero
             ZINCRBY {key} 0 negzero
             ZADD {key} -0 negzero2
             ZSCORE {key} negzero2"
        ));
        // A skiplist is scanned in dict order: compare the pairs.
        let mut scans = Vec::new();
        for conn in [&mut c.p, &mut c.r] {
            let items = conn.cmd(&["ZSCAN", key, "0", "COUNT", "1000"]).items();
            assert_eq!(items[0], Reply::bulk("0"));
            let mut pairs: Vec<(String, String)> = items[1]
                .items()
                .chunks(2)
                .map(|p| (p[0].text(), p[1].text()))
                .collect();
            pairs.sort();
            scans.push(pairs);
        }
        assert_eq!(scans[0], scans[1], "ZSCAN {key}");
    }
    // RESP3: doubles as `,` frames, exact bytes.
    c.both("HELLO 3");
    c.raw_lines(
        "ZRANGE big 0 -1 WITHSCORES
         ZRANGE small 0 2 WITHSCORES
         ZSCORE big negzero
         ZSCORE small i
         ZMSCORE big a nothing
         ZINCRBY big 1 a
         ZADD big INCR 1 a
         ZADD big XX INCR 1 nothing
         ZSCORE big nothing
         ZRANK big nothing
         ZRANDMEMBER nokey
         ZRANDMEMBER nokey 5
         ZRANDMEMBER big 100 WITHSCORES
         ZRANDMEMBER big 100
         ZRANGE nokey 0 -1
         ZSCAN nokey 0",
    );
}

#[test]
fn reads_and_ranks() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines(
        "ZADD z 1 a 2 b 2 c 3 d 3 e 3 f -1 neg
         ZRANK z a
         ZRANK z f
         ZRANK z neg
         ZRANK z nothing
         ZRANK nokey a
         ZREVRANK z a
         ZREVRANK z f
         ZREVRANK z nothing
         ZSCORE nokey a
         ZMSCORE nokey a b
         ZMSCORE z a nothing d
         ZCOUNT z -inf +inf
         ZCOUNT z 2 3
         ZCOUNT z (2 3
         ZCOUNT z (2 (3
         ZCOUNT z 3 2
         ZCOUNT z (3 3
         ZCOUNT z 10 20
         ZCOUNT z abc 1
         ZCOUNT z 1 abc
         ZCOUNT z ( (
         ZCOUNT z '' 3
         ZCOUNT z nan 1
         ZCOUNT z (nan 1
         ZCOUNT z -inf inf
         ZCOUNT z -infinity INFINITY
         ZCOUNT nokey 1 2
         ZCOUNT nokey abc 2
         ZLEXCOUNT z - +
         ZADD lex 0 a 0 b 0 c 0 d 0 e
         ZLEXCOUNT lex - +
         ZLEXCOUNT lex [b [d
         ZLEXCOUNT lex (b (d
         ZLEXCOUNT lex (b [b
         ZLEXCOUNT lex [b [b
         ZLEXCOUNT lex + -
         ZLEXCOUNT lex - -
         ZLEXCOUNT lex + +
         ZLEXCOUNT lex b d
         ZLEXCOUNT lex [b d
         ZLEXCOUNT lex '' +
         ZLEXCOUNT lex -a +
         ZLEXCOUNT lex [ +
         ZLEXCOUNT lex ( +
         ZLEXCOUNT nokey [a [b
         ZLEXCOUNT nokey a b",
    );
    c.same(&["ZCOUNT", "z", " 2", " (3"]);
    c.same(&["ZCOUNT", "z", "2\0junk", "3"]);
    c.same(&["ZCOUNT", "z", "0x2", "0x3p0"]);
    c.same(&["ZLEXCOUNT", "lex", "+\0x", "-"]);
    c.same(&["ZLEXCOUNT", "lex", "[b\0", "+"]);
    c.same(&["ZLEXCOUNT", "lex", "\0", "+"]);
}

#[test]
fn removals_and_empty_keys() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines(
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g
         ZREM z a nothing
         ZREM z nothing
         ZREM nokey a
         ZREMRANGEBYRANK z 0 0
         ZREMRANGEBYRANK z -1 -1
         ZREMRANGEBYRANK z 10 20
         ZREMRANGEBYRANK z 2 1
         ZREMRANGEBYRANK z -100 -4
         ZREMRANGEBYRANK z a 1
         ZREMRANGEBYRANK nokey 0 1
         ZRANGE z 0 -1 WITHSCORES
         ZADD z 1 a 2 b 8 h 9 i
         ZREMRANGEBYSCORE z (1 2
         ZREMRANGEBYSCORE z 8 (9
         ZREMRANGEBYSCORE z abc 1
         ZREMRANGEBYSCORE z 5 4
         ZREMRANGEBYSCORE nokey 1 2
         ZRANGE z 0 -1 WITHSCORES
         ZADD l 0 a 0 b 0 c 0 d
         ZREMRANGEBYLEX l [b (d
         ZREMRANGEBYLEX l b d
         ZREMRANGEBYLEX l + -
         ZREMRANGEBYLEX nokey - +
         ZRANGE l 0 -1
         ZREMRANGEBYLEX l - +
         EXISTS l
         ZREM z a c d e f g h i
         EXISTS z
         ZADD z 1 a 2 b
         ZREMRANGEBYSCORE z -inf +inf
         EXISTS z
         ZADD z 1 a 2 b
         ZREMRANGEBYRANK z 0 -1
         EXISTS z
         ZADD z 1 a
         ZREM z a b c
         EXISTS z",
    );
}

#[test]
fn pops_in_both_protocols() {
    let Some((_d, mut c)) = duo(&["--zset-max-listpack-entries", "3"]) else {
        return;
    };
    let setup = "DEL z big
         ZADD z 1 a 2 b 3 c
         ZADD big 1 a 2 b 3 c 4 d 5 e";
    c.lines(setup);
    c.lines(
        "ZPOPMIN z
         ZPOPMAX z
         ZPOPMIN z 0
         ZPOPMIN z 5
         EXISTS z
         ZPOPMIN z
         ZPOPMIN z 2
         ZPOPMIN nokey
         ZPOPMIN nokey 0
         ZPOPMIN z -1
         ZPOPMIN z abc
         ZPOPMIN z 1 2
         ZPOPMAX big 2
         ZPOPMIN big 2
         ZMPOP 1 big MIN
         EXISTS big
         SET s str
         ZPOPMIN s
         ZPOPMIN s 0
         ZMPOP 2 nokey s MIN
         ZMPOP 2 s nokey MIN
         ZMPOP 1 nokey MIN
         ZADD big 1 a 2 b 3 c 4 d 5 e
         ZMPOP 2 nokey big MAX COUNT 2
         ZMPOP 2 nokey big min count 10
         ZMPOP 0 big MIN
         ZMPOP -1 big MIN
         ZMPOP abc big MIN
         ZMPOP 2 big MIN
         ZMPOP 1 big
         ZMPOP 1 big MINX
         ZMPOP 1 big MIN COUNT
         ZMPOP 1 big MIN COUNT 0
         ZMPOP 1 big MIN COUNT -1
         ZMPOP 1 big MIN COUNT 1 COUNT 1
         ZMPOP 1 big MIN FOO 1
         ZMPOP 9223372036854775807 big MIN",
    );
    c.both("HELLO 3");
    c.lines(setup);
    c.raw_lines(
        "ZPOPMIN z
         ZPOPMAX z 1
         ZPOPMIN z 0
         ZPOPMIN nokey
         ZPOPMIN nokey 1
         ZPOPMAX big 2
         ZMPOP 1 big MIN COUNT 2
         ZMPOP 1 nokey MIN
         ZADD big 7 x 8 y
         BZPOPMIN big 0
         BZMPOP 0 1 big MAX
         BZMPOP 0.01 1 nokey MAX
         BZPOPMAX nokey 0.01",
    );
}

#[test]
fn wrong_arity_and_wrong_type() {
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines(
        "SET s v
         RPUSH l a
         HSET h f v
         SADD set m
         ZADD z 1 a",
    );
    let bad_arity = "ZADD z 1
         ZADD z
         ZINCRBY z 1
         ZINCRBY z 1 a b
         ZSCORE z
         ZMSCORE z
         ZCARD
         ZCOUNT z 1
         ZLEXCOUNT z -
         ZRANGE z 0
         ZRANGESTORE d z 0
         ZRANGEBYSCORE z 0
         ZREVRANGEBYSCORE z 0
         ZRANGEBYLEX z -
         ZREVRANGEBYLEX z +
         ZREVRANGE z 0
         ZRANK z
         ZRANK z a b
         ZREVRANK z
         ZREM z
         ZREMRANGEBYSCORE z 0
         ZREMRANGEBYRANK z 0
         ZREMRANGEBYLEX z -
         ZPOPMIN
         ZPOPMAX
         ZMPOP 1 z
         BZPOPMIN z
         BZPOPMAX z
         BZMPOP 0 1 z
         ZUNION 1
         ZINTER 1
         ZDIFF 1
         ZUNIONSTORE d 1
         ZINTERSTORE d 1
         ZDIFFSTORE d 1
         ZINTERCARD 1
         ZRANDMEMBER
         ZSCAN z";
    c.lines(bad_arity);
    for key in ["s", "l", "h", "set"] {
        c.lines(&format!(
            "ZADD {key} 1 a
             ZADD {key} XX 1 a
             ZINCRBY {key} 1 a
             ZSCORE {key} a
             ZMSCORE {key} a
             ZCARD {key}
             ZCOUNT {key} 0 1
             ZCOUNT {key} x 1
             ZLEXCOUNT {key} - +
             ZRANGE {key} 0 -1
             ZRANGE {key} x 1
             ZRANGESTORE d {key} 0 -1
             ZRANGESTORE {key} z 0 -1
             TYPE {key}
             DEL s l h set
             SET s v
             RPUSH l a
             HSET h f v
             SADD set m
             ZRANGEBYSCORE {key} 0 1
             ZREVRANGEBYSCORE {key} 1 0
             ZRANGEBYLEX {key} - +
             ZREVRANGEBYLEX {key} + -
             ZREVRANGE {key} 0 -1
             ZRANK {key} a
             ZREVRANK {key} a
             ZREM {key} a
             ZREMRANGEBYSCORE {key} 0 1
             ZREMRANGEBYRANK {key} 0 1
             ZREMRANGEBYLEX {key} - +
             ZPOPMIN {key}
             ZPOPMAX {key} 2
             ZMPOP 1 {key} MIN
             BZPOPMIN {key} 0
             BZPOPMAX nokey {key} 0
             BZMPOP 0 1 {key} MIN
             ZRANDMEMBER {key}
             ZRANDMEMBER {key} 2
             ZSCAN {key} 0
             ZSCAN {key} x"
        ));
        // A plain set is a valid input of the algebra (scores 1), the others WRONGTYPE.
        c.lines(&format!(
            "ZUNION 2 z {key} WITHSCORES
             ZINTER 2 z {key}
             ZDIFF 2 {key} z
             ZUNIONSTORE d 2 z {key}
             ZINTERSTORE d 2 z {key}
             ZDIFFSTORE d 2 z {key}
             ZINTERCARD 2 z {key}
             ZUNION 2 z {key} BADOPTION
             ZRANGE d 0 -1 WITHSCORES"
        ));
    }
}

#[test]
fn zrandmember_shapes_and_errors() {
    let Some((_d, mut c)) = duo(&["--zset-max-listpack-entries", "4"]) else {
        return;
    };
    c.lines(
        "ZADD small 1 a 2 b 3 c
         ZADD big 1 a 2 b 3 c 4 d 5 e 6 f
         ZRANDMEMBER small 0
         ZRANDMEMBER small 3
         ZRANDMEMBER small 10 WITHSCORES
         ZRANDMEMBER big 6 WITHSCORES
         ZRANDMEMBER big 100
         ZRANDMEMBER nokey
         ZRANDMEMBER nokey 0
         ZRANDMEMBER nokey -5 WITHSCORES
         ZRANDMEMBER small abc
         ZRANDMEMBER small 1 WITHSCORE
         ZRANDMEMBER small 1 WITHSCORES x
         ZRANDMEMBER small abc x
         ZRANDMEMBER small -9223372036854775808
         ZRANDMEMBER small 4611686018427387904 WITHSCORES
         ZRANDMEMBER small -4611686018427387904 WITHSCORES
         ZRANDMEMBER nokey 4611686018427387904 WITHSCORES",
    );
    // Random draws: only shapes and membership can be compared.
    for key in ["small", "big"] {
        for (count, uniq) in [("2", true), ("-7", false), ("5", true), ("1", true)] {
            for p in [&mut c.p, &mut c.r] {
                let got = p.cmd(&["ZRANDMEMBER", key, count, "WITHSCORES"]).items();
                let n: i64 = count.parse().unwrap();
                let size = if key == "small" { 3 } else { 6 };
                let want = if n < 0 { -n } else { n.min(size) } as usize;
                assert_eq!(got.len(), 2 * want, "{key} {count}");
                let mut members = Vec::new();
                for pair in got.chunks(2) {
                    let m = pair[0].text();
                    let s: f64 = pair[1].text().parse().unwrap();
                    assert_eq!(s, (m.as_bytes()[0] - b'a' + 1) as f64);
                    members.push(m);
                }
                if uniq {
                    members.sort();
                    members.dedup();
                    assert_eq!(members.len(), want, "{key} {count}: distinct");
                }
            }
        }
        let one = c.p.cmd(&["ZRANDMEMBER", key]);
        assert!(matches!(one, Reply::Bulk(_)));
    }
}
