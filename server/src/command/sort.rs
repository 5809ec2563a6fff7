//! SORT and SORT_RO, as Redis 7.0's `sort.c`: numeric or ALPHA ordering of a list, set or
//! sorted set, by the elements themselves or by weights found through a `BY` pattern (`*`
//! replaced by the element, `->field` reading a hash field), `LIMIT`, `GET` patterns (`#` is
//! the element), and `STORE` into a list.
//!
//! The details that show in replies follow Redis: the score parsing is C's `strtod` (leading
//! spaces, hex and `inf` accepted, NaN and overflow refused), ties of the numeric order fall
//! back to the bytes of the elements, the sort is stable (glibc's merge sort) except with `BY`
//! and a narrowing `LIMIT`, where Redis's partial quicksort (`pqsort`, ported below) orders
//! equal weights its own way, and `BY` without `*` keeps the native order (lists, sorted sets),
//! or, to store a set, sorts it by its bytes.

use std::cmp::Ordering;

use bytes::Bytes;
use rand::RngExt;

use super::args::{cstr, int, is, is_space};
use super::{CmdError, CmdResult, Ctx};
use crate::db::list::End;
use crate::db::{List, SmallBytes, Value, ZSet};
use crate::notify;
use crate::server::Server;

/// One element to sort and what it is sorted by (Redis's `redisSortObject`).
struct Item {
    obj: SmallBytes,
    score: f64,
    /// The weight for ALPHA with BY (None when the weight key is missing).
    cmp: Option<Vec<u8>>,
}

/// Parsed options.
struct Opts {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<Bytes>,
    by: Option<Bytes>,
    dontsort: bool,
    gets: Vec<Bytes>,
}

