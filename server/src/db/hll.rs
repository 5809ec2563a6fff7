//! HyperLogLog, byte for byte as Redis 7.0's `hyperloglog.c`: a string value holding a
//! 16-byte header (`HYLL`, the encoding, three unused bytes, the cached cardinality, little
//! endian, its top bit set when stale) and 16384 six-bit registers, either dense (12288
//! bytes, registers packed from the least significant bit) or sparse (ZERO, XZERO and VAL
//! run-length opcodes), so that values cross with Redis through DUMP/RESTORE, RDB and
//! replication and every count is Redis's.
//!
//! Every read of a value checks its bounds: a corrupt value (from RESTORE, or SETRANGE over
//! an HLL) gives Redis's errors, never a panic. Where Redis reads the string's implicit
//! terminating zero byte (the last dense register, an XZERO cut at the end), 0 is read.

/// Registers: 2^14.
pub const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const HDR_SIZE: usize = 16;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The error for a value that is not an HLL (Redis's `isHLLObjectOrReply`).
pub const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// The error for a corrupt sparse HLL.
pub const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

/// MurmurHash64A with Redis's seed use (endian-neutral, little-endian words).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let len = key.len();
    let mut h = seed ^ (len as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element hashes to and the length of its `000..1` pattern.
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let mut hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    hash >>= P;
    hash |= 1u64 << Q;
    let mut bit = 1u64;
    let mut count = 1u8;
    while hash & bit == 0 {
        count += 1;
        bit <<= 1;
    }
    (index, count)
}

/// A dense register (`regs` is the register area, after the header).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs.get(byte).copied().unwrap_or(0) as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u16) as u8
}

pub fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = val as u16;
    if let Some(b) = regs.get_mut(byte) {
        *b &= !((REGISTER_MAX as u16) << fb) as u8;
        *b |= (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((REGISTER_MAX as u16) >> (8 - fb)) as u8;
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// Set a dense register to `count` if that is larger: whether it changed.
fn dense_update(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

/// A new (sparse, empty) HLL: one XZERO of every register.
pub fn create() -> Vec<u8> {
    let mut v = vec![0u8; HDR_SIZE];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | XZERO_BIT);
    v.push((l & 0xff) as u8);
}

fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2 | (len as u8 - 1)) | VAL_BIT
}

/// Whether a string value is an HLL (Redis's `isHLLObjectOrReply`, past the type check).
pub fn is_hll(v: &[u8]) -> bool {
    v.len() >= HDR_SIZE
        && &v[..4] == b"HYLL"
        && v[4] <= MAX_ENCODING
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

pub fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 1 << 7;
}

pub fn cached(v: &[u8]) -> Option<u64> {
    if v[15] & (1 << 7) != 0 {
        return None;
    }
    Some(u64::from_le_bytes([
        v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15],
    ]))
}

pub fn set_cache(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

/// One opcode of a sparse representation at `p`: (kind, registers covered, bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Zero,
    XZero,
    Val(u8),
}

fn op_at(b: &[u8], p: usize) -> (Op, usize, usize) {
    let c = b[p];
    if c & 0xc0 == 0 {
        (Op::Zero, (c & 0x3f) as usize + 1, 1)
    } else if c & 0xc0 == XZERO_BIT {
        // (Redis reads the string's terminating zero for an XZERO cut at the end.)
        let lo = b.get(p + 1).copied().unwrap_or(0) as usize;
        (Op::XZero, ((((c & 0x3f) as usize) << 8) | lo) + 1, 2)
    } else {
        (Op::Val(((c >> 2) & 0x1f) + 1), (c & 3) as usize + 1, 1)
    }
}

/// Sparse to dense (Redis's `hllSparseToDense`); None: the sparse value is corrupt.
pub fn sparse_to_dense(v: &[u8]) -> Option<Vec<u8>> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR_SIZE].copy_from_slice(&v[..HDR_SIZE]);
    d[4] = DENSE;
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (op, run, n) = op_at(v, p);
        match op {
            Op::Zero | Op::XZero => idx += run,
            Op::Val(val) => {
                if run + idx > REGISTERS {
                    break;
                }
                for _ in 0..run {
                    dense_set(&mut d[HDR_SIZE..], idx, val);
                    idx += 1;
                }
            }
        }
        p += n;
    }
    (idx == REGISTERS).then_some(d)
}

