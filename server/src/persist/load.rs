//! Loading an RDB file into the keyspace: each key read becomes a value in the encoding
//! Redis 7.0 would give it on load (intset / listpack when within the thresholds).

use crate::config::Settings;
use crate::db::intset::IntSet;
use crate::db::zset::{Limits, LoadError};
use crate::db::{Dict, Hash, List, Set, SmallBytes, Value, ZSet};
use crate::persist::rdb::codec::RdbError;
use crate::persist::rdb::read::RdbValue;

/// Turn a decoded value into a picket value. `seed` seeds any hash table it creates; `at`
/// is the file offset of the key (for error messages about duplicates).
pub fn to_value(v: RdbValue, cfg: &Settings, seed: u64, at: usize) -> Result<Value, RdbError> {
    Ok(match v {
        RdbValue::String(s) => Value::string(&s),
        RdbValue::List(items) => {
            if items.is_empty() {
                return Err(RdbError::corrupt("empty list", at));
            }
            Value::List(List::from_items(&items))
        }
        RdbValue::Set { members, .. } => Value::Set(to_set(members, cfg, seed, at)?),
        RdbValue::Hash { fields, .. } => Value::Hash(to_hash(fields, cfg, seed, at)?),
        RdbValue::ZSet { members, compact } => {
            Value::ZSet(to_zset(members, compact, cfg, seed, at)?)
        }
        RdbValue::Stream(s) => Value::Stream(s),
    })
}

fn to_set(members: Vec<Vec<u8>>, cfg: &Settings, seed: u64, at: usize) -> Result<Set, RdbError> {
    if members.is_empty() {
        return Err(RdbError::corrupt("empty set", at));
    }
    let ints: Option<Vec<i64>> = if members.len() <= cfg.set_max_intset_entries {
        members
            .iter()
            .map(|m| picket_common::sds::string2ll(m))
            .collect()
    } else {
        None
    };
    if let Some(mut v) = ints {
        v.sort_unstable();
        let n = v.len();
        v.dedup();
        if v.len() != n {
            return Err(RdbError::corrupt("duplicate set members", at));
        }
        return Ok(Set::Intset(IntSet::from_sorted(&v)));
    }
    let mut d = Dict::with_seed(seed);
    for m in members {
        if d.insert(SmallBytes::from(m), ()).is_some() {
            return Err(RdbError::corrupt("duplicate set members", at));
        }
    }
    Ok(Set::Table(Box::new(d)))
}

fn to_hash(
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    cfg: &Settings,
    seed: u64,
    at: usize,
) -> Result<Hash, RdbError> {
    if fields.is_empty() {
        return Err(RdbError::corrupt("empty hash", at));
    }
    let small = fields.len() <= cfg.hash_max_listpack_entries
        && fields.iter().all(|(f, v)| {
            f.len() <= cfg.hash_max_listpack_value && v.len() <= cfg.hash_max_listpack_value
        });
    if small {
        let mut names: Vec<&[u8]> = fields.iter().map(|(f, _)| f.as_slice()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(RdbError::corrupt("duplicate hash fields", at));
        }
        return Ok(Hash::listpack_from(
            fields.iter().map(|(f, x)| (f.as_slice(), x.as_slice())),
        ));
    }
    let mut d = Box::new(Dict::with_seed(seed));
    for (f, x) in fields {
        if d.insert(SmallBytes::from(f), SmallBytes::from(x)).is_some() {
            return Err(RdbError::corrupt("duplicate hash fields", at));
        }
    }
    Ok(Hash::Table(d))
}

fn to_zset(
    members: Vec<(Vec<u8>, f64)>,
    compact: bool,
    cfg: &Settings,
    seed: u64,
    at: usize,
) -> Result<ZSet, RdbError> {
    if members.is_empty() {
        return Err(RdbError::corrupt("empty sorted set", at));
    }
    let lim = Limits {
        max_entries: cfg.zset_max_listpack_entries,
        max_value: cfg.zset_max_listpack_value,
    };
    let pairs = members
        .into_iter()
        .map(|(m, s)| (SmallBytes::from(m), s))
        .collect();
    // The skiplist wants a stream of seeds (its level generator, its member dict): derive
    // them from the one we were given so loading stays deterministic.
    let mut next = seed;
    let mut seeds = move || {
        next = next.wrapping_add(0x9e37_79b9_7f4a_7c15);
        next
    };
    ZSet::from_pairs(pairs, compact, lim, &mut seeds).map_err(|e| match e {
        LoadError::Duplicate => RdbError::corrupt("duplicate sorted set members", at),
        LoadError::NanScore => RdbError::corrupt("sorted set with a NaN score", at),
    })
}
