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
        Value::Stream(_) => 6,
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
            for item in l.iter() {
                mix_digest(digest, item);
            }
        }
        Value::Set(s) => match s {
            Set::Intset(ints) => {
                let mut buf = itoa::Buffer::new();
                for n in ints.iter() {
                    xor_digest(digest, buf.format(n).as_bytes());
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
        Value::Stream(st) => st.walk(
            crate::db::stream::StreamId::MIN,
            crate::db::stream::StreamId::MAX,
            false,
            false,
            |node, e| {
                mix_digest(digest, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                for (f, v) in node.fields(e) {
                    mix_digest(digest, &f.bytes());
                    mix_digest(digest, &v.bytes());
                }
                true
            },
        ),
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
        mix_digest(&mut ele, field);
        mix_digest(&mut ele, value);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestServer;

    /// Run the commands (arguments split on spaces) as one client.
    fn load(t: &mut TestServer, cmds: &[&str]) {
        let c = t.connect();
        for cmd in cmds {
            let r = t.line(c, cmd);
            assert!(!r.starts_with('-'), "{cmd}: {r}");
        }
    }

    fn values(t: &TestServer, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .map(|k| hex(&value_digest(&t.srv.keyspace.dbs[0], k.as_bytes())))
            .collect()
    }

    #[test]
    fn primitives_are_sha1_xor_and_chain() {
        // SHA1("abc") = a9993e36...; xor into zeros gives it back, twice cancels it.
        let mut d = [0u8; 20];
        xor_digest(&mut d, b"abc");
        assert_eq!(hex(&d), "a9993e364706816aba3e25717850c26c9cd0d89d");
        xor_digest(&mut d, b"abc");
        assert_eq!(d, [0u8; 20]);
        // mix is SHA1 of the xor: order matters.
        let (mut ab, mut ba) = ([0u8; 20], [0u8; 20]);
        mix_digest(&mut ab, b"a");
        mix_digest(&mut ab, b"b");
        mix_digest(&mut ba, b"b");
        mix_digest(&mut ba, b"a");
        assert_ne!(ab, ba);
    }

    /// The values below are what Redis 7.0.15 answers to DEBUG DIGEST and DIGEST-VALUE for
    /// the same commands.
    #[test]
    fn small_encodings_digest_as_redis() {
        let mut t = TestServer::new(&[]);
        assert_eq!(hex(&dataset_digest(&t.srv.keyspace.dbs)), "0".repeat(40));
        load(
            &mut t,
            &[
                "SET foo bar",
                "SET n 12345",
                "RPUSH l a b c 1",
                "SADD s 1 2 3",
                "SADD t x y 5",
                "ZADD z 1.5 a 2 b -0.1 c",
                "HSET h f v f2 1",
                "SET e v PX 100000",
            ],
        );
        assert_eq!(
            values(&t, &["foo", "n", "l", "s", "t", "z", "h", "e", "missing"]),
            [
                "68467c70ae30376e7ce005bcc8827f5ba7fd67dc",
                "e1cf90774e995ae03de66e8109dc5cb9d9c2dc83",
                "e093abdde6c4844ba87b7ed2172d25e2334a432b",
                "2a462a3f51a1db89738ebbeef0c47ce1bbc85246",
                "9ab0175c08c7ea91e0aa7ce3701a4de6bb59341a",
                "acaa444110a0948fd8a2712ccfc4d8d55969ac89",
                "05bf2c568abd8f115ba30bc4be7caff435a57c91",
                "311b17018163335616e089f6b951c82c477335ac",
                "0000000000000000000000000000000000000000",
            ]
        );
        assert_eq!(
            hex(&dataset_digest(&t.srv.keyspace.dbs)),
            "130be9f77f38038c86bfdddc2a9e6dab32add727"
        );
        // The same key in another database changes the dataset digest.
        load(&mut t, &["SELECT 1", "SET foo bar"]);
        assert_eq!(
            hex(&dataset_digest(&t.srv.keyspace.dbs)),
            "dc95604ece0a51f2000fa1670df162ad947f1ca2"
        );
    }

    #[test]
    fn large_encodings_and_special_scores_digest_as_redis() {
        let mut t = TestServer::new(&[]);
        let zadd = (0..200)
            .map(|i| format!("{:?} m{i}", i as f64 / 3.0))
            .collect::<Vec<_>>()
            .join(" ");
        let hset = (0..200)
            .map(|i| format!("f{i} v{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let sadd = (0..600)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let rpush = (0..1000)
            .map(|i| format!("item{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let long = "x".repeat(100);
        load(
            &mut t,
            &[
                &format!("ZADD zs {zadd}"),
                &format!("HSET hb {hset}"),
                &format!("SADD sb {sadd}"),
                &format!("RPUSH lb {rpush}"),
                &format!("HSET hh a 1 b 2 c {long}"),
                "ZADD zz 0 x -0 y inf z -inf w 1e300 v 0.1 u",
                "ZADD zk 0 x -0 y",
                &format!("ZADD zk 1 k{long}"),
                &format!("ZADD zk2 1 k{long}"),
                "ZADD zk2 -0 y 2.5 z",
            ],
        );
        let db = &t.srv.keyspace.dbs[0];
        let enc = |k: &str| db.get(k.as_bytes()).unwrap().val.encoding();
        assert_eq!(
            ["zs", "sb", "hh", "zz", "zk", "zk2"].map(enc),
            [
                "skiplist",
                "hashtable",
                "hashtable",
                "listpack",
                "skiplist",
                "skiplist"
            ]
        );
        assert_eq!(
            values(&t, &["zs", "hb", "sb", "lb", "hh", "zz", "zk", "zk2"]),
            [
                "34920daa27f2e00bf42f7d8a4fdd522c6d79508a",
                "0887b9799375ff93095b92928148c2e3d49c5e84",
                "04d81c0962ffde34acf89d01fe2057bd59abc03f",
                "e248569a8dcccb22248a775dd6718e8a7e727ff2",
                "a56f2cf88438413305026e732878c1c88e3cd355",
                "f07e4d27ec06ff7804d1992e155805815a3bf5c9",
                "80395813c331f6a8958e28d8bdbcf432964106a1",
                "83c3838014795faf8b903be29a10876d23e648c3",
            ]
        );
    }
}
