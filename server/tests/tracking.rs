//! Client-side caching (CLIENT TRACKING) against Redis 7.0: the same scenario, several
//! connections at once, is played on both servers and every byte each connection receives
//! after each step (replies and invalidation pushes, in their order) must be the same,
//! client ids aside. Covers default mode, OPTIN/OPTOUT, BCAST with prefixes, NOLOOP,
//! redirection to a RESP2 subscriber and broken redirections, flushes, expiry, scripts and
//! transactions, `tracking-table-max-keys`, every error, and the INFO fields; plus bounds
//! on huge inputs (picket alone: Redis's checks are quadratic there).

mod common;
mod util;

use std::time::Duration;

use common::{Conn, Pair, Server};
use util::drain;

/// One step of a scenario.
#[derive(Clone, Copy)]
enum Step {
    /// Send a command on a connection. Words split on spaces, or on `|` when the line has
    /// one; `$N` is the id of connection N (`$X`: an id no client has).
    Cmd(usize, &'static str),
    /// Wait (the cron's work: active expiry, the table limit).
    Sleep(u64),
    /// Close a connection.
    Close(usize),
    /// Record `flags=` and `redir=` of the connection's CLIENT INFO.
    Flags(usize),
    /// Record INFO's `tracking_*` fields, asked on this connection.
    Info(usize),
}
use Step::*;

/// Play a scenario on the server at `port`; conns gives each connection's protocol (2 or
/// 3). Returns what each step made each connection receive, ids masked.
fn play(port: u16, extra_setup: &[&str], conns: &[u8], steps: &[Step]) -> Vec<String> {
    // Client ids well above the small integers replies carry, so that masking them is safe.
    for _ in 0..120 {
        drop(Conn::connect(port));
    }
    let mut setup = Conn::connect(port);
    for line in extra_setup {
        let r = setup.q(line);
        assert!(!r.is_error(), "{line}: {r:?}");
    }
    let mut cs: Vec<Option<Conn>> = Vec::new();
    let mut ids: Vec<i64> = Vec::new();
    for &proto in conns {
        let mut c = Conn::connect(port);
        ids.push(c.q("CLIENT ID").int());
        if proto == 3 {
            c.q("HELLO 3");
        }
        cs.push(Some(c));
    }
    let mask = |text: String| -> String {
        let mut t = text;
        for (i, id) in ids.iter().enumerate() {
            t = t
                .replace(&format!(":{id}\r\n"), &format!(":<id{i}>\r\n"))
                .replace(&format!("redir={id}"), &format!("redir=<id{i}>"));
        }
        t
    };
    let mut seen = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let mut actor = None;
        match *step {
            Cmd(i, line) => {
                let sep = if line.contains('|') { '|' } else { ' ' };
                let args: Vec<String> = line
                    .split(sep)
                    .filter(|s| !s.is_empty())
                    .map(|w| match w.strip_prefix('$') {
                        Some("X") => "987654321".to_string(),
                        Some(k) if k.parse::<usize>().is_ok() => {
                            ids[k.parse::<usize>().unwrap_or(0)].to_string()
                        }
                        _ => w.to_string(),
                    })
                    .collect();
                cs[i].as_mut().expect("open connection").send(&args);
                actor = Some(i);
            }
            Sleep(ms) => std::thread::sleep(Duration::from_millis(ms)),
            Close(i) => {
                cs[i] = None;
                // Let the server notice.
                std::thread::sleep(Duration::from_millis(100));
            }
            Flags(i) => {
                let c = cs[i].as_mut().expect("open connection");
                let line = c.q("CLIENT INFO").text();
                let f: Vec<String> = util::client_fields(&line)
                    .into_iter()
                    .filter(|(k, _)| k == "flags" || k == "redir")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                seen.push(mask(format!("{n} flags {i}: {}", f.join(" "))));
                continue;
            }
            Info(i) => {
                let c = cs[i].as_mut().expect("open connection");
                let text = c.q("INFO everything").text();
                let f: Vec<String> = util::info_fields(&text)
                    .into_iter()
                    .filter(|(k, _)| k.starts_with("tracking_"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                seen.push(format!("{n} info: {}", f.join(" ")));
                continue;
            }
        }
        for (i, c) in cs.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            let quiet = if actor == Some(i) || actor.is_none() {
                Duration::from_millis(100)
            } else {
                Duration::from_millis(30)
            };
            let raw = drain(&mut c.stream, quiet);
            if !raw.bytes.is_empty() || raw.closed {
                seen.push(format!(
                    "{n} conn {i}{}: {}",
                    if raw.closed { " (closed)" } else { "" },
                    mask(raw.text()).escape_debug()
                ));
            }
        }
    }
    seen
}

fn start() -> Option<Pair> {
    Pair::start(&["--enable-debug-command", "yes"])
}

/// What each connection received over the whole scenario, in order, and the recorded
/// fields: for scenarios where the cron's timing decides in which step a message comes.
fn joined(seen: Vec<String>, conns: usize) -> Vec<String> {
    let mut streams = vec![String::new(); conns];
    let mut rest = Vec::new();
    for s in seen {
        let (head, text) = s.split_once(": ").unwrap_or((&s, ""));
        match head.split_once(" conn ") {
            Some((_, c)) => {
                let i: usize = c
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                streams[i].push_str(text);
            }
            None => rest.push(text.to_string()),
        }
    }
    streams.into_iter().chain(rest).collect()
}

/// [`same`], comparing what each connection received over the whole scenario.
fn same_joined(pair: &Pair, setup: &[&str], conns: &[u8], steps: &[Step]) -> Vec<String> {
    let r = joined(play(pair.redis.port, setup, conns, steps), conns.len());
    let p = joined(play(pair.picket.port, setup, conns, steps), conns.len());
    assert_eq!(p, r, "picket (left) and redis (right) differ");
    p
}

/// The scenario must give the same bytes on both servers: each connection the same
/// stream (a message that comes a little later on a busy machine is recorded in a later
/// step, so steps are compared only when the streams differ, to show where).
fn same(pair: &Pair, setup: &[&str], conns: &[u8], steps: &[Step]) -> Vec<String> {
    let r = play(pair.redis.port, setup, conns, steps);
    let p = play(pair.picket.port, setup, conns, steps);
    if joined(p.clone(), conns.len()) != joined(r.clone(), conns.len()) {
        let mut diff = String::new();
        for k in 0..p.len().max(r.len()) {
            let (a, b) = (p.get(k), r.get(k));
            if a != b {
                diff.push_str(&format!("picket: {a:?}\nredis:  {b:?}\n"));
            }
        }
        panic!("picket and redis differ:\n{diff}");
    }
    p
}

#[test]
fn errors_and_state_replies_are_redis_s() {
    let Some(pair) = start() else { return };
    let seen = same(
        &pair,
        &[],
        &[2, 3],
        &[
            Cmd(0, "CLIENT TRACKING"),
            Cmd(0, "CLIENT TRACKING maybe"),
            Cmd(0, "CLIENT TRACKING on foo"),
            Cmd(0, "CLIENT TRACKING on REDIRECT"),
            Cmd(0, "CLIENT TRACKING on PREFIX"),
            Cmd(0, "CLIENT TRACKING on REDIRECT abc"),
            Cmd(0, "CLIENT TRACKING on REDIRECT $X"),
            Cmd(0, "CLIENT TRACKING on REDIRECT 0"),
            Cmd(0, "CLIENT TRACKING on REDIRECT -1"),
            Cmd(0, "CLIENT TRACKING off REDIRECT $X"),
            Cmd(0, "CLIENT TRACKING maybe REDIRECT $X"),
            Cmd(0, "CLIENT TRACKING on REDIRECT $1 REDIRECT $1"),
            Cmd(0, "CLIENT TRACKING on PREFIX a"),
            Cmd(0, "CLIENT TRACKING on BCAST OPTIN"),
            Cmd(0, "CLIENT TRACKING on BCAST OPTOUT"),
            Cmd(0, "CLIENT TRACKING on OPTIN OPTOUT"),
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX a PREFIX ab"),
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX ab PREFIX a"),
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX a PREFIX a"),
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX  PREFIX a"),
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "CLIENT CACHING no"),
            Cmd(0, "CLIENT CACHING maybe"),
            Cmd(0, "CLIENT CACHING"),
            Cmd(0, "CLIENT CACHING yes no"),
            Cmd(0, "CLIENT GETREDIR"),
            Cmd(0, "CLIENT GETREDIR x"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(0, "CLIENT TRACKINGINFO x"),
            Flags(0),
            Info(1),
            // Default mode, then what may not change without turning tracking off.
            Cmd(0, "CLIENT TRACKING on"),
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "CLIENT CACHING no"),
            Cmd(0, "CLIENT CACHING maybe"),
            Cmd(0, "CLIENT TRACKING on BCAST"),
            Cmd(0, "CLIENT TRACKING on OPTIN"),
            Cmd(0, "CLIENT TRACKING on OPTOUT"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(0, "CLIENT TRACKING on REDIRECT $1 NOLOOP"),
            Cmd(0, "CLIENT GETREDIR"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Flags(0),
            Cmd(0, "CLIENT TRACKING off"),
            Cmd(0, "CLIENT GETREDIR"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Flags(0),
            // BCAST: prefixes add up, and may not overlap the client's.
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX a PREFIX c"),
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX ab"),
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX b PREFIX x"),
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX c"),
            Cmd(1, "CLIENT TRACKING on"),
            Cmd(1, "CLIENT TRACKING on BCAST OPTIN"),
            Cmd(1, "CLIENT TRACKINGINFO"),
            Cmd(1, "CLIENT GETREDIR"),
            Flags(1),
            Info(0),
            // Redis replies twice (the error, then +OK) when the overlap is between two new
            // prefixes other than the first, and keeps them all.
            Cmd(1, "CLIENT TRACKING off"),
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX p PREFIX q PREFIX qr"),
            Cmd(1, "CLIENT TRACKINGINFO"),
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX qrs"),
            Cmd(1, "CLIENT TRACKING on BCAST PREFIX pp"),
            Info(0),
            Cmd(0, "CLIENT TRACKING on OPTIN"),
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(0, "CLIENT TRACKING on OPTOUT"),
            Cmd(0, "CLIENT TRACKING off"),
            Cmd(0, "CLIENT TRACKING on OPTOUT"),
            Cmd(0, "CLIENT CACHING no"),
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(0, "CLIENT HELP"),
        ],
    );
    assert!(seen
        .iter()
        .any(|s| s.contains("overlaps with another provided prefix")));
}

#[test]
fn default_mode_invalidates_what_each_client_read() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &["SET k1 a", "SET k2 b", "SET k3 c"],
        &[3, 2, 3],
        &[
            Cmd(0, "CLIENT TRACKING on"),
            Cmd(2, "CLIENT TRACKING on"),
            Cmd(0, "GET k1"),
            Cmd(0, "MGET k2 k3 missing"),
            Cmd(2, "STRLEN k2"),
            Cmd(0, "TYPE k9"),
            Info(1),
            Cmd(1, "SET k1 x"),
            Cmd(1, "DEL k2 k3 k9"),
            // Already invalidated: no second message.
            Cmd(1, "SET k1 y"),
            Info(1),
            // A client's own write: the message follows its reply.
            Cmd(0, "GET k1"),
            Cmd(0, "SET k1 z"),
            Cmd(0, "GET k1"),
            Cmd(0, "APPEND k1 more"),
            // Writes do not track; a read that fails still does.
            Cmd(0, "SET w 1"),
            Cmd(1, "SET w 2"),
            Cmd(1, "RPUSH list a"),
            Cmd(0, "GET list"),
            Cmd(1, "RPUSH list b"),
            // A RESP2 client without redirection gets nothing, and keys are names: any
            // database invalidates.
            Cmd(1, "CLIENT TRACKING on"),
            Cmd(1, "GET k1"),
            Cmd(0, "GET k1"),
            Cmd(2, "SELECT 1"),
            Cmd(2, "SET k1 other-db"),
            Cmd(2, "SELECT 0"),
            Cmd(0, "GETRANGE k1 0 1"),
            Cmd(0, "RENAME k1 k1b"),
            Cmd(0, "GET k1b"),
            Cmd(1, "MOVE k1b 3"),
            Cmd(0, "EXISTS k2"),
            Cmd(1, "SET k2 v EX 100"),
            Cmd(0, "TTL k2"),
            Cmd(1, "EXPIRE k2 200"),
            Cmd(0, "HGET h f"),
            Cmd(1, "HSET h f v"),
            Cmd(0, "ZSCORE z m"),
            Cmd(1, "ZADD z 1 m"),
            Cmd(0, "SISMEMBER s m"),
            Cmd(1, "SADD s m"),
            Cmd(0, "GET src"),
            Cmd(0, "GET dst"),
            Cmd(1, "SET src v"),
            Cmd(0, "GET src"),
            Cmd(1, "COPY src dst"),
            Info(1),
            Flags(0),
            Flags(1),
        ],
    );
}

#[test]
fn optin_optout_and_noloop() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[3, 2],
        &[
            Cmd(0, "CLIENT TRACKING on OPTIN"),
            Cmd(0, "GET a"),
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "GET b"),
            Cmd(0, "GET c"),
            Cmd(1, "MSET a 1 b 1 c 1"),
            // CLIENT subcommands keep CACHING for the next command.
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(0, "CLIENT ID"),
            Cmd(0, "GET d"),
            Cmd(0, "GET e"),
            // ... and a transaction keeps it to its end.
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "MULTI"),
            Cmd(0, "GET f"),
            Cmd(0, "GET g"),
            Cmd(0, "EXEC"),
            Cmd(0, "GET h"),
            Cmd(0, "MULTI"),
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "GET i"),
            Cmd(0, "EXEC"),
            Cmd(0, "GET j"),
            // An unknown command uses it up.
            Cmd(0, "CLIENT CACHING yes"),
            Cmd(0, "NOSUCHCOMMAND"),
            Cmd(0, "GET k"),
            Cmd(1, "MSET d 1 e 1 f 1 g 1 h 1 i 1 j 1 k 1"),
            Cmd(0, "CLIENT TRACKING off"),
            Cmd(0, "CLIENT TRACKING on OPTOUT"),
            Cmd(0, "GET a"),
            Cmd(0, "CLIENT CACHING no"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(0, "GET b"),
            Cmd(0, "GET c"),
            Cmd(1, "MSET a 2 b 2 c 2"),
            // NOLOOP: no message for the client's own changes.
            Cmd(0, "CLIENT TRACKING on OPTOUT NOLOOP"),
            Cmd(0, "GET n1"),
            Cmd(0, "GET n2"),
            Cmd(0, "SET n1 mine"),
            Cmd(1, "SET n1 theirs"),
            Cmd(1, "SET n2 theirs"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Flags(0),
        ],
    );
}