/// Redis's `hllSparseSet`: set register `index` to `count` if larger, in place, splitting
/// the opcode that covers it and merging equal neighbours; promotes to dense when the value
/// does not fit a VAL opcode or the string would pass `max_bytes`. Returns 1 (changed),
/// 0 (not), -1 (corrupt).
pub fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> i32 {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    let mut p = HDR_SIZE;
    let mut end = v.len();
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    while p < end {
        let (_, run, n) = op_at(v, p);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += n;
        first += span;
    }
    if span == 0 || p >= end {
        return -1;
    }
    let (op, runlen, oplen) = op_at(v, p);
    let next = (p + oplen < end).then_some(p + oplen);
    let mut changed_in_place = false;
    if let Op::Val(old) = op {
        if old >= count {
            return 0;
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            changed_in_place = true;
        }
    }
    if !changed_in_place && op == Op::Zero && runlen == 1 {
        v[p] = val_op(count, 1);
        changed_in_place = true;
    }
    if !changed_in_place {
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let last = first + span - 1;
        match op {
            Op::Zero | Op::XZero => {
                let zeros = |seq: &mut Vec<u8>, len: usize| {
                    if len > ZERO_MAX_LEN {
                        push_xzero(seq, len);
                    } else {
                        seq.push((len - 1) as u8);
                    }
                };
                if index != first {
                    zeros(&mut seq, index - first);
                }
                seq.push(val_op(count, 1));
                if index != last {
                    zeros(&mut seq, last - index);
                }
            }
            Op::Val(cur) => {
                if index != first {
                    seq.push(val_op(cur, index - first));
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.push(val_op(cur, last - index));
                }
            }
        }
        let delta = seq.len() as isize - oplen as isize;
        if delta > 0 && v.len() + delta as usize > max_bytes {
            return promote(v, index, count);
        }
        match next {
            Some(nx) => {
                v.splice(p..nx, seq);
            }
            None => {
                v.truncate(p);
                v.extend_from_slice(&seq);
            }
        }
        end = v.len();
    }
    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from
    // the previous one.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < end {
        if scan == 0 {
            break;
        }
        scan -= 1;
        let c = v[p];
        if c & 0xc0 == XZERO_BIT {
            p += 2;
            continue;
        } else if c & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < end && v[p + 1] & VAL_BIT != 0 {
            let v1 = ((v[p] >> 2) & 0x1f) + 1;
            let v2 = ((v[p + 1] >> 2) & 0x1f) + 1;
            if v1 == v2 {
                let len = (v[p] & 3) as usize + 1 + (v[p + 1] & 3) as usize + 1;
                if len <= VAL_MAX_LEN {
                    v[p + 1] = val_op(v1, len);
                    v.remove(p);
                    end -= 1;
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    1
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> i32 {
    let Some(mut d) = sparse_to_dense(v) else {
        return -1;
    };
    let changed = dense_update(&mut d[HDR_SIZE..], index, count);
    *v = d;
    // (Redis asserts the register changed: a value that needed promoting is larger.)
    i32::from(changed)
}

/// Add an element (Redis's `hllAdd`): 1 changed, 0 not, -1 corrupt.
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> i32 {
    let (index, count) = pat_len(ele);
    match v[4] {
        DENSE => i32::from(dense_update(&mut v[HDR_SIZE..], index, count)),
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => -1,
    }
}

/// Merge into `max` (Redis's `hllMerge`); false: a corrupt sparse value.
pub fn merge(max: &mut [u8; REGISTERS], v: &[u8]) -> bool {
    if v[4] == DENSE {
        let regs = &v[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate() {
            let r = dense_get(regs, i);
            if r > *m {
                *m = r;
            }
        }
        return true;
    }
    let mut i = 0usize;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (op, run, n) = op_at(v, p);
        match op {
            Op::Zero | Op::XZero => i += run,
            Op::Val(val) => {
                if run + i > REGISTERS {
                    break;
                }
                for m in &mut max[i..i + run] {
                    if val > *m {
                        *m = val;
                    }
                }
                i += run;
            }
        }
        p += n;
    }
    i == REGISTERS
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a register histogram (Ertl's estimator, as Redis's `hllCount`).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The cardinality of an HLL value; None: a corrupt sparse value.
pub fn count(v: &[u8]) -> Option<u64> {
    let mut histo = [0u32; 64];
    if v[4] == DENSE {
        let regs = &v[HDR_SIZE..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
    } else {
        let mut idx = 0usize;
        let mut p = HDR_SIZE;
        while p < v.len() {
            let (op, run, n) = op_at(v, p);
            match op {
                Op::Zero | Op::XZero => histo[0] += run as u32,
                Op::Val(val) => histo[val as usize] += run as u32,
            }
            idx += run;
            p += n;
        }
        if idx != REGISTERS {
            return None;
        }
    }
    Some(estimate(&histo))
}

/// The cardinality of registers held one per byte (the union of PFCOUNT's keys).
pub fn count_raw(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in max.iter() {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// PFDEBUG DECODE's text of a sparse value.
pub fn decode(v: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut p = HDR_SIZE;
    while p < v.len() {
        let (op, run, n) = op_at(v, p);
        parts.push(match op {
            Op::Zero => format!("z:{run}"),
            Op::XZero => format!("Z:{run}"),
            Op::Val(val) => format!("v:{val},{run}"),
        });
        p += n;
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_do_not_disturb_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        let mut x: u64 = 88172645463325252;
        let mut want = vec![0u8; REGISTERS];
        for (i, w) in want.iter_mut().enumerate() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = (x & 63) as u8;
            dense_set(&mut regs, i, *w);
        }
        for (i, w) in want.iter().enumerate() {
            assert_eq!(dense_get(&regs, i), *w, "register {i}");
        }
    }

    #[test]
    fn sparse_and_dense_agree_and_estimates_are_close() {
        let mut sparse = create();
        let mut dense = sparse_to_dense(&sparse).unwrap();
        for n in 1..=20_000u64 {
            let e = n.to_le_bytes();
            add(&mut sparse, &e, 3000);
            add(&mut dense, &e, 3000);
            if n == 10 || n == 100 || n == 1000 || n == 20_000 {
                assert_eq!(count(&sparse), count(&dense));
                let c = count(&dense).unwrap() as f64;
                assert!(
                    (c - n as f64).abs() <= (n as f64 * 0.05).max(2.0),
                    "{n}: {c}"
                );
            }
        }
        assert_eq!(sparse[4], DENSE, "promoted past hll-sparse-max-bytes");
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        let mut v = create();
        v.truncate(HDR_SIZE + 1); // an XZERO cut in half
        assert_eq!(count(&v), None);
        assert_eq!(sparse_to_dense(&v), None);
        let mut max = [0u8; REGISTERS];
        assert!(!merge(&mut max, &v));
        // (The cut XZERO reads a zero low byte, as Redis reads the terminator: 16129 registers.)
        assert_eq!(sparse_set(&mut v, 16_300, 3, 3000), -1);
        let mut w = create();
        w.extend_from_slice(&[0xff; 10]);
        assert_eq!(count(&w), None);
    }
}
