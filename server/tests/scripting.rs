//! Scripting on the real server binary: what clients' Lua does (redis-py's `Lock`,
//! redlock's release), effects replication to a real replica, and bad input (syntax and
//! runtime errors, a memory bomb, deep recursion, an infinite loop stopped by SCRIPT KILL,
//! an unknown SHA), each followed by proof that the server still serves.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

fn sha1(s: &str) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pong(c: &mut Conn) {
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
}

fn require_tools() -> bool {
    std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1")
}

const REDLOCK_RELEASE: &str = "if redis.call(\"get\",KEYS[1]) == ARGV[1] then return redis.call(\"del\",KEYS[1]) else return 0 end";

#[test]
fn redlock_release_deletes_only_its_own_lock() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["SET", "resource", "token-1", "NX", "PX", "30000"]),
        Reply::ok()
    );
    // Another holder's token: nothing released.
    assert_eq!(
        c.cmd(&["EVAL", REDLOCK_RELEASE, "1", "resource", "token-2"]),
        Reply::Int(0)
    );
    assert_eq!(c.q("GET resource"), Reply::bulk("token-1"));
    // Its own: released.
    assert_eq!(
        c.cmd(&["EVAL", REDLOCK_RELEASE, "1", "resource", "token-1"]),
        Reply::Int(1)
    );
    assert_eq!(c.q("EXISTS resource"), Reply::Int(0));
    // By SHA, as client libraries do once the script is cached.
    let sha = sha1(REDLOCK_RELEASE);
    assert_eq!(
        c.cmd(&["EVALSHA", &sha, "1", "resource", "x"]),
        Reply::Int(0)
    );
}

