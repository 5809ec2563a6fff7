//! DEBUG RELOAD and DEBUG LOADAOF against Redis 7.0: every variant keeps (or replaces) the
//! data as Redis does, with the same replies and errors; and what DEBUG does reaches
//! neither the replicas nor the AOF, except DEBUG REPLICATE, which reaches the replicas
//! only, as in Redis.

mod common;
mod persist_util;
mod util;

use std::path::Path;
use std::time::Duration;

use common::{Conn, Pair, Reply, Server};
use persist_util::{populate_all, wait_loaded};

fn pair(extra: &[&str]) -> Option<Pair> {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    let p = Pair::start(&args)?;
    wait_loaded(&mut p.picket.conn());
    wait_loaded(&mut p.redis.conn());
    Some(p)
}

fn info_field(c: &mut Conn, section: &str, name: &str) -> String {
    util::info_field(c, section, name)
}

#[test]
fn reload_variants_keep_the_data_as_redis() {
    let Some(p) = pair(&[]) else { return };
    let (mut pc, mut rc) = (p.picket.conn(), p.redis.conn());
    populate_all(&mut pc);
    populate_all(&mut rc);
    let before = p.same(&[&["DEBUG", "DIGEST"]]);
    // Save, flush, load: the same data, TTLs included.
    let after = p.same(&[
        &["DEBUG", "RELOAD"],
        &["DEBUG", "DIGEST"],
        &["PEXPIRETIME", "t:s"],
        &["DBSIZE"],
    ]);
    assert_eq!(after[0], Reply::ok());
    assert_eq!(after[1], before[0]);
    assert_eq!(
        info_field(&mut pc, "persistence", "rdb_last_load_keys_loaded"),
        info_field(&mut rc, "persistence", "rdb_last_load_keys_loaded")
    );
    // NOSAVE: back to the file, what changed since is gone.
    p.same(&[
        &["SET", "s:int", "changed"],
        &["SET", "new", "1"],
        &["DEBUG", "RELOAD", "NOSAVE"],
        &["GET", "s:int"],
        &["EXISTS", "new"],
        &["DEBUG", "DIGEST"],
    ]);
    // NOSAVE NOFLUSH MERGE: the file's keys replace those in memory, the others stay.
    p.same(&[
        &["SET", "s:int", "changed"],
        &["PERSIST", "t:s"],
        &["SET", "extra", "1", "EX", "1000"],
        &["debug", "reload", "nosave", "noflush", "merge"],
        &["GET", "s:int"],
        &["PEXPIRETIME", "t:s"],
        &["GET", "extra"],
        &["TTL", "extra"],
        &["DEBUG", "DIGEST"],
    ]);
    // Inside a transaction, and options in any order and case.
    p.same(&[
        &["MULTI"],
        &["SET", "tx", "1"],
        &["DEBUG", "RELOAD", "Merge", "NoSave", "NOFLUSH"],
        &["DEBUG", "RELOAD"],
        &["EXEC"],
        &["GET", "tx"],
        &["DEBUG", "DIGEST"],
    ]);
}

#[test]
fn reload_touches_watched_keys_and_leaves_blocked_clients_waiting() {
    let Some(p) = pair(&[]) else { return };
    let scenario = |port: u16| -> Vec<Reply> {
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        a.q("SET w 1");
        a.q("WATCH w");
        b.q("DEBUG RELOAD");
        a.q("MULTI");
        a.q("SET w 2");
        let exec = a.q("EXEC");
        // A key that is not in memory is not touched by the flush.
        a.q("WATCH absent");
        b.q("DEBUG RELOAD");
        a.q("MULTI");
        a.q("SET w 3");
        vec![exec, a.q("EXEC"), a.q("GET w")]
    };
    let r = util::same_scenario(&p, scenario);
    assert_eq!(r[0], Reply::NilArray);
    // A client blocked on a list that a RELOAD brings back is not told (Redis signals no
    // key while loading an RDB, nor when a push finds the list there): it is served when
    // the list is created again.
    let blocked = |port: u16| -> Vec<Option<Reply>> {
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        b.q("RPUSH q x");
        b.q("SAVE");
        b.q("DEL q");
        a.send(&["BLPOP", "q", "0"]);
        std::thread::sleep(Duration::from_millis(100));
        let mut seen = vec![Some(b.q("DEBUG RELOAD NOSAVE")), Some(b.q("LLEN q"))];
        b.q("RPUSH q y");
        a.set_timeout(Duration::from_millis(300));
        seen.push(a.try_read());
        b.q("DEL q");
        b.q("RPUSH q z");
        a.set_timeout(Duration::from_secs(10));
        seen.push(a.try_read());
        seen
    };
    let r = util::same_scenario(&p, blocked);
    assert_eq!(r[1], Some(Reply::Int(1)));
    assert_eq!(r[2], None);
}

