//! Unit tests of the TOML config: parsing every setting, errors with their line, and the
//! rewrite that keeps the user's text.

use super::super::{parse_toml, Loaded};
use super::*;
use crate::core::Addr;

const ID: &str = "0123456789012345678901234567890123456789";
const PEER: &str = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";

fn example() -> String {
    format!(
        r#"# Picket sentinel
port = 26380   # the client port
bind = ["127.0.0.1"]
dir = "/tmp"
logfile = ""
requirepass = "pw"

[sentinel]
myid = "{ID}"
current-epoch = 3
deny-scripts-reconfig = "no"   # tests set scripts
announce-ip = "10.0.0.9"
announce-port = 26390
resolve-hostnames = false
announce-hostnames = false
sentinel-user = "su"
sentinel-pass = "sp"

# the production master
[masters.mymaster]
host = "10.0.0.1"
port = 6379
quorum = 2
down-after-milliseconds = 5000 # fast
failover-timeout = 60000
parallel-syncs = 2
auth-pass = "secret"
auth-user = "bob"
notification-script = "/bin/true"
client-reconfig-script = "/bin/true"
master-reboot-down-after-period = 1000
rename-command = {{ CONFIG = "xconfig", SLAVEOF = "xslaveof" }}
config-epoch = 2
leader-epoch = 3
known-replicas = ["10.0.0.2:6379", "[::1]:6380"]
known-sentinels = ["10.0.0.5:26379 {PEER}"]
"#
    )
}