/// redis-py's `Lock` (acquire, extend, reacquire, release, and a release by a non-owner)
/// runs its Lua scripts through EVALSHA, registering them first.
#[test]
fn redis_py_lock_acquires_extends_and_releases() {
    let has_redis_py = Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_redis_py {
        assert!(
            !require_tools(),
            "redis-py is required (PICKET_REQUIRE_REDIS=1): .ci/run installs it"
        );
        eprintln!("\n!!! SKIPPED redis-py Lock: python3 has no redis-py (pip install redis)\n");
        return;
    }
    let s = Server::start(&[]);
    let script = format!(
        r#"
import redis, redis.exceptions
r = redis.Redis(port={port})
lock = r.lock("job", timeout=10)
assert lock.acquire(blocking=False)
assert r.get("job") == lock.local.token
other = r.lock("job", timeout=10)
assert not other.acquire(blocking=False)
assert lock.extend(20)
ttl = r.pttl("job")
assert 20000 < ttl <= 30000, ttl
assert lock.reacquire()
assert 0 < r.pttl("job") <= 10000
assert lock.owned()
assert not other.owned()
other.local.token = b"not-the-owner"
try:
    other.release()
    raise SystemExit("a non-owner released the lock")
except redis.exceptions.LockNotOwnedError:
    pass
lock.release()
assert r.get("job") is None
try:
    lock.extend(5)
    raise SystemExit("extended a released lock")
except redis.exceptions.LockError:
    pass
with r.lock("ctx", timeout=5) as l:
    assert r.exists("ctx") == 1
assert r.exists("ctx") == 0
print("lock ok")
"#,
        port = s.port
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("lock ok"),
        "redis-py Lock failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = s.conn();
    pong(&mut c);
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> Option<String> {
    let text = c.q(&format!("INFO {section}")).text();
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// A replica applies a script's effects as a MULTI/EXEC of its commands: it never runs the
/// script (its EVAL counter stays at zero), and holds the same data.
#[test]
fn a_replica_gets_the_effects_not_the_script() {
    let master = Server::start(&[]);
    let replica = Server::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let mut m = master.conn();
    let mut r = replica.conn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut r, "replication", "master_link_status").as_deref() != Some("up") {
        assert!(Instant::now() < deadline, "the replica did not connect");
        std::thread::sleep(Duration::from_millis(50));
    }
    let script = "for i = 1, 10 do redis.call('rpush', KEYS[1], i) end redis.call('incrby', KEYS[2], 5) return redis.call('llen', KEYS[1])";
    assert_eq!(
        m.cmd(&["EVAL", script, "2", "list", "counter"]),
        Reply::Int(10)
    );
    assert_eq!(
        m.cmd(&["EVALSHA", &sha1(script), "2", "list", "counter"]),
        Reply::Int(20)
    );
    assert_eq!(m.q("WAIT 1 5000"), Reply::Int(1));
    assert_eq!(r.q("LLEN list"), Reply::Int(20));
    assert_eq!(r.q("GET counter"), Reply::bulk("10"));
    let stats = r.q("INFO commandstats").text();
    assert!(!stats.contains("cmdstat_eval"), "{stats}");
    assert!(stats.contains("cmdstat_multi:calls=2"), "{stats}");
    assert!(stats.contains("cmdstat_exec:calls=2"), "{stats}");
    assert!(stats.contains("cmdstat_rpush:calls=20"), "{stats}");
    // The replica refuses a script that declares writes (as a write command, like Redis),
    // and runs a read-only one.
    let e = r.cmd(&["EVAL", "#!lua\nreturn redis.call('set','x','1')", "0"]);
    assert_eq!(
        e,
        Reply::err("READONLY You can't write against a read only replica.")
    );
    assert_eq!(
        r.cmd(&["EVAL_RO", "return redis.call('get','counter')", "0"]),
        Reply::bulk("10")
    );
}

#[test]
fn bad_scripts_get_errors_and_the_server_keeps_serving() {
    let s = Server::start(&["--lua-memory-limit", "32mb"]);
    let mut c = s.conn();
    // Syntax error.
    let r = c.cmd(&["EVAL", "return (", "0"]);
    assert!(
        r.text()
            .starts_with("ERR Error compiling script (new function): user_script:1:"),
        "{r:?}"
    );
    pong(&mut c);
    // Runtime error.
    let r = c.cmd(&["EVAL", "local t = nil return t.x", "0"]);
    assert!(r.text().contains("attempt to index local 't'"), "{r:?}");
    pong(&mut c);
    // Unknown SHA.
    assert_eq!(
        c.cmd(&["EVALSHA", &sha1("never loaded"), "0"]),
        Reply::err("NOSCRIPT No matching script. Please use EVAL.")
    );
    pong(&mut c);
    // A memory bomb: the Lua heap limit stops it.
    let bomb =
        "local t = {} local i = 0 while true do i = i + 1 t[i] = string.rep('x', 4096) .. i end";
    let r = c.cmd(&["EVAL", bomb, "0"]);
    assert_eq!(
        r,
        Reply::err(&format!(
            "ERR Error running script {}, not enough memory",
            sha1(bomb)
        ))
    );
    pong(&mut c);
    let r = c.cmd(&["EVAL", "return string.rep('x', 2^30)", "0"]);
    assert!(r.is_error(), "{r:?}");
    pong(&mut c);
    // The engine is usable after it.
    assert_eq!(
        c.cmd(&["EVAL", "return #string.rep('y', 1000)", "0"]),
        Reply::Int(1000)
    );
    // Deep recursion, in Lua and through C.
    let r = c.cmd(&[
        "EVAL",
        "local function f(n) return 1 + f(n + 1) end return f(1)",
        "0",
    ]);
    assert!(r.text().contains("stack overflow"), "{r:?}");
    let r = c.cmd(&[
        "EVAL",
        "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
        "0",
    ]);
    assert!(r.is_error(), "{r:?}");
    let r = c.cmd(&["EVAL", "return cjson.decode(string.rep('[', 100000))", "0"]);
    assert!(
        r.text().contains("Found too many nested data structures"),
        "{r:?}"
    );
    let r = c.cmd(&["EVAL", "local t = {} t[1] = t return t", "0"]);
    assert!(
        format!("{r:?}").contains("reached lua stack limit"),
        "{r:?}"
    );
    pong(&mut c);
    // pcall cannot swallow a memory error into a corrupt state.
    let r = c.cmd(&[
        "EVAL",
        &format!("local ok = pcall(function() {bomb} end) return tostring(ok)"),
        "0",
    ]);
    assert!(r == Reply::bulk("false") || r.is_error(), "{r:?}");
    pong(&mut c);
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('set', 'after', 'ok')", "0"]),
        Reply::ok()
    );
}

/// A script in an infinite loop is reported slow past busy-reply-threshold; meanwhile
/// other clients get -BUSY, and SCRIPT KILL stops it (it has not written) with Redis's
/// error. The replies are compared with Redis 7.0's for the same sequence. Picket serves
/// other clients during a script on another runtime thread, with the default `io-threads 1`
/// as with more.
#[test]
fn an_infinite_loop_is_stopped_by_script_kill() {
    let args = ["--busy-reply-threshold", "200"];
    let picket = Server::start(&args);
    let p = kill_sequence(&picket);
    let picket4 = Server::start(&["--io-threads", "4", args[0], args[1]]);
    assert_eq!(
        kill_sequence(&picket4),
        p,
        "io-threads 4 (left) and 1 (right)"
    );
    let Some(redis) = Server::redis(&args) else {
        return;
    };
    let r = kill_sequence(&redis);
    assert_eq!(p, r, "picket (left) and Redis 7.0 (right)");
}

fn kill_sequence(s: &Server) -> Vec<Reply> {
    let mut runner = s.conn();
    let mut other = s.conn();
    let mut seen = Vec::new();
    // Nothing to kill.
    seen.push(other.q("SCRIPT KILL"));
    runner.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    std::thread::sleep(Duration::from_millis(600));
    seen.push(other.q("PING"));
    seen.push(other.q("GET x"));
    seen.push(other.q("SCRIPT KILL"));
    seen.push(runner.read());
    pong(&mut other);
    pong(&mut runner);
    // A script that wrote cannot be killed; it ends on its own here.
    runner.send(&[
        "EVAL",
        "redis.call('set','x','1') local t = redis.call('time') local i = 0 while i < 100000000 do i = i + 1 end return 'done'",
        "0",
    ]);
    std::thread::sleep(Duration::from_millis(400));
    seen.push(other.q("SCRIPT KILL"));
    runner.set_timeout(Duration::from_secs(60));
    seen.push(runner.read());
    pong(&mut other);
    seen
}

/// MONITOR shows the script, then its commands from `lua`; the error statistics count a
/// script's error replies once (a failed command inside counts as that command's error).
/// Both as Redis 7.0.
#[test]
fn monitor_and_error_stats_match_redis() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let picket = Server::start(&["--save", ""]);
    let observe = |s: &Server| {
        let mut mon = s.conn();
        assert_eq!(mon.q("MONITOR"), Reply::ok());
        let mut c = s.conn();
        c.q("CONFIG RESETSTAT");
        c.q("SET s text");
        let scripts = [
            "redis.call('set','k','v') return redis.call('get','k')",
            "return redis.call('incr','s')",
            "return redis.pcall('incr','s')",
            "return {err='MINE failed'}",
            "return redis.error_reply('OTHER x')",
            "error('raised')",
            "return redis.call('nosuch')",
            "return {1, {err='NESTED e'}}",
        ];
        let mut replies = Vec::new();
        for sc in scripts {
            replies.push(c.cmd(&["EVAL", sc, "0"]));
        }
        c.q("PING");
        let mut lines = Vec::new();
        loop {
            let r = mon.read();
            let t = r.text();
            // Mask the time and the client's address.
            let rest = t.split_once(' ').map(|x| x.1).unwrap_or("").to_string();
            let rest = match rest.split_once(']') {
                Some((who, tail)) if !who.ends_with("lua") => format!("[client]{tail}"),
                _ => rest,
            };
            if rest.contains("\"PING\"") {
                break;
            }
            lines.push(rest);
        }
        let stats: Vec<String> = c
            .q("INFO errorstats")
            .text()
            .lines()
            .filter(|l| l.starts_with("errorstat_"))
            .map(String::from)
            .collect();
        let total = info_field(&mut c, "stats", "total_error_replies");
        (replies, lines, stats, total)
    };
    let r = observe(&redis);
    let p = observe(&picket);
    assert_eq!(p.0, r.0, "replies: picket (left), redis (right)");
    assert_eq!(p.1, r.1, "MONITOR: picket (left), redis (right)");
    assert_eq!(p.2, r.2, "errorstats: picket (left), redis (right)");
    assert_eq!(
        p.3, r.3,
        "total_error_replies: picket (left), redis (right)"
    );
}

