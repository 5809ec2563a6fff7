//! Unit tests of the conversions and the engine, on a test server (no sockets).

use crate::testkit::TestServer;

fn eval(t: &mut TestServer, id: u64, script: &str, rest: &[&str]) -> String {
    let mut args: Vec<&[u8]> = vec![b"EVAL", script.as_bytes()];
    args.extend(rest.iter().map(|s| s.as_bytes()));
    String::from_utf8_lossy(&t.run(id, &args)).into_owned()
}

#[test]
fn lua_values_convert_to_resp2_replies() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    assert_eq!(eval(&mut t, c, "return 3.99", &["0"]), ":3\r\n");
    assert_eq!(eval(&mut t, c, "return -3.99", &["0"]), ":-3\r\n");
    assert_eq!(eval(&mut t, c, "return 'x'", &["0"]), "$1\r\nx\r\n");
    assert_eq!(eval(&mut t, c, "return true", &["0"]), ":1\r\n");
    assert_eq!(eval(&mut t, c, "return false", &["0"]), "$-1\r\n");
    assert_eq!(eval(&mut t, c, "return nil", &["0"]), "$-1\r\n");
    assert_eq!(
        eval(&mut t, c, "return {1,'a',{2},nil,5}", &["0"]),
        "*3\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n"
    );
    assert_eq!(eval(&mut t, c, "return {ok='fine'}", &["0"]), "+fine\r\n");
    assert_eq!(
        eval(&mut t, c, "return {err='MY bad'}", &["0"]),
        "-MY bad\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return {double=1.5}", &["0"]),
        "$3\r\n1.5\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return {map={a=1}}", &["0"]),
        "*2\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return {set={a=true}}", &["0"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return 0/0", &["0"]),
        ":-9223372036854775808\r\n"
    );
}

#[test]
fn keys_and_argv_and_redis_call() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    assert_eq!(
        eval(
            &mut t,
            c,
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["1", "k", "v"]
        ),
        "+OK\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return redis.call('get', KEYS[1])", &["1", "k"]),
        "$1\r\nv\r\n"
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "return redis.call('get', 'nope') == false",
            &["0"]
        ),
        ":1\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return type(redis.call('set','a','b'))", &["0"]),
        "$5\r\ntable\r\n"
    );
}

#[test]
fn errors_carry_the_script_position() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    t.line(c, "SET s abc");
    let sha = super::sha1hex(b"return redis.call('incr','s')");
    assert_eq!(
        eval(&mut t, c, "return redis.call('incr','s')", &["0"]),
        format!(
            "-ERR value is not an integer or out of range script: {sha}, on @user_script:1.\r\n"
        )
    );
    let sha = super::sha1hex(b"x = 5");
    assert_eq!(
        eval(&mut t, c, "x = 5", &["0"]),
        format!("-ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.\r\n")
    );
    let sha = super::sha1hex(b"return y");
    assert_eq!(
        eval(&mut t, c, "return y", &["0"]),
        format!("-ERR user_script:1: Script attempted to access nonexistent global variable 'y' script: {sha}, on @user_script:1.\r\n")
    );
    assert_eq!(
        eval(&mut t, c, "retur 1", &["0"]),
        "-ERR Error compiling script (new function): user_script:1: '=' expected near '1'\r\n"
    );
    assert_eq!(
        eval(&mut t, c, "return redis.pcall('nosuch')", &["0"]),
        "-ERR Unknown Redis command called from script\r\n"
    );
}

#[test]
fn script_effects_propagate_wrapped_not_the_script() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    t.srv.propagator.enabled = true;
    eval(
        &mut t,
        c,
        "redis.call('set','a','1') redis.call('incr','a') return 1",
        &["0"],
    );
    assert_eq!(t.propagated(), vec!["MULTI", "set a 1", "incr a", "EXEC"]);
    eval(&mut t, c, "return redis.call('set','b','1')", &["0"]);
    assert_eq!(t.propagated(), vec!["set b 1"]);
    eval(&mut t, c, "return redis.call('get','b')", &["0"]);
    assert!(t.propagated().is_empty());
}

#[test]
fn globals_do_not_leak_between_scripts() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    eval(
        &mut t,
        c,
        "redis.call = nil string.rep = nil rawset(_G, 'leak', 1) return 1",
        &["0"],
    );
    assert_eq!(
        eval(
            &mut t,
            c,
            "return {type(redis.call), type(string.rep), rawget(_G, 'leak') == nil}",
            &["0"]
        ),
        "*3\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n:1\r\n"
    );
}

#[test]
fn the_engine_is_kept_between_scripts() {
    let mut t = TestServer::new(&[]);
    let c = t.connect();
    // A script-defined upvalue-free check: the compiled function is reused (no reset), so
    // a cached script runs again by SHA after errors and KEYS/ARGV changes.
    assert_eq!(
        eval(&mut t, c, "return KEYS[1]", &["1", "a"]),
        "$1\r\na\r\n"
    );
    assert!(eval(&mut t, c, "error('x')", &["0"]).starts_with("-ERR user_script:1: x"));
    let sha = super::sha1hex(b"return KEYS[1]");
    let r = t.run(c, &[b"EVALSHA", sha.as_bytes(), b"1", b"b"]);
    assert_eq!(String::from_utf8_lossy(&r), "$1\r\nb\r\n");
    super::engine::with_engine(t.srv.scripts.generation, t.srv.cfg.lua_memory_limit, |e| {
        assert!(e.is_compiled(&sha), "the engine was rebuilt");
    })
    .expect("engine");
}