fn loaded(text: &str) -> Loaded {
    parse_toml(text, &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn parses_every_setting() {
    let l = loaded(&example());
    let s = &l.server;
    assert_eq!(s.port, 26380);
    assert_eq!(s.bind, vec!["127.0.0.1".to_string()]);
    assert_eq!(s.dir, "/tmp");
    assert_eq!(s.requirepass.as_deref(), Some("pw"));
    assert_eq!(l.myid.as_deref(), Some(ID));
    assert_eq!(l.current_epoch, 3);
    assert!(!s.deny_scripts_reconfig);
    assert_eq!(s.announce_ip, "10.0.0.9");
    assert_eq!(s.announce_port, 26390);
    assert_eq!(s.sentinel_user.as_deref(), Some("su"));
    assert_eq!(s.sentinel_pass.as_deref(), Some("sp"));
    let (name, m) = &l.masters[0];
    assert_eq!(name, "mymaster");
    assert_eq!(m.addr, Some((Addr::new("10.0.0.1", 6379), 2)));
    let opts: Vec<String> = m
        .opts
        .iter()
        .map(|(k, v)| format!("{k} {}", v.join(" ")))
        .collect();
    assert_eq!(
        opts,
        [
            "down-after-milliseconds 5000",
            "failover-timeout 60000",
            "parallel-syncs 2",
            "auth-pass secret",
            "auth-user bob",
            "notification-script /bin/true",
            "client-reconfig-script /bin/true",
            "master-reboot-down-after-period 1000",
            "rename-command CONFIG xconfig",
            "rename-command SLAVEOF xslaveof",
            "config-epoch 2",
            "leader-epoch 3",
            "known-replica 10.0.0.2 6379",
            "known-replica ::1 6380",
            &format!("known-sentinel 10.0.0.5 26379 {PEER}"),
        ]
    );
    // The core built from it.
    let c = crate::core_from(&l, 1, 0).unwrap();
    let m = &c.masters["mymaster"];
    assert_eq!(m.down_after, 5000);
    assert_eq!(m.renamed.get("CONFIG").map(String::as_str), Some("xconfig"));
    assert_eq!(m.replicas.len(), 2);
    assert!(m.sentinels.contains_key(PEER));
}

#[test]
fn other_spellings_and_command_line_arguments() {
    let text = format!(
        "bind = \"127.0.0.1 -::1\"\n[masters.m]\nhost = \"1.2.3.4\"\nport = 6379\nquorum = 1\nrename-command = [[\"CONFIG\", \"xc\"], \"INFO xi\"]\nknown-sentinels = [{{ ip = \"1.2.3.5\", port = 26379, runid = \"{PEER}\" }}]\n[sentinel]\ndeny-scripts-reconfig = true\n"
    );
    let args: Vec<String> = ["--port", "26391"].iter().map(|s| s.to_string()).collect();
    let l = parse_toml(&text, &args).unwrap();
    assert_eq!(l.server.port, 26391);
    assert_eq!(l.server.bind, ["127.0.0.1", "-::1"]);
    assert!(l.server.deny_scripts_reconfig);
    let opts: Vec<String> = l.masters[0]
        .1
        .opts
        .iter()
        .map(|(k, v)| format!("{k} {}", v.join(" ")))
        .collect();
    assert_eq!(
        opts,
        [
            "rename-command CONFIG xc",
            "rename-command INFO xi",
            &format!("known-sentinel 1.2.3.5 26379 {PEER}"),
        ]
    );
}

#[test]
fn bad_settings_name_their_line() {
    for (text, line, want) in [
        ("port = 1\nnonsense = 2\n", 2, "Bad directive"),
        (
            "port = \"x\"\n",
            1,
            "argument couldn't be parsed into an integer",
        ),
        (
            "port = 1.5\n",
            1,
            "'port': expected a string, an integer or a boolean",
        ),
        (
            "[sentinel]\nbogus = 1\n",
            2,
            "Unknown sentinel directive 'bogus'",
        ),
        ("[sentinel]\nmyid = \"xyz\"\n", 2, "Malformed Sentinel id"),
        (
            "[masters.m]\nhost = \"h\"\nport = 1\n",
            1,
            "'host', 'port' and 'quorum' are required",
        ),
        (
            "[masters.m]\nhost = \"h\"\nport = 1\nquorum = 0\n",
            1,
            "Quorum must be 1 or greater.",
        ),
        (
            "[masters.m]\nhost = \"h\"\nport = 1\nquorum = 1\nbogus = 2\n",
            5,
            "Unknown sentinel directive 'bogus'",
        ),
        (
            "[masters.m]\nhost = \"h\"\nport = 1\nquorum = 1\nknown-replicas = [\"nope\"]\n",
            5,
            "Bad address",
        ),
        ("port = [\n", 1, "TOML parse error"),
        ("masters = 3\n", 1, "'masters' must be a table"),
    ] {
        let e = parse_toml(text, &[]).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains(&format!("at line {line}\n")),
            "{text:?}: {e}"
        );
    }
}

fn core_of(text: &str) -> Core {
    crate::core_from(&loaded(text), 7, 0).unwrap()
}

#[test]
fn rewrite_keeps_comments_and_other_keys_and_updates_the_state() {
    let old = example();
    let l = loaded(&old);
    let mut c = crate::core_from(&l, 7, 0).unwrap();
    // Nothing changed: the text is the same, byte for byte.
    let same_text = rewritten(&old, &c, &l.server).unwrap();
    assert_eq!(same_text, old);
    // State changes: a new epoch, a switch to a replica, a new sentinel, removed scripts.
    c.current_epoch = 9;
    c.switch_master(0, "mymaster", Addr::new("10.0.0.2", 6379));
    let m = c.masters.get_mut("mymaster").unwrap();
    m.config_epoch = 9;
    m.notification_script = None;
    m.down_after = 30_000;
    m.renamed.remove("SLAVEOF");
    let mut s = l.server.clone();
    s.deny_scripts_reconfig = true;
    s.announce_ip.clear();
    let text = rewritten(&old, &c, &s).unwrap();
    // The user's lines and comments are in place.
    assert!(text.starts_with("# Picket sentinel\nport = 26380   # the client port\n"));
    assert!(
        text.contains("deny-scripts-reconfig = \"yes\"   # tests set scripts\n"),
        "{text}"
    );
    assert!(
        text.contains("# the production master\n[masters.mymaster]\n"),
        "{text}"
    );
    assert!(
        text.contains("down-after-milliseconds = 30000 # fast\n"),
        "{text}"
    );
    assert!(
        text.contains("requirepass = \"pw\"\nlogfile") || text.contains("requirepass = \"pw\"\n"),
        "{text}"
    );
    assert!(text.contains("host = \"10.0.0.2\"\n"), "{text}");
    assert!(text.contains("current-epoch = 9\n"), "{text}");
    assert!(text.contains("config-epoch = 9\n"), "{text}");
    assert!(!text.contains("notification-script"), "{text}");
    assert!(!text.contains("announce-ip"), "{text}");
    assert!(
        text.contains("rename-command = { CONFIG = \"xconfig\" }"),
        "{text}"
    );
    // The old master is now a known replica; the promoted one is not.
    assert!(text.contains("\"10.0.0.1:6379\""), "{text}");
    assert!(!text.contains("\"10.0.0.2:6379\""), "{text}");
    // And it reads back as the same state.
    let back = loaded(&text);
    let c2 = crate::core_from(&back, 7, 0).unwrap();
    let m2 = &c2.masters["mymaster"];
    assert_eq!(m2.inst.addr, Addr::new("10.0.0.2", 6379));
    assert_eq!(m2.config_epoch, 9);
    assert_eq!(c2.current_epoch, 9);
    assert_eq!(m2.replicas.len(), 2);
    assert_eq!(m2.sentinels.len(), 1);
    assert!(back.server.deny_scripts_reconfig);
}

#[test]
fn rewrite_of_a_minimal_file_adds_the_state_tables() {
    let old =
        "# mine\nport = 26379\n\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n";
    let mut c = core_of(old);
    let m = c.masters.get_mut("m").unwrap();
    let a = Addr::new("127.0.0.1", 6380);
    m.replicas.insert(a.name(), crate::core::Replica::new(a, 0));
    let s = loaded(old).server;
    let text = rewritten(old, &c, &s).unwrap();
    assert!(text.starts_with("# mine\nport = 26379\n"), "{text}");
    assert!(
        text.contains(&format!("[sentinel]\nmyid = \"{}\"\n", c.myid)),
        "{text}"
    );
    assert!(
        text.contains("known-replicas = [\"127.0.0.1:6380\"]\n"),
        "{text}"
    );
    assert!(!text.contains("down-after-milliseconds"), "{text}");
    // A second master, then the first removed.
    c.monitor("other", Addr::new("127.0.0.2", 6379), 1, 0);
    c.masters.remove("m");
    let text2 = rewritten(&text, &c, &s).unwrap();
    assert!(!text2.contains("[masters.m]"), "{text2}");
    assert!(
        text2.contains("[masters.other]\nhost = \"127.0.0.2\"\n"),
        "{text2}"
    );
    let back = loaded(&text2);
    assert_eq!(back.masters.len(), 1);
    assert_eq!(back.myid.as_deref(), Some(c.myid.as_str()));
    // Saving again changes nothing.
    assert_eq!(rewritten(&text2, &c, &s).unwrap(), text2);
}

#[test]
fn server_directives_are_top_level_keys() {
    let l = parse_toml(
        "repl-diskless-sync-delay = 0\nenable-debug-command = \"yes\"\nprotected-mode = true\ntimeout = 5\nsave = [\"900 1\", \"300 10\"]\nbind = \"127.0.0.1 -::1\"\nslave-priority = 9\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n",
        &[],
    )
    .unwrap();
    let s = &l.server;
    assert!(s.protected_mode);
    assert_eq!(s.timeout, 5);
    assert_eq!(s.bind, ["127.0.0.1", "-::1"]);
    let d = &s.directives;
    assert_eq!(d.get_int("repl-diskless-sync-delay"), 0);
    assert_eq!(d.get_str("enable-debug-command"), "yes");
    assert_eq!(d.get_save_points("save").len(), 2);
    assert_eq!(d.get_int("replica-priority"), 9);
    for (text, line, want) in [
        (
            "timeout = 1\nport = 70000\n",
            2,
            "argument must be between 0 and 65535 inclusive",
        ),
        (
            "io-threads = 0\n",
            1,
            "argument must be between 1 and 128 inclusive",
        ),
        (
            "nosuch = 1\n",
            1,
            "Bad directive or wrong number of arguments",
        ),
    ] {
        let e = parse_toml(text, &[]).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains(&format!("at line {line}\n")),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn users_are_a_top_level_key_written_once_they_change() {
    let old = "port = 26379\nuser = [\"default off\", \"admin on >pw ~* &* +@all\", \"app on >apppw -@all +ping (+sentinel|sentinels)\"]\n\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n";
    let l = loaded(old);
    let acl = crate::acl::load_users(&l.server.users_config()).unwrap();
    assert!(acl.check_credentials(b"admin", b"pw"));
    assert!(!acl.check_credentials(b"default", b""));
    assert_eq!(acl.users[b"app".as_slice()].selectors.len(), 2);
    let c = core_of(old);
    // Users as the file gives them: the key stays as written.
    let mut s = l.server.clone();
    s.users = crate::acl::rewrite_lines(&acl, "");
    let text = rewritten(old, &c, &s).unwrap();
    assert!(
        text.starts_with(old.lines().take(2).collect::<Vec<_>>().join("\n").as_str()),
        "{text}"
    );
    // A user added at run time: the key holds the live users, and reads back as them.
    let mut acl = acl;
    acl.set_user(
        b"ops",
        &[
            bytes::Bytes::from_static(b"on"),
            bytes::Bytes::from_static(b"nopass"),
        ],
    )
    .unwrap();
    s.users = crate::acl::rewrite_lines(&acl, "");
    let text = rewritten(old, &c, &s).unwrap();
    assert!(
        text.contains("\"ops on nopass resetchannels -@all\""),
        "{text}"
    );
    let back = crate::acl::load_users(&loaded(&text).server.users_config()).unwrap();
    assert_eq!(crate::acl::rewrite_lines(&back, ""), s.users);
    // With an ACL file, no users in the config file.
    let t = "port = 26379\naclfile = \"/nonexistent.acl\"\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n";
    let l = loaded(t);
    assert!(!rewritten(t, &core_of(t), &l.server)
        .unwrap()
        .contains("user"));
}

#[test]
fn tls_keys_are_server_directives() {
    let text = "port = 0\ntls-port = 26999\ntls-replication = true\ntls-cert-file = \"/c/redis.crt\"\ntls-key-file = \"/c/redis.key\"\ntls-ca-cert-file = \"/c/ca.crt\"\ntls-auth-clients = \"no\"\ntls-session-caching = false\n\n[masters.m]\nhost = \"127.0.0.1\"\nport = 6379\nquorum = 2\n";
    let l = parse_toml(text, &[]).unwrap();
    assert_eq!((l.server.port, l.server.tls_port), (0, 26999));
    let t = &l.server.tls;
    assert!(t.replication && !t.session_caching);
    assert_eq!(t.cert_file.as_deref(), Some("/c/redis.crt"));
    assert_eq!(t.ca_cert_file.as_deref(), Some("/c/ca.crt"));
    assert_eq!(t.auth_clients, picket_common::tls::AuthClients::No);
    assert_eq!(l.server.hello_port(), 26999);
    // The state save keeps the keys.
    let mut c = crate::core_from(&l, 1, 0).unwrap();
    c.myid = ID.into();
    let out = rewritten(text, &c, &l.server).unwrap();
    let again = parse_toml(&out, &[]).unwrap();
    assert_eq!(again.server.tls, l.server.tls);
    assert_eq!(again.server.tls_port, 26999);
    let e = parse_toml("tls-port = \"abc\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls-port"), "{e}");
}
