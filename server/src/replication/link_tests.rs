//! The replica link driven with the exact bytes Redis 7.0's replica writes.

use super::*;

const S: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(60);

fn params() -> HandshakeParams {
    HandshakeParams {
        masteruser: String::new(),
        masterauth: String::new(),
        listening_port: 6380,
        announce_ip: String::new(),
        psync_from: None,
        failover: false,
        failover_epoch: 0,
        strict: false,
        keep_history: false,
    }
}

fn sent(l: &mut Link) -> String {
    l.poll_transmit()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A link connected at `t0`, its PING answered.
fn connected(p: HandshakeParams, t0: Instant) -> Link {
    let mut l = Link::new(p, TIMEOUT, t0);
    assert_eq!(l.state(), ReplState::Connect);
    assert_eq!(l.poll_timeout(), None);
    l.connect(t0);
    assert_eq!(l.state(), ReplState::Connecting);
    assert_eq!(l.poll_timeout(), Some(t0 + TIMEOUT));
    l.handle(Event::Connected, t0);
    assert_eq!(sent(&mut l), "*1\r\n$4\r\nPING\r\n");
    assert_eq!(l.state(), ReplState::ReceivePingReply);
    l
}

fn down(l: &mut Link) -> Down {
    match l.poll_output() {
        Some(Output::Down(d)) => {
            assert_eq!(l.state(), ReplState::Connect);
            d
        }
        other => panic!("expected Down, got {other:?}"),
    }
}

#[test]
fn full_handshake_in_redis_order() {
    let t0 = Instant::now();
    let mut l = connected(params(), t0);
    l.handle(Event::Line(b"+PONG"), t0 + S);
    assert_eq!(
        sent(&mut l),
        "*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n\
         *5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"
    );
    assert_eq!(l.state(), ReplState::ReceivePortReply);
    assert!(l.state().in_handshake());
    // Each reply moves the deadline.
    assert_eq!(l.poll_timeout(), Some(t0 + S + TIMEOUT));
    l.handle(Event::Line(b"+OK"), t0 + S);
    assert_eq!(l.state(), ReplState::ReceiveCapaReply);
    assert_eq!(sent(&mut l), "");
    l.handle(Event::Line(b"+OK"), t0 + S);
    assert_eq!(sent(&mut l), "*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n");
    assert_eq!(l.state(), ReplState::ReceivePsyncReply);
    // Keepalive newlines while the master prepares the snapshot.
    l.handle(Event::Line(b""), t0 + 2 * S);
    assert_eq!(l.poll_output(), None);
    let id = "a".repeat(40);
    l.handle(
        Event::Line(format!("+FULLRESYNC {id} 42").as_bytes()),
        t0 + 2 * S,
    );
    assert_eq!(
        l.poll_output(),
        Some(Output::Psync(PsyncReply::Full {
            replid: id,
            offset: 42
        }))
    );
    assert_eq!(l.state(), ReplState::Transfer);
    assert!(!l.state().in_handshake());
    // The RDB transfer has its own deadlines.
    assert_eq!(l.poll_timeout(), None);
    l.handle(Event::Data, t0 + 3 * S);
    l.handle(Event::Synced { offset: 42 }, t0 + 4 * S);
    assert_eq!(l.poll_output(), Some(Output::Up));
    assert_eq!(l.state(), ReplState::Connected);
    assert_eq!(
        sent(&mut l),
        "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n42\r\n"
    );
}

#[test]
fn auth_ip_and_continue() {
    let t0 = Instant::now();
    let mut p = params();
    p.masterauth = "secret".into();
    p.masteruser = "repl".into();
    p.announce_ip = "10.0.0.5".into();
    p.psync_from = Some(("b".repeat(40), 101));
    let mut l = connected(p, t0);
    l.handle(Event::Line(b"-NOAUTH Authentication required."), t0);
    assert_eq!(
        sent(&mut l),
        "*3\r\n$4\r\nAUTH\r\n$4\r\nrepl\r\n$6\r\nsecret\r\n\
         *3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n\
         *3\r\n$8\r\nREPLCONF\r\n$10\r\nip-address\r\n$8\r\n10.0.0.5\r\n\
         *5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"
    );
    assert_eq!(l.state(), ReplState::ReceiveAuthReply);
    l.handle(Event::Line(b"+OK"), t0);
    assert_eq!(l.state(), ReplState::ReceivePortReply);
    // Errors to REPLCONF are ignored (old masters).
    l.handle(
        Event::Line(b"-ERR Unrecognized REPLCONF option: listening-port"),
        t0,
    );
    assert_eq!(l.state(), ReplState::ReceiveIpReply);
    l.handle(
        Event::Line(b"-ERR Unrecognized REPLCONF option: ip-address"),
        t0,
    );
    assert_eq!(l.state(), ReplState::ReceiveCapaReply);
    l.handle(Event::Line(b"-ERR Unrecognized REPLCONF option: capa"), t0);
    assert_eq!(
        sent(&mut l),
        format!(
            "*3\r\n$5\r\nPSYNC\r\n$40\r\n{}\r\n$3\r\n101\r\n",
            "b".repeat(40)
        )
    );
    assert_eq!(l.poll_output(), None);
    let new_id = "c".repeat(40);
    l.handle(Event::Line(format!("+CONTINUE {new_id}").as_bytes()), t0);
    assert_eq!(
        l.poll_output(),
        Some(Output::Psync(PsyncReply::Continue {
            new_replid: Some(new_id)
        }))
    );
    assert_eq!(l.state(), ReplState::Connected);
    l.handle(Event::Synced { offset: 100 }, t0);
    assert_eq!(l.poll_output(), Some(Output::Up));
    assert_eq!(
        sent(&mut l),
        "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n100\r\n"
    );
}

#[test]
fn auth_and_ping_errors_fail_the_attempt() {
    let t0 = Instant::now();
    let mut p = params();
    p.masterauth = "x".into();
    let mut l = connected(p.clone(), t0);
    l.handle(Event::Line(b"+PONG"), t0);
    sent(&mut l);
    l.handle(
        Event::Line(b"-WRONGPASS invalid username-password pair or user is disabled."),
        t0,
    );
    assert_eq!(
        down(&mut l),
        Down {
            reason: "Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user is disabled.".into(),
            reconnect_now: false
        }
    );
    // The replies still in flight are ignored once the attempt failed.
    l.handle(Event::Line(b"+OK"), t0);
    assert_eq!(l.poll_output(), None);

    let mut l = connected(params(), t0);
    l.handle(Event::Line(b"-ERR weird"), t0);
    assert_eq!(
        down(&mut l).reason,
        "Error reply to PING from master: '-ERR weird'"
    );
    // -NOPERM and "operation not permitted" go on to AUTH, like -NOAUTH.
    for reply in [
        &b"-NOPERM this user has no permissions"[..],
        b"-ERR operation not permitted",
    ] {
        let mut l = connected(p.clone(), t0);
        l.handle(Event::Line(reply), t0);
        assert!(sent(&mut l).starts_with("*2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n"));
    }
}

#[test]
fn psync_replies_that_are_not_a_sync() {
    let t0 = Instant::now();
    let to_psync = |l: &mut Link| {
        l.handle(Event::Line(b"+PONG"), t0);
        l.handle(Event::Line(b"+OK"), t0);
        l.handle(Event::Line(b"+OK"), t0);
        sent(l);
    };
    let mut l = connected(params(), t0);
    to_psync(&mut l);
    l.handle(
        Event::Line(b"-LOADING Redis is loading the dataset in memory"),
        t0,
    );
    assert_eq!(
        down(&mut l).reason,
        "Master is currently unable to PSYNC but should be in the future: -LOADING Redis is loading the dataset in memory"
    );
    // An old master without PSYNC: the legacy SYNC, its payload follows without a line.
    let mut l = connected(params(), t0);
    to_psync(&mut l);
    l.handle(Event::Line(b"-ERR unknown command 'PSYNC'"), t0);
    assert_eq!(sent(&mut l), "*1\r\n$4\r\nSYNC\r\n");
    assert_eq!(l.poll_output(), Some(Output::Psync(PsyncReply::LegacySync)));
    assert_eq!(l.state(), ReplState::Transfer);
    // A FAILOVER hand-over takes nothing but a resynchronization.
    let mut p = params();
    p.failover = true;
    p.psync_from = Some(("d".repeat(40), 7));
    let mut l = connected(p, t0);
    to_psync(&mut l);
    l.handle(
        Event::Line(b"-ERR PSYNC FAILOVER replid must match my replid."),
        t0,
    );
    assert_eq!(
        down(&mut l).reason,
        "Failover target rejected psync request: -ERR PSYNC FAILOVER replid must match my replid."
    );
}

#[test]
fn psync_failover_carries_the_flag() {
    let t0 = Instant::now();
    let mut p = params();
    p.failover = true;
    p.psync_from = Some(("d".repeat(40), 7));
    let mut l = connected(p, t0);
    l.handle(Event::Line(b"+PONG"), t0);
    l.handle(Event::Line(b"+OK"), t0);
    l.handle(Event::Line(b"+OK"), t0);
    let psync = format!(
        "*4\r\n$5\r\nPSYNC\r\n$40\r\n{}\r\n$1\r\n7\r\n$8\r\nFAILOVER\r\n",
        "d".repeat(40)
    );
    assert!(sent(&mut l).ends_with(&psync));
}

#[test]
fn connect_and_handshake_timeouts() {
    let t0 = Instant::now();
    let mut l = Link::new(params(), TIMEOUT, t0);
    l.connect(t0);
    l.handle(Event::Timeout, t0 + TIMEOUT - S);
    assert_eq!(l.poll_output(), None);
    l.handle(Event::Timeout, t0 + TIMEOUT);
    assert_eq!(
        down(&mut l),
        Down {
            reason: "Timeout connecting to the MASTER...".into(),
            reconnect_now: false
        }
    );
    let mut l = connected(params(), t0);
    l.handle(Event::Line(b"+PONG"), t0 + 10 * S);
    assert_eq!(l.poll_timeout(), Some(t0 + 10 * S + TIMEOUT));
    l.handle(Event::Timeout, t0 + 10 * S + TIMEOUT);
    assert_eq!(
        down(&mut l).reason,
        "Error reading from MASTER: Timeout connecting to the MASTER..."
    );
    // A connection error.
    let mut l = connected(params(), t0);
    l.handle(Event::Error("connection closed by the master"), t0);
    assert_eq!(
        down(&mut l),
        Down {
            reason: "Error reading from MASTER: connection closed by the master".into(),
            reconnect_now: false
        }
    );
}

#[test]
fn connected_link_acks_every_second_and_times_out() {
    let t0 = Instant::now();
    let mut l = connected(params(), t0);
    for line in [&b"+PONG"[..], b"+OK", b"+OK"] {
        l.handle(Event::Line(line), t0);
    }
    l.handle(
        Event::Line(format!("+CONTINUE {}", "a".repeat(40)).as_bytes()),
        t0,
    );
    l.poll_output();
    l.handle(Event::Synced { offset: 5 }, t0);
    l.poll_output();
    sent(&mut l);
    assert_eq!(l.poll_timeout(), Some(t0 + S));
    // Applying the stream moves the offset; a GETACK in it is answered at once.
    l.handle(Event::Data, t0 + S / 2);
    l.handle(
        Event::Applied {
            offset: 40,
            getack: false,
        },
        t0 + S / 2,
    );
    assert_eq!(sent(&mut l), "");
    l.handle(
        Event::Applied {
            offset: 77,
            getack: true,
        },
        t0 + S / 2,
    );
    assert_eq!(
        sent(&mut l),
        "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n77\r\n"
    );
    l.handle(Event::Timeout, t0 + S);
    assert_eq!(
        sent(&mut l),
        "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n77\r\n"
    );
    assert_eq!(l.poll_timeout(), Some(t0 + 2 * S));
    // A late wake-up skips the missed ticks.
    l.handle(Event::Timeout, t0 + 3 * S + S / 2);
    assert_eq!(l.poll_timeout(), Some(t0 + 4 * S));
    sent(&mut l);
    // No data for more than repl-timeout: the link is down, and reconnects at once.
    l.handle(Event::Timeout, t0 + S / 2 + TIMEOUT + S);
    assert_eq!(
        down(&mut l),
        Down {
            reason: "MASTER timeout: no data nor PING received...".into(),
            reconnect_now: true
        }
    );
    assert_eq!(sent(&mut l), "");
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn a_broken_stream_reconnects_at_once() {
    let t0 = Instant::now();
    let mut l = connected(params(), t0);
    for line in [&b"+PONG"[..], b"+OK", b"+OK", b"+CONTINUE"] {
        l.handle(Event::Line(line), t0);
    }
    assert_eq!(
        l.poll_output(),
        Some(Output::Psync(PsyncReply::Continue { new_replid: None }))
    );
    l.handle(Event::Synced { offset: 0 }, t0);
    assert_eq!(l.poll_output(), Some(Output::Up));
    l.handle(Event::Error("connection closed"), t0);
    assert_eq!(
        down(&mut l),
        Down {
            reason: "connection closed".into(),
            reconnect_now: true
        }
    );
}

const CAPA: &str =
    "*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n";
const PORT: &str = "*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n";
const PSYNC_ANY: &str = "*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n";

/// A link at failover epoch `epoch` (strict or not) whose PING, port and capa REPLCONFs
/// were answered: returns what it sent after PONG.
fn to_epoch_reply(epoch: u64, strict: bool, t0: Instant) -> (Link, String) {
    let mut p = params();
    p.failover_epoch = epoch;
    p.strict = strict;
    let mut l = connected(p, t0);
    l.handle(Event::Line(b"+PONG"), t0);
    let out = sent(&mut l);
    l.handle(Event::Line(b"+OK"), t0);
    l.handle(Event::Line(b"+OK"), t0);
    (l, out)
}

#[test]
fn the_failover_epoch_is_asked_only_above_zero_or_in_strict_mode() {
    let t0 = Instant::now();
    // Classic at epoch 0: Redis's bytes, PSYNC right after the capa reply.
    let (mut l, out) = to_epoch_reply(0, false, t0);
    assert_eq!(out, format!("{PORT}{CAPA}"));
    assert_eq!(sent(&mut l), PSYNC_ANY);
    assert_eq!(l.state(), ReplState::ReceivePsyncReply);
    assert_eq!(l.master_epoch(), None);
    assert_eq!(l.poll_output(), None);
    // Epoch 7: the REPLCONF is pipelined after capa, PSYNC waits for its reply.
    let (mut l, out) = to_epoch_reply(7, false, t0);
    assert_eq!(
        out,
        format!("{PORT}{CAPA}*3\r\n$8\r\nREPLCONF\r\n$14\r\nfailover-epoch\r\n$1\r\n7\r\n")
    );
    assert_eq!(l.state(), ReplState::ReceiveEpochReply);
    assert!(l.state().in_handshake());
    assert_eq!(sent(&mut l), "");
    l.handle(Event::Line(b":7"), t0);
    assert_eq!(l.poll_output(), Some(Output::MasterEpoch(7)));
    assert_eq!(l.master_epoch(), Some(7));
    assert_eq!(sent(&mut l), PSYNC_ANY);
    assert_eq!(l.state(), ReplState::ReceivePsyncReply);
    // Strict at epoch 0: asked too; a Redis master's error counts as 0, accepted at 0.
    let (mut l, out) = to_epoch_reply(0, true, t0);
    assert!(out.ends_with("*3\r\n$8\r\nREPLCONF\r\n$14\r\nfailover-epoch\r\n$1\r\n0\r\n"));
    l.handle(
        Event::Line(b"-ERR Unrecognized REPLCONF option: failover-epoch"),
        t0,
    );
    assert_eq!(l.poll_output(), Some(Output::MasterEpoch(0)));
    assert_eq!(sent(&mut l), PSYNC_ANY);
}

#[test]
fn an_older_master_is_refused_and_a_newer_one_adopted() {
    let t0 = Instant::now();
    let (mut l, _) = to_epoch_reply(5, false, t0);
    l.handle(Event::Line(b":4"), t0);
    assert_eq!(
        down(&mut l),
        Down {
            reason: "Master's failover epoch 4 is older than this replica's 5: refusing its stream"
                .into(),
            reconnect_now: false
        }
    );
    assert_eq!(sent(&mut l), "", "no PSYNC to a refused master");
    assert_eq!(l.master_epoch(), None);
    // Redis (or an old picket) does not know the option: epoch 0, refused above 0.
    let (mut l, _) = to_epoch_reply(5, true, t0);
    l.handle(
        Event::Line(b"-ERR Unrecognized REPLCONF option: failover-epoch"),
        t0,
    );
    assert_eq!(
        down(&mut l).reason,
        "Master's failover epoch 0 is older than this replica's 5: refusing its stream"
    );
    assert_eq!(sent(&mut l), "");
    // A newer master: reported for the shell to adopt, and the sync goes on.
    let (mut l, _) = to_epoch_reply(5, false, t0);
    l.handle(Event::Line(b":9"), t0);
    assert_eq!(l.poll_output(), Some(Output::MasterEpoch(9)));
    assert_eq!(l.master_epoch(), Some(9));
    assert_eq!(sent(&mut l), PSYNC_ANY);
    let id = "a".repeat(40);
    l.handle(Event::Line(format!("+FULLRESYNC {id} 3").as_bytes()), t0);
    assert_eq!(
        l.poll_output(),
        Some(Output::Psync(PsyncReply::Full {
            replid: id,
            offset: 3
        }))
    );
}

/// A strict replica asks its own master (the one its history came from) to continue.
fn keeping(t0: Instant) -> Link {
    let mut p = params();
    p.strict = true;
    p.keep_history = true;
    p.psync_from = Some(("a".repeat(40), 101));
    let mut l = connected(p, t0);
    l.handle(Event::Line(b"+PONG"), t0);
    sent(&mut l);
    for line in [&b"+OK"[..], b"+OK", b":0"] {
        l.handle(Event::Line(line), t0);
    }
    let psync = sent(&mut l);
    assert!(psync.contains("PSYNC"), "{psync}");
    assert_eq!(l.poll_output(), Some(Output::MasterEpoch(0)));
    l
}

#[test]
fn a_strict_replica_refuses_a_full_resync_that_would_drop_its_history() {
    let t0 = Instant::now();
    // The master restarted without its data: a new history.
    let mut l = keeping(t0);
    let other = "b".repeat(40);
    l.handle(Event::Line(format!("+FULLRESYNC {other} 0").as_bytes()), t0);
    let d = down(&mut l);
    assert!(
        d.reason.starts_with(&format!(
            "The master offers a full resynchronization from replication id {other} offset 0, \
             which would drop this replica's history ({} up to offset 100)",
            "a".repeat(40)
        )),
        "{d:?}"
    );
    // Our history, but behind what we hold (it lost its tail).
    let mut l = keeping(t0);
    let ours = "a".repeat(40);
    l.handle(Event::Line(format!("+FULLRESYNC {ours} 90").as_bytes()), t0);
    assert!(down(&mut l).reason.contains("refused"));
    // Our history at or past our offset (we fell out of its backlog): nothing is dropped.
    let mut l = keeping(t0);
    l.handle(
        Event::Line(format!("+FULLRESYNC {ours} 500").as_bytes()),
        t0,
    );
    assert_eq!(
        l.poll_output(),
        Some(Output::Psync(PsyncReply::Full {
            replid: ours,
            offset: 500
        }))
    );
    // Without keep_history (classic mode, or another master): taken as Redis does.
    let mut p = params();
    p.psync_from = Some(("a".repeat(40), 101));
    let mut l = connected(p, t0);
    l.handle(Event::Line(b"+PONG"), t0);
    l.handle(Event::Line(b"+OK"), t0);
    l.handle(Event::Line(b"+OK"), t0);
    sent(&mut l);
    l.handle(Event::Line(format!("+FULLRESYNC {other} 0").as_bytes()), t0);
    assert!(matches!(
        l.poll_output(),
        Some(Output::Psync(PsyncReply::Full { .. }))
    ));
}
