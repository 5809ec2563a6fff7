//! LZF (Marc Lehmann's liblzf format), which Redis uses to compress strings in RDB files.
//!
//! The stream is a sequence of runs: a control byte below 32 starts `ctrl + 1` literal bytes;
//! otherwise it is a back reference of length `(ctrl >> 5) + 2` (7 means an extra length byte
//! follows) at distance `((ctrl & 31) << 8 | next byte) + 1`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LzfError {
    #[error("compressed data is truncated")]
    Truncated,
    #[error("back reference before the start of the output")]
    BadReference,
    #[error("decompressed length differs from the declared length")]
    LengthMismatch,
}

/// The most output one input byte can give: a long back reference (3 bytes) copies at most
/// 7 + 255 + 2 = 264 bytes.
const MAX_EXPANSION: usize = 88;

/// Decompress `input`, which must expand to exactly `expected` bytes. `expected` comes from
/// untrusted bytes (a file, a RESTORE payload): the buffer reserved up front is bounded by
/// what `input` can expand to, not by it.
pub fn decompress(input: &[u8], expected: usize) -> Result<Vec<u8>, LzfError> {
    let mut out = Vec::with_capacity(expected.min(input.len().saturating_mul(MAX_EXPANSION)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let len = ctrl + 1;
            let lit = input.get(i..i + len).ok_or(LzfError::Truncated)?;
            if out.len() + len > expected {
                return Err(LzfError::LengthMismatch);
            }
            out.extend_from_slice(lit);
            i += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i).ok_or(LzfError::Truncated)? as usize;
                i += 1;
            }
            let low = *input.get(i).ok_or(LzfError::Truncated)? as usize;
            i += 1;
            let dist = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(dist).ok_or(LzfError::BadReference)?;
            let mut left = len + 2;
            if out.len() + left > expected {
                return Err(LzfError::LengthMismatch);
            }
            // The reference may overlap what it produces: the output repeats with period
            // `dist`, so copy it in pieces of at most `dist` bytes.
            let mut from = start;
            while left > 0 {
                let n = left.min(dist);
                out.extend_from_within(from..from + n);
                from += n;
                left -= n;
            }
        }
    }
    if out.len() != expected {
        return Err(LzfError::LengthMismatch);
    }
    Ok(out)
}

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// liblzf's hash table, reused by every call on a thread: a slot holds the position + 1 of
/// the last 3-byte prefix that hashed there, valid only if stamped with the current call
/// (so no call clears the 256 Ki slots).
struct Table {
    slots: Vec<(u32, u32)>,
    stamp: u32,
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = const {
        std::cell::RefCell::new(Table {
            slots: Vec::new(),
            stamp: 0,
        })
    };
}

/// liblzf's `IDX` (HLOG 16, VERY_FAST).
fn idx(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compress `input` into at most `out_len` bytes, or `None` when it does not fit (Redis
/// then stores the string as it is; it asks for `len - 4` bytes).
///
/// This is liblzf 3.6's `lzf_compress` as Redis 7.0 builds it (HLOG 16, VERY_FAST,
/// STRICT_ALIGN, CHECK_INPUT), step for step, so that RDB files, DUMP and FUNCTION DUMP
/// payloads are Redis's bytes. (Redis does not clear its hash table between calls, so a
/// stale slot that happens to point into the new input may add a match there; this table
/// starts empty each call.)
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len < 3 || out_len == 0 {
        // (liblzf reads two bytes up front; Redis compresses only strings over 20 bytes.)
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.slots.is_empty() {
            t.slots = vec![(0, 0); HSIZE];
        }
        t.stamp = t.stamp.wrapping_add(1);
        if t.stamp == 0 {
            t.slots.iter_mut().for_each(|s| *s = (0, 0));
            t.stamp = 1;
        }
        compress_with(&mut t, input, out_len)
    })
}

