//! Unit tests of hellos: which are taken, what they make known, epochs.

use super::tests::*;
use super::*;

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(_, msg) => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn hellos_naming_hosts_are_ignored_unless_resolve_hostnames() {
    let mut c = core();
    assert!(!c.resolve_hostnames);
    // The sentinel's address is a name: no sentinel, logged as Redis does; the current
    // epoch still counts (Redis adopts it before looking at the sentinel).
    let a = c.step(
        0,
        Input::Hello(format!("sentinel-a.example,26379,{A},2,m,10.0.0.1,6379,0")),
    );
    assert!(c.masters["m"].sentinels.is_empty(), "{a:?}");
    assert!(
        !events(&a).iter().any(|e| e.starts_with("+sentinel")),
        "{a:?}"
    );
    assert!(!a.iter().any(|x| matches!(x, Action::Connect(..))), "{a:?}");
    assert!(logs(&a).contains(&"Failed to resolve hostname 'sentinel-a.example'".to_string()));
    assert_eq!(c.current_epoch, 2);
    // A known sentinel (by IP) announcing a newer configuration whose master is a name:
    // neither the address nor the config epoch is taken.
    c.step(
        0,
        Input::Hello(format!("10.0.0.7,26379,{A},2,m,10.0.0.1,6379,0")),
    );
    assert!(c.masters["m"].sentinels.contains_key(A));
    let a = c.step(
        10,
        Input::Hello(format!("10.0.0.7,26379,{A},3,m,node2,6379,3")),
    );
    assert!(
        !events(&a).iter().any(|e| e.starts_with("+switch-master")),
        "{a:?}"
    );
    assert!(logs(&a).contains(&"Failed to resolve hostname 'node2'".to_string()));
    assert_eq!(c.masters["m"].inst.addr, Addr::new("10.0.0.1", 6379));
    assert_eq!(c.masters["m"].config_epoch, 0);
    // The same configuration announced with an IP is still taken.
    let a = c.step(
        20,
        Input::Hello(format!("10.0.0.7,26379,{A},3,m,10.0.0.2,6379,3")),
    );
    assert!(
        events(&a).contains(&"+switch-master m 10.0.0.1 6379 10.0.0.2 6379".to_string()),
        "{a:?}"
    );
    // Replicas listed by name in a master's INFO are not added either; IPs are.
    let mt = Target::Master("m".into());
    c.step(30, Input::Connected(mt.clone()));
    let a = c.step(
        30,
        Input::InfoReply(mt, master_info(&[("replica-x", 6379), ("10.0.0.3", 6379)])),
    );
    let m = &c.masters["m"];
    assert!(m.replicas.contains_key("10.0.0.3:6379"), "{a:?}");
    assert!(!m.replicas.contains_key("replica-x:6379"), "{a:?}");
    assert!(logs(&a).contains(&"Failed to resolve hostname 'replica-x'".to_string()));
    // IS-MASTER-DOWN-BY-ADDR naming a host matches no master.
    c.monitor("h", Addr::new("10.0.0.50", 6379), 1, 30);
    let (_, leader, epoch) = c.is_master_down_by_addr(30, &Addr::new("localhost", 6379), 9, B);
    assert_eq!((leader.as_str(), epoch), ("*", 0));
    assert_eq!(c.current_epoch, 3);

    // With resolve-hostnames yes names are kept as they are (the shell resolves them).
    let mut c = core();
    c.resolve_hostnames = true;
    let a = c.step(
        0,
        Input::Hello(format!("sentinel-a,26379,{A},0,m,10.0.0.1,6379,0")),
    );
    assert!(
        events(&a).contains(&format!(
            "+sentinel sentinel {A} sentinel-a 26379 @ m 10.0.0.1 6379"
        )),
        "{a:?}"
    );
    let a = c.step(
        10,
        Input::Hello(format!("sentinel-a,26379,{A},1,m,node2,6379,1")),
    );
    assert!(
        events(&a).contains(&"+switch-master m 10.0.0.1 6379 node2 6379".to_string()),
        "{a:?}"
    );
    c.step(20, Input::Connected(Target::Master("m".into())));
    let a = c.step(
        20,
        Input::InfoReply(Target::Master("m".into()), master_info(&[("node3", 6379)])),
    );
    assert!(c.masters["m"].replicas.contains_key("node3:6379"), "{a:?}");
}