#[test]
fn reload_of_a_missing_file_answers_redis_error() {
    let Some(p) = pair(&["--dbfilename", "never-saved.rdb"]) else {
        return;
    };
    let r = p.same(&[
        &["SET", "k", "v"],
        &["DEBUG", "RELOAD", "NOSAVE"],
        &["DBSIZE"],
        &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"],
    ]);
    assert_eq!(r[1], Reply::err("ERR Error trying to load the RDB dump"));
    // The flush happened before the load failed, as in Redis.
    assert_eq!(r[2], Reply::Int(0));
}

#[test]
fn reload_conflicts_without_merge_answer_instead_of_crashing() {
    // Redis stops the server on a key of the file already in memory (NOFLUSH without
    // MERGE); picket stops loading and answers the load error, and goes on serving.
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.q("SET a 1");
    c.q("SET b 2");
    assert_eq!(c.q("DEBUG RELOAD"), Reply::ok());
    c.q("SET a changed");
    assert_eq!(
        c.q("DEBUG RELOAD NOSAVE NOFLUSH"),
        Reply::err("ERR Error trying to load the RDB dump")
    );
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    assert!(s.log_text().contains("RDB has duplicated key"));
    // MERGE then loads it.
    assert_eq!(c.q("DEBUG RELOAD NOSAVE NOFLUSH MERGE"), Reply::ok());
    assert_eq!(c.q("GET a"), Reply::bulk("1"));
}

/// The size of the AOF's incremental files.
fn incr_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn loadaof_reloads_the_aof_as_redis() {
    let Some(p) = pair(&["--appendonly", "yes", "--appendfsync", "always"]) else {
        return;
    };
    let (mut pc, mut rc) = (p.picket.conn(), p.redis.conn());
    populate_all(&mut pc);
    populate_all(&mut rc);
    let before = p.same(&[
        &["MULTI"],
        &["INCR", "counter"],
        &["RPUSH", "l:tx", "a"],
        &["EXEC"],
        &["SELECT", "5"],
        &["SET", "in5", "x"],
        &["SELECT", "0"],
        &["DEBUG", "DIGEST"],
    ]);
    let size = incr_size(p.picket.dir.path());
    let after = p.same(&[
        &["DEBUG", "LOADAOF"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "LOADAOF", "extra", "args"],
        &["DEBUG", "DIGEST"],
    ]);
    assert_eq!(after[0], Reply::ok());
    assert_eq!(after[1], before[7]);
    // Loading the AOF writes nothing to it.
    assert_eq!(incr_size(p.picket.dir.path()), size);
    // After a rewrite: an RDB preamble as base, then commands.
    for c in [&mut pc, &mut rc] {
        assert!(!c.q("BGREWRITEAOF").is_error());
        assert!(util::wait_until(Duration::from_secs(20), || info_field(
            c,
            "persistence",
            "aof_rewrite_in_progress"
        ) == "0"
            && info_field(c, "persistence", "aof_rewrite_scheduled") == "0"));
    }
    p.same(&[
        &["SET", "after-rewrite", "1"],
        &["HSET", "h:small", "f9", "v9"],
        &["DEBUG", "LOADAOF"],
        &["GET", "after-rewrite"],
        &["DEBUG", "DIGEST"],
    ]);
    // The AOF on disk still gives the same data to a fresh server.
    let d = pc.q("DEBUG DIGEST");
    let dir = p.picket.dir.path().to_path_buf();
    let copy = tempfile::tempdir().unwrap();
    persist_util::copy_dir(
        &dir.join("appendonlydir"),
        &copy.path().join("appendonlydir"),
    );
    let fresh = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--dir",
        copy.path().to_str().unwrap(),
    ]);
    let mut fc = fresh.conn();
    wait_loaded(&mut fc);
    assert_eq!(fc.q("DEBUG DIGEST"), d);
    // A client blocked on a list that LOADAOF brings back is served after the load (the
    // AOF's push creates the list). The AOF has the list, memory does not (reloaded from
    // an RDB saved before it).
    let blocked = |port: u16| -> Vec<Reply> {
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        b.q("SAVE");
        b.q("RPUSH q2 x");
        b.q("DEBUG RELOAD NOSAVE");
        a.send(&["BLPOP", "q2", "0"]);
        std::thread::sleep(Duration::from_millis(100));
        vec![
            b.q("EXISTS q2"),
            b.q("DEBUG LOADAOF"),
            a.read(),
            b.q("EXISTS q2"),
        ]
    };
    let r = util::same_scenario(&p, blocked);
    assert_eq!(r[2], Reply::bulks(&["q2", "x"]));

    // Inside a transaction the commands before it are not in the AOF yet (they are
    // written when EXEC ends), so the load does not have them: the same on both.
    let r = p.same(&[
        &["MULTI"],
        &["SET", "in-multi", "1"],
        &["DEBUG", "LOADAOF"],
        &["EXEC"],
        &["GET", "in-multi"],
        &["DEBUG", "DIGEST"],
    ]);
    assert_eq!(r[4], Reply::Nil);
}

