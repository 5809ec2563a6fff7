//! Helpers of the hash tests compared with Redis (`hashes_compat.rs`, `hashes_walk.rs`): an
//! exact RESP reader that keeps every byte's meaning (type bytes, order, nulls), and a pair of
//! connections driven together.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::common::Pair;

// ------------------------------------------------------------------------ an exact RESP reader

/// A reply as it was on the wire: the type byte kept, maps flattened, order kept.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum V {
    /// `+`, `-`, `:`, `_`, `,`, `#`, `(`: the type byte and the line.
    Line(u8, Vec<u8>),
    /// `$`, `=`, `!`: the type byte and the payload (None for `$-1`).
    Bulk(u8, Option<Vec<u8>>),
    /// `*`, `%`, `~`, `>`: the type byte and the items (None for `*-1`).
    Agg(u8, Option<Vec<V>>),
}

impl V {
    pub fn items(&self) -> &[V] {
        match self {
            V::Agg(_, Some(v)) => v,
            other => panic!("not an aggregate: {other:?}"),
        }
    }
    pub fn text(&self) -> String {
        match self {
            V::Line(_, b) | V::Bulk(_, Some(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a string: {other:?}"),
        }
    }
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            V::Line(_, b) | V::Bulk(_, Some(b)) => b.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, V::Line(b'-', _))
    }
    /// The shape alone: strings blanked.
    pub fn skeleton(&self) -> V {
        match self {
            V::Bulk(t, Some(_)) => V::Bulk(*t, Some(Vec::new())),
            V::Agg(t, Some(v)) => V::Agg(*t, Some(v.iter().map(V::skeleton).collect())),
            other => other.clone(),
        }
    }
}

/// Compact: `+OK`, `:1`, `$"text"` (long strings cut), `*[...]`.
impl std::fmt::Debug for V {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |b: &[u8]| {
            let s: String = b.escape_ascii().to_string();
            if s.len() > 60 {
                format!("{}...({} bytes)", &s[..60], b.len())
            } else {
                s
            }
        };
        match self {
            V::Line(t, b) => write!(f, "{}{}", *t as char, text(b)),
            V::Bulk(t, Some(b)) => write!(f, "{}\"{}\"", *t as char, text(b)),
            V::Bulk(t, None) => write!(f, "{}-1", *t as char),
            V::Agg(t, None) => write!(f, "{}-1", *t as char),
            V::Agg(t, Some(v)) => {
                write!(f, "{}", *t as char)?;
                f.debug_list().entries(v).finish()
            }
        }
    }
}

/// Parse one reply from `b`; the reply and the bytes it took, or None if incomplete.
pub fn parse(b: &[u8]) -> Option<(V, usize)> {
    let end = b.windows(2).position(|w| w == b"\r\n")?;
    let (tag, line) = (b[0], b[1..end].to_vec());
    let after = end + 2;
    let num = || -> i64 { String::from_utf8_lossy(&line).parse().expect("a length") };
    match tag {
        b'$' | b'=' | b'!' => {
            let n = num();
            if n < 0 {
                return Some((V::Bulk(tag, None), after));
            }
            let n = n as usize;
            if b.len() < after + n + 2 {
                return None;
            }
            Some((
                V::Bulk(tag, Some(b[after..after + n].to_vec())),
                after + n + 2,
            ))
        }
        b'*' | b'%' | b'~' | b'>' => {
            let n = num();
            if n < 0 {
                return Some((V::Agg(tag, None), after));
            }
            let n = if tag == b'%' { 2 * n } else { n } as usize;
            let mut items = Vec::with_capacity(n);
            let mut at = after;
            for _ in 0..n {
                let (v, used) = parse(&b[at..])?;
                items.push(v);
                at += used;
            }
            Some((V::Agg(tag, Some(items)), at))
        }
        _ => Some((V::Line(tag, line), after)),
    }
}

pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.stream
            .write_all(&picket_common::resp::encode_command(args))
            .expect("write");
    }

    pub fn read(&mut self) -> V {
        loop {
            if let Some((v, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return v;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> V {
        self.send(args);
        self.read()
    }

    pub fn q(&mut self, line: &str) -> V {
        self.cmd(&words(line))
    }
}

/// Split a command line on spaces: `''` is an empty argument, `\xHH` a byte.
pub fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .map(|w| {
            if w == "''" {
                return Vec::new();
            }
            let b = w.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex"));
                    i += 4;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            out
        })
        .collect()
}

pub fn show<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A picket and a Redis connection driven together.
pub struct Diff {
    pub p: RawConn,
    pub r: RawConn,
}

impl Diff {
    pub fn new(pair: &Pair) -> Diff {
        Diff {
            p: RawConn::connect(pair.picket.port),
            r: RawConn::connect(pair.redis.port),
        }
    }

    pub fn both<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (V, V) {
        (self.p.cmd(args), self.r.cmd(args))
    }

    pub fn same<A: AsRef<[u8]>>(&mut self, args: &[A]) -> V {
        let (p, r) = self.both(args);
        assert_eq!(p, r, "{}: picket (left), redis (right)", show(args));
        r
    }

    /// HELLO 3 on both (its replies differ by the connection id).
    pub fn resp3(&mut self) {
        let (p, r) = self.both(&["HELLO", "3"]);
        assert_eq!(p.items().len(), r.items().len());
    }

    pub fn line(&mut self, line: &str) -> V {
        self.same(&words(line))
    }

    /// The same answer up to order: as sets of items (`pairs` of field and value for
    /// HGETALL).
    pub fn unordered(&mut self, line: &str, pairs: bool) {
        let (p, r) = self.both(&words(line));
        assert_eq!(
            p.skeleton().items().len(),
            r.skeleton().items().len(),
            "{line}"
        );
        let set = |v: &V| -> BTreeSet<Vec<V>> {
            let step = if pairs { 2 } else { 1 };
            v.items().chunks(step).map(|c| c.to_vec()).collect()
        };
        assert_eq!(set(&p), set(&r), "{line}: picket (left), redis (right)");
        assert_eq!(
            std::mem::discriminant(&p),
            std::mem::discriminant(&r),
            "{line}"
        );
    }
}

pub fn fill(d: &mut Diff, key: &str, n: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..n {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    d.same(&args);
}