#[test]
fn bcast_prefixes_and_noloop() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[3, 2, 3, 3],
        &[
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX user: PREFIX obj:"),
            Cmd(2, "CLIENT TRACKING on BCAST"),
            Cmd(3, "CLIENT TRACKING on BCAST NOLOOP PREFIX user:"),
            Info(1),
            Cmd(1, "SET user:1 a"),
            Cmd(1, "MSET user:2 b obj:1 c other d"),
            Cmd(1, "DEL user:1 user:2 nothing"),
            Cmd(1, "SET other e"),
            // The client's own changes: after its reply; NOLOOP leaves them out.
            Cmd(3, "SET user:3 x"),
            Cmd(3, "MSET user:4 x user:5 y"),
            Cmd(0, "SET obj:2 z"),
            Cmd(3, "MULTI"),
            Cmd(3, "SET user:6 1"),
            Cmd(3, "SET user:7 2"),
            Cmd(3, "EXEC"),
            // Reads track nothing in BCAST mode.
            Cmd(0, "GET user:1"),
            Info(1),
            Cmd(1, "FLUSHDB"),
            Cmd(0, "CLIENT TRACKING off"),
            Info(1),
            Cmd(1, "SET user:8 a"),
            Flags(2),
            Flags(3),
        ],
    );
}

