//! The ACL file: Redis 7.0's `ACLLoadFromFile` (every line checked, all or nothing, its error
//! texts) and `ACLSaveToFile` (the users' canonical lines, written to a temporary file and
//! renamed over the old one).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::user::{has_spaces, RuleError, User};
use super::UniverseRef;

/// The users of an ACL file's text (over the commands of `universe`), or Redis's error
/// text (without "ERR ").
pub fn parse(
    text: &[u8],
    filename: &str,
    all_channels: bool,
    universe: UniverseRef,
) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{filename}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new_in(name, all_channels, universe);
        let rest: Vec<bytes::Bytes> = argv[2..]
            .iter()
            .map(|a| bytes::Bytes::copy_from_slice(a))
            .collect();
        let merged = match super::merge_selector_args(&rest) {
            Ok(m) => m,
            Err(_) => {
                errors.push_str(&format!(
                    "{filename}:{linenum}: Unmatched parenthesis in selector definition."
                ));
                Vec::new()
            }
        };
        let mut syntax_error = false;
        for op in merged {
            let op = trim(&op, b"\t\r\n");
            if let Err(e) = u.apply(op, all_channels) {
                if e == RuleError::Unknown {
                    errors.push_str(&format!(
                        "{filename}:{linenum}: Error in applying operation '{}': {e}. ",
                        String::from_utf8_lossy(op)
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{filename}:{linenum}: {e}. "));
                    syntax_error = true;
                }
            }
        }
        users.insert(name.to_vec(), u);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(b"default".to_vec())
        .or_insert_with(|| User::default_user_in(all_channels, universe));
    Ok(users)
}

fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|c| !set.contains(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !set.contains(c))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// `user <name> <description>` for each user, in name order (ACL LIST, ACL SAVE).
pub fn lines(users: &BTreeMap<Vec<u8>, User>) -> Vec<Vec<u8>> {
    users
        .values()
        .map(|u| {
            let mut l = b"user ".to_vec();
            l.extend_from_slice(&u.name);
            l.push(b' ');
            l.extend_from_slice(&super::describe::user(u));
            l
        })
        .collect()
}

/// Write the users to `path` atomically: a temporary file next to it, then a rename.
pub fn save(path: &Path, users: &BTreeMap<Vec<u8>, User>, unique: u64) -> std::io::Result<()> {
    let mut text = Vec::new();
    for l in lines(users) {
        text.extend_from_slice(&l);
        text.push(b'\n');
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}-{unique}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