#[test]
fn loadaof_without_an_aof_answers_and_keeps_the_data() {
    // Redis exits when there is no AOF to load; picket answers and keeps its data.
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.q("SET k v");
    let r = c.q("DEBUG LOADAOF");
    assert!(
        r.text()
            .starts_with("ERR Error trying to load the append only file"),
        "{r:?}"
    );
    assert_eq!(c.q("GET k"), Reply::bulk("v"));
    // A corrupt AOF: the error again, and the server goes on.
    let s = Server::start(&["--enable-debug-command", "yes", "--appendonly", "yes"]);
    let mut c = s.conn();
    wait_loaded(&mut c);
    c.q("SET k v");
    let incr = s.dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    bytes.extend_from_slice(b"garbage\r\n");
    std::fs::write(&incr, bytes).unwrap();
    let r = c.q("DEBUG LOADAOF");
    assert!(r.is_error(), "{r:?}");
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
}

/// Master and replica of one kind (picket's binary or redis-server), the master with an AOF.
fn master_replica(redis: bool) -> Option<(Server, Server)> {
    let args = [
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    let (master, replica) = if redis {
        (Server::redis(&args)?, Server::redis(&args[..2])?)
    } else {
        (Server::start(&args), Server::start(&args[..2]))
    };
    wait_loaded(&mut master.conn());
    let mut rc = replica.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", master.port)),
        Reply::ok()
    );
    let mut mc = master.conn();
    mc.q("SET ready 1");
    assert!(util::wait_until(Duration::from_secs(20), || {
        rc.q("GET ready") == Reply::bulk("1")
    }));
    Some((master, replica))
}

