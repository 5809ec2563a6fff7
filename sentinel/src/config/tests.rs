use super::*;

#[test]
fn parses_redis_sentinel_directives() {
    let text = "port 26380\n# comment\nsentinel down-after-milliseconds m 5000\nsentinel monitor m 127.0.0.1 6379 2\nsentinel known-replica m 127.0.0.1 6380\nsentinel myid 0123456789012345678901234567890123456789\nsentinel current-epoch 7\n";
    let l = parse(text, &[]).unwrap();
    assert_eq!(l.server.port, 26380);
    assert_eq!(l.current_epoch, 7);
    assert_eq!(
        l.myid.as_deref(),
        Some("0123456789012345678901234567890123456789")
    );
    let (name, m) = &l.masters[0];
    assert_eq!(name, "m");
    assert_eq!(m.addr, Some((Addr::new("127.0.0.1", 6379), 2)));
    assert_eq!(m.opts.len(), 2);
}

#[test]
fn bad_lines_are_refused_with_their_line_number() {
    for (text, want) in [
        (
            "sentinel monitor m 127.0.0.1 6379 0\n",
            "Quorum must be 1 or greater.",
        ),
        (
            "sentinel monitor m 127.0.0.1 notaport 2\n",
            "Invalid port number.",
        ),
        (
            "sentinel monitor m localhost 6379 2\n",
            "Can't resolve instance hostname.",
        ),
        (
            "sentinel bogus m 1\n",
            "Unrecognized sentinel configuration statement.",
        ),
        (
            "sentinel monitor m 127.0.0.1 6379\n",
            "Unrecognized sentinel configuration statement.",
        ),
        ("nonsense 1\n", "Bad directive or wrong number of arguments"),
        (
            "sentinel myid xyz\n",
            "Malformed Sentinel id in myid option.",
        ),
        (
            "sentinel down-after-milliseconds x 10\n",
            "No such master with specified name.",
        ),
        (
            "sentinel resolve-hostnames maybe\n",
            "Please specify yes or no for the resolve-hostnames option.",
        ),
    ] {
        let e = parse(text, &[]).unwrap_err().to_string();
        assert!(e.ends_with(want) && e.contains("line 1\n"), "{e}");
    }
    // Names resolve with resolve-hostnames yes, wherever the line is.
    let l = parse(
        "sentinel monitor m localhost 6379 2\nsentinel resolve-hostnames yes\n",
        &[],
    )
    .unwrap();
    assert_eq!(l.masters[0].1.addr, Some((Addr::new("localhost", 6379), 2)));
}

