//! A replica's full synchronization in bounded memory, as Redis 7.0 with
//! `repl-diskless-load disabled`: the payload goes to `temp-<unixtime>.<pid>.rdb` in `dir`,
//! is renamed to `dbfilename`, then loaded. Real masters (picket, and Redis 7.0's
//! redis-server) in both payload forms, and a fake master in the test that misbehaves: an
//! endless `$EOF:` stream (memory stays flat, the server keeps serving, the temp file goes
//! when the master does), bad bulk lengths, a transfer cut or stalled midway (the old data
//! stays). `on-empty-db` parses from the socket; `swapdb` says it goes through disk.

mod common;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Conn, Reply, Server};

const REPLID: &str = "0123456789abcdef0123456789abcdef01234567";
const MARK: &[u8; 40] = b"fedcba9876543210fedcba9876543210fedcba98";

fn info(c: &mut Conn, field: &str) -> String {
    let text = c.q("INFO").text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .to_string()
}

fn info_int(c: &mut Conn, field: &str) -> i64 {
    info(c, field).parse().unwrap_or(-1)
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The temporary files of transfers in `dir` (Redis's `temp-<unixtime>.<pid>.rdb`).
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    let Some(mid) = n.strip_prefix("temp-").and_then(|r| r.strip_suffix(".rdb"))
                    else {
                        return false;
                    };
                    let parts: Vec<&str> = mid.split('.').collect();
                    parts.len() == 2
                        && parts
                            .iter()
                            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Resident memory of a process, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn wait_synced(master: &mut Conn, replica: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = info(replica, "master_link_status") == "up";
        let m = info_int(master, "master_repl_offset");
        let r = info_int(replica, "slave_repl_offset");
        if up && m == r && m > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica never caught up: link up={up} master={m} replica={r}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A dataset of a few thousand keys of every type (strings of 1 KB among them).
fn populate(c: &mut Conn) {
    for i in 0..3000 {
        c.send(&[
            "SET",
            &format!("s:{i}"),
            &format!("{i}:{}", "v".repeat(1000)),
        ]);
    }
    for i in 0..200 {
        c.send(&["RPUSH", "list", &format!("item-{i}")]);
        c.send(&["SADD", "set", &format!("m{i}")]);
        c.send(&[
            "HSET",
            &format!("h:{}", i % 10),
            &format!("f{i}"),
            &i.to_string(),
        ]);
        c.send(&["ZADD", "z", &i.to_string(), &format!("z{i}")]);
    }
    for _ in 0..3000 + 800 {
        assert!(!c.read().is_error());
    }
    c.q("SET ttl v PX 100000000");
}

/// Keys, types and a digest of values, to compare two servers.
fn digest(c: &mut Conn) -> Vec<String> {
    let mut keys: Vec<String> = c.q("KEYS *").items().iter().map(|r| r.text()).collect();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let t = c.cmd(&["TYPE", &k]).text();
        let v = match t.as_str() {
            "string" => c.cmd(&["GET", &k]).text(),
            "list" => format!("{:?}", c.cmd(&["LRANGE", &k, "0", "-1"])),
            "set" => {
                let mut m: Vec<String> = c
                    .cmd(&["SMEMBERS", &k])
                    .items()
                    .iter()
                    .map(|r| r.text())
                    .collect();
                m.sort();
                m.join(",")
            }
            "hash" => {
                let mut m: Vec<String> = c
                    .cmd(&["HGETALL", &k])
                    .items()
                    .iter()
                    .map(|r| r.text())
                    .collect();
                m.sort();
                m.join(",")
            }
            "zset" => format!("{:?}", c.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
            other => other.to_string(),
        };
        out.push(format!("{k}:{t}:{}", v.len()));
        out.push(v);
    }
    out
}

/// Redis's log lines of a disk-based full sync, in order.
fn assert_disk_sync_logged(log: &str, eof: bool) {
    let receiving = if eof {
        "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
    } else {
        "MASTER <-> REPLICA sync: receiving "
    };
    let mut at = 0;
    for line in [
        receiving,
        "MASTER <-> REPLICA sync: Flushing old data",
        "MASTER <-> REPLICA sync: Loading DB in memory",
        "MASTER <-> REPLICA sync: Finished with success",
    ] {
        match log[at..].find(line) {
            Some(i) => at += i + line.len(),
            None => panic!("missing (in order) {line:?} in the replica's log:\n{log}"),
        }
    }
    if !eof {
        assert!(log.contains(" bytes from master to disk"), "{log}");
    }
}

/// The replica synced through `dir/dbfilename`: it holds the master's data, and no
/// temporary file is left.
fn check_synced_through_disk(master: &mut Conn, replica: &Server, eof: bool) {
    let mut rc = replica.conn();
    wait_synced(master, &mut rc);
    assert_eq!(digest(master), digest(&mut rc));
    let rdb = replica.dir.path().join("dump.rdb");
    assert!(rdb.exists(), "no dump.rdb in the replica's dir");
    assert!(std::fs::read(&rdb).unwrap().starts_with(b"REDIS"));
    assert_eq!(temp_files(replica.dir.path()), Vec::<PathBuf>::new());
    assert_disk_sync_logged(&replica.log_text(), eof);
}

#[test]
fn picket_replica_of_a_picket_master_syncs_through_dbfilename() {
    // Diskless master ($EOF:<mark>), then disk-based master ($<len>).
    for (diskless, eof) in [("yes", true), ("no", false)] {
        let m = Server::start(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
        ]);
        let mut mc = m.conn();
        populate(&mut mc);
        let r = Server::start(&[]);
        let mut rc = r.conn();
        assert_eq!(
            rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
            Reply::ok()
        );
        check_synced_through_disk(&mut mc, &r, eof);
        // The stream follows the payload.
        mc.q("SET after sync");
        wait_synced(&mut mc, &mut rc);
        assert_eq!(rc.q("GET after"), Reply::bulk("sync"));
        // A restart loads what the sync left in dbfilename.
        let port = r.port;
        drop(rc);
        let dir = r.dir.path().to_path_buf();
        let keep = tempfile::tempdir().unwrap();
        std::fs::copy(dir.join("dump.rdb"), keep.path().join("dump.rdb")).unwrap();
        drop(r);
        let r2 = Server::start_on_port(port, &["--dir", keep.path().to_str().unwrap()]);
        let mut c2 = r2.conn();
        wait_until("the restarted replica to load", 20, || {
            info_int(&mut c2, "loading") == 0
        });
        assert_eq!(c2.q("DBSIZE"), Reply::Int(3000 + 1 + 1 + 10 + 1 + 1));
    }
}

#[test]
fn picket_replica_of_a_redis_master_syncs_through_dbfilename() {
    for (diskless, eof) in [("yes", true), ("no", false)] {
        let Some(m) = Server::redis(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
        ]) else {
            return;
        };
        let mut mc = m.conn();
        populate(&mut mc);
        let r = Server::start(&[]);
        let mut rc = r.conn();
        assert_eq!(
            rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
            Reply::ok()
        );
        check_synced_through_disk(&mut mc, &r, eof);
    }
}

// ------------------------------------------------------------------ a fake master

/// Read one RESP command (an array of bulk strings) from the replica.
fn read_command(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<String>> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let n: usize = line
        .trim_start_matches('*')
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("not a command: {line:?}")))?;
    let mut args = Vec::new();
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line)?;
        let len: usize = line
            .trim_start_matches('$')
            .trim()
            .parse()
            .map_err(std::io::Error::other)?;
        let mut b = vec![0; len + 2];
        r.read_exact(&mut b)?;
        b.truncate(len);
        args.push(String::from_utf8_lossy(&b).into_owned());
    }
    Ok(args)
}

