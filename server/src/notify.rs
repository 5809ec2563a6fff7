//! Keyspace notifications (`notify-keyspace-events`): flag parsing and printing as Redis's
//! `keyspaceEventsStringToFlags` / `keyspaceEventsFlagsToString`.

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;
/// `A`: every class but key-miss and new.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parse the flags string; `None` for an unknown character.
pub fn parse(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// The string stored for the configuration: [`to_string`], plus `n` when `A` hides it, so
/// that no flag is lost.
pub fn to_canonical(f: u32) -> String {
    let mut s = to_string(f);
    if f & ALL == ALL && f & NEW != 0 {
        s.push('n');
    }
    s
}

/// The string CONFIG GET shows (Redis's `keyspaceEventsFlagsToString`).
pub fn to_string(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            // As Redis 7.0: `n` is only shown without `A` (and lost from the text with it).
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(to_string(parse("KEA").unwrap()), "AKE");
        assert_eq!(to_string(parse("Ex$").unwrap()), "$xE");
        assert_eq!(parse("Q"), None);
        assert_eq!(parse(""), Some(0));
        assert_eq!(to_string(parse("Ex$lshzxetdmn").unwrap()), "$lshzxetdnEm");
        assert_eq!(to_string(parse("AKEmn").unwrap()), "AKEm");
        assert_eq!(to_canonical(parse("AKEmn").unwrap()), "AKEmn");
        assert_eq!(
            parse("AKEmn"),
            parse(&to_canonical(parse("AKEmn").unwrap()))
        );
    }
}