fn compress_with(t: &mut Table, input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let stamp = t.stamp;
    let in_end = input.len();
    let out_end = out_len;
    let mut out = vec![0u8; out_len];
    let at = |i: usize| input[i] as u32;
    let mut op = 1usize; // (byte 0 is the first literal run's header)
    let mut lit: usize = 0;
    let mut ip = 0usize;
    let mut hval: u32 = (at(0) << 8) | at(1);
    while ip + 2 < in_end {
        hval = (hval << 8) | at(ip + 2);
        let slot = &mut t.slots[idx(hval)];
        let reference = if slot.0 == stamp && slot.1 > 0 {
            Some(slot.1 as usize - 1)
        } else {
            None
        };
        *slot = (stamp, ip as u32 + 1);
        let found = reference.filter(|&r| {
            r < ip
                && ip - r - 1 < MAX_OFF
                && r > 0
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
        });
        if let Some(r) = found {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_end - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_end && op - (lit == 0) as usize + 3 + 1 >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= (lit == 0) as usize; // undo run if length is zero
            let mut unrolled_all = true;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        unrolled_all = false;
                        break;
                    }
                }
            }
            if unrolled_all {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip + 2 >= in_end {
                break;
            }
            // VERY_FAST: the two positions before the new one go into the table.
            ip -= 2;
            hval = (at(ip) << 8) | at(ip + 1);
            hval = (hval << 8) | at(ip + 2);
            t.slots[idx(hval)] = (stamp, ip as u32 + 1);
            ip += 1;
            hval = (hval << 8) | at(ip + 2);
            t.slots[idx(hval)] = (stamp, ip as u32 + 1);
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_end {
        return None;
    }
    while ip < in_end {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= (lit == 0) as usize;
    out.truncate(op);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_compresses_repetition() {
        let data: Vec<u8> = b"abcabcabcabcabcabcabcabcabcabcabcabc-hello-hello-hello".repeat(50);
        let c = compress(&data, data.len()).unwrap();
        assert!(c.len() < data.len() / 5);
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
        assert!(compress(b"abcdefgh", 8).is_none());
    }

    #[test]
    fn compresses_as_redis_does() {
        // Redis 7.0.15's DUMP of this string holds these 34 bytes.
        let data = b"hello hello hello hello hello world, hello world! abcabcabcabcabcabcabcabc";
        let redis = "0668656c6c6f2068e00e0505776f726c642ca01e600c042120616263e00a02016263";
        let hex: String = compress(data, data.len() - 4)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, redis);
        // Too little room: no output.
        assert!(compress(data, 20).is_none());
    }

    #[test]
    fn decodes_hand_made_streams() {
        // Literal "ab", then a reference of length 4 to distance 2 ("abab").
        let stream = [1, b'a', b'b', (2 << 5), 1];
        assert_eq!(decompress(&stream, 6).unwrap(), b"ababab");
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[(1 << 5), 9], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0, b'a'], 2), Err(LzfError::LengthMismatch));
        // An overlapping reference repeats its period: "abc" then 10 more at distance 3.
        let stream = [2, b'a', b'b', b'c', (7 << 5), 1, 2];
        assert_eq!(decompress(&stream, 13).unwrap(), b"abcabcabcabca");
        // Output past the declared length is refused before it is written.
        assert_eq!(decompress(&stream, 12), Err(LzfError::LengthMismatch));
        // A huge declared length reserves no more than the input can expand to.
        assert_eq!(
            decompress(&[0, b'a'], 1 << 40),
            Err(LzfError::LengthMismatch)
        );
        // The most a long reference gives (264 bytes from 3) fits the reservation.
        let stream = [0, b'x', (7 << 5), 255, 0];
        assert_eq!(decompress(&stream, 265).unwrap(), vec![b'x'; 265]);
        assert!(265 <= stream.len() * MAX_EXPANSION);
    }

    #[test]
    fn big_inputs_round_trip_with_far_references() {
        let mut rng = picket_common::ids::seeded(7);
        let noise: Vec<u8> = (0..5000).map(|_| rand::RngExt::random(&mut rng)).collect();
        // Repeats at distances below and beyond what a reference can reach (8 KB).
        let data = [&noise[..], &noise[..], &vec![0u8; 20000], &noise[..]].concat();
        let c = compress(&data, data.len()).unwrap();
        assert!(c.len() < data.len() / 2, "{}", c.len());
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    proptest! {
        #[test]
        fn any_input_round_trips(data in proptest::collection::vec(0u8..4, 0..3000)) {
            if let Some(c) = compress(&data, data.len()) {
                prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
            }
        }
    }
}
