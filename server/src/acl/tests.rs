//! Unit tests of the rule parser, the describer and the checks.

use bytes::Bytes;

use super::*;

fn set(acl: &mut Acl, name: &str, rules: &str) -> Result<(), String> {
    let args: Vec<Bytes> = rules
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect();
    acl.set_user(name.as_bytes(), &args)
}

fn list(acl: &Acl, name: &str) -> String {
    String::from_utf8(describe::user(&acl.users[name.as_bytes()])).unwrap_or_default()
}

fn spec(cmd: &str) -> &'static CommandSpec {
    let name = cmd.split(' ').next().unwrap_or_default();
    crate::command::lookup::lookup(name.as_bytes()).unwrap_or_else(|| panic!("no command {name}"))
}

fn check(acl: &Acl, user: &str, cmd: &str) -> Result<(), Refusal> {
    let args: Vec<Bytes> = cmd
        .split(' ')
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect();
    acl.check(user.as_bytes(), spec(cmd), &args)
}

#[test]
fn default_user_as_redis() {
    let acl = Acl::new(false);
    assert_eq!(list(&acl, "default"), "on nopass ~* &* +@all");
    assert!(!acl.auth_required());
}

#[test]
fn new_user_and_flags() {
    let mut acl = Acl::new(false);
    set(&mut acl, "a", "").unwrap();
    assert_eq!(list(&acl, "a"), "off resetchannels -@all");
    set(
        &mut acl,
        "a",
        "on >pw ~k* %R~r* %W~w* &ch +get -@all +@string -append +select|0",
    )
    .unwrap();
    assert_eq!(
        list(&acl, "a"),
        format!(
            "on #{} ~k* %R~r* %W~w* resetchannels &ch -@all +@string -append +select|0",
            user::hash_password(b"pw")
        )
    );
    assert!(acl.check_credentials(b"a", b"pw"));
    assert!(!acl.check_credentials(b"a", b"other"));
}

#[test]
fn rule_errors() {
    let mut acl = Acl::new(false);
    let e = |acl: &mut Acl, r: &str| set(acl, "u", r).unwrap_err();
    assert_eq!(
        e(&mut acl, "+nosuch"),
        "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        e(&mut acl, "bogus"),
        "Error in ACL SETUSER modifier 'bogus': Syntax error"
    );
    assert!(e(&mut acl, "~* ~x").contains("'allkeys' flag"));
    assert!(e(&mut acl, "&* &x").contains("'allchannels' flag"));
    assert!(e(&mut acl, "<nope").contains("does not exist"));
    assert!(e(&mut acl, "#abc").contains("exactly 64 characters"));
    assert!(e(&mut acl, "+config|get|x").contains("first-arg of a subcommand"));
    assert!(e(&mut acl, "+select|").contains("Syntax error"));
    assert_eq!(
        e(&mut acl, "(+get ~x"),
        "Unmatched parenthesis in acl selector starting at '(+get'."
    );
    // Nothing of a refused SETUSER is applied.
    assert!(!acl.users.contains_key(b"u".as_slice()));
}

#[test]
fn selectors_and_checks() {
    let mut acl = Acl::new(false);
    set(
        &mut acl,
        "u",
        "on nopass +get ~a* (+set %W~b*) (+publish &news)",
    )
    .unwrap();
    assert_eq!(
        list(&acl, "u"),
        "on nopass ~a* resetchannels -@all +get (%W~b* resetchannels -@all +set) (resetchannels &news -@all +publish)"
    );
    assert!(check(&acl, "u", "get a1").is_ok());
    assert_eq!(check(&acl, "u", "get b1").unwrap_err().denied, Denied::Key);
    assert!(check(&acl, "u", "set b1 v").is_ok());
    assert_eq!(
        check(&acl, "u", "set a1 v").unwrap_err().denied,
        Denied::Key
    );
    assert_eq!(
        check(&acl, "u", "del a1").unwrap_err().denied,
        Denied::Command
    );
    assert!(check(&acl, "u", "publish news x").is_ok());
    let r = check(&acl, "u", "publish other x").unwrap_err();
    assert_eq!((r.denied, r.pos), (Denied::Channel, 1));
    // AUTH needs no permission.
    assert!(check(&acl, "u", "auth x").is_ok());
}

#[test]
fn read_write_patterns() {
    let mut acl = Acl::new(false);
    set(&mut acl, "u", "on nopass +@all %R~r* %W~w* ~rw*").unwrap();
    assert!(check(&acl, "u", "get r1").is_ok());
    assert_eq!(
        check(&acl, "u", "set r1 v").unwrap_err().denied,
        Denied::Key
    );
    assert!(check(&acl, "u", "set w1 v").is_ok());
    assert_eq!(check(&acl, "u", "get w1").unwrap_err().denied, Denied::Key);
    let r = check(&acl, "u", "copy r1 w1").map(|_| ());
    assert!(r.is_ok(), "{r:?}");
    let r = check(&acl, "u", "copy w1 r1").unwrap_err();
    assert_eq!((r.denied, r.pos), (Denied::Key, 1));
    // Patterns given a channel pattern compare literally.
    set(&mut acl, "p", "on nopass +@all ~* &news.*").unwrap();
    assert!(check(&acl, "p", "psubscribe news.*").is_ok());
    assert!(check(&acl, "p", "psubscribe news.a*").is_err());
    assert!(check(&acl, "p", "subscribe news.a").is_ok());
}

#[test]
fn describe_fits_categories() {
    let mut acl = Acl::new(false);
    set(&mut acl, "u", "+@all -@dangerous").unwrap();
    assert_eq!(list(&acl, "u"), "off resetchannels +@all -@dangerous");
    set(&mut acl, "v", "+@read +@write -@keyspace").unwrap();
    let l = list(&acl, "v");
    assert!(l.starts_with("off resetchannels -@all "), "{l}");
    set(&mut acl, "w", "reset").unwrap();
    assert_eq!(list(&acl, "w"), "off sanitize-payload resetchannels -@all");
}

#[test]
fn pubsub_default_and_reset() {
    let mut acl = Acl::new(true);
    set(&mut acl, "u", "").unwrap();
    assert_eq!(list(&acl, "u"), "off &* -@all");
    set(&mut acl, "u", "resetchannels &x reset").unwrap();
    assert_eq!(list(&acl, "u"), "off sanitize-payload &* -@all");
}

#[test]
fn merge_selectors() {
    let a: Vec<Bytes> = ["on", "(+get", "~x)", "(+set)"]
        .iter()
        .map(|s| Bytes::from_static(s.as_bytes()))
        .collect();
    assert_eq!(
        merge_selector_args(&a).unwrap(),
        vec![b"on".to_vec(), b"(+get ~x)".to_vec(), b"(+set)".to_vec()]
    );
}

#[test]
fn aclfile_parse_errors() {
    let ok = file::parse(
        b"user a on nopass ~* +@all\n\nuser default on nopass ~* &* +@all\n",
        "f.acl",
        false,
        UniverseRef::server(),
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    let e = file::parse(
        b"user a on +nosuch\nfoo\nuser a on\n",
        "f.acl",
        false,
        UniverseRef::server(),
    )
    .unwrap_err();
    assert_eq!(e, "f.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. f.acl:2 should start with user keyword followed by the username. WARNING: Duplicate user 'a' found on line 3. WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
    // Without a default line, the default user is created as at start-up.
    let u = file::parse(b"user a on\n", "f.acl", false, UniverseRef::server()).unwrap();
    assert!(u.contains_key(b"default".as_slice()));
}
