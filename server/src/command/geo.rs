//! GEO commands, as Redis 7.0's `geo.c`, `geohash.c` and `geohash_helper.c`: positions are
//! sorted set members scored by their 52-bit interleaved geohash, so GEOADD is a ZADD (and
//! propagates as one), and searches walk the same nine geohash boxes in the same order as
//! Redis, so results, distances and unsorted orders are Redis's.
//!
//! One known difference: with ASC/DESC, members at exactly the same distance keep the order
//! they were found in (a stable sort); Redis's qsort and partial sort may order such ties
//! otherwise.

use std::ffi::c_char;
use std::os::raw::c_int;

use bytes::Bytes;

use super::args::{kw, parse_f64};
use super::{CmdError, CmdResult, Ctx};
use crate::db::smallbytes::SmallBytes;
use crate::db::zset::{ScoreRange, ZSet};
use crate::db::Value;
use crate::notify;

const STEP_MAX: u8 = 26;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct HashBits {
    bits: u64,
    step: u8,
}

impl HashBits {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Range {
    min: f64,
    max: f64,
}

#[derive(Clone, Copy, Default, Debug)]
struct Area {
    longitude: Range,
    latitude: Range,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = xlo as u64;
    let mut y = ylo as u64;
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Redis's `geohashEncode`: None outside the ranges.
fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<HashBits> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    // (C converts the doubles to uint32_t by truncation.)
    Some(HashBits {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
}

fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let step = hash.step;
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << step) as f64;
    Some(Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: lat_range.min + ((ilato as u64 + 1) as f64 * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: long_range.min + ((ilono as u64 + 1) as f64 * 1.0 / div) * long_scale,
        },
    })
}

fn area_to_long_lat(area: &Area) -> [f64; 2] {
    let x = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let y = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [x, y]
}

/// A member's coordinates from its score (Redis's `decodeGeohash`).
fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = HashBits {
        bits: score as u64,
        step: STEP_MAX,
    };
    decode(LONG_RANGE, LAT_RANGE, hash).map(|a| area_to_long_lat(&a))
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - hash.step as u32 * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - hash.step as u32 * 2);
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - hash.step as u32 * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - hash.step as u32 * 2);
    hash.bits = x | y;
}

/// The nine boxes in Redis's order: the centre, N, S, E, W, NE, NW, SE, SW.
#[derive(Clone, Copy, Default, Debug)]
struct Neighbors {
    north: HashBits,
    south: HashBits,
    east: HashBits,
    west: HashBits,
    north_east: HashBits,
    north_west: HashBits,
    south_east: HashBits,
    south_west: HashBits,
}

fn neighbors(hash: &HashBits) -> Neighbors {
    let moved = |dx: i8, dy: i8| {
        let mut h = *hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        east: moved(1, 0),
        west: moved(-1, 0),
        south: moved(0, -1),
        north: moved(0, 1),
        north_west: moved(-1, 1),
        north_east: moved(1, 1),
        south_east: moved(1, -1),
        south_west: moved(-1, -1),
    }
}

