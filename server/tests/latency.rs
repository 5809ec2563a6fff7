//! LATENCY and INFO latencystats against Redis 7.0: the monitor's events after a slow
//! command (shape, as times differ), RESET counts, GRAPH and DOCTOR texts, every error and
//! arity error, LATENCY HISTOGRAM's calls and buckets, the latencystats fields and their
//! configuration, in RESP2 and RESP3.

mod common;

use common::{Conn, Pair, Reply};

fn pair() -> Option<Pair> {
    Pair::start(&["--enable-debug-command", "yes"])
}

fn both(pair: &Pair, resp3: bool) -> (Conn, Conn) {
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    if resp3 {
        assert!(!p.q("HELLO 3").is_error());
        assert!(!r.q("HELLO 3").is_error());
    }
    (p, r)
}

/// Digits replaced by `9`, for texts whose numbers are times.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

#[test]
fn errors_arity_and_empty_replies_equal_redis() {
    let Some(pair) = pair() else { return };
    for resp3 in [false, true] {
        let (mut p, mut r) = both(&pair, resp3);
        for c in [
            "LATENCY",
            "LATENCY FOO",
            "LATENCY HELP",
            "LATENCY help xxx",
            "LATENCY LATEST x",
            "LATENCY DOCTOR x",
            "LATENCY HISTORY",
            "LATENCY HISTORY a b",
            "LATENCY GRAPH",
            "LATENCY GRAPH a b",
            "LATENCY GRAPH nosuch",
            "LATENCY RESET",
            "LATENCY RESET nosuch other",
            "LATENCY LATEST",
            "LATENCY HISTORY nosuch",
            "LATENCY HISTOGRAM blabla",
            "LATENCY HISTOGRAM blabla blabla2 client|nosuch get|x",
            "LATENCY DOCTOR",
            "CONFIG SET latency-monitor-threshold -1",
            "CONFIG SET latency-monitor-threshold abc",
        ] {
            assert_eq!(p.q(c), r.q(c), "{c} (resp3: {resp3})");
        }
    }
}

#[test]
fn a_slow_command_is_a_command_event_as_in_redis() {
    let Some(pair) = pair() else { return };
    for resp3 in [false, true] {
        let (mut p, mut r) = both(&pair, resp3);
        for c in [&mut p, &mut r] {
            assert_eq!(c.q("CONFIG SET latency-monitor-threshold 100"), Reply::ok());
            c.q("LATENCY RESET");
            // Nothing yet: the monitor is on, and nothing happened.
            assert!(c
                .q("LATENCY DOCTOR")
                .text()
                .starts_with("Dave, no latency spike"));
            assert_eq!(c.q("DEBUG SLEEP 0.2"), Reply::ok());
        }
        let (lp, lr) = (p.q("LATENCY LATEST"), r.q("LATENCY LATEST"));
        for latest in [&lp, &lr] {
            let events = latest.items();
            assert_eq!(events.len(), 1, "{latest:?}");
            let e = events[0].items();
            assert_eq!(e[0], Reply::bulk("command"));
            let (time, ms, max) = (e[1].int(), e[2].int(), e[3].int());
            assert!(time > 1_600_000_000, "{latest:?}");
            assert!((200..1000).contains(&ms) && max == ms, "{latest:?}");
        }
        let (hp, hr) = (
            p.q("LATENCY HISTORY command"),
            r.q("LATENCY HISTORY command"),
        );
        assert_eq!(hp.items().len(), 1);
        assert_eq!(hr.items().len(), 1);
        assert_eq!(hp.items()[0].items()[1], lp.items()[0].items()[2]);
        // GRAPH: the same drawing (one sample: the lowest bar, labelled "0s" or so).
        let (gp, gr) = (p.q("LATENCY GRAPH command"), r.q("LATENCY GRAPH command"));
        assert_eq!(
            std::mem::discriminant(&gp),
            std::mem::discriminant(&gr),
            "{gp:?} {gr:?}"
        );
        assert_eq!(shape(&gp.text()), shape(&gr.text()));
        assert!(gp.text().starts_with("command - high "));
        // DOCTOR: the same report, times aside (Redis may add the huge pages advice of its
        // host, which picket does not look for).
        let (dp, dr) = (p.q("LATENCY DOCTOR").text(), r.q("LATENCY DOCTOR").text());
        let thp = "- I detected a non zero amount of anonymous huge pages";
        let dr: String = dr
            .lines()
            .filter(|l| !l.starts_with(thp))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(shape(&dp), shape(&dr));
        assert!(dp.contains("1. command: 1 latency spikes (average "));
        assert!(dp.contains("- Check your Slow Log"));
        // A sleep in the same second keeps the worst; RESET counts the events it forgets.
        for c in [&mut p, &mut r] {
            assert_eq!(c.q("LATENCY RESET nosuch COMMAND"), Reply::Int(1));
            assert_eq!(c.q("LATENCY LATEST"), Reply::Array(vec![]));
            assert_eq!(c.q("LATENCY RESET"), Reply::Int(0));
            assert_eq!(c.q("CONFIG SET latency-monitor-threshold 0"), Reply::ok());
            // Off: the slow command is not recorded.
            assert_eq!(c.q("DEBUG SLEEP 0.15"), Reply::ok());
            assert_eq!(c.q("LATENCY LATEST"), Reply::Array(vec![]));
        }
    }
}

