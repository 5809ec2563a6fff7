//! Store-level tests: loading, precedence, errors, CONFIG GET/SET, rewrite round trips.

use std::path::Path;

use super::test_table::{strings, temp_dir, TABLE};
use super::*;

pub(super) fn store() -> ConfigStore {
    ConfigStore::new(TABLE).unwrap()
}

pub(super) fn conf(text: &str) -> Result<ConfigStore, ConfigError> {
    let mut s = store();
    let entries = parse_conf_str(text, Path::new("/etc/picket/server.conf"))?;
    s.apply_source(&entries)?;
    Ok(s)
}

pub(super) fn conf_err(text: &str) -> String {
    conf(text).unwrap_err().to_string()
}

#[test]
fn defaults_and_typed_getters() {
    let s = store();
    assert!(!s.get_bool("daemonize"));
    assert!(s.get_bool("protected-mode"));
    assert_eq!(s.get_int("port"), 6379);
    assert_eq!(s.get_int("repl-backlog-size"), 1 << 20);
    assert_eq!(s.get_str("maxmemory-policy"), "noeviction");
    assert_eq!(s.get_str("logfile"), "");
    assert_eq!(s.get_str("masterauth"), "");
    assert_eq!(s.get_list("bind"), ["*", "-::*"]);
    assert_eq!(
        s.get_save_points("save"),
        [
            SavePoint {
                seconds: 3600,
                changes: 1
            },
            SavePoint {
                seconds: 300,
                changes: 100
            },
            SavePoint {
                seconds: 60,
                changes: 10000
            }
        ]
    );
    let limits = s.get_buffer_limits("client-output-buffer-limit");
    assert_eq!(
        limits.replica,
        BufferLimit {
            hard_bytes: 256 << 20,
            soft_bytes: 64 << 20,
            soft_seconds: 60
        }
    );
    assert_eq!(limits.normal, BufferLimit::default());
    assert_eq!(s.get_int("slave-priority"), 100); // aliases work for getters too
    assert_eq!(s.directives().len(), TABLE.len());
    assert!(s.config_file().is_none());
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "not in the table")]
fn unknown_name_is_a_programming_error() {
    store().get_int("no-such-directive");
}

/// Release builds do not panic on an unknown name: the getters fall back.
#[test]
#[cfg(not(debug_assertions))]
fn unknown_name_falls_back_in_release() {
    let s = store();
    assert_eq!(s.get_int("no-such-directive"), 0);
    assert!(!s.get_bool("no-such-directive"));
    assert_eq!(s.get_str("no-such-directive"), "");
    assert!(s.get_list("no-such-directive").is_empty());
}

#[test]
fn bad_tables_are_rejected() {
    static DUP: &[Directive] = &[
        Directive::new("a", Kind::Bool, "yes", ""),
        Directive::new("b", Kind::Bool, "yes", "").alias(&["a"]),
    ];
    static BAD_DEFAULT: &[Directive] =
        &[Directive::new("a", Kind::Int { min: 0, max: 1 }, "2", "")];
    static UPPER: &[Directive] = &[Directive::new("A", Kind::Bool, "yes", "")];
    assert!(matches!(ConfigStore::new(DUP), Err(ConfigError::Table(_))));
    assert_eq!(
        ConfigStore::new(BAD_DEFAULT).unwrap_err().to_string(),
        "invalid directive table: 'a': bad default: argument must be between 0 and 1 inclusive"
    );
    assert!(matches!(
        ConfigStore::new(UPPER),
        Err(ConfigError::Table(_))
    ));
}

