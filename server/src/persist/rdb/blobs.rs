//! The compact encodings Redis stores inside RDB strings: listpack (Redis 7), ziplist
//! (older), intset and zipmap (Redis 2.x hashes). Reading accepts what Redis writes;
//! writing produces listpacks and intsets as Redis 7.0 does.

use super::codec::RdbError;

/// An element of a listpack or ziplist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elem {
    Str(Vec<u8>),
    Int(i64),
}

impl Elem {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s,
            Elem::Int(i) => i.to_string().into_bytes(),
        }
    }
}

fn err(what: &str, base: usize, at: usize) -> RdbError {
    RdbError::corrupt(what, base + at)
}

fn get(b: &[u8], from: usize, n: usize, base: usize) -> Result<&[u8], RdbError> {
    b.get(from..from + n)
        .ok_or_else(|| err("listpack/ziplist entry runs past its end", base, from))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

// ------------------------------------------------------------------------------------ listpack

/// Parse a listpack; `base` is its offset in the file (for messages).
pub fn listpack_parse(b: &[u8], base: usize) -> Result<Vec<Elem>, RdbError> {
    if b.len() < 7 {
        return Err(err("listpack too short", base, 0));
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err(err("listpack size header mismatch", base, 0));
    }
    let declared = u16::from_le_bytes([b[4], b[5]]);
    let mut out = Vec::new();
    let mut p = 6;
    loop {
        let at = p;
        let first = *b
            .get(p)
            .ok_or_else(|| err("listpack without terminator", base, p))?;
        if first == 0xFF {
            if p + 1 != b.len() {
                return Err(err("data after listpack terminator", base, p));
            }
            break;
        }
        let (elem, len) = if first & 0x80 == 0 {
            (Elem::Int((first & 0x7f) as i64), 1)
        } else if first & 0xC0 == 0x80 {
            let n = (first & 0x3f) as usize;
            (Elem::Str(get(b, p + 1, n, base)?.to_vec()), 1 + n)
        } else if first & 0xE0 == 0xC0 {
            let x = get(b, p + 1, 1, base)?;
            let v = (((first & 0x1f) as u64) << 8) | x[0] as u64;
            (Elem::Int(sign_extend(v, 13)), 2)
        } else if first & 0xF0 == 0xE0 {
            let x = get(b, p + 1, 1, base)?;
            let n = (((first & 0x0f) as usize) << 8) | x[0] as usize;
            (Elem::Str(get(b, p + 2, n, base)?.to_vec()), 2 + n)
        } else {
            match first {
                0xF0 => {
                    let x = get(b, p + 1, 4, base)?;
                    let n = u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as usize;
                    (Elem::Str(get(b, p + 5, n, base)?.to_vec()), 5 + n)
                }
                0xF1 => {
                    let x = get(b, p + 1, 2, base)?;
                    (Elem::Int(i16::from_le_bytes([x[0], x[1]]) as i64), 3)
                }
                0xF2 => {
                    let x = get(b, p + 1, 3, base)?;
                    let v = x[0] as u64 | (x[1] as u64) << 8 | (x[2] as u64) << 16;
                    (Elem::Int(sign_extend(v, 24)), 4)
                }
                0xF3 => {
                    let x = get(b, p + 1, 4, base)?;
                    (
                        Elem::Int(i32::from_le_bytes([x[0], x[1], x[2], x[3]]) as i64),
                        5,
                    )
                }
                0xF4 => {
                    let x = get(b, p + 1, 8, base)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(x);
                    (Elem::Int(i64::from_le_bytes(a)), 9)
                }
                _ => return Err(err("unknown listpack entry encoding", base, p)),
            }
        };
        p += len;
        // The back-length: 1 to 5 bytes encoding `len`.
        let back = backlen_size(len);
        get(b, p, back, base)?;
        p += back;
        out.push(elem);
        let _ = at;
    }
    if declared != u16::MAX && declared as usize != out.len() {
        return Err(err("listpack element count mismatch", base, 4));
    }
    Ok(out)
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn backlen(l: usize, out: &mut Vec<u8>) {
    match backlen_size(l) {
        1 => out.push(l as u8),
        2 => {
            out.push((l >> 7) as u8);
            out.push((l & 127) as u8 | 128);
        }
        3 => {
            out.push((l >> 14) as u8);
            out.push(((l >> 7) & 127) as u8 | 128);
            out.push((l & 127) as u8 | 128);
        }
        4 => {
            out.push((l >> 21) as u8);
            out.push(((l >> 14) & 127) as u8 | 128);
            out.push(((l >> 7) & 127) as u8 | 128);
            out.push((l & 127) as u8 | 128);
        }
        _ => {
            out.push((l >> 28) as u8);
            out.push(((l >> 21) & 127) as u8 | 128);
            out.push(((l >> 14) & 127) as u8 | 128);
            out.push(((l >> 7) & 127) as u8 | 128);
            out.push((l & 127) as u8 | 128);
        }
    }
}

/// Builds a listpack as Redis's `lpAppend` does: strings that are canonical integers are
/// stored as integers in the smallest encoding.
#[derive(Debug, Default)]
pub struct ListpackWriter {
    body: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(v) = picket_common::sds::string2ll(s) {
                self.push_int(v);
                return;
            }
        }
        let start = self.body.len();
        let n = s.len();
        if n < 64 {
            self.body.push(0x80 | n as u8);
        } else if n < 4096 {
            self.body.push(0xE0 | (n >> 8) as u8);
            self.body.push(n as u8);
        } else {
            self.body.push(0xF0);
            self.body.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.body.extend_from_slice(s);
        let len = self.body.len() - start;
        backlen(len, &mut self.body);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.body.len();
        if (0..=127).contains(&v) {
            self.body.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            self.body.push(0xC0 | (u >> 8) as u8);
            self.body.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.body.push(0xF1);
            self.body.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.body.push(0xF2);
            self.body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.body.push(0xF3);
            self.body.extend_from_slice(&x.to_le_bytes());
        } else {
            self.body.push(0xF4);
            self.body.extend_from_slice(&v.to_le_bytes());
        }
        let len = self.body.len() - start;
        backlen(len, &mut self.body);
        self.count += 1;
    }

    /// Bytes so far (header and terminator included), for sizing quicklist nodes.
    pub fn size(&self) -> usize {
        self.body.len() + 7
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 7);
        out.extend_from_slice(&((self.body.len() + 7) as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(u16::MAX as usize) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xFF);
        out
    }
}

// ------------------------------------------------------------------------------------ ziplist

/// Parse a ziplist (Redis before 7).
pub fn ziplist_parse(b: &[u8], base: usize) -> Result<Vec<Elem>, RdbError> {
    if b.len() < 11 {
        return Err(err("ziplist too short", base, 0));
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err(err("ziplist size header mismatch", base, 0));
    }
    let mut out = Vec::new();
    let mut p = 10;
    loop {
        let first = *b
            .get(p)
            .ok_or_else(|| err("ziplist without terminator", base, p))?;
        if first == 0xFF {
            break;
        }
        // prevlen
        p += if first == 0xFE { 5 } else { 1 };
        let enc = *b
            .get(p)
            .ok_or_else(|| err("ziplist entry truncated", base, p))?;
        let (elem, len) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                (Elem::Str(get(b, p + 1, n, base)?.to_vec()), 1 + n)
            }
            1 => {
                let x = get(b, p + 1, 1, base)?;
                let n = (((enc & 0x3f) as usize) << 8) | x[0] as usize;
                (Elem::Str(get(b, p + 2, n, base)?.to_vec()), 2 + n)
            }
            2 => {
                let x = get(b, p + 1, 4, base)?;
                let n = u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize;
                (Elem::Str(get(b, p + 5, n, base)?.to_vec()), 5 + n)
            }
            _ => match enc {
                0xC0 => {
                    let x = get(b, p + 1, 2, base)?;
                    (Elem::Int(i16::from_le_bytes([x[0], x[1]]) as i64), 3)
                }
                0xD0 => {
                    let x = get(b, p + 1, 4, base)?;
                    (
                        Elem::Int(i32::from_le_bytes([x[0], x[1], x[2], x[3]]) as i64),
                        5,
                    )
                }
                0xE0 => {
                    let x = get(b, p + 1, 8, base)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(x);
                    (Elem::Int(i64::from_le_bytes(a)), 9)
                }
                0xF0 => {
                    let x = get(b, p + 1, 3, base)?;
                    let v = x[0] as u64 | (x[1] as u64) << 8 | (x[2] as u64) << 16;
                    (Elem::Int(sign_extend(v, 24)), 4)
                }
                0xFE => {
                    let x = get(b, p + 1, 1, base)?;
                    (Elem::Int(x[0] as i8 as i64), 2)
                }
                0xF1..=0xFD => (Elem::Int((enc & 0x0f) as i64 - 1), 1),
                _ => return Err(err("unknown ziplist entry encoding", base, p)),
            },
        };
        out.push(elem);
        p += len;
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------ intset

/// Parse an intset: encoding (2, 4, 8), count, sorted little-endian integers.
pub fn intset_parse(b: &[u8], base: usize) -> Result<Vec<i64>, RdbError> {
    if b.len() < 8 {
        return Err(err("intset too short", base, 0));
    }
    let enc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(enc, 2 | 4 | 8) {
        return Err(err("bad intset encoding", base, 0));
    }
    if b.len() != 8 + enc * n {
        return Err(err("intset size mismatch", base, 4));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let x = &b[8 + i * enc..8 + (i + 1) * enc];
        out.push(match enc {
            2 => i16::from_le_bytes([x[0], x[1]]) as i64,
            4 => i32::from_le_bytes([x[0], x[1], x[2], x[3]]) as i64,
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(x);
                i64::from_le_bytes(a)
            }
        });
    }
    if out.windows(2).any(|w| w[0] >= w[1]) {
        return Err(err("intset not sorted", base, 8));
    }
    Ok(out)
}