#[test]
fn edge_cases_overlapping_bcast_self_redirection_protocol_switches() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[3, 2, 3],
        &[
            // BCAST without a prefix adds the empty one beside the client's: two messages.
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX a"),
            Cmd(0, "CLIENT TRACKING on BCAST"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(1, "SET ax 1"),
            Cmd(1, "SET b 1"),
            Info(1),
            // Redirected to itself.
            Cmd(2, "CLIENT TRACKING on REDIRECT $2"),
            Cmd(2, "GET k"),
            Cmd(1, "SET k 1"),
            Cmd(2, "GET k"),
            Cmd(2, "SET k 2"),
            // OPTOUT with CACHING no given inside the transaction.
            Cmd(2, "CLIENT TRACKING on OPTOUT"),
            Cmd(2, "MULTI"),
            Cmd(2, "CLIENT CACHING no"),
            Cmd(2, "GET q"),
            Cmd(2, "EXEC"),
            Cmd(2, "GET r"),
            Cmd(1, "MSET q 1 r 1"),
            // Back to RESP2 (no messages without redirection), then RESP3, then subscribed.
            Cmd(0, "CLIENT TRACKING off"),
            Cmd(0, "CLIENT TRACKING on"),
            Cmd(0, "GET z"),
            Cmd(0, "HELLO 2"),
            Cmd(1, "SET z 1"),
            Cmd(0, "GET z"),
            Cmd(0, "HELLO 3"),
            Cmd(1, "SET z 2"),
            Cmd(0, "SUBSCRIBE ch"),
            Cmd(0, "GET z"),
            Cmd(1, "SET z 3"),
            Cmd(0, "CLIENT KILL ID $1"),
            Cmd(2, "GET m"),
            Cmd(2, "DEL m"),
            Cmd(2, "CLIENT TRACKING on BCAST"),
            Cmd(2, "CLIENT TRACKING off"),
            Cmd(2, "CLIENT TRACKING on BCAST PREFIX x PREFIX y"),
            Cmd(2, "CLIENT TRACKINGINFO"),
            Info(0),
        ],
    );
}