/// What the replica and the master hold after DEBUG commands on the master.
fn replication_scenario(redis: bool) -> Option<(Vec<Reply>, Vec<Reply>, bool)> {
    let (master, replica) = master_replica(redis)?;
    let mut mc = master.conn();
    for cmd in [
        "SET a 1",
        "DEBUG RELOAD",
        "DEBUG LOADAOF",
        "DEBUG POPULATE 3",
        "DEBUG SET-ACTIVE-EXPIRE 1",
        "DEBUG REPLICATE SET r 1",
        "DEBUG DIGEST",
        "SET b 2",
    ] {
        assert!(!mc.q(cmd).is_error(), "{cmd}");
    }
    let mut rc = replica.conn();
    assert!(util::wait_until(Duration::from_secs(20), || {
        rc.q("GET b") == Reply::bulk("2")
    }));
    let keys = |c: &mut Conn| -> Vec<Reply> {
        let mut k = c.q("KEYS *").items();
        k.sort_by_key(|r| r.text());
        k
    };
    let aof: String = std::fs::read_dir(master.dir.path().join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect();
    let debug_in_aof = aof.to_ascii_lowercase().contains("debug") || aof.contains("key:0");
    Some((keys(&mut mc), keys(&mut rc), debug_in_aof))
}

#[test]
fn debug_reaches_replicas_and_the_aof_only_as_in_redis() {
    let ours = replication_scenario(false).unwrap();
    let (master_keys, replica_keys, debug_in_aof) = &ours;
    // POPULATE's keys stay on the master, REPLICATE's command reaches only the replica.
    assert!(master_keys.contains(&Reply::bulk("key:0")));
    assert!(!master_keys.contains(&Reply::bulk("r")));
    assert!(replica_keys.contains(&Reply::bulk("r")));
    assert!(!replica_keys.contains(&Reply::bulk("key:0")));
    assert!(!debug_in_aof);
    if let Some(redis) = replication_scenario(true) {
        assert_eq!(ours, redis, "picket (left) and redis (right) differ");
    }
}

/// DEBUG CHANGE-REPL-ID on a master with a replica: the ids before and after, and the
/// full synchronizations once the replica reconnects.
fn change_repl_id_scenario(redis: bool) -> Option<(bool, String, String, bool)> {
    let (master, replica) = master_replica(redis)?;
    let mut mc = master.conn();
    let old = info_field(&mut mc, "replication", "master_replid");
    assert_eq!(mc.q("DEBUG CHANGE-REPL-ID"), Reply::ok());
    let new = info_field(&mut mc, "replication", "master_replid");
    let replid2 = info_field(&mut mc, "replication", "master_replid2");
    // The replica's next PSYNC asks for the old history, which is gone: a full resync,
    // after which it follows the new id.
    mc.q("CLIENT KILL TYPE replica");
    let mut rc = replica.conn();
    let followed = util::wait_until(Duration::from_secs(20), || {
        info_field(&mut rc, "replication", "master_replid") == new
            && info_field(&mut rc, "replication", "master_link_status") == "up"
    });
    Some((
        old != new && new.len() == 40,
        replid2,
        info_field(&mut mc, "stats", "sync_full"),
        followed,
    ))
}

#[test]
fn change_repl_id_makes_the_replica_resync_as_in_redis() {
    let ours = change_repl_id_scenario(false).unwrap();
    assert_eq!(ours, (true, "0".repeat(40), "2".to_string(), true));
    if let Some(redis) = change_repl_id_scenario(true) {
        assert_eq!(ours, redis, "picket (left) and redis (right) differ");
    }
}

/// Flip a bit of the checksum at the end of a server's `dump.rdb`.
fn break_checksum(dir: &Path) {
    let path = dir.join("dump.rdb");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn skip_checksum_validation_accepts_bad_checksums_as_redis() {
    let Some(p) = pair(&[]) else { return };
    // A RESTORE payload whose checksum is wrong.
    let Reply::Bulk(mut payload) = p.same(&[&["SET", "k", "v"], &["DUMP", "k"]])[1].clone() else {
        panic!("DUMP")
    };
    let last = payload.len() - 1;
    payload[last] ^= 0xff;
    let restore = |c: &mut Conn, key: &str| -> Reply {
        c.cmd(&[&b"RESTORE"[..], key.as_bytes(), b"0", &payload])
    };
    let (mut pc, mut rc) = (p.picket.conn(), p.redis.conn());
    assert_eq!(restore(&mut pc, "r1"), restore(&mut rc, "r1"));
    assert!(restore(&mut pc, "r2").is_error());
    // An RDB file whose checksum is wrong.
    p.same(&[&["SAVE"]]);
    break_checksum(p.picket.dir.path());
    break_checksum(p.redis.dir.path());
    let r = p.same(&[
        &["DEBUG", "RELOAD", "NOSAVE"],
        &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"],
        &["DEBUG", "RELOAD", "NOSAVE"],
        &["GET", "k"],
    ]);
    assert_eq!(r[0], Reply::err("ERR Error trying to load the RDB dump"));
    assert_eq!(r[2], Reply::ok());
    assert_eq!(restore(&mut pc, "r3"), Reply::ok());
    assert_eq!(restore(&mut rc, "r3"), Reply::ok());
    p.same(&[
        &["GET", "r3"],
        &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"],
        &["DEL", "r3"],
    ]);
    assert_eq!(restore(&mut pc, "r3"), restore(&mut rc, "r3"));
}
