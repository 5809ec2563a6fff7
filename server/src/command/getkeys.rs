//! The keys of a command and the flags of the key spec that found each (COMMAND GETKEYS,
//! ACL key permissions): Redis's `getKeysUsingKeySpecs`, and SET's `setGetKeys`.

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::keyspec::{BeginSearch, FindKeys};
use super::spec::CommandSpec;

/// Redis's `getKeysFromCommandWithSpecs` for the commands picket has: key specs, except SET
/// whose specs have `variable_flags`.
pub fn keys_with_flags(c: &CommandSpec, args: &[Bytes]) -> Vec<(usize, &'static [&'static str])> {
    if c.name == "set" && c.parent.is_none() {
        set_get_keys(args)
    } else {
        key_positions(c, args)
    }
}

/// The positions of the keys of a command, with the flags of the key spec that found each,
/// as Redis's `getKeysUsingKeySpecs`.
pub fn key_positions(c: &CommandSpec, args: &[Bytes]) -> Vec<(usize, &'static [&'static str])> {
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for ks in c.key_specs {
        // GET_KEYSPEC_DEFAULT leaves out `not_key` specs.
        if ks.flags.contains(&"not_key") {
            continue;
        }
        let first = match ks.begin {
            BeginSearch::Index(i) => i,
            BeginSearch::Keyword { keyword, startfrom } => {
                let (from, to, step): (i64, i64, i64) = if startfrom >= 0 {
                    (startfrom, argc - 1, 1)
                } else {
                    (argc + startfrom, 1, -1)
                };
                let mut found = None;
                let mut i = from;
                while (step > 0 && i <= to) || (step < 0 && i >= to) {
                    if i >= 0 && i < argc && is(&args[i as usize], keyword) {
                        found = Some(i + 1);
                        break;
                    }
                    i += step;
                }
                match found {
                    Some(f) => f,
                    None => continue,
                }
            }
            BeginSearch::Unknown => continue,
        };
        if first >= argc {
            continue;
        }
        let (last, step) = match ks.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit <= 1 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit) + lastkey
                };
                (last, keystep)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let idx = first + keynumidx;
                let Some(n) = args.get(idx as usize).and_then(|a| parse_i64(a)) else {
                    continue;
                };
                let start = first + firstkey;
                out_range(
                    &mut out,
                    start,
                    start + (n - 1) * keystep,
                    keystep,
                    argc,
                    ks.flags,
                );
                continue;
            }
            FindKeys::Unknown => continue,
        };
        out_range(&mut out, first, last, step, argc, ks.flags);
    }
    out
}

fn out_range(
    out: &mut Vec<(usize, &'static [&'static str])>,
    first: i64,
    last: i64,
    step: i64,
    argc: i64,
    flags: &'static [&'static str],
) {
    let step = step.max(1);
    let mut i = first;
    while i <= last && i < argc {
        if i > 0 {
            out.push((i as usize, flags));
        }
        i += step;
    }
}

/// SET's key spec has `variable_flags`, so Redis asks its `setGetKeys` instead: the key is
/// only overwritten unless a `GET` option also reads it.
pub fn set_get_keys(args: &[Bytes]) -> Vec<(usize, &'static [&'static str])> {
    if args.iter().skip(3).any(|a| is(a, "get")) {
        vec![(1, &["RW", "access", "update"])]
    } else {
        vec![(1, &["OW", "update"])]
    }
}