/// A LATENCY HISTOGRAM reply as (name, calls, buckets), checking its shape on the way.
/// A command's name, calls and (bucket bound in µs, cumulative count) pairs.
type Hist = (String, i64, Vec<(i64, i64)>);

fn histograms(reply: &Reply, resp3: bool) -> Vec<Hist> {
    assert_eq!(matches!(reply, Reply::Map(_)), resp3, "{reply:?}");
    let items = reply.items();
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let name = pair[0].text();
        // (The test client's RESP3 maps do not keep the order: look fields up by name.)
        let m = pair[1].items();
        assert_eq!(m.len(), 4, "{m:?}");
        let field = |k: &str| {
            let i = m.iter().position(|x| *x == Reply::bulk(k)).expect(k);
            m[i + 1].clone()
        };
        let calls = field("calls").int();
        let mut buckets: Vec<(i64, i64)> = field("histogram_usec")
            .items()
            .chunks(2)
            .map(|b| (b[0].int(), b[1].int()))
            .collect();
        buckets.sort();
        // Growing bounds (about powers of two, from 1 µs), cumulative counts ending with
        // the calls.
        for w in buckets.windows(2) {
            assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1, "{buckets:?}");
        }
        assert_eq!(buckets.last().map(|b| b.1), Some(calls));
        out.push((name, calls, buckets));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn names_and_calls(h: &[Hist]) -> Vec<(String, i64)> {
    h.iter().map(|(n, c, _)| (n.clone(), *c)).collect()
}

#[test]
fn histogram_calls_and_buckets_as_redis() {
    let Some(pair) = pair() else { return };
    for resp3 in [false, true] {
        let (mut p, mut r) = both(&pair, resp3);
        let mut got = Vec::new();
        for c in [&mut p, &mut r] {
            assert_eq!(c.q("CONFIG RESETSTAT"), Reply::ok());
            // Only CONFIG RESETSTAT itself so far.
            let h = histograms(&c.q("LATENCY HISTOGRAM"), resp3);
            assert_eq!(names_and_calls(&h), vec![("config|resetstat".into(), 1)]);
            c.q("SET a b");
            c.q("SET c d");
            c.q("GET a");
            c.q("HSET f k v");
            c.q("HGETALL f");
            c.q("CLIENT ID");
            c.q("CLIENT ID");
            c.q("DEBUG SLEEP 0.01");
            let mut all = Vec::new();
            for args in [
                "LATENCY HISTOGRAM set hset",
                "LATENCY HISTOGRAM hgetall get zadd",
                "LATENCY HISTOGRAM client",
                "LATENCY HISTOGRAM CLIENT|ID nosuch",
                "LATENCY HISTOGRAM debug",
                "LATENCY HISTOGRAM",
            ] {
                all.push(names_and_calls(&histograms(&c.q(args), resp3)));
            }
            let debug = histograms(&c.q("LATENCY HISTOGRAM debug"), resp3);
            // 10 ms of sleep lands in the bucket up to 16383 µs or above.
            assert!(debug[0].2[0].0 >= 8191, "{debug:?}");
            got.push(all);
        }
        assert_eq!(got[0], got[1], "picket (left) and redis (right)");
        assert_eq!(got[0][0], vec![("hset".into(), 1), ("set".into(), 2)]);
        assert_eq!(got[0][2], vec![("client|id".into(), 2)]);
    }
}

