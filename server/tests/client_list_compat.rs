//! CLIENT LIST / CLIENT INFO against Redis 7.0: the same client states on both servers give
//! the same fields in the same order and the same values where Redis's are deterministic:
//! flags, db, sub/psub, multi, cmd, resp, the query buffer's sizes (`qbuf`, `qbuf-free`,
//! growing for a 1 MB argument received in pieces and released when idle), `argv-mem`,
//! `multi-mem`, the reply buffer's size and peak (`rbs`, `rbp`, shrunk by the cron), `obl`,
//! `tot-mem` and `events`. Only the client's identity and clock (`id`, `addr`, `laddr`,
//! `fd`, `age`, `idle`) are masked; `fd` must be a real descriptor on both.

mod common;
mod util;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{Conn, Reply};
use util::{client_fields, drain, same_scenario};

type Fields = Vec<(String, String)>;

fn encode(args: &[&str]) -> Vec<u8> {
    picket_common::resp::encode_command(args).to_vec()
}

/// The fields of a line with the client's identity masked, and `also` masked too.
fn masked(line: &str, also: &[&str]) -> Fields {
    client_fields(line)
        .into_iter()
        .map(|(k, v)| {
            let hide = ["id", "addr", "laddr", "age", "idle"].contains(&k.as_str())
                || also.contains(&k.as_str());
            if k == "fd" {
                let fd: i64 = v.parse().expect("fd is a number");
                assert!(fd > 2, "fd={fd} is not a socket's descriptor");
                return (k, "<fd>".to_string());
            }
            (k, if hide { "<masked>".into() } else { v })
        })
        .collect()
}

/// The CLIENT LIST line of the client whose local port is `port`.
fn line_of(observer: &mut Conn, port: u16) -> String {
    let text = observer.q("CLIENT LIST").text();
    let needle = format!(" addr=127.0.0.1:{port} ");
    text.lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no client on port {port} in {text}"))
        .to_string()
}

/// A raw client, given time for its first cron runs (the reply buffer's first peak reset
/// and shrink), so that what follows is measured inside one 5 s peak period.
fn fresh(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    std::thread::sleep(Duration::from_millis(400));
    s
}

fn settle() {
    std::thread::sleep(Duration::from_millis(400));
}

fn send(s: &mut TcpStream, cmds: &[&[&str]]) {
    let mut b = Vec::new();
    for c in cmds {
        b.extend_from_slice(&encode(c));
    }
    s.write_all(&b).expect("write");
}

fn port_of(s: &TcpStream) -> u16 {
    s.local_addr().expect("local addr").port()
}

fn states(port: u16) -> Vec<(&'static str, Fields)> {
    let mut o = Conn::connect(port);
    let mut seen = Vec::new();

    // Its own CLIENT INFO, pipelined after two writes: the query buffer still holds the
    // batch, the reply buffer the two replies, argv the command's arguments.
    let mut c = fresh(port);
    send(
        &mut c,
        &[&["SET", "a", "1"], &["SET", "b", "2"], &["CLIENT", "INFO"]],
    );
    settle();
    let got = drain(&mut c, Duration::from_millis(200)).text();
    let info = got
        .lines()
        .find(|l| l.starts_with("id="))
        .expect("CLIENT INFO line");
    seen.push(("own CLIENT INFO in a pipeline", masked(info, &[])));

    // After a command, then idle for more than 2 s: the query buffer is released.
    let mut c = fresh(port);
    send(&mut c, &[&["SET", "k", "v"]]);
    settle();
    seen.push(("after SET", masked(&line_of(&mut o, port_of(&c)), &[])));
    std::thread::sleep(Duration::from_millis(3200));
    // (The reply buffer's peak may have been reset meanwhile: 5 s periods.)
    seen.push(("idle", masked(&line_of(&mut o, port_of(&c)), &["rbp"])));

    // In MULTI with queued commands.
    let mut c = fresh(port);
    send(&mut c, &[&["MULTI"], &["SET", "a", "1"], &["GET", "a"]]);
    settle();
    seen.push(("in MULTI", masked(&line_of(&mut o, port_of(&c)), &[])));

    // Subscribed to channels and a pattern.
    let mut c = fresh(port);
    send(&mut c, &[&["SUBSCRIBE", "x", "y"], &["PSUBSCRIBE", "z*"]]);
    settle();
    seen.push(("subscribed", masked(&line_of(&mut o, port_of(&c)), &[])));

    // Blocked: the command's arguments are held.
    let mut c = fresh(port);
    send(&mut c, &[&["BLPOP", "q", "0"]]);
    settle();
    seen.push(("blocked", masked(&line_of(&mut o, port_of(&c)), &[])));
    o.q("RPUSH q served");

    // RESP3, named, no-evict, in db 3.
    let mut c = fresh(port);
    send(
        &mut c,
        &[
            &["HELLO", "3"],
            &["CLIENT", "SETNAME", "nm"],
            &["CLIENT", "NO-EVICT", "on"],
            &["SELECT", "3"],
        ],
    );
    settle();
    // HELLO's reply holds the client id, whose digits differ: the peak is masked.
    seen.push((
        "resp3 named no-evict db 3",
        masked(&line_of(&mut o, port_of(&c)), &["rbp"]),
    ));

    // A 1 MB argument sent in pieces: the query buffer holds the argument alone, sized for
    // all of it; the arguments before it are in argv; no command yet.
    let mut c = fresh(port);
    let mut head = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048576\r\n".to_vec();
    head.extend_from_slice(&[b'x'; 100_000]);
    c.write_all(&head).expect("write");
    settle();
    seen.push((
        "1 MB argument, 100 KB received",
        masked(&line_of(&mut o, port_of(&c)), &[]),
    ));
    c.write_all(&[b'x'; 500_000]).expect("write");
    settle();
    seen.push((
        "1 MB argument, 600 KB received",
        masked(&line_of(&mut o, port_of(&c)), &[]),
    ));
    let mut rest = vec![b'x'; 448_576];
    rest.extend_from_slice(b"\r\n");
    c.write_all(&rest).expect("write");
    settle();
    assert_eq!(drain(&mut c, Duration::from_millis(200)).text(), "+OK\r\n");
    // The cron trims the buffer back within a few runs.
    settle();
    seen.push((
        "1 MB argument done",
        masked(&line_of(&mut o, port_of(&c)), &[]),
    ));

    // A subscriber that does not read while messages pile up: waiting to write.
    let c = fresh(port);
    let mut sub = c.try_clone().expect("clone");
    sub.write_all(&encode(&["SUBSCRIBE", "flood"]))
        .expect("write");
    settle();
    let payload = "m".repeat(64 * 1024);
    for _ in 0..64 {
        assert_eq!(o.cmd(&["PUBLISH", "flood", &payload]), Reply::Int(1));
    }
    settle();
    seen.push((
        "subscriber not reading",
        masked(
            &line_of(&mut o, port_of(&c)),
            &["rbp", "obl", "oll", "omem", "tot-mem", "qbuf-free"],
        ),
    ));
    drop(c);
    seen
}

#[test]
fn client_list_fields_and_values_match_redis_in_every_state() {
    let Some(pair) = util::pair(&[]) else { return };
    let picket = same_scenario(&pair, states);
    // The field list is Redis 7.0.15's, in its order.
    let names: Vec<&str> = picket[0].1.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names.join(" "),
        "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
    );
}