#[test]
fn sentinel_lines_come_after_server_lines_and_per_master_lines_after_monitors() {
    // A bad sentinel line before a bad server line: Redis reports the server line, as it
    // reads the sentinel lines once the file is read.
    let e = parse("sentinel bogus\nport x\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("at line 2\n>>> 'port x'"), "{e}");
    let m = "sentinel monitor m 127.0.0.1 6379 2";
    for (lines, at, why) in [
        (
            vec!["sentinel down-after-milliseconds m 0", m],
            1,
            "negative or zero time parameter.",
        ),
        (
            vec![m, "sentinel monitor m 127.0.0.1 6380 2"],
            2,
            "Duplicate master name.",
        ),
        (
            vec![
                m,
                "sentinel known-replica m 127.0.0.1 7000",
                "sentinel known-slave m 127.0.0.1 7000",
            ],
            3,
            "Duplicate hostname and port for replica.",
        ),
        (
            vec![
                m,
                "sentinel rename-command m CONFIG a",
                "sentinel rename-command m config b",
            ],
            3,
            "Same command renamed multiple times with rename-command.",
        ),
        (
            vec![m, "sentinel notification-script m /nonexistent/notify.sh"],
            2,
            "Notification script seems non existing or non executable.",
        ),
        (
            vec![m, "sentinel master-reboot-down-after-period m -1"],
            2,
            "negative time parameter.",
        ),
    ] {
        let e = parse(&lines.join("\n"), &[]).unwrap_err().to_string();
        assert!(
            e.contains(&format!("at line {at}\n")) && e.ends_with(why),
            "{lines:?}: {e}"
        );
    }
    // Epochs: a config-epoch raises the current epoch, a lower current-epoch does not
    // lower it; the old known-sentinel form without a run id is ignored.
    let l = parse(
        &format!("sentinel current-epoch 9\nsentinel config-epoch m 12\nsentinel current-epoch 3\n{m}\nsentinel known-sentinel m 127.0.0.1 26379\n"),
        &[],
    )
    .unwrap();
    assert_eq!(l.current_epoch, 12);
}

#[test]
fn server_directives_of_redis_are_accepted_and_stored() {
    let text = "port 26380\nrepl-diskless-sync-delay 0\nenable-protected-configs yes\nenable-debug-command yes\nprotected-mode yes\ndaemonize no\npidfile /tmp/x.pid\nio-threads 4\ntimeout 7\ntcp-keepalive 60\nhz 50\nsupervised auto\nrequirepass pw\nmaxclients 99\nbind 127.0.0.1 -::1\nloglevel warning\nsentinel monitor m 127.0.0.1 6379 2\n";
    let l = parse(text, &[]).unwrap();
    let s = &l.server;
    assert_eq!(s.port, 26380);
    assert!(s.protected_mode);
    assert_eq!(s.pidfile, "/tmp/x.pid");
    assert_eq!((s.timeout, s.tcp_keepalive, s.configured_hz), (7, 60, 50));
    assert_eq!(s.supervised, "auto");
    assert_eq!(s.requirepass.as_deref(), Some("pw"));
    assert_eq!(s.maxclients, 99);
    assert_eq!(s.bind, ["127.0.0.1", "-::1"]);
    assert_eq!(s.loglevel, "warning");
    assert_eq!(s.directives.get_int("repl-diskless-sync-delay"), 0);
    assert_eq!(s.directives.get_int("io-threads"), 4);
    assert_eq!(s.directives.get_str("enable-debug-command"), "yes");
    // The defaults of a sentinel: Redis's, with port 26379 and protected-mode no.
    let d = parse("", &[]).unwrap().server;
    assert_eq!(
        (d.port, d.protected_mode, d.tcp_keepalive),
        (26379, false, 300)
    );
}

#[test]
fn command_line_options_are_lines_as_redis_numbers_them() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let text = "sentinel monitor m 127.0.0.1 6999 2\nport 26999\n";
    let e = parse(
        text,
        &args(&["--sentinel", "--bind", "1.2.3.4", "--port", "abc"]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("at line 6\n>>> 'port \"abc\"'\nargument couldn't"),
        "{e}"
    );
    let e = parse("a 1\nb 2", &args(&["--loglevel", "loud"])).unwrap_err();
    assert!(
        e.to_string().contains("at line 1\n"),
        "the file's line first: {e}"
    );
    let e = parse(
        "port 1\nport 2",
        &args(&["--sentinel", "--loglevel", "loud"]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("at line 4\n>>> 'loglevel \"loud\"'"), "{e}");
    let e = parse(
        text,
        &args(&[
            "--port",
            "26990",
            "--sentinel",
            "monitor",
            "x",
            "127.0.0.1",
            "1",
            "0",
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("at line 5\n>>> 'sentinel \"monitor\" \"x\" \"127.0.0.1\" \"1\" \"0\"'\nQuorum must be 1 or greater."),
        "{e}"
    );
    // `--save` without a value is `save ""`; an option and its value in one argument.
    let l = parse(text, &args(&["--save", "--port 26991"])).unwrap();
    assert!(l.server.directives.get_save_points("save").is_empty());
    assert_eq!(l.server.port, 26991);
}

#[test]
fn include_reads_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("inc.conf");
    std::fs::write(&inc, "timeout 5\nsentinel monitor m 127.0.0.1 6379 2\n").unwrap();
    let l = parse(&format!("include {}\nport 26385\n", inc.display()), &[]).unwrap();
    assert_eq!(l.server.timeout, 5);
    assert_eq!(l.server.port, 26385);
    assert_eq!(l.masters.len(), 1);
    let e = parse("include /nonexistent/x.conf\n", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory"
    );
    // A pattern with no match is fine.
    let l = parse(
        &format!("include {}/none-*.conf\n", dir.path().display()),
        &[],
    )
    .unwrap();
    assert!(l.masters.is_empty());
}

#[test]
fn epochs_and_quorums_that_do_not_fit_are_refused_with_their_line() {
    let monitor = "sentinel monitor m 127.0.0.1 6379 2\n";
    for (line, want) in [
        (
            "sentinel current-epoch 18446744073709551615",
            "Invalid epoch",
        ),
        (
            "sentinel current-epoch 9223372036854775808",
            "Invalid epoch",
        ),
        ("sentinel current-epoch -1", "Invalid epoch"),
        (
            "sentinel config-epoch m 9223372036854775808",
            "Invalid epoch",
        ),
        (
            "sentinel leader-epoch m 18446744073709551615",
            "Invalid epoch",
        ),
        ("sentinel leader-epoch m x", "Invalid epoch"),
        (
            "sentinel monitor q 127.0.0.1 6379 4294967297",
            "Quorum must be at most 4294967295.",
        ),
        (
            "sentinel monitor q 127.0.0.1 6379 -1",
            "Quorum must be 1 or greater.",
        ),
        (
            "sentinel monitor q 127.0.0.1 6379 abc",
            "Quorum must be 1 or greater.",
        ),
        (
            "sentinel max-sentinels-per-master 0",
            "max-sentinels-per-master must be",
        ),
    ] {
        let e = parse(&format!("{monitor}{line}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(want) && e.contains("at line 2") && e.contains(line),
            "{line}: {e}"
        );
    }
    let max = i64::MAX;
    let l = parse(
        &format!("{monitor}sentinel current-epoch {max}\nsentinel config-epoch m {max}\nsentinel monitor q 127.0.0.1 6380 4294967295\n"),
        &[],
    )
    .unwrap();
    assert_eq!(l.current_epoch, crate::core::MAX_EPOCH);
    let c = crate::core_from(&l, 1, 0).unwrap();
    assert_eq!(c.masters["m"].config_epoch, crate::core::MAX_EPOCH);
    assert_eq!(c.masters["q"].quorum, u32::MAX);
}

#[test]
fn max_sentinels_per_master_is_read_and_written_when_not_the_default() {
    let l = parse("sentinel monitor m 127.0.0.1 6379 2\n", &[]).unwrap();
    assert_eq!(l.server.max_sentinels_per_master, 64);
    let c = crate::core_from(&l, 1, 0).unwrap();
    assert_eq!(c.max_sentinels, 64);
    assert!(!rewrite::rewritten("", &c, &l.server).contains("max-sentinels-per-master"));
    let l = parse(
        "sentinel monitor m 127.0.0.1 6379 2\nsentinel max-sentinels-per-master 5\nsentinel resolve-hostnames yes\n",
        &[],
    )
    .unwrap();
    let c = crate::core_from(&l, 1, 0).unwrap();
    assert_eq!(c.max_sentinels, 5);
    assert!(c.resolve_hostnames);
    let text = rewrite::rewritten("", &c, &l.server);
    assert!(
        text.contains("\nsentinel max-sentinels-per-master 5\n"),
        "{text}"
    );
    let back = parse(&text, &[]).unwrap();
    assert_eq!(back.server.max_sentinels_per_master, 5);
    // TOML: the same key under [sentinel], written back only when not the default.
    let t = parse_toml(
        "[sentinel]\nmax-sentinels-per-master = 7\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n",
        &[],
    )
    .unwrap();
    assert_eq!(t.server.max_sentinels_per_master, 7);
    let c = crate::core_from(&t, 1, 0).unwrap();
    let mut st = t.server.clone();
    let text = toml::rewritten("", &c, &st).unwrap();
    assert!(text.contains("max-sentinels-per-master = 7"), "{text}");
    st.max_sentinels_per_master = 64;
    let text = toml::rewritten("", &c, &st).unwrap();
    assert!(!text.contains("max-sentinels-per-master"), "{text}");
    st.max_sentinels_per_master = 9;
    let text = toml::rewritten("", &c, &st).unwrap();
    assert!(text.contains("max-sentinels-per-master = 9"), "{text}");
}

#[test]
fn command_line_arguments_are_extra_lines() {
    let args: Vec<String> = [
        "--port",
        "26390",
        "--sentinel",
        "monitor",
        "m",
        "10.0.0.1",
        "6379",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let l = parse("", &args).unwrap();
    assert_eq!(l.server.port, 26390);
    assert_eq!(l.masters[0].1.addr, Some((Addr::new("10.0.0.1", 6379), 1)));
}

#[test]
fn state_lines_quote_what_would_not_read_back() {
    let l = parse("sentinel monitor m 127.0.0.1 6379 2\n", &[]).unwrap();
    let mut c = crate::core_from(&l, 1, 0).unwrap();
    let id = "0123456789012345678901234567890123456789";
    let s = crate::core::PeerSentinel::new(id.into(), Addr::new("", 26379), 0);
    c.masters
        .get_mut("m")
        .unwrap()
        .sentinels
        .insert(id.into(), s);
    let text = rewrite::rewritten("", &c, &l.server);
    assert!(
        text.contains(&format!("\nsentinel known-sentinel m \"\" 26379 {id}\n")),
        "{text}"
    );
    let back = parse(&text, &[]).unwrap();
    let c2 = crate::core_from(&back, 1, 0).unwrap();
    assert_eq!(
        c2.masters["m"].sentinels[id].inst.addr,
        Addr::new("", 26379)
    );
}

#[test]
fn maxclients_is_read_checked_and_kept_by_the_rewrite() {
    assert_eq!(parse("", &[]).unwrap().server.maxclients, 10_000);
    let text = "port 26379\nmaxclients 300\nsentinel monitor m 127.0.0.1 6379 2\n";
    let l = parse(text, &[]).unwrap();
    assert_eq!(l.server.maxclients, 300);
    let args = vec!["--maxclients".to_string(), "50".to_string()];
    assert_eq!(parse(text, &args).unwrap().server.maxclients, 50);
    for (v, why) in [
        ("0", "argument must be between 1 and 4294967295 inclusive"),
        (
            "4294967296",
            "argument must be between 1 and 4294967295 inclusive",
        ),
        ("abc", "argument couldn't be parsed into an integer"),
    ] {
        let e = parse(&format!("maxclients {v}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(why) && e.contains(">>> 'maxclients"), "{e}");
    }
    // The state save keeps the configured value (Redis writes the one the descriptor
    // limit left).
    let mut c = crate::core_from(&l, 1, 0).unwrap();
    let mut s = l.server.clone();
    s.maxclients = 200;
    c.myid = "x".repeat(40);
    let out = rewrite::rewritten(text, &c, &s);
    assert!(out.contains("\nmaxclients 300\n"), "{out}");
}

#[test]
fn tls_directives_become_tls_settings_and_survive_the_rewrite() {
    use picket_common::tls::{AuthClients, TlsSettings};
    let text = "port 0\ntls-port 26999\ntls-replication yes\ntls-cert-file /c/redis.crt\ntls-key-file /c/redis.key\ntls-key-file-pass kp\ntls-client-cert-file /c/client.crt\ntls-client-key-file /c/client.key\ntls-client-key-file-pass ckp\ntls-ca-cert-file /c/ca.crt\ntls-ca-cert-dir /c/cas\ntls-auth-clients optional\ntls-protocols \"TLSv1.2 TLSv1.3\"\ntls-ciphers DEFAULT:!aNULL\ntls-ciphersuites TLS_AES_128_GCM_SHA256\ntls-prefer-server-ciphers yes\ntls-session-caching no\ntls-session-cache-size 100\ntls-session-cache-timeout 60\nsentinel monitor m 127.0.0.1 6379 2\n";
    let want = TlsSettings {
        cert_file: Some("/c/redis.crt".into()),
        key_file: Some("/c/redis.key".into()),
        key_file_pass: Some("kp".into()),
        client_cert_file: Some("/c/client.crt".into()),
        client_key_file: Some("/c/client.key".into()),
        client_key_file_pass: Some("ckp".into()),
        ca_cert_file: Some("/c/ca.crt".into()),
        ca_cert_dir: Some("/c/cas".into()),
        auth_clients: AuthClients::Optional,
        protocols: Some("TLSv1.2 TLSv1.3".into()),
        ciphers: Some("DEFAULT:!aNULL".into()),
        ciphersuites: Some("TLS_AES_128_GCM_SHA256".into()),
        prefer_server_ciphers: true,
        session_caching: false,
        session_cache_size: 100,
        session_cache_timeout: 60,
        replication: true,
    };
    let l = parse(text, &[]).unwrap();
    assert_eq!((l.server.port, l.server.tls_port), (0, 26999));
    assert_eq!(l.server.tls, want);
    // Hellos announce the TLS port (sentinel.c's sentinelSendHello).
    assert_eq!(l.server.hello_port(), 26999);
    let mut c = crate::core_from(&l, 1, 0).unwrap();
    assert_eq!((c.announce_port, c.settings.port), (26999, 26999));
    // Nothing TLS: Redis's defaults, and no TLS to configure.
    let plain = parse("sentinel monitor m 127.0.0.1 6379 2\n", &[]).unwrap();
    assert_eq!(plain.server.tls, TlsSettings::default());
    assert_eq!(plain.server.tls_port, 0);
    assert!(plain.server.tls_context().unwrap().is_none());
    // A TLS port without tls-replication: links stay plain and hellos announce `port`.
    let l2 = parse("port 26380\ntls-port 26999\n", &[]).unwrap();
    assert_eq!(l2.server.hello_port(), 26380);
    // announce-port wins over both.
    let l3 = parse(&format!("{text}sentinel announce-port 1234\n"), &[]).unwrap();
    assert_eq!(crate::core_from(&l3, 1, 0).unwrap().announce_port, 1234);
    // Every line is kept by the state save, and the file loads into the same settings.
    c.myid = "a".repeat(40);
    let out = rewrite::rewritten(text, &c, &l.server);
    // (Strings are written quoted, as Redis writes them.)
    for line in text.lines().filter(|l| l.starts_with("tls-")) {
        let name = line.split(' ').next().unwrap_or_default();
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with(&format!("{name} ")))
                .count(),
            1,
            "{line}: {out}"
        );
    }
    assert!(out.contains("\ntls-cert-file \"/c/redis.crt\"\n"), "{out}");
    let again = parse(&out, &[]).unwrap();
    assert_eq!((again.server.tls_port, again.server.tls), (26999, want));
    // Redis's reasons for bad values.
    for (line, why) in [
        (
            "tls-port abc",
            "argument couldn't be parsed into an integer",
        ),
        (
            "tls-port 70000",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("tls-replication maybe", "argument must be 'yes' or 'no'"),
        (
            "tls-auth-clients maybe",
            "argument(s) must be one of the following: no, yes, optional",
        ),
    ] {
        let e = parse(&format!("{line}\n"), &[]).unwrap_err().to_string();
        assert!(e.ends_with(why), "{line}: {e}");
    }
}

#[test]
fn bad_tls_files_are_refused_when_tls_is_asked_for() {
    let l = parse("tls-port 26999\n", &[]).unwrap();
    assert_eq!(
        l.server.tls_context().unwrap_err().to_string(),
        "No tls-cert-file configured!"
    );
    let l = parse(
        "tls-replication yes\ntls-cert-file /nonexistent/c.crt\ntls-key-file /nonexistent/c.key\ntls-ca-cert-file /nonexistent/ca.crt\n",
        &[],
    )
    .unwrap();
    assert!(l
        .server
        .tls_context()
        .unwrap_err()
        .to_string()
        .starts_with("Failed to load certificate: /nonexistent/c.crt:"));
}