/// Build an intset of sorted, distinct integers, in the smallest encoding.
pub fn intset_build(sorted: &[i64]) -> Vec<u8> {
    let enc: usize = if sorted.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if sorted.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + enc * sorted.len());
    out.extend_from_slice(&(enc as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        match enc {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

// ------------------------------------------------------------------------------------ zipmap

/// Parse a zipmap (Redis 2.x hashes) into field/value pairs.
/// Field/value pairs of a hash.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

pub fn zipmap_parse(b: &[u8], base: usize) -> Result<Pairs, RdbError> {
    let mut p = 1; // zmlen
    let mut out = Vec::new();
    let read_len = |p: &mut usize| -> Result<Option<usize>, RdbError> {
        let first = *b.get(*p).ok_or_else(|| err("zipmap truncated", base, *p))?;
        match first {
            0xFF => Ok(None),
            254 => {
                let x = get(b, *p + 1, 4, base)?;
                *p += 5;
                Ok(Some(u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as usize))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    while let Some(klen) = read_len(&mut p)? {
        let key = get(b, p, klen, base)?.to_vec();
        p += klen;
        let Some(vlen) = read_len(&mut p)? else {
            return Err(err("zipmap key without value", base, p));
        };
        let free = *b.get(p).ok_or_else(|| err("zipmap truncated", base, p))? as usize;
        p += 1;
        let val = get(b, p, vlen, base)?.to_vec();
        p += vlen + free;
        out.push((key, val));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip_all_encodings() {
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"-1".to_vec(),
            b"4095".to_vec(),
            b"-4096".to_vec(),
            b"30000".to_vec(),
            b"8000000".to_vec(),
            b"2000000000".to_vec(),
            b"9000000000000".to_vec(),
            b"a".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 5000],
            b"007".to_vec(),
            Vec::new(),
        ];
        let mut w = ListpackWriter::new();
        for it in &items {
            w.push(it);
        }
        let lp = w.finish();
        let back: Vec<Vec<u8>> = listpack_parse(&lp, 0)
            .unwrap()
            .into_iter()
            .map(Elem::into_bytes)
            .collect();
        assert_eq!(back, items);
        // Corruptions are errors, not panics.
        for cut in 0..lp.len() {
            let _ = listpack_parse(&lp[..cut], 0);
        }
        let mut bad = lp.clone();
        bad[4] = 3;
        assert!(listpack_parse(&bad, 0).is_err());
    }

    #[test]
    fn backlen_sizes() {
        for l in [1, 127, 128, 16382, 16383, 2097150, 2097151, 300_000_000] {
            let mut v = Vec::new();
            backlen(l, &mut v);
            assert_eq!(v.len(), backlen_size(l));
        }
    }

    #[test]
    fn intsets() {
        for set in [
            vec![1i64, 2, 3],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
            vec![],
        ] {
            assert_eq!(intset_parse(&intset_build(&set), 0).unwrap(), set);
        }
        assert_eq!(intset_build(&[1, 2]).len(), 8 + 4);
        assert!(intset_parse(&intset_build(&[2, 1]), 0).is_err());
    }

    #[test]
    fn ziplist_hand_made() {
        // zlbytes, zltail, zllen=3; "ab" (6-bit string), int16 1000, 4-bit immediate 5.
        let mut z = vec![0u8; 10];
        z.extend_from_slice(&[0, 0x02, b'a', b'b']);
        z.extend_from_slice(&[4, 0xC0, 0xE8, 0x03]);
        z.extend_from_slice(&[4, 0xF6]);
        z.push(0xFF);
        let n = z.len() as u32;
        z[..4].copy_from_slice(&n.to_le_bytes());
        let e = ziplist_parse(&z, 0).unwrap();
        assert_eq!(
            e,
            vec![Elem::Str(b"ab".to_vec()), Elem::Int(1000), Elem::Int(5)]
        );
    }
}
