//! MULTI/EXEC/DISCARD/WATCH/UNWATCH against Redis 7.0: EXECABORT after refused commands,
//! per-command errors inside EXEC, WATCH invalidation by other clients, by the same client,
//! by expiry and by flushes, and the errors of the transaction commands themselves.

mod common;
mod util;

use std::time::Duration;

use common::{Conn, Pair, Reply};
use util::{same_raw, same_scenario};

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn same_lines(pair: &Pair, lines: &[&str]) {
    let cmds: Vec<Vec<&str>> = lines.iter().map(|l| util::words(l)).collect();
    let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
    pair.same(&refs);
}

#[test]
fn transaction_command_errors() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "EXEC",
            "DISCARD",
            "MULTI x",
            "MULTI",
            "MULTI",
            "PING",
            "WATCH a",
            "EXEC",
            "EXEC",
            "WATCH",
            "UNWATCH",
            "UNWATCH a",
            "DISCARD x",
            "MULTI",
            "PING",
            "DISCARD",
            "DISCARD",
            "MULTI",
            "EXEC",
        ],
    );
}

#[test]
fn execabort_after_refused_commands() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "MULTI",
            "NOSUCHCOMMAND a",
            "PING",
            "EXEC",
            "MULTI",
            "ECHO",
            "PING",
            "EXEC",
            "MULTI",
            "CONFIG NOSUCH",
            "EXEC",
            // EXEC refused itself (arity) discards the transaction.
            "MULTI",
            "PING",
            "EXEC x",
            "EXEC",
            "EXEC x",
            // Commands not allowed inside MULTI.
            "MULTI",
            "WATCH k",
            "EXEC",
        ],
    );
    // An EXEC refused in the RESP2 subscribed context.
    same_raw(&pair, b"SUBSCRIBE c\r\nEXEC\r\nDISCARD\r\nMULTI\r\n");
}

#[test]
fn errors_inside_exec_are_per_command() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    same_lines(
        &pair,
        &[
            "MULTI",
            "SELECT 100",
            "SELECT 1",
            "PING",
            "CLIENT SETNAME x y",
            "CONFIG SET nosuch 1",
            "DEBUG POPULATE -1",
            "ECHO after",
            "EXEC",
            "DBSIZE",
            "CLIENT GETNAME",
            // The selected database stays selected after EXEC.
            "MULTI",
            "SELECT 2",
            "DEBUG POPULATE 3",
            "DBSIZE",
            "EXEC",
            "DBSIZE",
            // Data commands: runtime errors do not roll back the others.
            "MULTI",
            "SET x 1",
            "INCR x",
            "SET s abc",
            "INCR s",
            "GET x",
            "EXEC",
            "GET x",
            // Queued commands see the replies of those before them.
            "MULTI",
            "SET y 10",
            "INCRBY y 5",
            "GETDEL y",
            "EXISTS y",
            "EXEC",
        ],
    );
}

#[test]
fn exec_refuses_monitor_and_nesting() {
    let Some(pair) = Pair::start(&[]) else { return };
    same_lines(
        &pair,
        &[
            "MULTI",
            "MONITOR",
            "PING",
            "EXEC",
            "PING",
            "MULTI",
            "SUBSCRIBE a",
            "EXEC",
        ],
    );
}

