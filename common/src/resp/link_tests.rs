use super::*;
use crate::resp::frame::show;

/// Every reply type, and nesting: (wire, shown).
const REPLIES: &[(&[u8], &str)] = &[
    (b"+OK\r\n", "+OK"),
    (b"+\r\n", "+"),
    (b"-ERR no such key\r\n", "-ERR no such key"),
    (b":0\r\n", ":0"),
    (b":-42\r\n", ":-42"),
    (b":9223372036854775807\r\n", ":9223372036854775807"),
    (b"$5\r\nhello\r\n", "$hello"),
    (b"$0\r\n\r\n", "$"),
    (b"$4\r\na\r\nb\r\n", "$a\r\nb"),
    (b"$-1\r\n", "nil"),
    (b"*-1\r\n", "nil"),
    (b"*0\r\n", "[]"),
    (b"*3\r\n$1\r\na\r\n:5\r\n$-1\r\n", "[$a,:5,nil]"),
    (
        b"*2\r\n*2\r\n+x\r\n*0\r\n*1\r\n-E e\r\n",
        "[[+x,[]],[-E e]]",
    ),
];

fn all_wire() -> Vec<u8> {
    REPLIES
        .iter()
        .flat_map(|(w, _)| w.iter().copied())
        .collect()
}

/// Read every reply from `chunks` fed one after the other: (shown, raw) pairs.
fn read_chunks(
    chunks: &[&[u8]],
    limits: ReplyLimits,
) -> Result<Vec<(String, Vec<u8>)>, ReplyError> {
    let mut r = ReplyReader::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        while let Some((f, raw)) = r.read_reply(&mut buf)? {
            out.push((show(&f), raw.to_vec()));
        }
    }
    assert!(buf.is_empty(), "left: {buf:?}");
    assert!(!r.is_mid_reply());
    Ok(out)
}

fn expected() -> Vec<(String, Vec<u8>)> {
    REPLIES
        .iter()
        .map(|(w, s)| (s.to_string(), w.to_vec()))
        .collect()
}

#[test]
fn every_reply_type_at_once() {
    assert_eq!(
        read_chunks(&[&all_wire()], ReplyLimits::default()).unwrap(),
        expected()
    );
}

#[test]
fn every_reply_type_split_at_every_byte_boundary() {
    let wire = all_wire();
    for cut in 0..=wire.len() {
        let got = read_chunks(&[&wire[..cut], &wire[cut..]], ReplyLimits::default()).unwrap();
        assert_eq!(got, expected(), "cut at {cut}");
    }
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(
        read_chunks(&bytes, ReplyLimits::default()).unwrap(),
        expected()
    );
    for (w, s) in REPLIES {
        for cut in 0..w.len() {
            let mut r = ReplyReader::default();
            let mut buf = BytesMut::from(&w[..cut]);
            assert_eq!(r.read_reply(&mut buf), Ok(None), "{s} cut at {cut}");
            assert_eq!(
                buf.len(),
                cut,
                "nothing consumed before the reply is complete"
            );
            buf.extend_from_slice(&w[cut..]);
            let (f, raw) = r.read_reply(&mut buf).unwrap().unwrap();
            assert_eq!((show(&f), &raw[..]), (s.to_string(), *w));
        }
    }
}

#[test]
fn frames_hold_the_payload() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nabc\r\n-ERR x\r\n"[..]);
    let (f, _) = ReplyReader::default()
        .read_reply(&mut buf)
        .unwrap()
        .unwrap();
    let Frame::Array(v) = f else {
        panic!("not an array: {f:?}")
    };
    assert_eq!(v[0], Frame::BulkString(Bytes::from_static(b"abc")));
    assert!(matches!(&v[1], Frame::Error(e) if &e[..] == "ERR x"));
    // An error that is not UTF-8 is kept, lossily.
    let mut buf = BytesMut::from(&b"-ERR \xff\r\n"[..]);
    let (f, _) = ReplyReader::default()
        .read_reply(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(show(&f), "-ERR \u{fffd}");
}

#[test]
fn garbage_is_a_typed_error() {
    let cases: &[(&[u8], ReplyError)] = &[
        (b"?x\r\n", ReplyError::BadType('?')),
        (b"\r\n", ReplyError::BadType('\r')),
        (b"hello\r\n", ReplyError::BadType('h')),
        (b":12a\r\n", ReplyError::BadInteger),
        (b":\r\n", ReplyError::BadInteger),
        (b":99999999999999999999\r\n", ReplyError::BadInteger),
        (b"$x\r\n", ReplyError::BadBulkLength),
        (b"$-2\r\n", ReplyError::BadBulkLength),
        (b"$3\r\nabcXY", ReplyError::MissingCrlf),
        (b"+OK\rX", ReplyError::MissingCrlf),
        (b"*x\r\n", ReplyError::BadArrayLength),
        (b"*-2\r\n", ReplyError::BadArrayLength),
        (b"*2\r\n:1\r\n!\r\n", ReplyError::BadType('!')),
    ];
    for (input, want) in cases {
        let mut r = ReplyReader::default();
        let got = r.read_reply(&mut BytesMut::from(*input));
        assert_eq!(got.as_ref().err(), Some(want), "{input:?}: {got:?}");
        assert!(!r.is_mid_reply());
    }
}

