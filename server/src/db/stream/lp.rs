//! The listpack primitives a stream node needs, on a `Vec<u8>` holding a listpack exactly as
//! Redis 7.0's `listpack.c` lays it out (so a node is written to an RDB as it is): a 6-byte
//! header (total bytes, element count), the elements (encoding, data, back-length), and the
//! 0xFF terminator. Strings that are canonical integers are stored as integers, as `lpAppend`
//! does; `lpAppendInteger` values in the smallest integer encoding.

use std::borrow::Cow;

/// Redis's `LP_HDR_NUMELE_UNKNOWN`: the count field saturates here.
const NUMELE_UNKNOWN: u16 = u16::MAX;

/// An element as stored: an integer or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Val<'a> {
    /// The element as a client sees it (integers in decimal).
    pub fn bytes(&self) -> Cow<'a, [u8]> {
        match self {
            Val::Int(i) => Cow::Owned(itoa::Buffer::new().format(*i).as_bytes().to_vec()),
            Val::Str(s) => Cow::Borrowed(s),
        }
    }

    /// The element as an integer (strings that are not integers read as 0, as `lpGetInteger`
    /// is only used on integer fields).
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Str(s) => picket_common::sds::string2ll(s).unwrap_or(0),
        }
    }

    /// Whether the element equals `b` as a client sees it.
    pub fn eq_bytes(&self, b: &[u8]) -> bool {
        match self {
            Val::Str(s) => *s == b,
            Val::Int(i) => itoa::Buffer::new().format(*i).as_bytes() == b,
        }
    }

    /// Bytes of the client-visible form (for memory estimates and size checks).
    pub fn len(&self) -> usize {
        match self {
            Val::Str(s) => s.len(),
            Val::Int(i) => itoa::Buffer::new().format(*i).len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A new empty listpack with room for `cap` bytes.
pub fn new(cap: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(cap.max(7));
    v.extend_from_slice(&7u32.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.push(0xFF);
    v
}

/// Offset of the first element.
pub const FIRST: usize = 6;

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn push_backlen(l: usize, out: &mut Vec<u8>) {
    // As `lpEncodeBacklen`: the most significant 7-bit group first, every later byte with
    // the high bit set, so it reads right to left.
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let b = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { b } else { b | 128 });
    }
}

/// Encode an integer element (`lpEncodeIntegerGetType` + data + back-length) into `out`.
pub fn encode_int(v: i64, out: &mut Vec<u8>) {
    let start = out.len();
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1fff;
        out.push(0xC0 | (u >> 8) as u8);
        out.push(u as u8);
    } else if let Ok(x) = i16::try_from(v) {
        out.push(0xF1);
        out.extend_from_slice(&x.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if let Ok(x) = i32::try_from(v) {
        out.push(0xF3);
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
    let len = out.len() - start;
    push_backlen(len, out);
}

/// Encode a string element as `lpAppend` does (canonical integers as integers).
pub fn encode_str(s: &[u8], out: &mut Vec<u8>) {
    if s.len() <= 20 {
        if let Some(v) = picket_common::sds::string2ll(s) {
            encode_int(v, out);
            return;
        }
    }
    let start = out.len();
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.push(0xE0 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
    let len = out.len() - start;
    push_backlen(len, out);
}

fn set_total(lp: &mut [u8]) {
    let n = lp.len() as u32;
    lp[..4].copy_from_slice(&n.to_le_bytes());
}

fn count(lp: &[u8]) -> u16 {
    u16::from_le_bytes([lp[4], lp[5]])
}

fn add_count(lp: &mut [u8], n: usize) {
    let c = count(lp);
    if c != NUMELE_UNKNOWN {
        let v = (c as usize + n).min(NUMELE_UNKNOWN as usize) as u16;
        lp[4..6].copy_from_slice(&v.to_le_bytes());
    }
}

/// Append elements already encoded (`n` of them) before the terminator.
pub fn append_encoded(lp: &mut Vec<u8>, enc: &[u8], n: usize) {
    lp.pop();
    lp.extend_from_slice(enc);
    lp.push(0xFF);
    set_total(lp);
    add_count(lp, n);
}

pub fn append_int(lp: &mut Vec<u8>, v: i64) {
    let mut e = Vec::with_capacity(10);
    encode_int(v, &mut e);
    append_encoded(lp, &e, 1);
}

/// Decode the element at `p`: its value and the offset of the next element (the terminator's
/// offset after the last). `None` at the terminator or on a malformed element.
pub fn get(lp: &[u8], p: usize) -> Option<(Val<'_>, usize)> {
    let first = *lp.get(p)?;
    let b = |i: usize| lp.get(p + i).copied();
    let (v, len) = if first == 0xFF {
        return None;
    } else if first & 0x80 == 0 {
        (Val::Int((first & 0x7f) as i64), 1)
    } else if first & 0xC0 == 0x80 {
        let n = (first & 0x3f) as usize;
        (Val::Str(lp.get(p + 1..p + 1 + n)?), 1 + n)
    } else if first & 0xE0 == 0xC0 {
        let v = (((first & 0x1f) as u64) << 8) | b(1)? as u64;
        (Val::Int(sign_extend(v, 13)), 2)
    } else if first & 0xF0 == 0xE0 {
        let n = (((first & 0x0f) as usize) << 8) | b(1)? as usize;
        (Val::Str(lp.get(p + 2..p + 2 + n)?), 2 + n)
    } else {
        match first {
            0xF0 => {
                let x = lp.get(p + 1..p + 5)?;
                let n = u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as usize;
                (Val::Str(lp.get(p + 5..p + 5 + n)?), 5 + n)
            }
            0xF1 => {
                let x = lp.get(p + 1..p + 3)?;
                (Val::Int(i16::from_le_bytes([x[0], x[1]]) as i64), 3)
            }
            0xF2 => {
                let x = lp.get(p + 1..p + 4)?;
                let v = x[0] as u64 | (x[1] as u64) << 8 | (x[2] as u64) << 16;
                (Val::Int(sign_extend(v, 24)), 4)
            }
            0xF3 => {
                let x = lp.get(p + 1..p + 5)?;
                (
                    Val::Int(i32::from_le_bytes([x[0], x[1], x[2], x[3]]) as i64),
                    5,
                )
            }
            0xF4 => {
                let x = lp.get(p + 1..p + 9)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(x);
                (Val::Int(i64::from_le_bytes(a)), 9)
            }
            _ => return None,
        }
    };
    let next = p + len + backlen_size(len);
    if next >= lp.len() {
        return None;
    }
    Some((v, next))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Replace the integer element at `p` with `v` (Redis's `lpReplaceInteger`); the elements
/// after it move if the encoding's size changed.
pub fn replace_int(lp: &mut Vec<u8>, p: usize, v: i64) {
    let Some((_, next)) = get(lp, p) else {
        return;
    };
    let mut e = Vec::with_capacity(10);
    encode_int(v, &mut e);
    if e.len() == next - p {
        lp[p..next].copy_from_slice(&e);
    } else {
        lp.splice(p..next, e);
        set_total(lp);
    }
}

/// Check a listpack's framing: header total, every element decodable and its back-length
/// right, the count (unless saturated), the terminator. Returns the number of elements.
pub fn validate(lp: &[u8]) -> Option<usize> {
    if lp.len() < 7 || u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize != lp.len() {
        return None;
    }
    if *lp.last()? != 0xFF {
        return None;
    }
    let mut p = FIRST;
    let mut n = 0usize;
    while lp[p] != 0xFF {
        let (_, next) = get(lp, p)?;
        // The back-length must decode to the element's encoded length.
        let enc_len = {
            let mut len = 0usize;
            let mut q = next - 1;
            let mut shift = 0;
            loop {
                let byte = lp[q];
                len |= ((byte & 127) as usize) << shift;
                if byte & 128 == 0 {
                    break;
                }
                shift += 7;
                if q == p || shift > 28 {
                    return None;
                }
                q -= 1;
            }
            len
        };
        if p + enc_len + backlen_size(enc_len) != next {
            return None;
        }
        n += 1;
        p = next;
    }
    if p + 1 != lp.len() {
        return None;
    }
    let c = count(lp);
    if c != NUMELE_UNKNOWN && c as usize != n {
        return None;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_backlen() {
        let mut lp = new(0);
        let vals: Vec<i64> = vec![
            0,
            127,
            128,
            -1,
            4095,
            -4096,
            40000,
            -40000,
            1 << 30,
            i64::MIN,
        ];
        for v in &vals {
            append_int(&mut lp, *v);
        }
        let mut e = Vec::new();
        encode_str(&[b'x'; 200], &mut e);
        encode_str(b"hello", &mut e);
        encode_str(b"12", &mut e);
        append_encoded(&mut lp, &e, 3);
        assert_eq!(validate(&lp), Some(13));
        let mut p = FIRST;
        for v in &vals {
            let (x, n) = get(&lp, p).unwrap();
            assert_eq!(x, Val::Int(*v));
            p = n;
        }
        let (x, n) = get(&lp, p).unwrap();
        assert_eq!(x.len(), 200);
        let (x, n) = get(&lp, n).unwrap();
        assert_eq!(x, Val::Str(b"hello"));
        let (x, _) = get(&lp, n).unwrap();
        assert_eq!(x, Val::Int(12));
        replace_int(&mut lp, FIRST, 100_000);
        assert_eq!(get(&lp, FIRST).unwrap().0, Val::Int(100_000));
        assert_eq!(validate(&lp), Some(13));
    }
}