#[test]
fn watch_invalidation() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        let mut out = Vec::new();
        let txn = |a: &mut Conn| -> Reply {
            a.q("MULTI");
            a.q("PING");
            a.q("EXEC")
        };
        // Another client writes the key.
        a.q("WATCH k1");
        b.q("SET k1 x");
        out.push(("other client", txn(&mut a)));
        // The same client writes the key.
        a.q("WATCH k2");
        a.q("SET k2 x");
        out.push(("same client", txn(&mut a)));
        // A write to another key, or another database, does not.
        a.q("WATCH k3");
        b.q("SET other x");
        b.q("SELECT 5");
        b.q("SET k3 x");
        b.q("SELECT 0");
        out.push(("other key/db", txn(&mut a)));
        // UNWATCH forgets.
        a.q("WATCH k4");
        a.q("UNWATCH");
        b.q("SET k4 x");
        out.push(("unwatch", txn(&mut a)));
        // DISCARD forgets too.
        a.q("WATCH k5");
        a.q("MULTI");
        a.q("DISCARD");
        b.q("SET k5 x");
        out.push(("discard", txn(&mut a)));
        // EXEC forgets: the next transaction is not affected.
        a.q("WATCH k6");
        out.push(("exec", txn(&mut a)));
        b.q("SET k6 x");
        out.push(("after exec", txn(&mut a)));
        // Deleting a missing key is no change; deleting an existing one is.
        a.q("WATCH k7 k1");
        b.q("DEL k7");
        out.push(("del missing", txn(&mut a)));
        a.q("WATCH k1");
        b.q("DEL k1");
        out.push(("del existing", txn(&mut a)));
        // A write inside the watching client's own MULTI does not abort it.
        a.q("WATCH k8");
        a.q("MULTI");
        a.q("SET k8 1");
        out.push(("own multi", a.q("EXEC")));
        // FLUSHDB and FLUSHALL touch watched keys that exist; SWAPDB those on either side.
        a.q("WATCH k8");
        b.q("FLUSHDB");
        out.push(("flushdb", txn(&mut a)));
        a.q("WATCH nothing");
        b.q("FLUSHALL");
        out.push(("flushall of a missing key", txn(&mut a)));
        b.q("SELECT 1");
        b.q("SET sw 1");
        b.q("SELECT 0");
        a.q("WATCH sw");
        b.q("SWAPDB 0 1");
        out.push(("swapdb", txn(&mut a)));
        // DEBUG POPULATE touches the watched keys it creates.
        b.q("FLUSHALL");
        a.q("WATCH key:0");
        b.q("DEBUG POPULATE 1");
        out.push(("populate", txn(&mut a)));
        // A client watched by several: all are invalidated.
        let mut c = Conn::connect(port);
        a.q("WATCH shared");
        c.q("WATCH shared");
        b.q("SET shared 1");
        out.push(("shared a", txn(&mut a)));
        out.push(("shared c", txn(&mut c)));
        // PUBLISH touches nothing.
        a.q("WATCH ch");
        b.q("PUBLISH ch x");
        out.push(("publish", txn(&mut a)));
        out
    });
}

#[test]
fn watch_and_expiry() {
    let Some(pair) = Pair::start(DEBUG) else {
        return;
    };
    same_scenario(&pair, |port| {
        let mut a = Conn::connect(port);
        let mut b = Conn::connect(port);
        let mut out = Vec::new();
        let txn = |a: &mut Conn| -> Reply {
            a.q("MULTI");
            a.q("PING");
            a.q("EXEC")
        };
        // With active expiry off, only lazy expiry and EXEC's own check can notice.
        a.q("DEBUG SET-ACTIVE-EXPIRE 0");
        let sleep = || std::thread::sleep(Duration::from_millis(150));
        // A watched key that expires before EXEC fails the transaction.
        a.q("SET e1 v PX 50");
        a.q("WATCH e1");
        sleep();
        out.push(("expired before exec", txn(&mut a)));
        // Also when another client's read deleted it meanwhile.
        a.q("SET e2 v PX 50");
        a.q("WATCH e2");
        sleep();
        b.q("GET e2");
        out.push(("expired and deleted", txn(&mut a)));
        // A key already expired when watched: its expiry is no change...
        a.q("SET e3 v PX 10");
        sleep();
        a.q("WATCH e3");
        out.push(("expired at watch", txn(&mut a)));
        // ... nor its lazy deletion, nor a flush...
        a.q("SET e4 v PX 10");
        sleep();
        a.q("WATCH e4");
        b.q("GET e4");
        out.push(("expired at watch, then deleted", txn(&mut a)));
        a.q("SET e5 v PX 10");
        sleep();
        a.q("WATCH e5");
        b.q("FLUSHDB");
        out.push(("expired at watch, then flushed", txn(&mut a)));
        // ... but writing it again is.
        a.q("SET e6 v PX 10");
        sleep();
        a.q("WATCH e6");
        b.q("SET e6 new");
        out.push(("expired at watch, then set", txn(&mut a)));
        // Active expiry deleting a watched key is a change.
        b.q("FLUSHDB");
        a.q("DEBUG SET-ACTIVE-EXPIRE 1");
        a.q("SET e7 v PX 50");
        a.q("WATCH e7");
        // DBSIZE counts expired keys until they are deleted.
        let gone = util::wait_until(Duration::from_secs(5), || b.q("DBSIZE") == Reply::Int(0));
        assert!(gone);
        out.push(("active expiry", txn(&mut a)));
        out
    });
}
