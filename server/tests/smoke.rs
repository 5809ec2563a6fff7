//! The harness itself, and the basics every later test relies on.

mod common;
use common::{Reply, Server};

#[test]
fn ping_echo_and_inline() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.q("PING"), Reply::simple("PONG"));
    assert_eq!(c.q("ECHO hello"), Reply::bulk("hello"));
    c.send_raw(b"PING\r\n");
    assert_eq!(c.read(), Reply::simple("PONG"));
}
