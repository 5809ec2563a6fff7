//! Sorted set ranges and algebra against Redis 7.0: ZRANGE with every option, the older range
//! commands, ZRANGESTORE, ZUNION / ZINTER / ZDIFF (with plain sets), their STORE forms and
//! ZINTERCARD, ZSCAN, and the encodings the results get.

#[path = "zsets_support.rs"]
mod support;

use support::common::Reply;
use support::Duo;

fn duo(extra: &[&str]) -> Option<(Duo, support::Both)> {
    let d = Duo::start(extra)?;
    let c = d.conns();
    Some((d, c))
}

const RANGES: &str = "
    ZRANGE z 0 -1
    ZRANGE z 0 -1 WITHSCORES
    ZRANGE z 2 4 withscores
    ZRANGE z -3 -1
    ZRANGE z -100 100
    ZRANGE z 5 2
    ZRANGE z 100 200
    ZRANGE z 0 -1 REV
    ZRANGE z 1 3 REV WITHSCORES
    ZRANGE z 0 0 LIMIT 0 1
    ZRANGE z a 1
    ZRANGE z 0 b
    ZRANGE z 0 1 BYSCORE BYLEX
    ZRANGE z 0 1 REV REV
    ZRANGE z 0 1 LIMIT 1
    ZRANGE z 0 1 LIMIT a 1
    ZRANGE z 0 1 BYSCORE LIMIT 1 a
    ZRANGE z - + BYLEX WITHSCORES
    ZRANGE z -inf +inf BYSCORE
    ZRANGE z -inf +inf BYSCORE WITHSCORES
    ZRANGE z 2 3 BYSCORE WITHSCORES
    ZRANGE z (2 3 BYSCORE
    ZRANGE z 2 (3 BYSCORE
    ZRANGE z +inf -inf BYSCORE REV WITHSCORES
    ZRANGE z 3 2 BYSCORE REV
    ZRANGE z (3 (1 BYSCORE REV
    ZRANGE z -inf +inf BYSCORE LIMIT 1 2
    ZRANGE z -inf +inf BYSCORE LIMIT 1 -1
    ZRANGE z -inf +inf BYSCORE LIMIT 1 0
    ZRANGE z -inf +inf BYSCORE LIMIT -1 2
    ZRANGE z -inf +inf BYSCORE LIMIT 100 2
    ZRANGE z -inf +inf BYSCORE LIMIT 7 2
    ZRANGE z +inf -inf BYSCORE REV LIMIT 2 3 WITHSCORES
    ZRANGE z +inf -inf BYSCORE LIMIT 2 3 REV
    ZRANGE z abc 1 BYSCORE
    ZRANGE z - + BYLEX
    ZRANGE z [b [d BYLEX
    ZRANGE z (b (e BYLEX LIMIT 1 1
    ZRANGE z + - BYLEX REV
    ZRANGE z [d (a BYLEX REV LIMIT 0 2
    ZRANGE z b d BYLEX
    ZRANGE nokey 0 -1
    ZRANGE nokey 0 -1 WITHSCORES
    ZRANGE nokey abc 1
    ZRANGE nokey 0 1 BYSCORE LIMIT 0 1
    ZRANGEBYSCORE z -inf +inf
    ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 3
    ZRANGEBYSCORE z -inf +inf LIMIT 1 3 WITHSCORES
    ZRANGEBYSCORE z (1 (3
    ZRANGEBYSCORE z 1 2 REV
    ZRANGEBYSCORE z 1 2 BYSCORE
    ZRANGEBYSCORE z 1 2 LIMIT 0
    ZREVRANGEBYSCORE z +inf -inf
    ZREVRANGEBYSCORE z 3 1 WITHSCORES
    ZREVRANGEBYSCORE z -inf +inf
    ZREVRANGEBYSCORE z +inf -inf LIMIT 2 2
    ZRANGEBYLEX z - +
    ZRANGEBYLEX z [c + LIMIT 1 10
    ZRANGEBYLEX z - + WITHSCORES
    ZRANGEBYLEX z a b
    ZREVRANGEBYLEX z + -
    ZREVRANGEBYLEX z (e [b LIMIT 1 2
    ZREVRANGEBYLEX z - +
    ZREVRANGE z 0 -1
    ZREVRANGE z 0 2 WITHSCORES
    ZREVRANGE z 0 1 REV
    ZREVRANGE z 0 1 BYSCORE
    ZREVRANGE z 0 1 LIMIT 0 1
    ZREVRANGE z -2 -1 withscores
";

#[test]
fn ranges_in_both_encodings_and_protocols() {
    let Some((_d, mut c)) = duo(&["--zset-max-listpack-entries", "6"]) else {
        return;
    };
    // The same scores for lex ranges; different ones for score ranges: both encodings.
    let setup = |c: &mut support::Both, n: usize| {
        c.lines("DEL z");
        let mut a = vec!["ZADD".to_string(), "z".to_string()];
        for i in 0..n {
            a.push(((i / 2) as f64 + 1.0).to_string());
            a.push(((b'a' + i as u8) as char).to_string());
        }
        c.same(&a);
    };
    for n in [5, 9] {
        setup(&mut c, n);
        c.lines(RANGES);
        c.lines("ZADD z 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 h 0 i");
        c.lines(RANGES);
    }
    c.both("HELLO 3");
    for n in [5, 9] {
        setup(&mut c, n);
        c.raw_lines(RANGES);
    }
}

#[test]
fn lex_ranges_over_mixed_scores_in_a_listpack() {
    // Undefined by the documentation, but a listpack is scanned: the answers are Redis's.
    let Some((_d, mut c)) = duo(&[]) else { return };
    c.lines("ZADD z 1 d 2 a 3 c 4 b 5 e");
    for cmd in [
        "ZRANGEBYLEX z - +",
        "ZRANGEBYLEX z [b [c",
        "ZRANGEBYLEX z (a [d",
        "ZREVRANGEBYLEX z [c [b",
        "ZREVRANGEBYLEX z [d (a",
        "ZLEXCOUNT z [b [c",
        "ZLEXCOUNT z (a +",
        "ZRANGE z [b [e BYLEX LIMIT 1 2",
    ] {
        c.lines(cmd);
    }
    c.lines("ZREMRANGEBYLEX z [b [c\nZRANGE z 0 -1");
}

#[test]
fn zrangestore_and_result_encodings() {
    let Some((_d, mut c)) = duo(&[
        "--zset-max-listpack-entries",
        "4",
        "--zset-max-listpack-value",
        "8",
    ]) else {
        return;
    };
    c.lines(
        "ZADD src 1 a 2 b 3 c 4 d 5 e 6 f -0 z
         ZRANGESTORE dst src 0 2
         OBJECT ENCODING dst
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst src 0 -1
         OBJECT ENCODING dst
         ZRANGE dst 0 -1 WITHSCORES
         ZSCORE dst z
         ZRANGESTORE dst src 0 -1 REV
         ZSCORE dst z
         ZRANGESTORE dst src (1 5 BYSCORE LIMIT 1 2
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst src +inf -inf BYSCORE REV
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst src [b [d BYLEX
         ZRANGESTORE dst src 0 -1 WITHSCORES
         ZRANGESTORE dst src 0 1 LIMIT 0 1
         ZRANGESTORE dst src 5 1
         EXISTS dst
         SET dst str
         ZRANGESTORE dst src 0 0
         TYPE dst
         ZRANGESTORE dst nokey 0 -1
         EXISTS dst
         SET s str
         ZRANGESTORE dst s 0 -1
         ZRANGESTORE src src 1 2
         ZRANGE src 0 -1 WITHSCORES
         ZADD long 1 aaaaaaaaaaaa 2 b
         ZRANGESTORE dst long 1 1
         OBJECT ENCODING dst
         ZRANGESTORE dst long 0 -1
         OBJECT ENCODING dst
         SET ttl x EX 100
         ZRANGESTORE ttl long 0 -1
         TTL ttl",
    );
}

#[test]
fn union_inter_diff_with_weights_aggregates_and_sets() {
    let Some((_d, mut c)) = duo(&["--zset-max-listpack-entries", "5"]) else {
        return;
    };
    c.lines(
        "ZADD z1 1 a 2 b 3 c
         ZADD z2 10 b 20 c 30 d
         ZADD zinf inf a -inf b 5 c
         ZADD big 1 a 2 b 3 c 4 d 5 e 6 f 7 g
         SADD s a b x
         SADD ints 1 2 3
         ZADD zi 5 1 6 2 7 9
         ZUNION 2 z1 z2
         ZUNION 2 z1 z2 WITHSCORES
         ZUNION 2 z1 z2 WEIGHTS 2 3 WITHSCORES
         ZUNION 2 z1 z2 AGGREGATE MIN WITHSCORES
         ZUNION 2 z1 z2 AGGREGATE max WITHSCORES
         ZUNION 2 z1 z2 WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
         ZUNION 2 z1 zinf WITHSCORES
         ZUNION 2 zinf zinf WEIGHTS 1 -1 WITHSCORES
         ZUNION 1 zinf WEIGHTS 0 WITHSCORES
         ZUNION 3 z1 s nokey WITHSCORES
         ZUNION 2 ints zi WITHSCORES
         ZUNION 2 z1 z2 WEIGHTS 1
         ZUNION 2 z1 z2 WEIGHTS 1 x
         ZUNION 2 z1 z2 WEIGHTS 1 nan
         ZUNION 2 z1 z2 AGGREGATE avg
         ZUNION 2 z1 z2 AGGREGATE
         ZUNION 2 z1 z2 WITHSCORES WITHSCORES
         ZUNION 2 z1 z2 LIMIT 1
         ZUNION 3 z1 z2
         ZUNION 0 z1
         ZUNION -1 z1
         ZUNION x z1
         ZUNION 1 nokey
         ZINTER 2 z1 z2 WITHSCORES
         ZINTER 2 z1 z2 WEIGHTS 0.5 2 AGGREGATE MAX WITHSCORES
         ZINTER 2 z1 s WITHSCORES
         ZINTER 3 z1 s z2
         ZINTER 2 z1 nokey
         ZINTER 2 z1 z1 WITHSCORES
         ZINTER 2 zinf zinf WEIGHTS 1 -1 WITHSCORES
         ZINTER 1 big
         ZINTER 2 ints zi WITHSCORES
         ZDIFF 2 z1 z2 WITHSCORES
         ZDIFF 2 big z1
         ZDIFF 3 big z1 s WITHSCORES
         ZDIFF 2 s z1 WITHSCORES
         ZDIFF 2 z1 z1
         ZDIFF 1 nokey
         ZDIFF 2 z1 z2 WEIGHTS 1 1
         ZDIFF 2 z1 z2 AGGREGATE SUM
         ZINTERCARD 2 z1 z2
         ZINTERCARD 2 big z1 LIMIT 2
         ZINTERCARD 2 big z1 LIMIT 0
         ZINTERCARD 2 big z1 LIMIT -1
         ZINTERCARD 2 big z1 LIMIT x
         ZINTERCARD 2 big z1 WITHSCORES
         ZINTERCARD 2 big z1 WEIGHTS 1 1
         ZINTERCARD 0 big
         ZINTERCARD 2 big s
         ZINTERCARD 1 nokey",
    );
    c.lines(
        "ZUNIONSTORE d 2 z1 z2
         ZRANGE d 0 -1 WITHSCORES
         OBJECT ENCODING d
         ZUNIONSTORE d 2 big z2
         OBJECT ENCODING d
         ZINTERSTORE d 2 z1 z2 WEIGHTS 1 2 AGGREGATE MIN
         ZRANGE d 0 -1 WITHSCORES
         OBJECT ENCODING d
         ZINTERSTORE d 2 z1 nokey
         EXISTS d
         ZDIFFSTORE d 2 big z1
         ZRANGE d 0 -1 WITHSCORES
         ZDIFFSTORE d 2 z1 big
         EXISTS d
         SET d str
         ZUNIONSTORE d 1 z1
         TYPE d
         ZUNIONSTORE d 1 z1 WITHSCORES
         ZUNIONSTORE z1 2 z1 z2
         ZRANGE z1 0 -1 WITHSCORES
         ZUNIONSTORE d 1 zinf WEIGHTS -1
         ZSCORE d c
         ZUNIONSTORE d 1 zinf WEIGHTS 0
         ZRANGE d 0 -1 WITHSCORES
         ZADD zero 0 x
         ZUNIONSTORE d 1 zero WEIGHTS -1
         ZSCORE d x
         ZUNIONSTORE d 2 big zero WEIGHTS -1 -1
         ZSCORE d x
         ZINTERSTORE d 0 z1
         ZDIFFSTORE d 1 nokey
         SET ttl x EX 100
         ZDIFFSTORE ttl 1 big
         TTL ttl",
    );
    c.both("HELLO 3");
    c.raw_lines(
        "ZUNION 2 z1 z2 WITHSCORES
         ZINTER 2 z1 s WITHSCORES
         ZDIFF 2 big z1 WITHSCORES
         ZUNION 2 z1 z2
         ZINTERCARD 2 z1 z2",
    );
}

#[test]
fn zscan_of_a_listpack_and_a_skiplist() {
    let Some((_d, mut c)) = duo(&["--zset-max-listpack-entries", "8"]) else {
        return;
    };
    c.lines(
        "ZADD lp 1 a 2.5 b -0 c 1e17 d inf e -3 f 0.1 g
         ZSCAN lp 0
         ZSCAN lp 0 MATCH a*
         ZSCAN lp 0 MATCH [a-c] COUNT 1
         ZSCAN lp 12345
         ZSCAN lp -1
         ZSCAN lp x
         ZSCAN lp ''
         ZSCAN lp 0 COUNT 0
         ZSCAN lp 0 COUNT x
         ZSCAN lp 0 MATCH
         ZSCAN lp 0 TYPE zset
         ZSCAN nokey 0
         ZSCAN nokey x
         ZSCAN nokey 0 FOO",
    );
    // A skiplist: every member exactly once over a full iteration (no rehash meanwhile).
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..300 {
        args.push(format!("{}", i as f64 / 4.0));
        args.push(format!("m{i}"));
    }
    c.same(&args);
    for conn in [&mut c.p, &mut c.r] {
        let mut cursor = "0".to_string();
        let mut seen = std::collections::BTreeMap::new();
        let mut rounds = 0;
        loop {
            let r = conn.cmd(&["ZSCAN", "big", &cursor, "COUNT", "20"]).items();
            for p in r[1].items().chunks(2) {
                seen.insert(p[0].text(), p[1].text());
            }
            cursor = r[0].text();
            rounds += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
        assert_eq!(seen["m6"], "1.5");
        assert!(rounds > 3, "{rounds}");
        let m = conn.cmd(&["ZSCAN", "big", "0", "MATCH", "m1?", "COUNT", "1000"]);
        assert_eq!(m.items()[1].items().len(), 20);
    }
    assert!(matches!(c.p.q("ZSCAN big 0"), Reply::Array(_)));
}