/// Run the same commands on picket and Redis 7.0 started with `args`; every reply equal.
fn same_replies(args: &[&str], cmds: &[&[&str]]) {
    let Some(redis) = Server::redis(args) else {
        return;
    };
    let picket = Server::start(&[&["--save", ""], args].concat());
    let (mut p, mut r) = (picket.conn(), redis.conn());
    for c in cmds {
        let (a, b) = (p.cmd(c), r.cmd(c));
        assert_eq!(a, b, "{c:?} with {args:?}: picket (left), redis (right)");
    }
}

const SHEBANG_WRITE: &str = "#!lua\nreturn redis.call('set','k','v')";
const SHEBANG_NO_WRITES: &str = "#!lua flags=no-writes\nreturn redis.call('get','k')";
const SHEBANG_ALLOW_OOM: &str = "#!lua flags=allow-oom\nreturn redis.call('set','k','v')";
const COMPAT_WRITE: &str = "return redis.call('set','k','v')";
const COMPAT_READ_THEN_WRITE: &str =
    "local v = redis.call('get','k') return redis.call('set','k','v')";

#[test]
fn scripts_under_maxmemory_as_redis() {
    // Past maxmemory (1 byte, noeviction): declared writers are refused up front, others
    // at their first command that may grow memory.
    same_replies(
        &["--maxmemory", "1", "--maxmemory-policy", "noeviction"],
        &[
            &["EVAL", SHEBANG_WRITE, "0"],
            &["EVAL", SHEBANG_NO_WRITES, "0"],
            &["EVAL", SHEBANG_ALLOW_OOM, "0"],
            &["EVAL", COMPAT_WRITE, "0"],
            &["EVAL", COMPAT_READ_THEN_WRITE, "0"],
            &["EVAL", "return redis.call('del','k')", "0"],
            &["EVAL_RO", "return redis.call('get','k')", "0"],
        ],
    );
}