#[test]
fn hellos_with_insane_epochs_are_ignored() {
    for (epoch, config_epoch) in [
        ("18446744073709551615", "0"),
        ("9223372036854775808", "0"),
        ("0", "18446744073709551615"),
        ("0", "9223372036854775808"),
        ("-1", "0"),
        ("1", "x"),
    ] {
        let mut c = core();
        let a = c.step(
            0,
            Input::Hello(format!(
                "10.0.0.7,26379,{A},{epoch},m,10.0.0.2,6380,{config_epoch}"
            )),
        );
        assert!(events(&a).is_empty(), "{epoch} {config_epoch}: {a:?}");
        assert!(!a.contains(&Action::Flush), "{a:?}");
        assert!(c.masters["m"].sentinels.is_empty());
        assert_eq!(c.current_epoch, 0);
        assert_eq!(c.masters["m"].config_epoch, 0);
        assert_eq!(c.masters["m"].inst.addr, Addr::new("10.0.0.1", 6379));
    }
    // The largest sane epoch is taken; a failover then cannot start (no wrap to 0) and
    // SENTINEL FAILOVER says why.
    let mut c = core();
    let max = i64::MAX.to_string();
    let a = c.step(
        0,
        Input::Hello(format!("10.0.0.7,26379,{A},{max},m,10.0.0.1,6379,0")),
    );
    assert!(events(&a).contains(&format!("+new-epoch {max}")), "{a:?}");
    assert_eq!(c.current_epoch, MAX_EPOCH);
    let mt = Target::Master("m".into());
    c.step(0, Input::Connected(mt.clone()));
    c.step(
        0,
        Input::InfoReply(mt.clone(), master_info(&[("10.0.0.2", 6379)])),
    );
    let rt = Target::Replica("m".into(), "10.0.0.2:6379".into());
    c.step(0, Input::Connected(rt.clone()));
    c.step(0, Input::PingReply(rt.clone(), "+PONG".into()));
    c.step(
        0,
        Input::InfoReply(rt, replica_info(&"2".repeat(40), 100, 10)),
    );
    assert!(c.force_failover(10, "m").is_err());
    assert_eq!(c.current_epoch, MAX_EPOCH);
    assert!(!c.masters["m"].in_failover());
    let a = c.take_actions();
    assert!(
        logs(&a)
            .iter()
            .any(|l| l.contains("largest an epoch can be")),
        "{a:?}"
    );
}

#[test]
fn epochs_parse_as_redis_getlonglong_below_2_pow_63() {
    assert_eq!(parse_epoch("0"), Some(0));
    assert_eq!(parse_epoch("9223372036854775807"), Some(MAX_EPOCH));
    for bad in [
        "9223372036854775808",
        "18446744073709551615",
        "-1",
        "+1",
        "01",
        " 1",
        "",
        "1x",
    ] {
        assert_eq!(parse_epoch(bad), None, "{bad}");
    }
}

/// A hello from sentinel number `i` (distinct run id and address).
fn hello_of(i: u32, epoch: u64) -> String {
    format!(
        "10.1.{}.{},26379,{:040x},{epoch},m,10.0.0.1,6379,0",
        i >> 8,
        i & 0xff,
        i + 1
    )
}

#[test]
fn hellos_make_at_most_max_sentinels_known_evicting_the_least_recently_heard() {
    let mut c = core();
    c.max_sentinels = 3;
    // Sentinels 0, 1, 2 heard at 0, 10, 20.
    for i in 0..3 {
        c.step(u64::from(i) * 10, Input::Hello(hello_of(i, 0)));
    }
    // 0 speaks again at 30: now 1 (last hello at 10) is the stalest.
    c.step(30, Input::Hello(hello_of(0, 0)));
    let a = c.step(40, Input::Hello(hello_of(3, 0)));
    let ev = events(&a);
    let id = |i: u32| format!("{:040x}", i + 1);
    assert_eq!(
        ev,
        vec![
            format!(
                "-sentinel sentinel {} 10.1.0.1 26379 @ m 10.0.0.1 6379",
                id(1)
            ),
            format!(
                "+sentinel sentinel {} 10.1.0.3 26379 @ m 10.0.0.1 6379",
                id(3)
            ),
        ],
        "{a:?}"
    );
    assert!(a.contains(&Action::Disconnect(Target::Sentinel("m".into(), id(1)))));
    assert!(logs(&a)
        .iter()
        .any(|l| l.contains("max-sentinels-per-master 3")
            && l.contains(&id(1))
            && l.contains("last hello 30 ms ago")));
    let known: Vec<&String> = c.masters["m"].sentinels.keys().collect();
    assert_eq!(known, vec![&id(0), &id(2), &id(3)]);
    // A known sentinel speaking again evicts nobody.
    let a = c.step(50, Input::Hello(hello_of(2, 0)));
    assert!(events(&a).is_empty(), "{a:?}");
    // A sentinel never heard from (a known-sentinel line) goes before any heard one.
    let never = PeerSentinel::new(id(9), Addr::new("10.1.0.9", 26379), 0);
    let m = c.masters.get_mut("m").unwrap();
    m.sentinels.remove(&id(3));
    m.sentinels.insert(id(9), never);
    let a = c.step(60, Input::Hello(hello_of(4, 0)));
    assert!(
        events(&a)[0].starts_with(&format!("-sentinel sentinel {}", id(9))),
        "{a:?}"
    );
    assert!(logs(&a).iter().any(|l| l.contains("never heard from")));

    // 10,000 run ids: never more than the bound, and the newest stay.
    let mut c = core();
    for i in 0..10_000u32 {
        c.step(u64::from(i), Input::Hello(hello_of(i, 0)));
        assert!(c.masters["m"].sentinels.len() <= DEFAULT_MAX_SENTINELS);
    }
    let m = &c.masters["m"];
    assert_eq!(m.sentinels.len(), DEFAULT_MAX_SENTINELS);
    assert!((10_000 - 64..10_000).all(|i| m.sentinels.contains_key(&id(i))));
}
