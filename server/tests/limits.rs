//! Limits against Redis 7.0: `timeout` closes idle clients, `maxclients` refuses with
//! Redis's error, protected mode answers `-DENIED ...` to non-local clients, the output
//! buffer limit of normal clients, the query buffer limit and `proto-max-bulk-len`.

mod common;
mod util;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{Conn, Reply, Server};
use util::{client_lines, connect_from, drain, local_non_loopback_ip, wait_until};

/// Both servers, or only picket without redis-server.
fn both(extra: &[&str]) -> Vec<Server> {
    let mut v = vec![Server::start(extra)];
    if let Some(r) = Server::redis(extra) {
        v.push(r);
    }
    v
}

fn name(s: &Server) -> &'static str {
    if s.is_redis {
        "redis"
    } else {
        "picket"
    }
}

#[test]
fn timeout_closes_idle_normal_clients_only() {
    for s in both(&["--timeout", "1"]) {
        let mut idle = s.conn();
        idle.q("PING");
        let mut sub = s.conn();
        sub.q("SUBSCRIBE ch");
        let mut busy = s.conn();
        // Redis checks idle > timeout, so 1 s idles are closed after 2 to 3 s.
        let closed = wait_until(Duration::from_secs(8), || {
            busy.q("PING");
            let lines = client_lines(&mut busy);
            lines.len() == 2
        });
        assert!(closed, "{}: idle client not closed", name(&s));
        assert!(idle.is_closed(), "{}", name(&s));
        // The subscriber and the busy client remain.
        assert_eq!(busy.q("PUBSUB NUMSUB ch").items()[1], Reply::Int(1));
        assert_eq!(busy.q("PUBLISH ch x"), Reply::Int(1));
        assert_eq!(sub.read().items()[2], Reply::bulk("x"), "{}", name(&s));
    }
    // CONFIG SET timeout takes effect on connected clients.
    for s in both(&[]) {
        let mut c = s.conn();
        assert_eq!(c.q("CONFIG SET timeout 1"), Reply::ok());
        let mut idle = s.conn();
        idle.q("PING");
        std::thread::sleep(Duration::from_millis(3500));
        assert!(idle.is_closed(), "{}", name(&s));
    }
}

#[test]
fn maxclients_refuses_with_redis_error() {
    for s in both(&["--maxclients", "3"]) {
        let mut a = s.conn();
        a.q("PING");
        assert!(wait_until(Duration::from_secs(5), || client_lines(&mut a)
            .len()
            == 1));
        let mut b = s.conn();
        b.q("PING");
        let mut c = s.conn();
        c.q("PING");
        let mut d = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let _ = d.write_all(b"PING\r\n");
        let r = drain(&mut d, Duration::from_secs(2));
        assert_eq!(
            r.text(),
            "-ERR max number of clients reached\r\n",
            "{}",
            name(&s)
        );
        assert!(r.closed);
        // A slot frees when a client leaves.
        drop(c);
        let ok = wait_until(Duration::from_secs(5), || {
            let mut e = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
            let _ = e.write_all(b"PING\r\n");
            drain(&mut e, Duration::from_millis(300)).text() == "+PONG\r\n"
        });
        assert!(ok, "{}", name(&s));
        assert!(
            util::info_field(&mut a, "stats", "rejected_connections")
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        // CONFIG SET maxclients applies to new connections.
        assert_eq!(a.q("CONFIG SET maxclients 2"), Reply::ok());
        let mut f = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let _ = f.write_all(b"PING\r\n");
        let r = drain(&mut f, Duration::from_secs(2));
        assert_eq!(
            r.text(),
            "-ERR max number of clients reached\r\n",
            "{}",
            name(&s)
        );
    }
}

/// The refusal of protected mode, for one connection.
fn exchange(src: Option<IpAddr>, ip: IpAddr, port: u16) -> util::Raw {
    let mut s = connect_from(src, ip, port).expect("connect");
    let _ = s.write_all(b"PING\r\n");
    drain(&mut s, Duration::from_secs(1))
}

#[test]
fn protected_mode_denies_non_local_clients() {
    let Some(ip) = local_non_loopback_ip() else {
        eprintln!(
            "\n*** SKIPPING protected mode: this machine has no non-loopback IPv4 address ***\n"
        );
        return;
    };
    let ip_s = ip.to_string();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let denied_picket;
    {
        let mut outcomes = Vec::new();
        for s in both(&["--bind", "127.0.0.1", &ip_s]) {
            // From the machine's own address to it: not loopback, refused.
            let r = exchange(Some(ip), ip, s.port);
            assert!(
                r.text()
                    .starts_with("-DENIED Redis is running in protected mode"),
                "{}: {r:?}",
                name(&s)
            );
            assert!(r.closed);
            // 127.0.0.2 is loopback for the kernel but not for Redis: refused too.
            let r2 = exchange(Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))), lo, s.port);
            // From 127.0.0.1, to either address: served.
            let r3 = exchange(None, lo, s.port);
            let r4 = exchange(Some(lo), ip, s.port);
            assert_eq!(r3.text(), "+PONG\r\n");
            assert_eq!(r4.text(), "+PONG\r\n");
            let mut c = s.conn();
            let rejected = util::info_field(&mut c, "stats", "rejected_connections");
            outcomes.push((r.text(), r2.text(), rejected));
        }
        denied_picket = outcomes[0].0.clone();
        if outcomes.len() == 2 {
            assert_eq!(
                outcomes[0], outcomes[1],
                "picket (left) and redis (right) differ"
            );
        }
    }
    assert!(denied_picket.ends_with("NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"));
    // Protected mode off, or a password: served.
    for extra in [
        vec!["--bind", "127.0.0.1", &ip_s, "--protected-mode", "no"],
        vec!["--bind", "127.0.0.1", &ip_s, "--requirepass", "pw"],
    ] {
        for s in both(&extra) {
            let r = exchange(Some(ip), ip, s.port);
            assert!(
                r.text().starts_with("+PONG") || r.text().starts_with("-NOAUTH"),
                "{}: {r:?}",
                name(&s)
            );
        }
    }
    // CONFIG SET protected-mode no applies to the next connections.
    for s in both(&["--bind", "127.0.0.1", &ip_s]) {
        assert_eq!(s.conn().q("CONFIG SET protected-mode no"), Reply::ok());
        assert_eq!(
            exchange(Some(ip), ip, s.port).text(),
            "+PONG\r\n",
            "{}",
            name(&s)
        );
    }
}