#[test]
fn oversize_input_is_refused_before_it_is_buffered() {
    let small = ReplyLimits {
        max_line: 8,
        max_bulk_len: 10,
        max_array_len: 3,
        max_depth: 2,
        max_reply_len: 40,
    };
    let cases: &[(&[u8], ReplyError)] = &[
        // The line's end has not arrived, but it is already too long.
        (b"+123456789", ReplyError::LineTooLong),
        (b"+123456789\r\n", ReplyError::LineTooLong),
        (b"$11\r\n", ReplyError::BulkTooLong),
        (b"*4\r\n", ReplyError::ArrayTooLong),
        (b"*1\r\n*1\r\n*1\r\n", ReplyError::TooDeep),
        (
            b"*3\r\n$9\r\n123456789\r\n$9\r\n123456789\r\n$9\r\n",
            ReplyError::ReplyTooLong,
        ),
    ];
    for (input, want) in cases {
        let got = ReplyReader::new(small).read_reply(&mut BytesMut::from(*input));
        assert_eq!(got.as_ref().err(), Some(want), "{input:?}: {got:?}");
    }
    // At the limits exactly, replies are read.
    let ok: &[&[u8]] = &[
        b"+1234567\r\n",
        b"$10\r\n0123456789\r\n",
        b"*3\r\n:1\r\n:2\r\n:3\r\n",
        b"*1\r\n*1\r\n:1\r\n",
    ];
    for input in ok {
        let got = ReplyReader::new(small).read_reply(&mut BytesMut::from(*input));
        assert!(matches!(got, Ok(Some(_))), "{input:?}: {got:?}");
    }
}

#[test]
fn lines_then_raw_bytes_as_after_fullresync() {
    let mut r = ReplyReader::default();
    let mut buf = BytesMut::new();
    let wire = b"+FULLRESYNC 0123 7\r\n\n\n$5\r\nRDB\r\n*1\r\n$4\r\nPING\r\n";
    let mut lines = Vec::new();
    for &b in wire.iter() {
        buf.extend_from_slice(&[b]);
        // Lines until the payload's header, as the replica does.
        if lines.last().is_some_and(|l: &Bytes| l.starts_with(b"$")) {
            continue;
        }
        while let Some(l) = r.read_line(&mut buf).unwrap() {
            lines.push(l);
            if lines.last().is_some_and(|l| l.starts_with(b"$")) {
                break;
            }
        }
    }
    let shown: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    assert_eq!(shown, [&b"+FULLRESYNC 0123 7"[..], b"", b"", b"$5"]);
    // The payload is raw (its CRLF inside is data), and what follows is untouched.
    let payload = buf.split_to(5);
    assert_eq!(&payload[..], b"RDB\r\n");
    assert_eq!(&buf[..], b"*1\r\n$4\r\nPING\r\n");
    // A line that never ends is refused at the limit.
    let mut r = ReplyReader::new(ReplyLimits {
        max_line: 4,
        ..ReplyLimits::default()
    });
    assert_eq!(r.read_line(&mut BytesMut::from(&b"1234"[..])), Ok(None));
    assert_eq!(
        r.read_line(&mut BytesMut::from(&b"12345"[..])),
        Err(ReplyError::LineTooLong)
    );
    // Not in the middle of a reply.
    let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
    assert_eq!(r.read_reply(&mut buf), Ok(None));
    assert_eq!(r.read_line(&mut buf), Err(ReplyError::MidReply));
}

#[test]
fn encoder() {
    assert_eq!(
        &encode_command(&["SET", "k", ""])[..],
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    );
    let args = [Bytes::from(vec![b'x'; 123]), Bytes::new()];
    let mut b = BytesMut::from(&b"prefix"[..]);
    append_command(&mut b, &args);
    assert_eq!(command_len(&args), b.len() - 6);
    assert_eq!(command_len::<&[u8]>(&[]), 4);
    assert_eq!(&encode_command::<&[u8]>(&[])[..], b"*0\r\n");
    // What the encoder writes, the request decoder reads back.
    let mut wire = BytesMut::from(&encode_command(&[&b"a\r\nb"[..], b"\x00"])[..]);
    let req = crate::resp::RequestDecoder::new()
        .decode(&mut wire, &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(req.args, [&b"a\r\nb"[..], b"\x00"]);
}