/// Answer the handshake up to PSYNC with `+FULLRESYNC`; returns the connection.
fn handshake(stream: TcpStream) -> std::io::Result<TcpStream> {
    let mut r = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    loop {
        let cmd = read_command(&mut r)?;
        match cmd[0].to_ascii_uppercase().as_str() {
            "PING" => w.write_all(b"+PONG\r\n")?,
            "REPLCONF" | "AUTH" => w.write_all(b"+OK\r\n")?,
            "PSYNC" | "SYNC" => {
                w.write_all(format!("+FULLRESYNC {REPLID} 0\r\n").as_bytes())?;
                return Ok(w);
            }
            other => return Err(std::io::Error::other(format!("unexpected {other}"))),
        }
    }
}

/// A fake master on a free port: each connection that completes the handshake is given to
/// `serve` (with its index). Runs until the test ends.
fn fake_master(serve: impl Fn(usize, TcpStream) + Send + 'static) -> (u16, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        let mut n = 0;
        while !s.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    if let Ok(c) = handshake(c) {
                        serve(n, c);
                        n += 1;
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, stop)
}

/// The RDB of a small dataset, as picket saves it.
fn an_rdb() -> Vec<u8> {
    let s = Server::start(&[]);
    let mut c = s.conn();
    populate(&mut c);
    c.q("SET marker from-the-fake-master");
    assert_eq!(c.q("SAVE"), Reply::ok());
    std::fs::read(s.dir.path().join("dump.rdb")).unwrap()
}