#[test]
fn redirection_to_a_resp2_subscriber_and_broken_redirection() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[2, 2, 2, 3, 2, 3],
        &[
            // Connection 1 listens on __redis__:invalidate for 0 (RESP2) and 3 (RESP3).
            Cmd(1, "SUBSCRIBE __redis__:invalidate"),
            Cmd(0, "CLIENT TRACKING on REDIRECT $1"),
            Cmd(3, "CLIENT TRACKING on REDIRECT $1"),
            Cmd(0, "GET a"),
            Cmd(3, "GET a"),
            Cmd(3, "GET b"),
            Cmd(2, "SET a 1"),
            Cmd(2, "SET b 1"),
            Cmd(0, "CLIENT GETREDIR"),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Flags(0),
            Flags(1),
            // A flush: a null, in the protocol of the client that tracks (one client at a
            // time: Redis's order among clients follows its rotating client list).
            Cmd(3, "CLIENT TRACKING off"),
            Cmd(2, "FLUSHALL"),
            Cmd(0, "CLIENT TRACKING off"),
            Cmd(3, "CLIENT TRACKING on REDIRECT $1"),
            Cmd(2, "FLUSHALL"),
            Cmd(0, "CLIENT TRACKING on REDIRECT $1"),
            // Redirected to a client that is not subscribed: nothing to anyone.
            Cmd(4, "CLIENT ID"),
            Cmd(0, "CLIENT TRACKING on REDIRECT $4"),
            Cmd(0, "GET c"),
            Cmd(2, "SET c 1"),
            // Redirected to a RESP3 client: a push.
            Cmd(0, "CLIENT TRACKING on REDIRECT $5"),
            Cmd(0, "GET d"),
            Cmd(2, "SET d 1"),
            // The target goes away: RESP3 clients are told, RESP2 ones only see the flag.
            Cmd(0, "CLIENT TRACKING on REDIRECT $1"),
            Cmd(0, "GET e"),
            Cmd(3, "GET e"),
            Close(1),
            Cmd(2, "SET e 1"),
            Flags(0),
            Flags(3),
            Cmd(0, "CLIENT TRACKINGINFO"),
            Cmd(3, "CLIENT TRACKINGINFO"),
            Cmd(3, "GET f"),
            Cmd(2, "FLUSHDB"),
            Cmd(2, "SET f 1"),
            // Turning it on again clears the flag.
            Cmd(3, "CLIENT TRACKING on"),
            Cmd(3, "CLIENT TRACKINGINFO"),
            Cmd(3, "CLIENT TRACKING on REDIRECT $1"),
            Info(2),
        ],
    );
}