#[test]
fn conf_text_loading() {
    let s = conf(
        "# comment\n\n   port 6380  \r\nPROTECTED-MODE No\nslave-priority 7\nmaxmemory 1GB\n\
         maxmemory-policy ALLKEYS-LRU\nmasterauth \"a b\\x41\"\nbind 127.0.0.1 -::1\n\
         save 10 1\nsave 20 2\nclient-output-buffer-limit pubsub 1mb 2kb 3\nlogfile ''\n",
    )
    .unwrap();
    assert_eq!(s.get_int("port"), 6380);
    assert!(!s.get_bool("protected-mode"));
    assert_eq!(s.get_int("replica-priority"), 7);
    assert_eq!(s.get_int("maxmemory"), 1 << 30);
    assert_eq!(s.get_str("maxmemory-policy"), "allkeys-lru");
    assert_eq!(s.get_str("masterauth"), "a bA");
    assert_eq!(s.get_list("bind"), ["127.0.0.1", "-::1"]);
    assert_eq!(s.display("save").unwrap(), "10 1 20 2"); // first line replaced the default
    assert_eq!(
        s.display("client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2048 3"
    );
    assert_eq!(conf("save \"\"\n").unwrap().display("save").unwrap(), "");
    assert_eq!(
        conf("save 1 1\nsave \"\"\nsave 2 2\n")
            .unwrap()
            .display("save")
            .unwrap(),
        "2 2"
    );
    assert_eq!(
        conf("bind \"\"\n").unwrap().get_list("bind"),
        Vec::<String>::new()
    );
}

#[test]
fn conf_errors_name_file_line_and_directive() {
    assert_eq!(
        conf_err("\n\nport abc\n"),
        "/etc/picket/server.conf:3: 'port': argument couldn't be parsed into an integer (got 'abc')"
    );
    assert_eq!(
        conf_err("port 70000"),
        "/etc/picket/server.conf:1: 'port': argument must be between 0 and 65535 inclusive (got '70000')"
    );
    assert_eq!(
        conf_err("bogus 1"),
        "/etc/picket/server.conf:1: 'bogus': unknown directive"
    );
    assert_eq!(
        conf_err("port 1 2"),
        "/etc/picket/server.conf:1: 'port': wrong number of arguments (expected 1, got 2)"
    );
    assert_eq!(
        conf_err("port \"6379"),
        "/etc/picket/server.conf:1: Unbalanced quotes in configuration line"
    );
    assert_eq!(
        conf_err("protected-mode maybe"),
        "/etc/picket/server.conf:1: 'protected-mode': argument must be 'yes' or 'no' (got 'maybe')"
    );
    assert_eq!(
        conf_err("maxmemory 1tb"),
        "/etc/picket/server.conf:1: 'maxmemory': argument must be a memory value (got '1tb')"
    );
    assert_eq!(
        conf_err("repl-backlog-size 0"),
        "/etc/picket/server.conf:1: 'repl-backlog-size': argument must be between 1 and \
         9223372036854775807 inclusive (got '0')"
    );
    assert!(conf_err("maxmemory-policy lru").ends_with(
        "'maxmemory-policy': argument(s) must be one of the following: volatile-lru, volatile-lfu, \
         volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction (got 'lru')"
    ));
    assert!(conf_err("save 60").ends_with("'save': Invalid save parameters (got '60')"));
    assert!(
        conf_err("client-output-buffer-limit master 1 1 1").ends_with(
            "Invalid client class specified in buffer limit configuration. (got 'master 1 1 1')"
        )
    );
    // Every error is one line.
    assert!(!conf_err("port abc").contains('\n'));
}

#[test]
fn includes_absolute_relative_and_glob() {
    let dir = temp_dir("include");
    std::fs::write(dir.join("a.conf"), "port 1111\nhz 20\n").unwrap();
    std::fs::create_dir(dir.join("conf.d")).unwrap();
    std::fs::write(dir.join("conf.d/10-x.conf"), "hz 30\n").unwrap();
    std::fs::write(dir.join("conf.d/20-y.conf"), "hz 40\nsave 5 5\n").unwrap();
    std::fs::write(dir.join("conf.d/.hidden.conf"), "hz 99\n").unwrap();
    let main = dir.join("main.conf");
    std::fs::write(
        &main,
        format!(
            "save 1 1\ninclude {}\ninclude {}/conf.d/*.conf\ninclude {}/none/*.conf\nport 2222\n",
            dir.join("a.conf").display(),
            dir.display(),
            dir.display()
        ),
    )
    .unwrap();
    let s = ConfigStore::load(TABLE, Some(&main), &[]).unwrap();
    assert_eq!(s.get_int("port"), 2222);
    assert_eq!(s.get_int("hz"), 40);
    assert_eq!(s.display("save").unwrap(), "1 1 5 5"); // one source: includes accumulate
    assert_eq!(s.config_file().unwrap().format, Format::Conf);

    // A relative include is relative to the working directory (as Redis).
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count().saturating_sub(1));
    let rel = format!(
        "{up}{}",
        dir.join("a.conf")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    let s = conf(&format!("include {rel}\n")).unwrap();
    assert_eq!(s.get_int("port"), 1111);

    // Errors in an included file name that file.
    std::fs::write(dir.join("bad.conf"), "\nport x\n").unwrap();
    let e = conf_err(&format!("include {}", dir.join("bad.conf").display()));
    assert_eq!(
        e,
        format!(
            "{}:2: 'port': argument couldn't be parsed into an integer (got 'x')",
            dir.join("bad.conf").display()
        )
    );
    let e = conf_err(&format!("\ninclude {}/missing.conf", dir.display()));
    assert!(
        e.starts_with("/etc/picket/server.conf:2: 'include': can't open"),
        "{e}"
    );
    // A loop is refused instead of recursing forever.
    std::fs::write(
        dir.join("loop.conf"),
        format!("include {}", dir.join("loop.conf").display()),
    )
    .unwrap();
    let e = conf_err(&format!("include {}", dir.join("loop.conf").display()));
    assert!(e.contains("includes nested deeper than 16"), "{e}");
}

#[test]
fn command_line_overrides_file() {
    let dir = temp_dir("precedence");
    let file = dir.join("redis.conf");
    std::fs::write(&file, "port 7000\nhz 20\nsave 900 1\nsave 300 10\n").unwrap();
    let args = strings(&["--port", "7001", "--save", "60", "5", "--maxmemory", "2mb"]);
    let s = ConfigStore::load(TABLE, Some(&file), &args).unwrap();
    assert_eq!(s.get_int("port"), 7001);
    assert_eq!(s.get_int("hz"), 20);
    assert_eq!(s.get_int("maxmemory"), 2 << 20);
    assert_eq!(s.display("save").unwrap(), "60 5"); // the command line is a new source
    let s = ConfigStore::load(TABLE, Some(&file), &strings(&["--save", ""])).unwrap();
    assert_eq!(s.display("save").unwrap(), "");

    let mut argv = vec![file.display().to_string()];
    argv.extend(strings(&["--hz", "5"]));
    let s = ConfigStore::load_argv(TABLE, &argv).unwrap();
    assert_eq!((s.get_int("port"), s.get_int("hz")), (7000, 5));
    assert_eq!(s.config_file().unwrap().path, file);

    let e = ConfigStore::load(TABLE, None, &strings(&["--port", "x"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "command line: 'port': argument couldn't be parsed into an integer (got 'x')"
    );
    let e = ConfigStore::load(TABLE, None, &strings(&["--nope", "1"])).unwrap_err();
    assert_eq!(e.to_string(), "command line: 'nope': unknown directive");
    let e = ConfigStore::load(TABLE, Some(&dir.join("missing.conf")), &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(e
        .to_string()
        .starts_with(&format!("{}: ", dir.join("missing.conf").display())));
}

pub(super) fn toml(text: &str) -> Result<ConfigStore, ConfigError> {
    let mut s = store();
    let entries = parse_toml_str(text, Path::new("/etc/picket/server.toml"), &s)?;
    s.apply_source(&entries)?;
    Ok(s)
}

#[test]
fn toml_loading() {
    let s = toml(
        r#"
port = 6380
protected-mode = false
replica-read-only = "no"
slave-priority = 5
maxmemory = "1gb"
repl-backlog-size = 2048
maxmemory-policy = "allkeys-lru"
logfile = "my log.txt"
bind = ["127.0.0.1", "-::1"]
save = ["100 1", ["200", "2"], "300 3"]
client-output-buffer-limit = ["pubsub 1mb 1mb 0", "replica 1gb 1gb 0"]
"#,
    )
    .unwrap();
    assert_eq!(s.get_int("port"), 6380);
    assert!(!s.get_bool("protected-mode"));
    assert!(!s.get_bool("replica-read-only"));
    assert_eq!(s.get_int("replica-priority"), 5);
    assert_eq!(s.get_int("maxmemory"), 1 << 30);
    assert_eq!(s.get_int("repl-backlog-size"), 2048);
    assert_eq!(s.get_str("logfile"), "my log.txt");
    assert_eq!(s.get_list("bind"), ["127.0.0.1", "-::1"]);
    assert_eq!(s.display("save").unwrap(), "100 1 200 2 300 3");
    assert_eq!(
        s.display("client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 1073741824 1073741824 0 pubsub 1048576 1048576 0"
    );
    assert_eq!(toml("save = \"\"").unwrap().display("save").unwrap(), "");
    assert_eq!(
        toml("save = \"10 1 20 2\"")
            .unwrap()
            .display("save")
            .unwrap(),
        "10 1 20 2"
    );
    assert_eq!(
        toml("bind = \"1.2.3.4 ::1\"").unwrap().get_list("bind"),
        ["1.2.3.4", "::1"]
    );
    assert_eq!(
        toml("bind = \"\"").unwrap().get_list("bind"),
        Vec::<String>::new()
    );
}

#[test]
fn toml_errors_have_line_numbers() {
    let e = |t: &str| toml(t).unwrap_err().to_string();
    assert_eq!(
        e("# c\n\nport = \"abc\"\n"),
        "/etc/picket/server.toml:3: 'port': argument couldn't be parsed into an integer (got 'abc')"
    );
    assert_eq!(
        e("port = 1\nbogus = 2\n"),
        "/etc/picket/server.toml:2: 'bogus': unknown directive"
    );
    assert_eq!(
        e("port = 1.5\n"),
        "/etc/picket/server.toml:1: 'port': expected a string, an integer or a boolean"
    );
    assert_eq!(
        e("port = [1]\n"),
        "/etc/picket/server.toml:1: 'port': expected a string, an integer or a boolean"
    );
    assert_eq!(
        e("[server]\nport = 1\n"),
        "/etc/picket/server.toml:1: 'server': tables are not supported, use top-level keys"
    );
    assert_eq!(
        e("save = [\n  \"10 1\",\n  \"20\",\n]\n"),
        "/etc/picket/server.toml:3: 'save': Invalid save parameters (got '20')"
    );
    let parse = e("port = 1\nport = 2\n");
    assert!(
        parse.starts_with("/etc/picket/server.toml:2: TOML parse error"),
        "{parse}"
    );
    assert!(!parse.contains('\n'));
    let parse = e("port = \n");
    assert!(
        parse.starts_with("/etc/picket/server.toml:1: TOML parse error"),
        "{parse}"
    );
}

#[test]
fn toml_file_then_command_line() {
    let dir = temp_dir("toml-load");
    let file = dir.join("server.TOML");
    std::fs::write(&file, "port = 7000\nsave = \"900 1\"\n").unwrap();
    let s = ConfigStore::load(TABLE, Some(&file), &strings(&["--port", "7001"])).unwrap();
    assert_eq!(s.get_int("port"), 7001);
    assert_eq!(s.display("save").unwrap(), "900 1");
    assert_eq!(s.config_file().unwrap().format, Format::Toml);
}

#[test]
fn config_get_globs_names_and_aliases() {
    let s = store();
    let get = |p: &str| s.get(p.as_bytes());
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(get("port"), pairs(&[("port", "6379")]));
    assert_eq!(get("PORT"), pairs(&[("PORT", "6379")])); // exact lookups echo the spelling
    assert_eq!(get("slave-priority"), pairs(&[("slave-priority", "100")]));
    assert_eq!(
        get("*priority*"),
        pairs(&[("replica-priority", "100"), ("slave-priority", "100")])
    );
    assert_eq!(get("*PRIORITY"), get("*priority"));
    assert_eq!(get("nope"), vec![]);
    assert_eq!(get("*"), s.get_many(&[b"*", b"port"]));
    assert_eq!(get("*").len(), TABLE.len() + 2);
    assert_eq!(get("save"), pairs(&[("save", "3600 1 300 100 60 10000")]));
    assert_eq!(
        get("client-output-buffer-limit"),
        pairs(&[(
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        )])
    );
    assert_eq!(get("bind"), pairs(&[("bind", "* -::*")]));
    assert_eq!(
        get("max*"),
        pairs(&[("maxmemory", "0"), ("maxmemory-policy", "noeviction")])
    );
    // Several arguments: each name once, first spelling wins, table order.
    assert_eq!(s.get_many(&[b"PORT", b"port"]), pairs(&[("PORT", "6379")]));
    assert_eq!(s.get_many(&[b"Port", b"*ort"]), pairs(&[("Port", "6379")]));
    assert_eq!(
        s.get_many(&[b"hz", b"port"]),
        pairs(&[("port", "6379"), ("hz", "10")])
    );
    assert_eq!(
        s.get_many(&[b"slave-priority", b"*priority"]),
        pairs(&[("replica-priority", "100"), ("slave-priority", "100")])
    );
}

pub(super) fn set(
    s: &mut ConfigStore,
    pairs: &[(&str, &str)],
) -> Result<Vec<&'static str>, String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    s.set(&pairs, |_, _| Ok(())).map_err(|e| e.to_string())
}

#[test]
fn config_set_values_and_errors_match_redis() {
    let mut s = store();
    assert_eq!(
        set(&mut s, &[("maxmemory", "1GB"), ("hz", "5")]),
        Ok(vec!["maxmemory", "hz"])
    );
    assert_eq!(s.get_int("maxmemory"), 1 << 30);
    assert_eq!(set(&mut s, &[("hz", "5")]), Ok(vec![])); // unchanged
    assert_eq!(set(&mut s, &[("save", "60 1 30 2")]), Ok(vec!["save"]));
    assert_eq!(s.display("save").unwrap(), "60 1 30 2");
    assert_eq!(set(&mut s, &[("save", "")]), Ok(vec!["save"]));
    assert_eq!(s.display("save").unwrap(), "");
    set(
        &mut s,
        &[("client-output-buffer-limit", "pubsub 64mb 16mb 90")],
    )
    .unwrap();
    assert_eq!(
        s.get_buffer_limits("client-output-buffer-limit")
            .pubsub
            .soft_seconds,
        90
    );
    assert_eq!(
        s.get_buffer_limits("client-output-buffer-limit")
            .replica
            .hard_bytes,
        256 << 20
    );
    set(&mut s, &[("bind", "127.0.0.1 -::1")]).unwrap();
    assert_eq!(s.get_list("bind"), ["127.0.0.1", "-::1"]);
    set(&mut s, &[("masterauth", "a b c")]).unwrap();
    assert_eq!(s.get_str("masterauth"), "a b c"); // single-argument values are not split
    assert_eq!(
        set(
            &mut s,
            &[("replica-priority", "1"), ("slave-priority", "2")]
        ),
        Ok(vec!["replica-priority"])
    );
    assert_eq!(s.get_int("replica-priority"), 2);

    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("nonexist", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'nonexist'"),
        (&[("port", "7411"), ("nonexist", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'nonexist'"),
        (&[("nonexist", "1"), ("daemonize", "yes")], "ERR Unknown option or number of arguments for CONFIG SET - 'nonexist'"),
        (&[("daemonize", "yes"), ("nonexist", "1")], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        (&[("DAEMONIZE", "yes")], "ERR CONFIG SET failed (possibly related to argument 'DAEMONIZE') - can't set immutable config"),
        (&[("dbfilename", "x.rdb")], "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"),
        (&[("hz", "10"), ("HZ", "11")], "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"),
        (&[("MAXCLIENTS-NOPE", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'MAXCLIENTS-NOPE'"),
        (&[("HZ", "abc")], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"),
        (&[("SLAVE-PRIORITY", "abc")], "ERR CONFIG SET failed (possibly related to argument 'slave-priority') - argument couldn't be parsed into an integer"),
        (&[("hz", "010")], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"),
        (&[("port", "-1")], "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive"),
        (&[("maxmemory", "-1")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
        (&[("maxmemory", "1.5gb")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
        (&[("protected-mode", "maybe")], "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"),
        (&[("maxmemory-policy", "foo")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
        (&[("save", "60")], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"),
        (&[("save", "60  1")], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"),
        (&[("client-output-buffer-limit", "normal 1 1")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."),
        (&[("client-output-buffer-limit", "master 1 1 1")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration."),
        (&[("client-output-buffer-limit", "normal 1x 1 1")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ];
    for (pairs, expected) in cases {
        let before = s.clone();
        assert_eq!(set(&mut s, pairs).unwrap_err(), *expected, "{pairs:?}");
        assert_eq!(s.values, before.values, "{pairs:?} changed something");
    }
    // Redis quirks kept: an empty memory value is 0.
    assert_eq!(set(&mut s, &[("maxmemory", "")]), Ok(vec!["maxmemory"]));
    assert_eq!(s.get_int("maxmemory"), 0);
    // Protected configs can be set when allowed.
    let pairs = vec![("dbfilename".to_string(), "x.rdb".to_string())];
    s.set_checked(&pairs, true, |_, _| Ok(())).unwrap();
    assert_eq!(s.get_str("dbfilename"), "x.rdb");
}

#[test]
fn config_set_is_all_or_nothing() {
    let mut s = store();
    // A bad value later in the command restores the values set before it.
    assert!(set(&mut s, &[("hz", "20"), ("save", "1 1"), ("port", "x")]).is_err());
    assert_eq!(s.get_int("hz"), 10);
    assert_eq!(s.display("save").unwrap(), "3600 1 300 100 60 10000");

    // An apply failure restores everything and re-applies the old values.
    let mut calls: Vec<String> = Vec::new();
    let pairs: Vec<(String, String)> = [
        ("hz", "5"),
        ("maxmemory", "1mb"),
        ("port", "7000"),
        ("save", "1 1"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let err = s
        .set(&pairs, |name, v| {
            calls.push(format!("{name}={v:?}"));
            if name == "port" && *v == Value::Int(7000) {
                Err("Unable to listen on this port. Check server logs.".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."
    );
    assert_eq!(
        calls,
        [
            "hz=Int(5)",
            "maxmemory=Int(1048576)",
            "port=Int(7000)",
            "hz=Int(10)",
            "maxmemory=Int(0)",
            "port=Int(6379)"
        ]
    );
    assert_eq!(
        (s.get_int("hz"), s.get_int("maxmemory"), s.get_int("port")),
        (10, 0, 6379)
    );
    assert_eq!(s.display("save").unwrap(), "3600 1 300 100 60 10000");
}