#[test]
fn the_payload_goes_to_a_temp_file_in_dir_then_becomes_dbfilename() {
    let rdb = an_rdb();
    let (half_sent, go_on) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (h, g) = (half_sent.clone(), go_on.clone());
    let payload = rdb.clone();
    let (port, stop) = fake_master(move |_, mut c| {
        let half = payload.len() / 2;
        let _ = c.write_all(format!("${}\r\n", payload.len()).as_bytes());
        let _ = c.write_all(&payload[..half]);
        h.store(true, Ordering::SeqCst);
        while !g.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.write_all(&payload[half..]);
        // Keep the link open (the replica is online now).
        std::thread::sleep(Duration::from_secs(30));
    });
    let r = Server::start(&[]);
    let mut rc = r.conn();
    assert_eq!(rc.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
    wait_until("half the payload", 10, || half_sent.load(Ordering::SeqCst));
    // Mid-transfer: the temp file holds what arrived, INFO shows the progress, the replica
    // serves other clients.
    let dir = r.dir.path().to_path_buf();
    wait_until("the temp file to hold half the payload", 10, || {
        temp_files(&dir)
            .first()
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() == (rdb.len() / 2) as u64)
    });
    let name = temp_files(&dir)[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let pid = r.child.id();
    assert!(name.ends_with(&format!(".{pid}.rdb")), "{name}");
    assert!(!dir.join("dump.rdb").exists());
    assert_eq!(rc.q("PING"), Reply::simple("PONG"));
    assert_eq!(info(&mut rc, "master_sync_in_progress"), "1");
    assert_eq!(
        info_int(&mut rc, "master_sync_total_bytes"),
        rdb.len() as i64
    );
    assert_eq!(
        info_int(&mut rc, "master_sync_read_bytes"),
        (rdb.len() / 2) as i64
    );
    go_on.store(true, Ordering::SeqCst);
    wait_until("the link to be up", 20, || {
        info(&mut rc, "master_link_status") == "up"
    });
    assert_eq!(std::fs::read(dir.join("dump.rdb")).unwrap(), rdb);
    assert_eq!(temp_files(&dir), Vec::<PathBuf>::new());
    assert_eq!(rc.q("GET marker"), Reply::bulk("from-the-fake-master"));
    assert_eq!(rc.q("DBSIZE"), Reply::Int(3000 + 1 + 1 + 10 + 1 + 1 + 1));
    assert_disk_sync_logged(&r.log_text(), false);
    stop.store(true, Ordering::SeqCst);
}

#[test]
fn an_endless_eof_stream_keeps_memory_flat_and_its_temp_file_goes_with_the_master() {
    const TOTAL: usize = 300 << 20;
    let streamed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (hang_up, st) = (Arc::new(AtomicBool::new(false)), streamed.clone());
    let hu = hang_up.clone();
    let (port, stop) = fake_master(move |n, mut c| {
        if n > 0 {
            return;
        }
        let mut header = b"$EOF:".to_vec();
        header.extend_from_slice(MARK);
        header.extend_from_slice(b"\r\n");
        let _ = c.write_all(&header);
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        while !hu.load(Ordering::SeqCst) {
            if st.load(Ordering::SeqCst) >= TOTAL {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            if c.write_all(&chunk).is_err() {
                return;
            }
            st.fetch_add(chunk.len(), Ordering::SeqCst);
        }
        // Dropping the connection: the master went away mid-transfer.
    });
    let r = Server::start(&["--repl-timeout", "60"]);
    let mut rc = r.conn();
    let pid = r.child.id();
    let base = rss_kb(pid);
    assert_eq!(rc.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
    let mut peak = base;
    let mut last_read = -1;
    let mut reads_seen = 0;
    let mut totals = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while streamed.load(Ordering::SeqCst) < TOTAL {
        assert!(
            Instant::now() < deadline,
            "the replica does not take the stream"
        );
        peak = peak.max(rss_kb(pid));
        assert_eq!(rc.q("PING"), Reply::simple("PONG"));
        let read = info_int(&mut rc, "master_sync_read_bytes");
        if read > last_read && last_read >= 0 {
            reads_seen += 1;
        }
        if read >= 0 {
            assert_eq!(info(&mut rc, "master_sync_in_progress"), "1");
            totals.insert(info_int(&mut rc, "master_sync_total_bytes"));
            last_read = read;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until("the replica to take all", 60, || {
        info_int(&mut rc, "master_sync_read_bytes") as usize >= TOTAL - (1 << 20)
    });
    peak = peak.max(rss_kb(pid));
    eprintln!("replica RSS: {base} kB before, {peak} kB at most while receiving {TOTAL} bytes");
    // Streaming 300 MB costs the replica a few MB (buffers), not the stream.
    assert!(
        peak < base + 32 * 1024,
        "replica RSS grew from {base} kB to {peak} kB while receiving {TOTAL} bytes"
    );
    let dir = r.dir.path().to_path_buf();
    let tmp = temp_files(&dir);
    assert_eq!(tmp.len(), 1, "{tmp:?}");
    assert!(std::fs::metadata(&tmp[0]).unwrap().len() as usize >= TOTAL - (1 << 20));
    assert!(reads_seen >= 2, "master_sync_read_bytes did not grow");
    // The master goes away (and does not come back).
    stop.store(true, Ordering::SeqCst);
    // As Redis, an EOF-marked transfer shows a total of 0.
    assert_eq!(totals.into_iter().collect::<Vec<_>>(), vec![0]);
    hang_up.store(true, Ordering::SeqCst);
    wait_until("the temp file to be removed", 20, || {
        temp_files(&dir).is_empty()
    });
    assert_eq!(rc.q("PING"), Reply::simple("PONG"));
    assert!(
        r.log_text()
            .contains("I/O error trying to sync with MASTER: connection lost"),
        "{}",
        r.log_text()
    );
    assert!(!dir.join("dump.rdb").exists());
}

#[test]
fn bad_bulk_lengths_are_refused_and_the_link_retries() {
    let (port, stop) = fake_master(|n, mut c| {
        let bad: &[u8] = match n {
            0 => b"$-5\r\n",
            1 => b"$abc\r\n",
            _ => b"$EOF:tooshort\r\n",
        };
        let _ = c.write_all(bad);
        let _ = c.write_all(&[0u8; 1000]);
        std::thread::sleep(Duration::from_millis(500));
    });
    let r = Server::start(&[]);
    let mut rc = r.conn();
    rc.q("SET kept 1");
    assert_eq!(rc.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
    wait_until("three refusals", 30, || {
        r.log_text()
            .contains("the EOF mark is not 40 bytes long (we received '$EOF:tooshort')")
    });
    let log = r.log_text();
    for line in [
        "Bad protocol from MASTER, the bulk length is not a length (we received '$-5')",
        "Bad protocol from MASTER, the bulk length is not a length (we received '$abc')",
    ] {
        assert!(log.contains(line), "missing {line:?}:\n{log}");
    }
    assert_eq!(rc.q("PING"), Reply::simple("PONG"));
    // Nothing was loaded or flushed, and no temp file is left.
    assert_eq!(rc.q("GET kept"), Reply::bulk("1"));
    assert_eq!(temp_files(r.dir.path()), Vec::<PathBuf>::new());
    stop.store(true, Ordering::SeqCst);
}

#[test]
fn a_transfer_cut_or_stalled_midway_keeps_the_old_data_and_no_temp_file() {
    let rdb = an_rdb();
    // First connection: half the payload, then the master closes. Second: half, then
    // silence beyond repl-timeout.
    let payload = rdb.clone();
    let (port, stop) = fake_master(move |n, mut c| {
        let _ = c.write_all(format!("${}\r\n", payload.len()).as_bytes());
        let _ = c.write_all(&payload[..payload.len() / 2]);
        if n > 0 {
            std::thread::sleep(Duration::from_secs(4));
        }
    });
    let r = Server::start(&["--repl-timeout", "1"]);
    let mut rc = r.conn();
    rc.q("SET old data");
    assert_eq!(rc.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
    wait_until("a cut and a stall", 30, || {
        let log = r.log_text();
        log.contains("I/O error trying to sync with MASTER: connection lost")
            && log.contains("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")
    });
    stop.store(true, Ordering::SeqCst);
    wait_until("no temp file", 10, || temp_files(r.dir.path()).is_empty());
    assert_eq!(rc.q("GET old"), Reply::bulk("data"));
    assert_eq!(rc.q("DBSIZE"), Reply::Int(1));
    assert!(!r.dir.path().join("dump.rdb").exists());
    assert!(!r.log_text().contains("Flushing old data"));
}

#[test]
fn on_empty_db_parses_from_the_socket_and_swapdb_says_it_uses_disk() {
    let m = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.conn();
    populate(&mut mc);
    // Empty replica, on-empty-db: parsed from the socket, no file.
    let r = Server::start(&["--repl-diskless-load", "on-empty-db"]);
    let mut rc = r.conn();
    assert_eq!(
        rc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    wait_synced(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    let log = r.log_text();
    assert!(
        log.contains(
            "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser"
        ),
        "{log}"
    );
    assert!(log.contains("MASTER <-> REPLICA sync: Finished with success"));
    assert!(!r.dir.path().join("dump.rdb").exists());
    assert_eq!(temp_files(r.dir.path()), Vec::<PathBuf>::new());
    // The same replica with data: on-empty-db goes through disk, and says why.
    let mut rc2 = Server::start(&["--repl-diskless-load", "on-empty-db"]);
    let mut c2 = rc2.conn();
    c2.q("SET mine 1");
    assert_eq!(
        c2.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    wait_synced(&mut mc, &mut c2);
    let log = rc2.log_text();
    assert!(
        log.contains("repl-diskless-load is on-empty-db but the dataset has 1 keys"),
        "{log}"
    );
    assert!(
        log.contains("receiving streamed RDB from master with EOF to disk"),
        "{log}"
    );
    assert!(rc2.dir.path().join("dump.rdb").exists());
    rc2.child.kill().ok();
    // swapdb: through disk, said so.
    let s = Server::start(&["--repl-diskless-load", "swapdb"]);
    let mut sc = s.conn();
    assert_eq!(
        sc.q(&format!("REPLICAOF 127.0.0.1 {}", m.port)),
        Reply::ok()
    );
    wait_synced(&mut mc, &mut sc);
    assert_eq!(digest(&mut mc), digest(&mut sc));
    let log = s.log_text();
    assert!(
        log.contains("repl-diskless-load is swapdb, which picket does as disabled"),
        "{log}"
    );
    assert_disk_sync_logged(&log, true);
    assert_eq!(
        sc.q("CONFIG GET repl-diskless-load").items()[1],
        Reply::bulk("swapdb")
    );
}

#[test]
fn on_empty_db_refuses_a_broken_stream_and_leaves_nothing_loaded() {
    // A valid RDB followed by a wrong mark, then garbage that is no RDB at all.
    let rdb = an_rdb();
    let (port, stop) = fake_master(move |n, mut c| {
        let mut header = b"$EOF:".to_vec();
        header.extend_from_slice(MARK);
        header.extend_from_slice(b"\r\n");
        let _ = c.write_all(&header);
        if n == 0 {
            let _ = c.write_all(&rdb);
            let _ = c.write_all(&[b'x'; 40]);
        } else {
            let _ = c.write_all(&[0xAB; 100_000]);
        }
        std::thread::sleep(Duration::from_millis(500));
    });
    let r = Server::start(&["--repl-diskless-load", "on-empty-db"]);
    let mut rc = r.conn();
    assert_eq!(rc.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
    wait_until("both failures", 30, || {
        let log = r.log_text();
        log.contains("Replication stream EOF marker is broken")
            && log.contains(
                "Failed trying to load the MASTER synchronization DB from socket: not an RDB file",
            )
    });
    stop.store(true, Ordering::SeqCst);
    assert_eq!(rc.q("PING"), Reply::simple("PONG"));
    wait_until("an empty keyspace", 10, || rc.q("DBSIZE") == Reply::Int(0));
}

#[test]
fn a_corrupt_rdb_from_the_master_is_not_kept_in_dbfilename() {
    let mut rdb = an_rdb();
    let mid = rdb.len() / 2;
    rdb[mid] ^= 0x20;
    let (port, stop) = fake_master(move |_, mut c| {
        let _ = c.write_all(format!("${}\r\n", rdb.len()).as_bytes());
        let _ = c.write_all(&rdb);
        std::thread::sleep(Duration::from_millis(500));
    });
    let r = Server::start(&[]);
    let mut rc = r.conn();
    rc.q("SET old data");
    assert_eq!(rc.q(&format!("REPLICAOF 127.0.0.1 {port}")), Reply::ok());
    wait_until("the load to fail", 30, || {
        r.log_text()
            .contains("Failed trying to load the MASTER synchronization DB from disk: ")
    });
    stop.store(true, Ordering::SeqCst);
    let log = r.log_text();
    assert!(
        log.contains("Removing the RDB file obtained from the master: it can not be loaded"),
        "{log}"
    );
    // Redis exits on a corrupt file; picket empties the keyspace (the old data was
    // flushed before loading) and leaves no file a restart would stop on.
    wait_until("an empty keyspace", 10, || rc.q("DBSIZE") == Reply::Int(0));
    assert!(!r.dir.path().join("dump.rdb").exists());
    assert_eq!(temp_files(r.dir.path()), Vec::<PathBuf>::new());
    assert_eq!(rc.q("PING"), Reply::simple("PONG"));
}