#[test]
fn flushes_expiry_and_eviction_invalidate() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[3, 2, 3],
        &[
            Cmd(0, "CLIENT TRACKING on"),
            Cmd(2, "CLIENT TRACKING on BCAST PREFIX e"),
            Cmd(1, "SET k v"),
            Cmd(0, "GET k"),
            Cmd(1, "FLUSHDB"),
            Info(1),
            Cmd(0, "GET k"),
            Cmd(0, "FLUSHALL"),
            Cmd(1, "SELECT 5"),
            Cmd(1, "FLUSHDB"),
            Cmd(0, "MULTI"),
            Cmd(0, "GET k"),
            Cmd(0, "FLUSHDB"),
            Cmd(0, "GET k"),
            Cmd(0, "EXEC"),
            // DEBUG RELOAD empties the databases first.
            Cmd(1, "SET k v"),
            Cmd(0, "GET k"),
            Cmd(1, "DEBUG RELOAD"),
            Cmd(0, "GET k"),
            // Lazy expiry, by another client's lookup.
            Cmd(1, "DEBUG SET-ACTIVE-EXPIRE 0"),
            Cmd(1, "SELECT 0"),
            Cmd(1, "SET e1 v PX 50"),
            Cmd(0, "GET e1"),
            Sleep(120),
            Cmd(1, "GET e1"),
            // ... by the reader's own lookup: the message precedes its reply.
            Cmd(1, "SET e2 v PX 50"),
            Cmd(0, "GET e2"),
            Sleep(120),
            Cmd(0, "GET e2"),
            // Active expiry.
            Cmd(1, "DEBUG SET-ACTIVE-EXPIRE 1"),
            Cmd(1, "SET e3 v PX 500"),
            Cmd(0, "GET e3"),
            Sleep(1300),
            Info(1),
        ],
    );
}

