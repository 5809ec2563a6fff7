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

const HLOG: u32 = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// Compress `input`; `None` when the result would not be smaller than `max_len` bytes (Redis
/// then stores the string as it is).
pub fn compress(input: &[u8], max_len: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n < 4 {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(max_len.min(n));
    // The hash table: no bigger than the input needs (a table of 2^14 slots for every short
    // string would cost far more to clear than to compress it).
    let hlog = n.next_power_of_two().trailing_zeros().clamp(6, HLOG);
    let mut table = vec![0u32; 1 << hlog];
    let hash = |i: usize| -> usize {
        let v = (input[i] as u32) << 16 | (input[i + 1] as u32) << 8 | input[i + 2] as u32;
        (v.wrapping_mul(0x9e37_79b1) >> (32 - hlog)) as usize
    };
    let mut lit_start = 0usize; // first byte of the pending literal run
    let mut i = 0usize;
    let flush_literals = |out: &mut Vec<u8>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let run = (to - s).min(MAX_LIT);
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
        }
    };
    while i + 2 < n {
        let h = hash(i);
        let cand = table[h] as usize;
        table[h] = (i + 1) as u32; // 0 means empty
        if cand > 0 {
            let r = cand - 1;
            let off = i - r - 1;
            if r < i && off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let max = (n - i).min(MAX_REF);
                let mut len = 3;
                while len < max && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_literals(&mut out, lit_start, i);
                let l = len - 2;
                if l < 7 {
                    out.push(((off >> 8) as u8) | ((l as u8) << 5));
                } else {
                    out.push(((off >> 8) as u8) | (7 << 5));
                    out.push((l - 7) as u8);
                }
                out.push(off as u8);
                if out.len() >= max_len {
                    return None;
                }
                i += len;
                lit_start = i;
                continue;
            }
        }
        i += 1;
    }
    flush_literals(&mut out, lit_start, n);
    if out.len() >= max_len {
        return None;
    }
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
