//! GEO commands compared with Redis 7.0, reply by reply (RESP2 and RESP3): the documented
//! examples, the errors, and a seeded random walk of GEOADD and searches (GEORADIUS,
//! GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE with every option, unsorted orders included)
//! over points scattered around a few centres, stored results compared with ZRANGE.
//!
//! `PICKET_GEO_SEED=<n>` replays one seed.

mod common;

use common::Pair;
use common::Rng;

const EDGE: &[&[&str]] = &[
    &[
        "GEOADD",
        "Sicily",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ],
    &["GEODIST", "Sicily", "Palermo", "Catania"],
    &["GEODIST", "Sicily", "Palermo", "Catania", "km"],
    &["GEODIST", "Sicily", "Palermo", "Catania", "MI"],
    &["GEODIST", "Sicily", "Palermo", "Catania", "ft"],
    &["GEODIST", "Sicily", "Palermo", "Catania", "yd"],
    &["GEODIST", "Sicily", "Palermo", "Catania", "km", "x"],
    &["GEODIST", "Sicily", "Palermo", "Nowhere"],
    &["GEODIST", "NoKey", "a", "b"],
    &["GEODIST", "Sicily", "Palermo", "Palermo"],
    &["GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting"],
    &["GEOPOS", "NoKey", "a"],
    &["GEOPOS", "Sicily"],
    &["GEOHASH", "Sicily", "Palermo", "Catania", "x"],
    &["GEOHASH", "NoKey", "a"],
    &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD"],
    &[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "WITHDIST",
        "WITHCOORD",
        "WITHHASH",
    ],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"],
    &[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "COUNT",
        "1",
        "ANY",
    ],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"],
    &["GEORADIUS", "Sicily", "15", "37", "-1", "km"],
    &["GEORADIUS", "Sicily", "15", "37", "x", "km"],
    &["GEORADIUS", "Sicily", "15", "37", "200", "yd"],
    &["GEORADIUS", "Sicily", "200", "37", "200", "km"],
    &["GEORADIUS", "Sicily", "15", "86", "200", "km"],
    &["GEORADIUS", "Sicily", "x", "37", "200", "km"],
    &["GEORADIUS", "Sicily", "15", "37", "200", "km", "FOO"],
    &[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "STORE",
        "dst",
    ],
    &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    &[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "STOREDIST",
        "dst2",
    ],
    &["ZRANGE", "dst2", "0", "-1", "WITHSCORES"],
    &[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "STORE",
        "dst",
        "WITHDIST",
    ],
    &["GEORADIUS", "Sicily", "15", "37", "1", "m", "STORE", "dst"],
    &["EXISTS", "dst"],
    &[
        "GEORADIUS_RO",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "STORE",
        "dst",
    ],
    &["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "ASC"],
    &[
        "GEORADIUSBYMEMBER",
        "Sicily",
        "Palermo",
        "200",
        "km",
        "DESC",
        "WITHDIST",
    ],
    &["GEORADIUSBYMEMBER", "Sicily", "Nowhere", "200", "km"],
    &["GEORADIUSBYMEMBER", "NoKey", "Nowhere", "200", "km"],
    &[
        "GEORADIUSBYMEMBER",
        "NoKey",
        "Nowhere",
        "200",
        "km",
        "STORE",
        "dst2",
    ],
    &["EXISTS", "dst2"],
    &[
        "GEORADIUSBYMEMBER_RO",
        "Sicily",
        "Palermo",
        "200",
        "km",
        "STORE",
        "x",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "ASC",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYBOX",
        "400",
        "400",
        "km",
        "ASC",
        "WITHCOORD",
        "WITHDIST",
        "WITHHASH",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMMEMBER",
        "Palermo",
        "BYBOX",
        "400",
        "400",
        "km",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMMEMBER",
        "Nowhere",
        "BYBOX",
        "400",
        "400",
        "km",
    ],
    &["GEOSEARCH", "Sicily", "BYBOX", "400", "400", "km"],
    &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37"],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "FROMMEMBER",
        "Palermo",
        "BYRADIUS",
        "1",
        "km",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "1",
        "km",
        "BYBOX",
        "1",
        "1",
        "km",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYBOX",
        "-1",
        "1",
        "km",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYBOX",
        "x",
        "1",
        "km",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYBOX",
        "1",
        "y",
        "km",
    ],
    &[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "STORE",
        "x",
    ],
    &[
        "GEOSEARCH",
        "NoKey",
        "FROMMEMBER",
        "x",
        "BYRADIUS",
        "200",
        "km",
    ],
    &[
        "GEOSEARCH",
        "NoKey",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "ANY",
    ],
    &[
        "GEOSEARCHSTORE",
        "dst3",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "STOREDIST",
    ],
    &["ZRANGE", "dst3", "0", "-1", "WITHSCORES"],
    &[
        "GEOSEARCHSTORE",
        "dst3",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "WITHDIST",
    ],
    &[
        "GEOSEARCHSTORE",
        "dst3",
        "NoKey",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
    ],
    &["EXISTS", "dst3"],
    &["GEOADD", "Sicily", "NX", "XX", "1", "1", "a"],
    &["GEOADD", "Sicily", "1", "1"],
    &[
        "GEOADD",
        "Sicily",
        "CH",
        "13.361389",
        "38.115556",
        "Palermo",
        "1",
        "1",
        "New",
    ],
    &[
        "GEOADD", "Sicily", "XX", "CH", "2", "2", "New", "3", "3", "Absent",
    ],
    &["GEOADD", "Sicily", "NX", "4", "4", "New", "5", "5", "Other"],
    &["GEOADD", "Sicily", "181", "1", "bad"],
    &["GEOADD", "Sicily", "1", "85.06", "bad"],
    &["GEOADD", "Sicily", "-180", "-85.05112878", "corner"],
    &["GEOPOS", "Sicily", "corner", "New", "Other"],
    &["SET", "str", "x"],
    &["GEOADD", "str", "1", "1", "a"],
    &["GEOPOS", "str", "a"],
    &["GEORADIUS", "str", "1", "1", "1", "km"],
    &[
        "GEOSEARCH",
        "str",
        "FROMLONLAT",
        "1",
        "1",
        "BYRADIUS",
        "1",
        "km",
    ],
];