#[test]
fn maxmemory_eviction_invalidates() {
    let Some(pair) = start() else { return };
    // Redis evicts within CONFIG SET maxmemory, picket before the next command.
    same_joined(
        &pair,
        &["CONFIG SET maxmemory-policy allkeys-random"],
        &[3, 2],
        &[
            Cmd(0, "CLIENT TRACKING on"),
            Cmd(1, "SET big x"),
            Cmd(0, "GET big"),
            // Far below what is used: the next command evicts every key first.
            Cmd(1, "CONFIG SET maxmemory 1"),
            Cmd(0, "PING"),
            Cmd(1, "CONFIG SET maxmemory 0"),
            Info(1),
        ],
    );
}

#[test]
fn scripts_and_transactions_track_and_invalidate_after_the_reply() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[3, 2],
        &[
            Cmd(0, "CLIENT TRACKING on"),
            Cmd(0, "MULTI"),
            Cmd(0, "GET t1"),
            Cmd(0, "SET t1 v"),
            Cmd(0, "GET t1"),
            Cmd(0, "GET t2"),
            Cmd(0, "EXEC"),
            Cmd(1, "SET t1 w"),
            Cmd(1, "SET t2 w"),
            // A script's reads track the keys it declared, for its caller.
            Cmd(0, "EVAL|return redis.call('get',KEYS[1])|2|s1|s2"),
            Cmd(1, "SET s1 x"),
            Cmd(1, "SET s2 x"),
            Cmd(0, "EVAL|return 1|1|s3"),
            Cmd(1, "SET s3 x"),
            Cmd(0, "EVAL|redis.call('get',KEYS[1]); return redis.call('set',KEYS[1],'y')|1|s4"),
            Cmd(0, "EVAL_RO|return redis.call('get','s5')|1|s6"),
            Cmd(1, "MSET s5 1 s6 1"),
            Cmd(0, "EVAL_RO|return 1|1|s7"),
            Cmd(1, "SET s7 1"),
            Cmd(0, "FUNCTION|LOAD|#!lua name=lib\nredis.register_function{function_name='rd', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}"),
            Cmd(0, "FCALL_RO|rd|1|f1"),
            Cmd(1, "SET f1 1"),
            Cmd(0, "FUNCTION|DELETE|lib"),
            // NOLOOP: the script's writes are not the client's own in BCAST mode.
            Cmd(0, "CLIENT TRACKING off"),
            Cmd(0, "CLIENT TRACKING on BCAST NOLOOP"),
            Cmd(0, "EVAL|return redis.call('set',KEYS[1],'1')|1|b1"),
            Cmd(0, "SET b2 1"),
            Cmd(1, "SET b3 1"),
        ],
    );
}

#[test]
fn tracking_table_max_keys_drops_keys_with_an_invalidation() {
    let Some(pair) = start() else { return };
    // Which keys go is random: mask the key names.
    let masked = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|s| {
                let mut t = s;
                for k in ["m1", "m2", "m3", "m4", "m5"] {
                    t = t.replace(k, "m?");
                }
                t
            })
            .collect()
    };
    let steps = [
        Cmd(1, "CONFIG SET tracking-table-max-keys 2"),
        Cmd(0, "CLIENT TRACKING on"),
        Cmd(0, "GET m1"),
        Cmd(0, "GET m2"),
        Cmd(0, "GET m3"),
        // The check before the next command brings the table back to its size first.
        Cmd(0, "PING"),
        Info(1),
        Cmd(0, "MGET m1 m2 m3 m4 m5"),
        Info(1),
        // Idle: the cron does it.
        Sleep(400),
        Info(1),
        Cmd(1, "CONFIG SET tracking-table-max-keys 1"),
        Sleep(400),
        Info(1),
        Cmd(1, "CONFIG SET tracking-table-max-keys 0"),
        Cmd(0, "MGET m1 m2 m3 m4 m5"),
        Sleep(300),
        Info(1),
    ];
    let r = masked(joined(play(pair.redis.port, &[], &[3, 2], &steps), 2));
    let p = masked(joined(play(pair.picket.port, &[], &[3, 2], &steps), 2));
    assert_eq!(p, r, "picket (left) and redis (right) differ");
    assert!(
        p.iter().any(|s| s.contains("tracking_total_keys=2")),
        "{p:?}"
    );
}