fn align52(hash: HashBits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

fn estimate_steps_by_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// Redis's `geohashGetDistance` (haversine on its Earth radius).
fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

#[derive(Clone, Copy, Debug)]
enum ShapeKind {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
struct Shape {
    kind: ShapeKind,
    xy: [f64; 2],
    /// Meters per unit.
    conversion: f64,
}

impl Shape {
    fn bounding_box(&self) -> [f64; 4] {
        let [longitude, latitude] = self.xy;
        let (height, width) = match self.kind {
            ShapeKind::Circle { radius } => (radius, radius),
            ShapeKind::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (height * self.conversion, width * self.conversion);
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
        let south = latitude < 0.0;
        [
            if south {
                longitude - long_delta_bottom
            } else {
                longitude - long_delta_top
            },
            latitude - lat_delta,
            if south {
                longitude + long_delta_bottom
            } else {
                longitude + long_delta_top
            },
            latitude + lat_delta,
        ]
    }

    /// The point of `score` if it is inside the shape, with its distance from the centre
    /// (Redis's `geoWithinShape`).
    fn within(&self, score: f64) -> Option<([f64; 2], f64)> {
        let xy = decode_score(score)?;
        match self.kind {
            ShapeKind::Circle { radius } => {
                let d = distance(self.xy[0], self.xy[1], xy[0], xy[1]);
                (d <= radius * self.conversion).then_some((xy, d))
            }
            ShapeKind::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(xy[1], self.xy[1]) > h / 2.0 {
                    return None;
                }
                if distance(xy[0], xy[1], self.xy[0], xy[1]) > w / 2.0 {
                    return None;
                }
                Some((xy, distance(self.xy[0], self.xy[1], xy[0], xy[1])))
            }
        }
    }
}

/// The centre box and its neighbours to search (Redis's `geohashCalculateAreasByShapeWGS84`).
fn areas(shape: &Shape) -> (HashBits, Neighbors) {
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounding_box();
    let [longitude, latitude] = shape.xy;
    let radius_meters = match shape.kind {
        ShapeKind::Circle { radius } => radius,
        ShapeKind::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * shape.conversion;
    let mut steps = estimate_steps_by_radius(radius_meters, latitude);
    let mut hash = encode(LONG_RANGE, LAT_RANGE, longitude, latitude, steps).unwrap_or_default();
    let mut nb = neighbors(&hash);
    let mut area = decode(LONG_RANGE, LAT_RANGE, hash).unwrap_or_default();
    let dec = |h: HashBits| decode(LONG_RANGE, LAT_RANGE, h).unwrap_or_default();
    let decrease = dec(nb.north).latitude.max < max_lat
        || dec(nb.south).latitude.min > min_lat
        || dec(nb.east).longitude.max < max_lon
        || dec(nb.west).longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        hash = encode(LONG_RANGE, LAT_RANGE, longitude, latitude, steps).unwrap_or_default();
        nb = neighbors(&hash);
        area = decode(LONG_RANGE, LAT_RANGE, hash).unwrap_or_default();
    }
    if steps >= 2 {
        let zero = HashBits::default();
        if area.latitude.min < min_lat {
            nb.south = zero;
            nb.south_west = zero;
            nb.south_east = zero;
        }
        if area.latitude.max > max_lat {
            nb.north = zero;
            nb.north_east = zero;
            nb.north_west = zero;
        }
        if area.longitude.min < min_lon {
            nb.west = zero;
            nb.south_west = zero;
            nb.north_west = zero;
        }
        if area.longitude.max > max_lon {
            nb.east = zero;
            nb.south_east = zero;
            nb.north_east = zero;
        }
    }
    (hash, nb)
}

struct Point {
    xy: [f64; 2],
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// The members of the nine boxes inside the shape, in Redis's order (box by box, each in
/// score order), stopping at `limit` when it is not 0 (ANY).
fn search(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let (hash, n) = areas(shape);
    let boxes = [
        hash,
        n.north,
        n.south,
        n.east,
        n.west,
        n.north_east,
        n.north_west,
        n.south_east,
        n.south_west,
    ];
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        if let Some(l) = last {
            if boxes[l] == *b {
                continue;
            }
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        let min = align52(*b) as f64;
        let max = align52(HashBits {
            bits: b.bits + 1,
            step: b.step,
        }) as f64;
        let range = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        if let Some(first) = z.first_in_score(&range) {
            for (m, s) in z.iter_from(first, false) {
                if !range.lte_max(s) {
                    break;
                }
                if let Some((xy, dist)) = shape.within(s) {
                    out.push(Point {
                        xy,
                        dist,
                        score: s,
                        member: m.to_vec(),
                    });
                }
                if !out.is_empty() && limit > 0 && out.len() >= limit {
                    break;
                }
            }
        }
        last = Some(i);
    }
    out
}

// ------------------------------------------------------------------------------ replies

extern "C" {
    /// See longdouble.c: a double as Redis's `addReplyHumanLongDouble` prints it.
    fn picket_double_human(value: f64, out: *mut c_char, outlen: usize) -> c_int;
}

fn human(v: f64) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    // SAFETY: `buf` is writable for its length, which the C side bounds its snprintf by;
    // nothing is retained after the call.
    let n = unsafe { picket_double_human(v, buf.as_mut_ptr() as *mut c_char, buf.len()) };
    buf.truncate(n.max(0) as usize);
    buf
}

/// Redis's `addReplyHumanLongDouble`: a bulk string in RESP2, a double in RESP3.
fn reply_human(ctx: &mut Ctx, v: f64) {
    let text = human(v);
    if ctx.out.resp3() {
        ctx.out.raw(b",");
        ctx.out.raw(&text);
        ctx.out.raw(b"\r\n");
    } else {
        ctx.out.bulk(&text);
    }
}

/// Redis's `addReplyDoubleDistance`: four decimals (`fixedpoint_d2string`).
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = (d * 10000.0).round_ties_even() as i64;
    let neg = scaled < 0;
    let v = scaled.unsigned_abs();
    format!(
        "{}{}.{:04}",
        if neg { "-" } else { "" },
        v / 10000,
        v % 10000
    )
}

// ------------------------------------------------------------------------------ parsing

fn parse_lon_lat(args: &[Bytes]) -> Result<[f64; 2], CmdError> {
    let lon = parse_f64(&args[0]).ok_or(CmdError::NotFloat)?;
    let lat = parse_f64(&args[1]).ok_or(CmdError::NotFloat)?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(CmdError::Reply(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok([lon, lat])
}

fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    if kw(arg, "m") {
        Ok(1.0)
    } else if kw(arg, "km") {
        Ok(1000.0)
    } else if kw(arg, "ft") {
        Ok(0.3048)
    } else if kw(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::err(
            "unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

fn number(arg: &[u8], msg: &str) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or_else(|| CmdError::err(msg))
}

/// radius unit: (radius, meters per unit).
fn parse_distance(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let d = number(&args[0], "need numeric radius")?;
    if d < 0.0 {
        return Err(CmdError::err("radius cannot be negative"));
    }
    Ok((d, unit(&args[1])?))
}

/// width height unit
fn parse_box(args: &[Bytes]) -> Result<(f64, f64, f64), CmdError> {
    let w = number(&args[0], "need numeric width")?;
    let h = number(&args[1], "need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::err("height or width cannot be negative"));
    }
    Ok((w, h, unit(&args[2])?))
}

fn member_xy(z: &ZSet, member: &[u8]) -> Option<[f64; 2]> {
    z.score(member).and_then(decode_score)
}

// ----------------------------------------------------------------------------- commands

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]: a ZADD of the encoded scores,
/// propagated as that ZADD.
pub fn geoadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut nx, mut xx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let o = &args[longidx];
        if kw(o, "nx") {
            nx = true;
        } else if kw(o, "xx") {
            xx = true;
        } else if !kw(o, "ch") {
            break;
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    let mut zargs: Vec<Bytes> = Vec::with_capacity(longidx + (args.len() - longidx) / 3 * 2);
    zargs.push(Bytes::from_static(b"zadd"));
    zargs.extend(args[1..longidx].iter().cloned());
    for el in args[longidx..].chunks(3) {
        let xy = parse_lon_lat(&el[..2])?;
        let hash = encode_wgs84(xy[0], xy[1], STEP_MAX).unwrap_or_default();
        zargs.push(Bytes::from(align52(hash).to_string()));
        zargs.push(el[2].clone());
    }
    let dirty = ctx.srv.dirty;
    let mut sub = Ctx {
        srv: &mut *ctx.srv,
        client: &mut *ctx.client,
        out: &mut *ctx.out,
        args: &zargs,
        spec: ctx.spec,
        propagate: Default::default(),
        push_mark: ctx.push_mark,
    };
    let r = super::zsets::zadd_generic(&mut sub, 0);
    ctx.push_mark = sub.push_mark;
    if ctx.srv.dirty > dirty {
        ctx.propagate_as(vec![zargs]);
    }
    r
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let points: Vec<Option<[f64; 2]>> = match super::zsets::read_zset(ctx.srv, db, &args[1])? {
        None => vec![None; args.len() - 2],
        Some(z) => args[2..].iter().map(|m| member_xy(z, m)).collect(),
    };
    ctx.out.array(points.len());
    for p in points {
        match p {
            None => ctx.out.null_array(),
            Some([x, y]) => {
                ctx.out.array(2);
                reply_human(ctx, x);
                reply_human(ctx, y);
            }
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub fn geodist(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let to_meter = match args.len() {
        5 => unit(&args[4])?,
        n if n > 5 => return Err(CmdError::Syntax),
        _ => 1.0,
    };
    let d = match super::zsets::read_zset(ctx.srv, db, &args[1])? {
        None => None,
        Some(z) => match (member_xy(z, &args[2]), member_xy(z, &args[3])) {
            (Some(a), Some(b)) => Some(distance(a[0], a[1], b[0], b[1]) / to_meter),
            _ => None,
        },
    };
    match d {
        Some(d) => ctx.out.bulk(distance_text(d).as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]: the standard 11-character geohash (re-encoded on the -90..90
/// latitude range).
pub fn geohash(ctx: &mut Ctx) -> CmdResult {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let args = ctx.args;
    let db = ctx.db();
    let hashes: Vec<Option<Vec<u8>>> = match super::zsets::read_zset(ctx.srv, db, &args[1])? {
        None => vec![None; args.len() - 2],
        Some(z) => args[2..]
            .iter()
            .map(|m| {
                let xy = member_xy(z, m)?;
                let r_long = Range {
                    min: -180.0,
                    max: 180.0,
                };
                let r_lat = Range {
                    min: -90.0,
                    max: 90.0,
                };
                let h = encode(r_long, r_lat, xy[0], xy[1], 26).unwrap_or_default();
                Some(
                    (0..11)
                        .map(|i| {
                            let idx = if i == 10 {
                                0
                            } else {
                                ((h.bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
                            };
                            ALPHABET[idx]
                        })
                        .collect(),
                )
            })
            .collect(),
    };
    ctx.out.array(hashes.len());
    for h in hashes {
        match h {
            Some(h) => ctx.out.bulk(&h),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS / GEORADIUS_RO (`ro`: no STORE).
    Radius {
        ro: bool,
    },
    ByMember {
        ro: bool,
    },
    Search,
    SearchStore,
}

pub fn georadius(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, Variant::Radius { ro: false })
}

pub fn georadius_ro(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, Variant::Radius { ro: true })
}

pub fn georadiusbymember(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, Variant::ByMember { ro: false })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, Variant::ByMember { ro: true })
}

pub fn geosearch(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, Variant::Search)
}

pub fn geosearchstore(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, Variant::SearchStore)
}

/// Redis's `georadiusGeneric`.
fn radius_generic(ctx: &mut Ctx, variant: Variant) -> CmdResult {
    let args = ctx.args;
    let db = ctx.db();
    let src = if variant == Variant::SearchStore {
        &args[2]
    } else {
        &args[1]
    };
    let search = matches!(variant, Variant::Search | Variant::SearchStore);
    let nostore = matches!(
        variant,
        Variant::Radius { ro: true } | Variant::ByMember { ro: true }
    );
    // The source set: looked up once (statistics, expiry, WRONGTYPE), then peeked at.
    let zexists = super::zsets::read_zset(ctx.srv, db, src)?.is_some();
    let mut center: Option<[f64; 2]> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut conversion = 1.0;
    let mut storekey: Option<Bytes> = None;
    let mut storedist = false;
    let base_args = match variant {
        Variant::Radius { .. } => {
            center = Some(parse_lon_lat(&args[2..4])?);
            let (r, c) = parse_distance(&args[4..6])?;
            kind = Some(ShapeKind::Circle { radius: r });
            conversion = c;
            6
        }
        Variant::ByMember { .. } if !zexists => 5,
        Variant::ByMember { .. } => {
            let z = super::zsets::peek(ctx.srv, db, src);
            center = Some(
                z.and_then(|z| member_xy(z, &args[2]))
                    .ok_or_else(|| CmdError::err("could not decode requested zset member"))?,
            );
            let (r, c) = parse_distance(&args[3..5])?;
            kind = Some(ShapeKind::Circle { radius: r });
            conversion = c;
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            storekey = Some(args[1].clone());
            3
        }
    };
    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    #[derive(PartialEq, Eq, Clone, Copy)]
    enum Sort {
        None,
        Asc,
        Desc,
    }
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = args.len().saturating_sub(base_args);
    let mut i = 0;
    while i < remaining {
        let a = &args[base_args + i];
        let at = |k: usize| &args[base_args + i + k];
        if kw(a, "withdist") {
            withdist = true;
        } else if kw(a, "withhash") {
            withhash = true;
        } else if kw(a, "withcoord") {
            withcoords = true;
        } else if kw(a, "any") {
            any = true;
        } else if kw(a, "asc") {
            sort = Sort::Asc;
        } else if kw(a, "desc") {
            sort = Sort::Desc;
        } else if kw(a, "count") && i + 1 < remaining {
            count = super::args::int(at(1))?;
            if count <= 0 {
                return Err(CmdError::err("COUNT must be > 0"));
            }
            i += 1;
        } else if (kw(a, "store") || kw(a, "storedist")) && i + 1 < remaining && !nostore && !search
        {
            storekey = Some(at(1).clone());
            storedist = kw(a, "storedist");
            i += 1;
        } else if kw(a, "storedist") && variant == Variant::SearchStore {
            storedist = true;
        } else if kw(a, "frommember") && i + 1 < remaining && search && !fromloc {
            if zexists {
                let z = super::zsets::peek(ctx.srv, db, src);
                center = Some(
                    z.and_then(|z| member_xy(z, at(1)))
                        .ok_or_else(|| CmdError::err("could not decode requested zset member"))?,
                );
            }
            frommember = true;
            i += 1;
        } else if kw(a, "fromlonlat") && i + 2 < remaining && search && !frommember {
            center = Some(parse_lon_lat(&args[base_args + i + 1..base_args + i + 3])?);
            fromloc = true;
            i += 2;
        } else if kw(a, "byradius") && i + 2 < remaining && search && !bybox {
            let (r, c) = parse_distance(&args[base_args + i + 1..base_args + i + 3])?;
            kind = Some(ShapeKind::Circle { radius: r });
            conversion = c;
            byradius = true;
            i += 2;
        } else if kw(a, "bybox") && i + 3 < remaining && search && !byradius {
            let (w, h, c) = parse_box(&args[base_args + i + 1..base_args + i + 4])?;
            kind = Some(ShapeKind::Box {
                width: w,
                height: h,
            });
            conversion = c;
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    if storekey.is_some() && (withdist || withhash || withcoords) {
        return Err(CmdError::Reply(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if variant == Variant::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if search && !(frommember || fromloc) {
        return Err(CmdError::Reply(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(byradius || bybox) {
        return Err(CmdError::Reply(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::err("the ANY argument requires COUNT argument"));
    }
    if !zexists {
        if let Some(sk) = storekey {
            if ctx.srv.data().delete(db, &sk) {
                ctx.changed(notify::GENERIC, "del", &sk);
            }
            ctx.out.int(0);
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let (Some(xy), Some(kind)) = (center, kind) else {
        return Err(CmdError::Syntax);
    };
    let shape = Shape {
        kind,
        xy,
        conversion,
    };
    let mut points = match super::zsets::peek(ctx.srv, db, src) {
        Some(z) => search_points(z, &shape, if any { count as usize } else { 0 }),
        None => Vec::new(),
    };
    if points.is_empty() && storekey.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let returned = if count == 0 {
        points.len()
    } else {
        points.len().min(count as usize)
    };
    match sort {
        Sort::Asc => points.sort_by(|a, b| {
            a.dist
                .partial_cmp(&b.dist)
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        Sort::Desc => points.sort_by(|a, b| {
            b.dist
                .partial_cmp(&a.dist)
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        Sort::None => {}
    }
    points.truncate(returned);
    match storekey {
        None => {
            let options = withdist as usize + withcoords as usize + withhash as usize;
            ctx.out.array(points.len());
            for p in points {
                let dist = p.dist / conversion;
                if options > 0 {
                    ctx.out.array(options + 1);
                }
                ctx.out.bulk(&p.member);
                if withdist {
                    ctx.out.bulk(distance_text(dist).as_bytes());
                }
                if withhash {
                    ctx.out.int(p.score as i64);
                }
                if withcoords {
                    ctx.out.array(2);
                    reply_human(ctx, p.xy[0]);
                    reply_human(ctx, p.xy[1]);
                }
            }
        }
        Some(sk) => {
            let n = points.len();
            if n > 0 {
                let mut pairs: Vec<(SmallBytes, f64)> = points
                    .into_iter()
                    .map(|p| {
                        let s = if storedist {
                            p.dist / conversion
                        } else {
                            p.score
                        };
                        (SmallBytes::from(p.member.as_slice()), s)
                    })
                    .collect();
                pairs.sort_by(|a, b| {
                    a.1.partial_cmp(&b.1)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
                });
                let lim = super::zsets::limits(ctx.srv);
                let mut seed = super::zsets::seeds(ctx.srv);
                let z = ZSet::from_sorted(pairs, lim, &mut seed);
                ctx.srv.data().set_key(db, &sk, Value::ZSet(z), false);
                let event = if search {
                    "geosearchstore"
                } else {
                    "georadiusstore"
                };
                ctx.changed(notify::ZSET, event, &sk);
                ctx.srv.dirty += n as u64 - 1;
            } else if ctx.srv.data().delete(db, &sk) {
                ctx.changed(notify::GENERIC, "del", &sk);
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

fn search_points(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    search(z, shape, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_near_the_point() {
        let h = encode_wgs84(13.361389, 38.115556, STEP_MAX).unwrap();
        let s = align52(h);
        // Redis stores Palermo as 3479099956230698.
        assert_eq!(s, 3479099956230698);
        let xy = decode_score(s as f64).unwrap();
        assert!((xy[0] - 13.361389).abs() < 1e-5 && (xy[1] - 38.115556).abs() < 1e-5);
    }

    #[test]
    fn distance_text_is_fixed_point() {
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(166_274.151_569_6), "166274.1516");
        assert_eq!(distance_text(0.00004), "0.0000");
    }
}