fn parse(ctx: &Ctx, readonly: bool) -> Result<Opts, CmdError> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let args = ctx.args;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit_start = int(&args[j + 1])?;
            o.limit_count = int(&args[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            // A pattern without '*' is constant: nothing to sort, no weights to read (and a
            // later BY with a '*' does not undo it).
            if !cstr(&args[j + 1]).contains(&b'*') {
                o.dontsort = true;
            } else if !super::acl_cmd::full_key_access(ctx.srv, ctx.client, ctx.spec, args) {
                return Err(CmdError::err(
                    "BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.by = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if !super::acl_cmd::full_key_access(ctx.srv, ctx.client, ctx.spec, args) {
                return Err(CmdError::err(
                    "GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// What a pattern found for an element (Redis's `lookupKeyByPattern`): the element itself for
/// `#`; else the key named by the pattern with its first `*` replaced by the element (a read
/// lookup), which must hold a string, or, for `key->field`, a hash with that field.
enum Found {
    /// A string value kept as an integer (its score is the integer, as Redis casts it).
    Int(i64),
    Bytes(Vec<u8>),
}

impl Found {
    fn bytes(self) -> Vec<u8> {
        match self {
            Found::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Found::Bytes(b) => b,
        }
    }
}

fn lookup_pattern(srv: &mut Server, db: usize, pattern: &[u8], elem: &[u8]) -> Option<Found> {
    if pattern.first() == Some(&b'#') && pattern.get(1).copied().unwrap_or(0) == 0 {
        return Some(Found::Bytes(elem.to_vec()));
    }
    let c = cstr(pattern);
    let star = c.iter().position(|&b| b == b'*')?;
    // "->" after the '*' with something after it: a hash field (its length counted on the
    // whole argument, as Redis does with sdslen).
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&f| f + 2 < c.len());
    let (key_end, field) = match arrow {
        Some(f) => (f, Some(&pattern[f + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let val = &srv.data().lookup_read(db, &key)?.val;
    match (field, val) {
        (Some(f), Value::Hash(h)) => h.get(f).map(|x| Found::Bytes(x.to_vec())),
        (None, Value::Int(n)) => Some(Found::Int(*n)),
        (None, v) if v.is_string() => Some(Found::Bytes(v.bytes().into_owned())),
        _ => None,
    }
}

/// C's `strtod` as SORT uses it: the whole string (up to a NUL) must be consumed, NaN and a
/// range error (overflow, or underflow to a subnormal or zero) are refused. Leading white
/// space, a sign, hex floats, `inf` and `infinity` are accepted; the empty string is 0.
fn strtod(s: &[u8]) -> Option<f64> {
    let s = cstr(s);
    if s.is_empty() {
        return Some(0.0);
    }
    let t = match s.iter().position(|&b| !is_space(b)) {
        Some(i) => &s[i..],
        // Only white space: nothing converted.
        None => return None,
    };
    let (neg, body) = match t[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let v = if lower == b"inf" || lower == b"infinity" {
        f64::INFINITY
    } else if let Some(hex) = lower.strip_prefix(b"0x") {
        hex_float(hex)?
    } else {
        decimal(&lower)?
    };
    Some(if neg { -v } else { v })
}

/// A decimal literal: digits with an optional point (at least one digit) and exponent.
fn decimal(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    let mut n = digits(&mut i);
    let mut nonzero = s[..i].iter().any(|&d| d != b'0');
    if i < s.len() && s[i] == b'.' {
        i += 1;
        let from = i;
        n += digits(&mut i);
        nonzero |= s[from..i].iter().any(|&d| d != b'0');
    }
    if n == 0 {
        return None;
    }
    if i < s.len() && s[i] == b'e' {
        i += 1;
        if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    in_range(v, nonzero)
}

/// glibc's ERANGE: an infinite result from a finite literal, or a nonzero literal that
/// underflows to a subnormal or zero.
fn in_range(v: f64, nonzero: bool) -> Option<f64> {
    if v.is_infinite() || (nonzero && (v == 0.0 || v.is_subnormal())) {
        None
    } else {
        Some(v)
    }
}

/// The part after `0x` of a hex float: hex digits with an optional point (at least one digit)
/// and an optional binary exponent `p[+-]digits`. An exact subnormal is no range error (glibc
/// reports underflow only when the result is inexact).
fn hex_float(s: &[u8]) -> Option<f64> {
    let (mant, exp) = match s.iter().position(|&b| b == b'p') {
        Some(p) => {
            let e = &s[p + 1..];
            let (neg, digits) = match e.first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Saturated: any exponent past ±10000 overflows or underflows the same way.
            let mag = digits
                .iter()
                .fold(0i64, |acc, &d| (acc * 10 + (d - b'0') as i64).min(10_000));
            (&s[..p], if neg { -mag } else { mag })
        }
        None => (s, 0),
    };
    let (ip, fp) = match mant.iter().position(|&b| b == b'.') {
        Some(d) => (&mant[..d], &mant[d + 1..]),
        None => (mant, &mant[mant.len()..]),
    };
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    // The digits as an integer mantissa (the first 28 significant ones; later nonzero ones only
    // make the value inexact) times a power of two.
    let (mut m, mut e, mut sticky) = (0u128, exp, false);
    for (i, &c) in ip.iter().chain(fp).enumerate() {
        let d = (c as char).to_digit(16)? as u128;
        if m >> 112 == 0 {
            m = m * 16 + d;
            if i >= ip.len() {
                e -= 4;
            }
        } else {
            sticky |= d != 0;
            if i < ip.len() {
                e += 4;
            }
        }
    }
    if m == 0 {
        return Some(0.0);
    }
    let tz = m.trailing_zeros();
    let (m, e) = (m >> tz, e + tz as i64);
    let bits = 128 - m.leading_zeros() as i64;
    let exact = !sticky && bits <= 53 && e >= -1074;
    let e = e.clamp(-5000, 5000) as i32;
    // Two steps so that 2^e itself does not overflow or underflow on the way.
    let v = (m as f64) * 2f64.powi(e / 2) * 2f64.powi(e - e / 2);
    if v.is_infinite() || ((v == 0.0 || v.is_subnormal()) && !exact) {
        None
    } else {
        Some(v)
    }
}

/// C's `strcmp`: bytes up to the first NUL (`strcoll` in the C and C.UTF-8 locales).
fn strcmp(a: &[u8], b: &[u8]) -> Ordering {
    cstr(a).cmp(cstr(b))
}

/// Redis's `sortCompare`.
fn compare(a: &Item, b: &Item, o: &Opts, by: bool) -> Ordering {
    let store = o.store.is_some();
    let cmp = if !o.alpha {
        match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.obj.as_bytes().cmp(b.obj.as_bytes()),
            Some(ord) => ord,
        }
    } else if by {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) if store => x.cmp(y),
            (Some(x), Some(y)) => strcmp(x, y),
        }
    } else if store {
        a.obj.as_bytes().cmp(b.obj.as_bytes())
    } else {
        strcmp(&a.obj, &b.obj)
    };
    if o.desc {
        cmp.reverse()
    } else {
        cmp
    }
}

/// The members of a sorted set from `start` (counted from the end when `desc`), at most `n`.
fn zset_range(z: &ZSet, start: usize, n: usize, desc: bool) -> Vec<SmallBytes> {
    let len = z.len();
    if start >= len {
        return Vec::new();
    }
    let rank = if desc { len - 1 - start } else { start };
    z.iter_from(rank, desc)
        .take(n)
        .map(|(m, _)| SmallBytes::from(m))
        .collect()
}

/// The type of the key sorted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    List,
    Set,
    ZSet,
}

pub fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

pub fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

/// Load the elements to sort: all of them, or, for a list or sorted set kept in its own
/// order, just the LIMIT range (then `start`/`end` are made relative to it).
fn load(
    val: Option<&Value>,
    o: &Opts,
    start: &mut i64,
    end: &mut i64,
    vectorlen: i64,
) -> Vec<SmallBytes> {
    let empty = List::new();
    match val {
        Some(Value::List(l)) => list_items(l, o, start, end, vectorlen),
        None => list_items(&empty, o, start, end, vectorlen),
        Some(Value::Set(s)) => s.iter().map(|m| m.to_small()).collect(),
        Some(Value::ZSet(z)) if o.dontsort => {
            let v = zset_range(z, (*start).max(0) as usize, vectorlen as usize, o.desc);
            *end -= *start;
            *start = 0;
            v
        }
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| SmallBytes::from(m)).collect(),
        Some(_) => Vec::new(),
    }
}

fn list_items(l: &List, o: &Opts, start: &mut i64, end: &mut i64, n: i64) -> Vec<SmallBytes> {
    if !o.dontsort {
        return l.iter().map(SmallBytes::from).collect();
    }
    if *end < *start {
        return Vec::new();
    }
    let (s, n, len) = (*start as usize, n as usize, l.len());
    // The positions `lo..hi` hold the elements wanted, counted from the tail when DESC.
    let (lo, hi) = if o.desc {
        (
            len.saturating_sub(s.saturating_add(n)),
            len.saturating_sub(s),
        )
    } else {
        (s.min(len), s.saturating_add(n).min(len))
    };
    let mut v: Vec<SmallBytes> = if lo < hi {
        l.iter_range(lo, hi - 1).map(SmallBytes::from).collect()
    } else {
        Vec::new()
    };
    if o.desc {
        v.reverse();
    }
    *end -= *start;
    *start = 0;
    v
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let mut o = parse(ctx, readonly)?;
    let db = ctx.db();
    let key = ctx.args[1].clone();
    // A missing key sorts as an empty list.
    let kind = match ctx.srv.data().lookup_read(db, &key).map(|e| &e.val) {
        None => Kind::Missing,
        Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return Err(CmdError::WrongType),
    };
    // Redis converts a sorted set to a skiplist for good before sorting it (even SORT_RO).
    if kind == Kind::ZSet {
        let crate::data::Data {
            keyspace: crate::keyspace::Keyspace { dbs, .. },
            rng,
            ..
        } = ctx.srv.data();
        if let Some(Value::ZSet(z)) = dbs[db].get_mut(&key).map(|e| &mut e.val) {
            z.convert_to_skiplist(&mut || rng.random());
        }
    }
    // A set stored without sorting would keep its hash order: sort it by its bytes instead.
    if o.dontsort && kind == Kind::Set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match kind {
        Kind::Missing => 0,
        _ => ctx.srv.keyspace.dbs[db]
            .get(&key)
            .map_or(0, |e| e.val.elements()) as i64,
    };
    let mut start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut vectorlen = len;
    if kind != Kind::Set && o.dontsort && (start != 0 || end != vectorlen - 1) {
        vectorlen = end - start + 1;
    }
    let elems = {
        let val = ctx.srv.keyspace.dbs[db].get(&key).map(|e| &e.val);
        load(val, &o, &mut start, &mut end, vectorlen)
    };
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|obj| Item {
            obj,
            score: 0.0,
            cmp: None,
        })
        .collect();
    let mut conversion_error = false;
    if !o.dontsort {
        for it in items.iter_mut() {
            let weight = match &o.by {
                Some(p) => match lookup_pattern(ctx.srv, db, p, &it.obj) {
                    Some(f) => Some(f),
                    // No weight: score 0, and first in ALPHA order.
                    None => continue,
                },
                None => None,
            };
            if o.alpha {
                it.cmp = weight.map(Found::bytes);
                continue;
            }
            let score = match weight {
                Some(Found::Int(n)) => Some(n as f64),
                Some(Found::Bytes(b)) => strtod(&b),
                None => strtod(&it.obj),
            };
            match score {
                Some(s) => it.score = s,
                None => conversion_error = true,
            }
        }
        if !conversion_error {
            let by = o.by.is_some();
            let n = items.len() as i64;
            if by && (start != 0 || end != n - 1) {
                pqsort(&mut items, start, end, &mut |a, b| compare(a, b, &o, by));
            } else {
                items.sort_by(|a, b| compare(a, b, &o, by));
            }
        }
    }
    if conversion_error {
        return Err(CmdError::err(
            "One or more scores can't be converted into double",
        ));
    }
    let span = (end - start + 1).max(0) as usize;
    let outputlen = if o.gets.is_empty() {
        span
    } else {
        o.gets.len() * span
    };
    let range = match span {
        0 => &items[..0],
        _ => items.get(start as usize..=end as usize).unwrap_or_default(),
    };
    match o.store.clone() {
        None => {
            ctx.out.array(outputlen);
            for it in range {
                if o.gets.is_empty() {
                    ctx.out.bulk(&it.obj);
                }
                for g in &o.gets {
                    match lookup_pattern(ctx.srv, db, g, &it.obj) {
                        Some(f) => ctx.out.bulk(&f.bytes()),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list = List::new();
            for it in range {
                if o.gets.is_empty() {
                    list.push(End::Right, &it.obj);
                }
                for g in &o.gets {
                    let v =
                        lookup_pattern(ctx.srv, db, g, &it.obj).map_or(Vec::new(), Found::bytes);
                    list.push(End::Right, &v);
                }
            }
            if outputlen > 0 {
                ctx.srv.data().lookup_write(db, &dst);
                ctx.srv.data().set_key(db, &dst, Value::List(list), false);
                ctx.srv.data().signal_modified(db, &dst);
                ctx.srv.data().notify(notify::LIST, "sortstore", &dst, db);
                ctx.srv.dirty += outputlen as u64;
            } else if ctx.srv.keyspace.dbs[db].remove(&dst).is_some() {
                ctx.changed(notify::GENERIC, "del", &dst);
            }
            ctx.out.int(outputlen as i64);
        }
    }
    Ok(())
}

/// Redis's `pqsort`: NetBSD's quicksort (Bentley & McIlroy) that only recurses into the
/// partitions overlapping `lrange..=rrange`. Not stable: the order it leaves equal elements in
/// is part of SORT's output with BY and LIMIT, hence this exact port.
fn pqsort<T>(v: &mut [T], lrange: i64, rrange: i64, cmp: &mut dyn FnMut(&T, &T) -> Ordering) {
    let (mut a, mut n) = (0usize, v.len());
    // Whether [lo, lo + len) overlaps the range.
    let overlaps = |lo: usize, len: usize| lrange < (lo + len) as i64 && rrange >= lo as i64;
    loop {
        let mut swap_cnt = false;
        if n < 7 {
            insertion(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&v[pb], &v[a]);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    swap_cnt = true;
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc], &v[a]);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    swap_cnt = true;
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            swap_cnt = true;
            pb += 1;
            pc -= 1;
        }
        if !swap_cnt {
            insertion(v, a, n, cmp);
            return;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && overlaps(a, r) {
            pqsort_at(v, a, r, lrange, rrange, cmp);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if overlaps(a, n) {
                continue;
            }
        }
        return;
    }
}

/// `pqsort` of `v[a..a + n]` (the recursion of `_pqsort`).
fn pqsort_at<T>(
    v: &mut [T],
    a: usize,
    n: usize,
    lrange: i64,
    rrange: i64,
    cmp: &mut dyn FnMut(&T, &T) -> Ordering,
) {
    let off = a as i64;
    pqsort(&mut v[a..a + n], lrange - off, rrange - off, cmp);
}

fn insertion<T>(v: &mut [T], a: usize, n: usize, cmp: &mut dyn FnMut(&T, &T) -> Ordering) {
    for pm in a + 1..a + n {
        let mut pl = pm;
        while pl > a && cmp(&v[pl - 1], &v[pl]) == Ordering::Greater {
            v.swap(pl, pl - 1);
            pl -= 1;
        }
    }
}

fn med3<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &mut dyn FnMut(&T, &T) -> Ordering,
) -> usize {
    use Ordering::{Greater, Less};
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

/// Swap `n` elements at `i` with `n` elements at `j`, pairwise (BSD's `vecswap`).
fn vecswap<T>(v: &mut [T], i: usize, j: usize, n: usize) {
    for k in 0..n {
        v.swap(i + k, j + k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_glibc() {
        let ok = |s: &[u8], v: f64| assert_eq!(strtod(s), Some(v), "{s:?}");
        let bad = |s: &[u8]| assert_eq!(strtod(s), None, "{s:?}");
        ok(b"1.5", 1.5);
        ok(b"", 0.0);
        ok(b"  1.5", 1.5);
        ok(b"\x0b5", 5.0);
        ok(b"\t\n 7", 7.0);
        ok(b"+.5e1", 5.0);
        ok(b"5.", 5.0);
        ok(b"0x1p3", 8.0);
        ok(b"0x1.8", 1.5);
        ok(b"0x1p-1074", 4.9e-324);
        ok(b"0x.8p1", 1.0);
        bad(b"0x1.8p-1074");
        bad(b"0x1p99999");
        ok(b"-0X10", -16.0);
        ok(b"inf", f64::INFINITY);
        ok(b"-Infinity", f64::NEG_INFINITY);
        ok(b"1\0junk", 1.0);
        ok(b"0e-500", 0.0);
        ok(b"2.2250738585072014e-308", 2.2250738585072014e-308);
        bad(b" ");
        bad(b"1.5 ");
        bad(b"nan");
        bad(b"nan(1)");
        bad(b"infinityx");
        bad(b"0x");
        bad(b"1e");
        bad(b"1_0");
        bad(b".");
        bad(b"1e400");
        bad(b"1e-400");
        bad(b"1e-310");
        bad(b"4.9e-324");
        bad(b"abc");
    }

    #[test]
    fn pqsort_sorts_the_range() {
        let mut rng = picket_common::ids::seeded(12345);
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 500] {
            for _ in 0..20 {
                let mut v: Vec<u32> = (0..n).map(|_| rng.random_range(0..50u32)).collect();
                let mut sorted = v.clone();
                sorted.sort();
                let (l, r) = if n == 0 {
                    (0, -1)
                } else {
                    (n as i64 / 3, n as i64 / 2)
                };
                pqsort(&mut v, l, r, &mut |a, b| a.cmp(b));
                for i in l.max(0)..=r {
                    assert_eq!(v[i as usize], sorted[i as usize], "n {n}");
                }
                let mut all = v.clone();
                all.sort();
                assert_eq!(all, sorted);
                let mut full = v.clone();
                pqsort(&mut full, 0, n as i64 - 1, &mut |a, b| a.cmp(b));
                assert_eq!(full, sorted);
            }
        }
    }
}