#[test]
fn scripts_without_enough_replicas_as_redis() {
    same_replies(
        &["--min-replicas-to-write", "1"],
        &[
            &["EVAL", SHEBANG_WRITE, "0"],
            &["EVAL", SHEBANG_NO_WRITES, "0"],
            &["EVAL", COMPAT_WRITE, "0"],
            &["EVAL", "return redis.call('get','k')", "0"],
            &["EVAL_RO", SHEBANG_WRITE, "0"],
        ],
    );
}

#[test]
fn scripts_in_transactions_as_redis() {
    same_replies(
        &[],
        &[
            &["MULTI"],
            &["EVAL", COMPAT_WRITE, "0"],
            &["EVAL", "return redis.call('incr','n')", "0"],
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
            &["EXEC"],
            &["WATCH", "k"],
            &["EVAL", "return redis.call('set','k','w')", "0"],
            &["MULTI"],
            &["GET", "k"],
            &["EXEC"],
            &[
                "EVAL",
                "return redis.call('select', 1) and redis.call('set','db1','x')",
                "0",
            ],
            &["GET", "db1"],
            &["SELECT", "1"],
            &["GET", "db1"],
            &[
                "EVAL",
                "redis.call('set', 'a', '1') return redis.call('lpush', 'a', 'x')",
                "0",
            ],
            &["GET", "a"],
            &["EVAL", "return redis.call('client', 'id') > 0", "0"],
            &["EVAL", "return redis.call('time')[1] ~= nil", "0"],
        ],
    );
}

/// SHUTDOWN NOSAVE stops a busy script that wrote (SCRIPT KILL cannot) and the server, as in
/// Redis 7.0: SHUTDOWN without NOSAVE gets -BUSY meanwhile; the script's half-done writes
/// reach neither the AOF nor anything else, and what was acknowledged before is there after
/// the restart.
#[test]
fn shutdown_nosave_stops_a_busy_script() {
    let args = [
        "--busy-reply-threshold",
        "200",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let start = |redis: bool, extra: &[&str]| -> Option<Server> {
        let all = [&args[..], extra].concat();
        if redis {
            Server::redis(&all)
        } else {
            Some(Server::start(&all))
        }
    };
    let sequence = |redis: bool| -> Option<Vec<Reply>> {
        let mut first = start(redis, &[])?;
        let mut seen = Vec::new();
        let mut runner = first.conn();
        let mut other = first.conn();
        seen.push(other.q("SET k before"));
        runner.send(&[
            "EVAL",
            "redis.call('set', 'k', 'during') while true do end",
            "0",
        ]);
        std::thread::sleep(Duration::from_millis(600));
        seen.push(other.q("SCRIPT KILL"));
        seen.push(other.q("SHUTDOWN"));
        seen.push(other.q("SHUTDOWN SAVE"));
        other.send(&["SHUTDOWN", "NOSAVE"]);
        other.set_timeout(Duration::from_secs(10));
        assert!(other.try_read().is_none(), "SHUTDOWN NOSAVE got a reply");
        runner.set_timeout(Duration::from_secs(10));
        assert!(
            runner.try_read().is_none(),
            "the stopped script got a reply"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(st) = first.child.try_wait().expect("wait") {
                break st;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "exit status {status}");
        let dir = first.dir.path().to_str().expect("utf-8 dir").to_string();
        let second = start(redis, &["--dir", &dir])?;
        seen.push(second.conn().q("GET k"));
        Some(seen)
    };
    let p = sequence(false).expect("picket");
    assert_eq!(p[0], Reply::ok());
    assert!(p[1].text().starts_with("UNKILLABLE"), "{:?}", p[1]);
    assert!(p[2].text().starts_with("BUSY"), "{:?}", p[2]);
    assert_eq!(p[4], Reply::bulk("before"));
    if let Some(r) = sequence(true) {
        assert_eq!(p, r, "picket (left) and Redis 7.0 (right)");
    }
}