#[test]
fn documented_examples_and_errors_match_redis() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    pair.same(EDGE);
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    p.cmd(&["HELLO", "3"]);
    r.cmd(&["HELLO", "3"]);
    for c in EDGE {
        assert_eq!(p.cmd(c), r.cmd(c), "RESP3 {c:?}");
    }
}

#[test]
fn random_searches_match_redis() {
    let Some(pair) = Pair::start(&[]) else {
        return;
    };
    let seeds: Vec<u64> = match std::env::var("PICKET_GEO_SEED") {
        Ok(s) => vec![s.parse().expect("seed")],
        Err(_) => (1..=4).collect(),
    };
    let mut p = pair.picket.conn();
    let mut r = pair.redis.conn();
    // Centres: mid-latitudes, near the poles' limit, across the antimeridian, the equator.
    let centres = [
        (13.4, 38.1),
        (-122.4, 37.8),
        (179.9, -16.5),
        (0.0, 0.0),
        (25.0, 79.5),
        (-70.0, -84.0),
    ];
    for seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        p.cmd(&["FLUSHALL"]);
        r.cmd(&["FLUSHALL"]);
        let replay =
            format!("replay: PICKET_GEO_SEED={seed} cargo test -p picket-server --test geo_compat");
        // Points: more than the listpack limit, so both encodings are searched.
        for batch in 0..8 {
            let mut cmd = vec!["GEOADD".to_string(), "pts".to_string()];
            for k in 0..25 {
                let (cx, cy) = centres[rng.below(centres.len() as u64) as usize];
                let spread = [0.01, 0.5, 5.0][rng.below(3) as usize];
                let x = (cx + (rng.unit() - 0.5) * spread * 2.0).clamp(-180.0, 180.0);
                let y = (cy + (rng.unit() - 0.5) * spread).clamp(-85.05, 85.05);
                cmd.extend([
                    format!("{x:.6}"),
                    format!("{y:.6}"),
                    format!("m{batch}-{k}"),
                ]);
            }
            assert_eq!(
                p.cmd(&cmd),
                r.cmd(&cmd),
                "seed {seed}: GEOADD batch {batch}"
            );
        }
        for step in 0..150 {
            let (cx, cy) = centres[rng.below(centres.len() as u64) as usize];
            let x = (cx + (rng.unit() - 0.5) * 2.0).clamp(-180.0, 180.0);
            let y = (cy + (rng.unit() - 0.5)).clamp(-85.05, 85.05);
            let unit = ["m", "km", "mi", "ft"][rng.below(4) as usize];
            let conv = match unit {
                "m" => 1.0,
                "km" => 1000.0,
                "mi" => 1609.34,
                _ => 0.3048,
            };
            let meters = [500.0, 20_000.0, 300_000.0, 3_000_000.0][rng.below(4) as usize];
            let size = format!("{:.3}", meters / conv);
            let member = format!("m{}-{}", rng.below(8), rng.below(25));
            let mut cmd: Vec<String> = match rng.below(4) {
                0 => vec![
                    "GEORADIUS".into(),
                    "pts".into(),
                    format!("{x:.5}"),
                    format!("{y:.5}"),
                    size.clone(),
                    unit.into(),
                ],
                1 => vec![
                    "GEORADIUSBYMEMBER".into(),
                    "pts".into(),
                    member.clone(),
                    size.clone(),
                    unit.into(),
                ],
                _ => {
                    let mut c = vec!["GEOSEARCH".to_string(), "pts".to_string()];
                    if rng.below(2) == 0 {
                        c.extend(["FROMMEMBER".into(), member.clone()]);
                    } else {
                        c.extend(["FROMLONLAT".into(), format!("{x:.5}"), format!("{y:.5}")]);
                    }
                    if rng.below(2) == 0 {
                        c.extend(["BYRADIUS".into(), size.clone(), unit.into()]);
                    } else {
                        let h = format!("{:.3}", meters / conv * (0.5 + rng.unit()));
                        c.extend(["BYBOX".into(), size.clone(), h, unit.into()]);
                    }
                    c
                }
            };
            for opt in ["WITHDIST", "WITHHASH", "WITHCOORD"] {
                if rng.below(3) == 0 {
                    cmd.push(opt.into());
                }
            }
            match rng.below(4) {
                0 => cmd.push("ASC".into()),
                1 => cmd.push("DESC".into()),
                _ => {}
            }
            if rng.below(3) == 0 {
                cmd.extend(["COUNT".into(), (1 + rng.below(20)).to_string()]);
                if rng.below(3) == 0 {
                    cmd.push("ANY".into());
                }
            }
            let a = p.cmd(&cmd);
            let b = r.cmd(&cmd);
            assert_eq!(a, b, "seed {seed} step {step}: {cmd:?}; {replay}");
            // Stored results.
            if step % 5 == 0 && cmd[0] == "GEOSEARCH" {
                let mut st: Vec<String> = vec!["GEOSEARCHSTORE".into(), "dst".into()];
                st.extend(cmd[1..].iter().filter(|a| !a.starts_with("WITH")).cloned());
                if rng.below(2) == 0 {
                    st.push("STOREDIST".into());
                }
                assert_eq!(
                    p.cmd(&st),
                    r.cmd(&st),
                    "seed {seed} step {step}: {st:?}; {replay}"
                );
                let z = ["ZRANGE", "dst", "0", "-1", "WITHSCORES"];
                assert_eq!(
                    p.cmd(&z),
                    r.cmd(&z),
                    "seed {seed} step {step}: stored; {replay}"
                );
            }
        }
    }
}