#[test]
fn normal_output_buffer_hard_limit_closes_the_client() {
    for s in both(&["--enable-debug-command", "yes"]) {
        let mut admin = s.conn();
        let set = admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0",
        ]);
        assert_eq!(set, Reply::ok());
        admin.q("DEBUG POPULATE 1 big 1000000");
        // A client that pipelines many GETs of 1 MB and never reads.
        let mut greedy = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let _ = greedy.write_all(b"PING\r\n");
        assert_eq!(
            drain(&mut greedy, Duration::from_millis(300)).text(),
            "+PONG\r\n"
        );
        assert_eq!(client_lines(&mut admin).len(), 2);
        let mut req = Vec::new();
        for _ in 0..200 {
            req.extend_from_slice(b"GET big:0\r\n");
        }
        let _ = greedy.write_all(&req);
        let gone = wait_until(Duration::from_secs(10), || {
            client_lines(&mut admin).len() == 1
        });
        assert!(gone, "{}: the greedy client was not closed", name(&s));
        assert_eq!(admin.q("PING"), Reply::simple("PONG"));
        if !s.is_redis {
            let log = s.log_text();
            assert!(
                log.contains("scheduled to be closed ASAP for overcoming of output buffer limits"),
                "{log}"
            );
        }
    }
}

#[test]
fn query_buffer_limit_and_proto_max_bulk_len() {
    for s in both(&[]) {
        let mut admin = s.conn();
        assert_eq!(admin.q("CONFIG SET proto-max-bulk-len 1mb"), Reply::ok());
        let r = util::raw(s.port, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
        assert_eq!(
            r.text(),
            "-ERR Protocol error: invalid bulk length\r\n",
            "{}",
            name(&s)
        );
        assert!(r.closed);
        // Exactly the limit is fine.
        let mut ok = b"*2\r\n$4\r\nECHO\r\n$1048576\r\n".to_vec();
        ok.extend(std::iter::repeat_n(b'z', 1048576));
        ok.extend_from_slice(b"\r\n");
        let r = util::raw(s.port, &ok);
        assert!(r.text().starts_with("$1048576\r\nzzz"), "{}", name(&s));
        assert_eq!(admin.q("CONFIG SET proto-max-bulk-len 512mb"), Reply::ok());

        // An argument still arriving that makes the query buffer pass its limit: closed.
        assert_eq!(
            admin.q("CONFIG SET client-query-buffer-limit 1mb"),
            Reply::ok()
        );
        let mut q = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let _ = q.write_all(b"*2\r\n$4\r\nECHO\r\n$10000000\r\n");
        let chunk = vec![b'q'; 64 * 1024];
        for _ in 0..40 {
            if q.write_all(&chunk).is_err() {
                break;
            }
        }
        let r = drain(&mut q, Duration::from_secs(3));
        assert!(
            r.closed,
            "{}: not closed at the query buffer limit",
            name(&s)
        );
        assert_eq!(admin.q("PING"), Reply::simple("PONG"));
    }
}

#[test]
fn clients_that_disconnect_are_forgotten() {
    let s = Server::start(&[]);
    let mut w = s.conn();
    for _ in 0..20 {
        let mut c = Conn::connect(s.port);
        c.q("SUBSCRIBE ch");
        c.q("PSUBSCRIBE p*");
        let mut m = Conn::connect(s.port);
        m.q("WATCH k");
        m.q("MULTI");
        m.q("PING");
    }
    assert!(wait_until(Duration::from_secs(5), || client_lines(&mut w)
        .len()
        == 1));
    assert_eq!(w.q("PUBSUB NUMSUB ch").items()[1], Reply::Int(0));
    assert_eq!(w.q("PUBSUB NUMPAT"), Reply::Int(0));
    assert_eq!(w.q("PUBLISH ch x"), Reply::Int(0));
    assert_eq!(
        util::info_field(&mut w, "clients", "connected_clients"),
        "1"
    );
}
