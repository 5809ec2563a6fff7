//! The sentinel's ACL over its own commands: look-up, rules, checks, start-up loading.

use bytes::Bytes;
use picket_server::acl::Denied;

use super::*;

fn args(s: &str) -> Vec<Bytes> {
    s.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn lines(l: &[&str]) -> Value {
    let mut v = USER_LINES_EMPTY.clone();
    for line in l {
        let words: Vec<String> = line.split(' ').map(str::to_string).collect();
        v = picket_common::config::CustomKind::set(&USER_LINES, &v, &words, false).unwrap();
    }
    v
}

static USER_LINES_EMPTY: Value = Value::List(Vec::new());

#[test]
fn lookup_as_redis() {
    let c = lookup("sentinel", &args("SENTINEL GET-MASTER-ADDR-BY-NAME m")).unwrap();
    assert_eq!(c.full_name, "sentinel|get-master-addr-by-name");
    assert!(c.subcommand && c.arity_ok(3) && !c.arity_ok(4));
    let c = lookup("sentinel", &args("SENTINEL")).unwrap();
    assert_eq!(c.full_name, "sentinel");
    assert_eq!(
        c.arity_error(),
        "ERR wrong number of arguments for 'sentinel' command"
    );
    assert_eq!(
        lookup("sentinel", &args("SENTINEL nosuch")),
        Err(NotFound::Subcommand)
    );
    assert_eq!(lookup("get", &args("GET k")), Err(NotFound::Command));
    // PING has no subcommands: its argument is an argument.
    assert_eq!(lookup("ping", &args("PING x")).unwrap().full_name, "ping");
    assert!(lookup("auth", &args("AUTH x")).unwrap().no_auth);
    assert!(lookup("hello", &args("HELLO")).unwrap().no_auth);
}

#[test]
fn rules_range_over_the_sentinel_commands() {
    let mut acl = Acl::new_in(false, universe());
    let set = |acl: &mut Acl, rules: &str| acl.set_user(b"u", &args(rules));
    assert_eq!(
        set(&mut acl, "+get").unwrap_err(),
        "Error in ACL SETUSER modifier '+get': Unknown command or category name in ACL"
    );
    set(
        &mut acl,
        "on >pw resetchannels &+switch-master -@all +sentinel|get-master-addr-by-name +sentinel|sentinels +subscribe +ping",
    )
    .unwrap();
    let line = rewrite_lines(&acl, "").unwrap();
    let u = line.iter().find(|l| l.starts_with("u ")).unwrap();
    for part in [
        "u on #",
        " resetchannels &+switch-master -@all ",
        "+ping",
        "+subscribe",
        "+sentinel|get-master-addr-by-name",
        "+sentinel|sentinels",
    ] {
        assert!(u.contains(part), "{u}");
    }
    let ok = |acl: &Acl, cmd: &str| {
        let a = args(cmd);
        let name = String::from_utf8_lossy(&a[0]).to_lowercase();
        let c = lookup(&name, &a).unwrap();
        check(acl, b"u", &c, &a)
    };
    assert!(ok(&acl, "SENTINEL get-master-addr-by-name m").is_ok());
    assert!(ok(&acl, "PING").is_ok());
    assert!(ok(&acl, "AUTH u pw").is_ok(), "AUTH needs no permission");
    assert_eq!(
        ok(&acl, "SENTINEL masters").unwrap_err().denied,
        Denied::Command
    );
    assert_eq!(ok(&acl, "INFO").unwrap_err().denied, Denied::Command);
    assert!(ok(&acl, "SUBSCRIBE +switch-master").is_ok());
    let r = ok(&acl, "SUBSCRIBE +switch-master +sdown").unwrap_err();
    assert_eq!((r.denied, r.pos), (Denied::Channel, 2));
    assert_eq!(
        ok(&acl, "PSUBSCRIBE *").unwrap_err().denied,
        Denied::Command
    );
    assert_eq!(
        noperm_text(Denied::Command, "sentinel|masters"),
        "NOPERM this user has no permissions to run the 'sentinel|masters' command"
    );
    // +@all is every sentinel command; a category names the sentinel's commands in it.
    set(&mut acl, "reset on nopass +@all ~* &*").unwrap();
    assert!(ok(&acl, "SENTINEL RESET *").is_ok());
    let u = universe();
    let admin = u.commands_in(picket_server::acl::universe::category_bit(b"admin").unwrap());
    assert!(admin.contains(&"sentinel|masters") && !admin.contains(&"config"));
}

#[test]
fn start_up_users_as_redis() {
    let plain = load_users(&UsersConfig::default()).unwrap();
    assert_eq!(
        rewrite_lines(&plain, "").unwrap(),
        ["default on nopass ~* &* +@all"]
    );
    // requirepass is the default user's password, unless a user line resets that user.
    let c = UsersConfig {
        requirepass: "s3cret".into(),
        ..Default::default()
    };
    let acl = load_users(&c).unwrap();
    assert!(acl.check_credentials(b"default", b"s3cret") && acl.auth_required());
    let c = UsersConfig {
        requirepass: "s3cret".into(),
        lines: lines(&["default off", "admin on >a ~* &* +@all"]),
        ..Default::default()
    };
    let acl = load_users(&c).unwrap();
    assert!(!acl.check_credentials(b"default", b"s3cret"));
    assert_eq!(
        rewrite_lines(&acl, "").unwrap()[1],
        "default off sanitize-payload resetchannels -@all"
    );
    // Redis's start-up errors.
    let c = UsersConfig {
        lines: lines(&["bob on +get"]),
        ..Default::default()
    };
    assert_eq!(
        load_users(&c).unwrap_err(),
        "Error loading ACL rule '+get' for the user named 'bob': Unknown command or category name in ACL. Critical error while loading ACLs. Exiting."
    );
    let c = UsersConfig {
        lines: lines(&["bob on"]),
        aclfile: "/nonexistent/users.acl".into(),
        ..Default::default()
    };
    assert!(load_users(&c).unwrap_err().starts_with("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid."));
    let c = UsersConfig {
        aclfile: "/nonexistent/users.acl".into(),
        ..Default::default()
    };
    assert_eq!(
        load_users(&c).unwrap_err(),
        "Aborting Redis startup because of ACL errors: Error loading ACLs, opening file '/nonexistent/users.acl': No such file or directory"
    );
    assert_eq!(rewrite_lines(&plain, "/x.acl"), None);
}