fn latencystats(c: &mut Conn) -> Vec<String> {
    let text = c.q("INFO latencystats").text();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// `latency_percentiles_usec_<cmd>:p50=1.003,...`: the names and percentile labels kept.
fn field_shapes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let Some((name, vals)) = l.split_once(':') else {
                return l.clone();
            };
            if vals.is_empty() {
                return l.clone();
            }
            let labels: Vec<&str> = vals
                .split(',')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    let (int, frac) = v.split_once('.').unwrap();
                    assert!(
                        int.chars().all(|c| c.is_ascii_digit()) && frac.len() == 3,
                        "{l}"
                    );
                    k
                })
                .collect();
            format!("{name}:{}", labels.join(","))
        })
        .collect()
}

const PERCENTILES: &str = "latency-tracking-info-percentiles";

#[test]
fn info_latencystats_and_its_configuration_as_redis() {
    let Some(pair) = pair() else { return };
    let (mut p, mut r) = both(&pair, false);
    let mut got = Vec::new();
    for c in [&mut p, &mut r] {
        let mut seen = Vec::new();
        c.q("CONFIG RESETSTAT");
        c.q("SET a b");
        c.q("GET a");
        c.q("CLIENT ID");
        seen.push(field_shapes(&latencystats(c)));
        // Not in the default INFO, in ALL and EVERYTHING.
        assert!(!c.q("INFO").text().contains("# Latencystats"));
        assert!(c
            .q("INFO all")
            .text()
            .contains("# Latencystats\r\nlatency_percentiles_usec_"));
        assert!(c.q("INFO everything").text().contains("# Latencystats"));
        assert_eq!(
            c.cmd(&["CONFIG", "SET", PERCENTILES, "0.0 50.0 100.0"]),
            Reply::ok()
        );
        seen.push(field_shapes(&latencystats(c)));
        c.cmd(&["CONFIG", "SET", PERCENTILES, ""]);
        seen.push(field_shapes(&latencystats(c)));
        c.cmd(&["CONFIG", "SET", PERCENTILES, "99.99 12.5"]);
        seen.push(field_shapes(&latencystats(c)));
        c.q("CONFIG SET latency-tracking no");
        c.q("SET x y");
        seen.push(latencystats(c));
        c.q("CONFIG SET latency-tracking yes");
        c.q("CONFIG RESETSTAT");
        seen.push(field_shapes(&latencystats(c)));
        c.cmd(&["CONFIG", "SET", PERCENTILES, "50 99 99.9"]);
        got.push(seen);
    }
    assert_eq!(got[0], got[1], "picket (left) and redis (right)");
    assert!(got[0][0].contains(&"latency_percentiles_usec_set:p50,p99,p99.9".to_string()));
    assert!(got[0][0].contains(&"latency_percentiles_usec_client|id:p50,p99,p99.9".to_string()));
    assert!(got[0][1].contains(&"latency_percentiles_usec_set:p0,p50,p100".to_string()));
}

#[test]
fn percentile_values_are_consistent() {
    let Some(pair) = pair() else { return };
    let mut p = pair.picket.conn();
    p.q("CONFIG RESETSTAT");
    p.q("CONFIG SET latency-tracking-info-percentiles 50");
    p.q("DEBUG SLEEP 0.05");
    p.q("SET k v");
    let text = p.q("INFO latencystats").text();
    let value = |cmd: &str| -> f64 {
        let prefix = format!("latency_percentiles_usec_{cmd}:p50=");
        let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap();
        line[prefix.len()..].parse().unwrap()
    };
    assert!(value("debug") >= 50000.0, "{text}");
    assert!(value("debug") >= value("set"));
}
