//! Push frames are not replies (Redis 7.0's `CLIENT_PUSHING`): under CLIENT REPLY OFF or
//! SKIP a subscriber still gets its (P)SUBSCRIBE / (P)UNSUBSCRIBE confirmations, published
//! messages (its own PUBLISH included) and keyspace events, in RESP2 as in RESP3, while
//! MONITOR lines, which are replies, are dropped. Every scenario runs on picket and on Redis
//! 7.0 and the bytes each connection receives after each step must be the same.

mod common;
mod util;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use util::{drain, same_scenario};

/// One step: connection index and command words.
type Step<'a> = (usize, &'a [&'a str]);

fn encode(args: &[&str]) -> Vec<u8> {
    picket_common::resp::encode_command(args).to_vec()
}

/// Bytes that differ between the servers for reasons outside this test: the client id in
/// HELLO's reply, MONITOR's timestamp and peer address.
fn mask(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if let Some(rest) = line.strip_prefix('+') {
            if let Some(end) = rest.find("] ") {
                if rest.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                    out.push_str("+<time> [<db addr>] ");
                    out.push_str(&rest[end + 2..]);
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    // HELLO: `$2\r\nid\r\n:<n>\r\n`.
    if let Some(p) = out.find("$2\r\nid\r\n:") {
        let start = p + "$2\r\nid\r\n:".len();
        let end = start + out[start..].find("\r\n").unwrap_or(0);
        out.replace_range(start..end, "<id>");
    }
    out
}

/// After step N (its command), what each connection that got something received.
type Seen = Vec<(usize, String, Vec<(usize, String)>)>;

/// Run the steps on a server; after each, what every connection received.
fn run(port: u16, steps: &[Step]) -> Seen {
    let mut conns: Vec<TcpStream> = Vec::new();
    let mut seen = Vec::new();
    for (i, (who, cmd)) in steps.iter().enumerate() {
        while conns.len() <= *who {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            conns.push(s);
        }
        conns[*who].write_all(&encode(cmd)).expect("write");
        let mut got = Vec::new();
        for (j, c) in conns.iter_mut().enumerate() {
            let r = drain(c, Duration::from_millis(150));
            assert!(!r.closed, "connection {j} closed after step {i} {cmd:?}");
            if !r.bytes.is_empty() {
                got.push((j, mask(&r.text())));
            }
        }
        seen.push((i, cmd.join(" "), got));
    }
    seen
}

fn compare(steps: &[Step]) {
    let Some(pair) = util::pair(&[]) else { return };
    same_scenario(&pair, |port| run(port, steps));
}

const SUBSCRIBER_WITH_REPLIES_OFF: &[Step] = &[
    (0, &["CLIENT", "REPLY", "OFF"]),
    (0, &["SUBSCRIBE", "a", "b"]),
    (1, &["PUBLISH", "a", "hi"]),
    (0, &["PSUBSCRIBE", "x*", "y*"]),
    (1, &["PUBLISH", "xy", "m"]),
    (0, &["UNSUBSCRIBE", "a"]),
    (0, &["PUNSUBSCRIBE"]),
    (0, &["UNSUBSCRIBE"]),
    // Nothing left: the confirmation names no channel.
    (0, &["UNSUBSCRIBE"]),
    (0, &["PUNSUBSCRIBE"]),
    (0, &["PING"]),
    (0, &["CLIENT", "REPLY", "ON"]),
    (0, &["PING"]),
    // SKIP silences the next command's reply, not its pushes.
    (0, &["CLIENT", "REPLY", "SKIP"]),
    (0, &["SUBSCRIBE", "c"]),
    (0, &["PING"]),
    (0, &["UNSUBSCRIBE"]),
];

#[test]
fn resp2_subscriber_with_replies_off_gets_its_confirmations_and_messages() {
    compare(SUBSCRIBER_WITH_REPLIES_OFF);
}

#[test]
fn resp3_subscriber_with_replies_off_gets_its_confirmations_and_messages() {
    let mut steps: Vec<Step> = vec![(0, &["HELLO", "3"])];
    steps.extend_from_slice(SUBSCRIBER_WITH_REPLIES_OFF);
    steps.extend_from_slice(&[
        // A RESP3 client may run commands while subscribed: its own PUBLISH's reply is
        // dropped, the message it receives is not.
        (0, &["SUBSCRIBE", "a"]),
        (0, &["CLIENT", "REPLY", "OFF"]),
        (0, &["PUBLISH", "a", "self"]),
        (0, &["CLIENT", "REPLY", "SKIP"]),
        (0, &["PUBLISH", "a", "skipped"]),
        (0, &["PUBLISH", "a", "replied"]),
        // In a transaction the message comes inside EXEC's reply, where it happened.
        (0, &["MULTI"]),
        (0, &["PUBLISH", "a", "in-multi"]),
        (0, &["PING"]),
        (0, &["EXEC"]),
    ]);
    compare(&steps);
}

#[test]
fn resp3_keyspace_events_reach_a_subscriber_with_replies_off_and_precede_replies() {
    compare(&[
        (0, &["HELLO", "3"]),
        (0, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        (0, &["SUBSCRIBE", "__keyspace@0__:k"]),
        (0, &["PSUBSCRIBE", "__keyevent@0__:*"]),
        (0, &["CLIENT", "REPLY", "OFF"]),
        (0, &["SET", "k", "v"]),
        (1, &["SET", "k", "w"]),
        (1, &["DEL", "k"]),
        (0, &["CLIENT", "REPLY", "ON"]),
        // With replies on, the event of the client's own write comes before its reply.
        (0, &["SET", "k", "z"]),
        (0, &["INCR", "n"]),
        // Active expiry off, so that the key expires on the GET below and nowhere else
        // (the cycle could otherwise delete it first, at a time that depends on load).
        (1, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        (0, &["PEXPIRE", "k", "1"]),
        (1, &["DEBUG", "SLEEP", "0.05"]),
        // Lazy expiry on access: `expired` before the (nil) reply.
        (0, &["GET", "k"]),
        (1, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
        (0, &["CONFIG", "SET", "notify-keyspace-events", ""]),
    ]);
}

#[test]
fn monitor_lines_are_replies_and_obey_client_reply() {
    compare(&[
        (0, &["MONITOR"]),
        (0, &["CLIENT", "REPLY", "OFF"]),
        (1, &["SET", "x", "1"]),
        (0, &["CLIENT", "REPLY", "ON"]),
        (1, &["SET", "x", "2"]),
        // The line of SKIP itself is shown, then nothing: a monitor sends no next command.
        (0, &["CLIENT", "REPLY", "SKIP"]),
        (1, &["SET", "x", "3"]),
        (1, &["SET", "x", "4"]),
    ]);
}
