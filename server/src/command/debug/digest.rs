//! DEBUG DIGEST and DIGEST-VALUE: Redis's SHA1-based fingerprint of a dataset or of values
//! (`src/debug.c`: `xorDigest`, `mixDigest`, `xorObjectDigest`, `computeDatasetDigest`), bit
//! for bit, so that equal datasets give equal digests on picket and on Redis whatever their
//! encodings.
//!
//! Unordered collections (keys, set members, hash fields, sorted-set members) are combined
//! with XOR, so their order does not matter; ordered ones (a list, the parts of one entry)
//! are chained through SHA1 so that it does.

use sha1::{Digest as _, Sha1};

use crate::db::{Db, Hash, Set, Value, ZSet};

/// A 20-byte digest.
pub type Digest = [u8; 20];

/// Redis's object type codes (`OBJ_STRING` ... `OBJ_HASH`), which the digest includes.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Int(_) | Value::Small { .. } | Value::Big { .. } => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// `xorDigest`: digest ^= SHA1(data).
pub fn xor_digest(digest: &mut Digest, data: &[u8]) {
    let hash = Sha1::digest(data);
    for (d, h) in digest.iter_mut().zip(hash.iter()) {
        *d ^= h;
    }
}

/// `mixDigest`: digest = SHA1(digest ^ SHA1(data)), so the order of calls matters.
pub fn mix_digest(digest: &mut Digest, data: &[u8]) {
    xor_digest(digest, data);
    let hash = Sha1::digest(&digest[..]);
    digest.copy_from_slice(&hash);
}

/// `xorObjectDigest`: mix the value's type, its content and whether it has an expiry into
/// `digest`. Sorted-set scores are written as `%.17g`, as Redis does for both of its
/// encodings; integers (intset members, listpack integers) as decimal strings.
pub fn mix_value(digest: &mut Digest, v: &Value, has_expire: bool) {
    mix_digest(digest, &type_code(v).to_be_bytes());
    match v {
        Value::Int(_) | Value::Small { .. } | Value::Big { .. } => mix_digest(digest, &v.bytes()),
        Value::List(l) => {
            for item in &l.items {
                mix_digest(digest, item.as_bytes());
            }
        }
        Value::Set(s) => match s.as_ref() {
            Set::Intset(ints) => {
                let mut buf = itoa::Buffer::new();
                for n in ints {
                    xor_digest(digest, buf.format(*n).as_bytes());
                }
            }
            Set::Table(_) => {
                for m in s.iter() {
                    m.with_bytes(|b| xor_digest(digest, b));
                }
            }
        },
        Value::ZSet(z) => zset_digest(digest, z),
        Value::Hash(h) => hash_digest(digest, h),
    }
    if has_expire {
        xor_digest(digest, b"!!expire!!");
    }
}

fn zset_digest(digest: &mut Digest, z: &ZSet) {
    for (member, score) in z.iter() {
        let mut ele = [0u8; 20];
        mix_digest(&mut ele, member);
        mix_digest(
            &mut ele,
            picket_common::resp::format_double(score).as_bytes(),
        );
        xor_digest(digest, &ele);
    }
}

fn hash_digest(digest: &mut Digest, h: &Hash) {
    for (field, value) in h.iter() {
        let mut ele = [0u8; 20];
        mix_digest(&mut ele, field.as_bytes());
        mix_digest(&mut ele, value.as_bytes());
        xor_digest(digest, &ele);
    }
}

/// DIGEST-VALUE of one key: the value's digest without the key name; zeros for a missing
/// key. Logically expired keys still count, as in Redis (a debugging command sees them).
pub fn value_digest(db: &Db, key: &[u8]) -> Digest {
    let mut d = [0u8; 20];
    if let Some(e) = db.get(key) {
        mix_value(&mut d, &e.val, db.expire_at(key).is_some());
    }
    d
}

/// `computeDatasetDigest`: every non-empty database mixes in its index, then XORs the
/// digest of each (key, value) pair. All zeros for an empty dataset.
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut fin = [0u8; 20];
    for (j, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &(j as u32).to_be_bytes());
        let has_expires = !db.expires.is_empty();
        for (k, e) in db.keys.iter() {
            let mut d = [0u8; 20];
            mix_digest(&mut d, k.as_bytes());
            let expire = has_expires && db.expires.get(k.as_bytes()).is_some();
            mix_value(&mut d, &e.val, expire);
            xor_digest(&mut fin, &d);
        }
    }
    fin
}

/// The digest as DEBUG replies it: 40 lowercase hex digits.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
