//! An in-process server for tests: several clients, no sockets, the propagation stream
//! enabled, so a test can run commands and see both the replies and what replicas and the
//! AOF would receive. Used by unit tests and integration tests alike.

use bytes::Bytes;
use picket_common::clock::Clock;

use crate::client::{Client, ClientId};
use crate::command::exec;
use crate::config::ConfigState;
use crate::server::Server;

pub struct TestServer {
    pub srv: Server,
    /// The replication offset up to which `propagated` has shown the stream.
    seen: u64,
}

impl TestServer {
    /// A server with default settings plus `args` (`--directive value`), a fixed seed and a
    /// clock starting at 2023-11-14.
    pub fn new(args: &[&str]) -> TestServer {
        let config = ConfigState::from_args(args).expect("test configuration");
        crate::command::scripting::register_function_engines();
        let mut srv = Server::new(config, 7, Clock::starting_at(1_700_000_000_000));
        // A backlog makes the server a master with a replication stream to look at.
        srv.repl.ensure_backlog(1 << 26);
        srv.propagator.enabled = true;
        TestServer { srv, seen: 0 }
    }

    /// Connect a client; returns its id.
    pub fn connect(&mut self) -> ClientId {
        let id = self.srv.clients.next_id();
        let addr = "127.0.0.1:40000".parse().expect("address");
        let mut c = Box::new(Client::new(id, addr, addr, self.srv.clock.now()));
        c.authenticated = !self.srv.requires_auth();
        self.srv.clients.insert(id, c);
        id
    }

    /// Run one command for client `id`; returns the bytes written to it (its reply, and
    /// anything pushed to it before).
    pub fn run(&mut self, id: ClientId, args: &[&[u8]]) -> Vec<u8> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let mut c = self.srv.clients.remove(&id).expect("connected client");
        let mut out = std::mem::take(&mut c.out);
        self.srv.call.clock_hint = None;
        exec::process(&mut self.srv, &mut c, &mut out, &args);
        let bytes = out.take().to_vec();
        c.out = out;
        self.srv.clients.insert(id, c);
        bytes
    }

    /// `run` with a command line split on single spaces (`''` is an empty argument).
    pub fn line(&mut self, id: ClientId, line: &str) -> String {
        let args: Vec<&[u8]> = line
            .split(' ')
            .map(|a| if a == "''" { &b""[..] } else { a.as_bytes() })
            .collect();
        String::from_utf8_lossy(&self.run(id, &args)).into_owned()
    }

    /// Output waiting for client `id` (e.g. the reply of a served blocking command).
    pub fn pending_output(&mut self, id: ClientId) -> String {
        let c = self.srv.clients.get_mut(&id).expect("connected client");
        String::from_utf8_lossy(&c.out.take()).into_owned()
    }

    /// The commands propagated since the last call, `SELECT`s left out, each as its
    /// arguments joined by spaces.
    pub fn propagated(&mut self) -> Vec<String> {
        crate::replication::feed(&mut self.srv);
        let bytes = self
            .srv
            .repl
            .backlog
            .as_ref()
            .map(|b| b.since(self.seen + 1))
            .unwrap_or_default();
        self.seen = self.srv.repl.offset;
        parse_stream(&bytes)
            .into_iter()
            .filter(|c| !c[0].eq_ignore_ascii_case("select"))
            .map(|c| c.join(" "))
            .collect()
    }
}

/// Split a RESP command stream into commands and their arguments.
pub fn parse_stream(mut s: &[u8]) -> Vec<Vec<String>> {
    fn line<'a>(s: &mut &'a [u8]) -> &'a [u8] {
        let end = s
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a complete stream");
        let l = &s[..end];
        *s = &s[end + 2..];
        l
    }
    fn number(b: &[u8]) -> usize {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| t.parse().ok())
            .expect("a length")
    }
    let mut cmds = Vec::new();
    while !s.is_empty() {
        let head = line(&mut s);
        let n = number(&head[1..]);
        let mut cmd = Vec::with_capacity(n);
        for _ in 0..n {
            let len = number(&line(&mut s)[1..]);
            cmd.push(String::from_utf8_lossy(&s[..len]).into_owned());
            s = &s[len + 2..];
        }
        cmds.push(cmd);
    }
    cmds
}

#[cfg(test)]
mod tests {
    use super::*;
    use picket_common::resp::ReplyBuf;

    #[test]
    fn served_blocking_pops_propagate_as_plain_pops() {
        let mut t = TestServer::new(&[]);
        let waiter = t.connect();
        let pusher = t.connect();
        assert_eq!(t.line(waiter, "BLPOP q 0"), "");
        assert!(t.propagated().is_empty());
        assert_eq!(t.line(pusher, "RPUSH q a b"), ":2\r\n");
        assert_eq!(t.pending_output(waiter), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
        assert_eq!(t.propagated(), vec!["RPUSH q a b", "LPOP q"]);
        // Served at once: the same rewrite.
        assert_eq!(t.line(waiter, "BRPOP q 0"), "*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
        assert_eq!(t.propagated(), vec!["RPOP q"]);
        // A time-out propagates nothing; neither does blocking.
        assert_eq!(t.line(waiter, "BLPOP q 0"), "");
        let mut c = t.srv.clients.remove(&waiter).expect("waiter");
        let mut out = ReplyBuf::default();
        crate::command::reentry::timed_out(&mut t.srv, &mut c, &mut out);
        assert_eq!(&out.take()[..], b"*-1\r\n");
        t.srv.clients.insert(waiter, c);
        assert!(t.propagated().is_empty());
        assert!(t.srv.keyspace.blocking.is_empty());
    }

    #[test]
    fn keys_expired_by_scan_or_randomkey_propagate_unwrapped_but_wrapped_in_exec() {
        let mut t = TestServer::new(&[]);
        let c = t.connect();
        let expire_all = |t: &mut TestServer, keys: &[&str]| {
            for k in keys {
                assert_eq!(t.line(c, &format!("SET {k} 1")), "+OK\r\n");
                t.srv.keyspace.dbs[0].set_expire(k.as_bytes(), 1);
            }
            t.propagated();
        };
        expire_all(&mut t, &["a", "b", "c"]);
        t.line(c, "SCAN 0 COUNT 100");
        let mut dels = t.propagated();
        dels.sort();
        assert_eq!(dels, vec!["DEL a", "DEL b", "DEL c"]);
        // The same inside a transaction is one unit: MULTI ... EXEC.
        expire_all(&mut t, &["d", "e"]);
        t.line(c, "MULTI");
        t.line(c, "SCAN 0 COUNT 100");
        t.line(c, "EXEC");
        let got = t.propagated();
        assert_eq!(got.first().map(String::as_str), Some("MULTI"));
        assert_eq!(got.last().map(String::as_str), Some("EXEC"));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn expired_keys_propagate_as_unlink_under_lazyfree_lazy_expire() {
        let mut t = TestServer::new(&["--lazyfree-lazy-expire", "yes"]);
        let c = t.connect();
        t.line(c, "SET a 1");
        t.srv.keyspace.dbs[0].set_expire(b"a", 1);
        t.propagated();
        assert_eq!(t.line(c, "GET a"), "$-1\r\n");
        assert_eq!(t.propagated(), vec!["UNLINK a"]);
    }
}