#[test]
fn disconnect_and_reset_release_the_client_s_tracking() {
    let Some(pair) = start() else { return };
    same(
        &pair,
        &[],
        &[3, 2, 3, 3],
        &[
            Cmd(0, "CLIENT TRACKING on BCAST PREFIX x PREFIX y"),
            Cmd(2, "CLIENT TRACKING on"),
            Cmd(2, "MGET a b c"),
            Cmd(3, "CLIENT TRACKING on BCAST PREFIX x"),
            Info(1),
            Close(0),
            Info(1),
            // The key table keeps a gone client's ids until the keys change (as Redis).
            Close(2),
            Info(1),
            Cmd(1, "SET a 1"),
            Info(1),
            Cmd(3, "RESET"),
            Info(1),
            Cmd(3, "CLIENT TRACKINGINFO"),
            Cmd(1, "SET x1 1"),
        ],
    );
}

#[test]
fn huge_numbers_of_prefixes_and_keys_stay_bounded() {
    let srv = Server::start(&["--tracking-table-max-keys", "1000"]);
    let mut c = Conn::connect(srv.port);
    c.q("HELLO 3");
    // 100,000 prefixes, one of which overlaps a later one: found at once.
    let mut args: Vec<String> = vec![
        "CLIENT".into(),
        "TRACKING".into(),
        "on".into(),
        "BCAST".into(),
    ];
    for i in 0..100_000 {
        args.push("PREFIX".into());
        args.push(format!("p{i:06}:"));
    }
    let mut bad = args.clone();
    bad.push("PREFIX".into());
    bad.push("p000000:x".into());
    let started = std::time::Instant::now();
    let r = c.cmd(&bad);
    assert_eq!(
        r,
        common::Reply::err("ERR Prefix 'p000000:' overlaps with another provided prefix 'p000000:x'. Prefixes for a single client must not overlap.")
    );
    assert_eq!(c.cmd(&args), common::Reply::ok());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let mut w = Conn::connect(srv.port);
    assert_eq!(
        util::info_field(&mut w, "stats", "tracking_total_prefixes"),
        "100000"
    );
    w.q("SET p054321:key v");
    let push = c.read();
    assert_eq!(
        push,
        common::Reply::Push(vec![
            common::Reply::bulk("invalidate"),
            common::Reply::bulks(&["p054321:key"])
        ])
    );
    assert_eq!(c.q("CLIENT TRACKING off"), common::Reply::ok());
    assert_eq!(
        util::info_field(&mut w, "stats", "tracking_total_prefixes"),
        "0"
    );

    // 50,000 keys read at once: the table goes back under its limit, each dropped key
    // invalidated, and stays there.
    c.q("CLIENT TRACKING on");
    let mut mget: Vec<String> = vec!["MGET".into()];
    mget.extend((0..50_000).map(|i| format!("key:{i}")));
    let r = c.cmd(&mget);
    assert_eq!(r.items().len(), 50_000);
    let mut pushes = 0;
    let ok = util::wait_until(Duration::from_secs(30), || {
        // Each command is a round of the limit (so is each cron tick).
        c.send(&["PING"]);
        loop {
            match c.read() {
                common::Reply::Push(_) => pushes += 1,
                common::Reply::Simple(s) if s == "PONG" => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        util::info_field(&mut w, "stats", "tracking_total_keys") == "1000"
    });
    assert!(ok, "the table did not shrink to its limit");
    // Pushes may still be in flight for the last round.
    c.set_timeout(Duration::from_millis(300));
    while let Some(common::Reply::Push(_)) = c.try_read() {
        pushes += 1;
    }
    assert_eq!(pushes, 49_000);
    assert_eq!(
        util::info_field(&mut w, "stats", "tracking_total_items"),
        "1000"
    );
}

/// What a replica's tracking client receives from the master's stream: the flush of its
/// first full sync, then the keys the master changes, on Redis and on picket alike.
#[test]
fn replica_clients_are_invalidated_by_the_master_stream() {
    let Some(redis_master) = common::Server::redis(&["--repl-diskless-sync-delay", "0"]) else {
        return;
    };
    let Some(redis_replica) = common::Server::redis(&[]) else {
        return;
    };
    let picket_master = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let picket_replica = Server::start(&[]);
    let r = replica_scenario(&redis_master, &redis_replica);
    let p = replica_scenario(&picket_master, &picket_replica);
    assert_eq!(p, r, "picket (left) and redis (right) differ");
    assert!(r.iter().any(|s| s.contains("invalidate")), "{r:?}");
}

fn replica_scenario(master: &Server, replica: &Server) -> Vec<String> {
    let mut m = Conn::connect(master.port);
    let mut admin = Conn::connect(replica.port);
    let mut c = Conn::connect(replica.port);
    c.q("HELLO 3");
    m.q("SET k v");
    let mut seen = Vec::new();
    let mut step = |c: &mut Conn, what: &str| {
        let raw = drain(&mut c.stream, Duration::from_millis(300));
        seen.push(format!("{what}: {}", raw.text().escape_debug()));
    };
    c.send(&["CLIENT", "TRACKING", "on"]);
    c.send(&["GET", "k"]);
    step(&mut c, "tracking on, GET k");
    assert_eq!(
        admin.q(&format!("REPLICAOF 127.0.0.1 {}", master.port)),
        common::Reply::ok()
    );
    assert!(
        util::wait_until(Duration::from_secs(30), || {
            admin.q("GET k") == common::Reply::bulk("v")
        }),
        "the replica did not sync"
    );
    step(&mut c, "full sync");
    c.send(&["GET", "k"]);
    step(&mut c, "GET k");
    m.q("SET k w");
    step(&mut c, "master SET k");
    c.send(&["MGET", "k", "j"]);
    step(&mut c, "MGET k j");
    m.q("FLUSHALL");
    step(&mut c, "master FLUSHALL");
    c.send(&["CLIENT", "TRACKING", "off"]);
    c.send(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b"]);
    step(&mut c, "BCAST");
    m.q("MSET b1 1 b2 2 c 3");
    step(&mut c, "master MSET");
    seen
}

/// CLIENT LIST's `tot-mem` counts Redis's estimate of a BCAST client's prefix tree (32
/// bytes a radix-tree node): the growth on turning BCAST on is Redis's, prefix set by
/// prefix set (overlapping sets that Redis lets in included).
#[test]
fn bcast_prefixes_count_in_tot_mem_as_redis() {
    let Some(pair) = start() else { return };
    let sets: &[&[&str]] = &[
        &[],
        &["a"],
        &["a", "c"],
        &["ab", "ac"],
        &["abc", "abd", "x"],
        &["user:", "obj:", "ob"],
        &["ccc", "b", "ca", "ab", "abca"],
        &["c", "bb", "ba", "a"],
        &["p0:", "p1:", "p2:", "p10:", "p11:", "q", "qq:"],
    ];
    let growth = |port: u16| -> Vec<(Vec<common::Reply>, i64)> {
        sets.iter()
            .map(|ps| {
                let mut c = Conn::connect(port);
                let tot = |r: &common::Reply| -> i64 {
                    util::client_fields(&r.text())
                        .into_iter()
                        .find(|(k, _)| k == "tot-mem")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(-1)
                };
                c.q("CLIENT INFO");
                let mut args = vec!["CLIENT", "TRACKING", "on", "BCAST"];
                for p in *ps {
                    args.push("PREFIX");
                    args.push(p);
                }
                // In one batch, so that nothing but the command changes the client between
                // the two measures (the cron resizes buffers).
                let mut batch = picket_common::resp::encode_command(&["CLIENT", "INFO"]).to_vec();
                batch.extend_from_slice(&picket_common::resp::encode_command(&args));
                batch.extend_from_slice(&picket_common::resp::encode_command(&["CLIENT", "INFO"]));
                c.send_raw(&batch);
                let before = tot(&c.read());
                // One reply, or two (Redis's error then +OK for some overlaps).
                let mut replies = vec![c.read()];
                let mut next = c.read();
                if !matches!(next, common::Reply::Verbatim(..) | common::Reply::Bulk(_)) {
                    replies.push(next);
                    next = c.read();
                }
                (replies, tot(&next) - before)
            })
            .collect()
    };
    let r = growth(pair.redis.port);
    let p = growth(pair.picket.port);
    assert_eq!(p, r, "picket (left) and redis (right) differ");
    assert!(r.iter().any(|(_, g)| *g > 32), "{r:?}");
}
