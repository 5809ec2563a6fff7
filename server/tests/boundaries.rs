//! Architecture boundaries, checked on the source so that they hold as the code grows
//! (issue #15; README "Layout"):
//! - the server's modules import only downward through the layers of
//!   `tools/layers-server.txt`, the sentinel's through `tools/layers-sentinel.txt`, and no
//!   import cycle spans two folders (`tools/layers.py --check`);
//! - the data command families reach the server only through the keyspace service
//!   (`Server::data`, `crate::data::Data`), the keyspace part and a few read-only settings:
//!   never the replication roles, persistence, the process, the clients or the pub/sub
//!   registry directly.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf()
}

fn layers(args: &[&str]) -> (bool, String) {
    let root = repo();
    let out = Command::new("python3")
        .arg(root.join("tools/layers.py"))
        .args(args)
        .arg("--check")
        .current_dir(&root)
        .output()
        .expect("python3 runs tools/layers.py (installed by .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn server_modules_import_only_downward() {
    let (ok, text) = layers(&["server/src", "--layers", "tools/layers-server.txt"]);
    assert!(ok, "tools/layers.py found a layering violation:\n{text}");
    assert!(text.contains("0 upward imports"), "{text}");
}

#[test]
fn sentinel_modules_import_only_downward() {
    let (ok, text) = layers(&["sentinel/src", "--layers", "tools/layers-sentinel.txt"]);
    assert!(ok, "tools/layers.py found a layering violation:\n{text}");
    assert!(text.contains("0 upward imports"), "{text}");
}

/// The data command families (files or folders under server/src/command).
const DATA_FAMILIES: &[&str] = &[
    "strings.rs",
    "lists.rs",
    "hashes.rs",
    "sets.rs",
    "zsets",
    "keys.rs",
    "bitops.rs",
    "sort.rs",
    "expire.rs",
    "dump.rs",
];

/// What a data command may name on the server: the keyspace service, the keyspace part,
/// the settings and DEBUG knobs it reads, the command's time, the change counter.
const ALLOWED: &[&str] = &[
    "data",
    "keyspace",
    "cfg",
    "debug",
    "now_ms",
    "lru_clock",
    "dirty",
];

/// Modules of server state a data command must not import.
const FORBIDDEN_MODULES: &[&str] = &[
    "crate::replication",
    "crate::process",
    "crate::clients",
    "crate::pubsub",
    "crate::pause",
    "crate::effects",
    "crate::shared",
    "crate::runtime",
];

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .expect("readable source folder")
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for e in entries {
            rust_files(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

/// The code without comments and without its `#[cfg(test)]` modules (tests may look at
/// anything).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every member named on a `srv` binding (`srv.x`, `ctx.srv.x`, `srv\n    .x`).
fn srv_members(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = code[i..].find("srv") {
        let start = i + at;
        i = start + 3;
        let before_ok =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        if !before_ok {
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() || b[j] != b'.' {
            continue;
        }
        j += 1;
        let name: String = code[j..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

#[test]
fn data_commands_reach_the_server_only_through_the_keyspace_service() {
    let dir = repo().join("server/src/command");
    let mut files = Vec::new();
    for f in DATA_FAMILIES {
        rust_files(&dir.join(f), &mut files);
    }
    assert!(
        files.len() >= DATA_FAMILIES.len(),
        "data families found: {files:?}"
    );
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable source");
        let code = code(&text);
        let name = f.strip_prefix(repo()).unwrap_or(f).display().to_string();
        for m in srv_members(&code) {
            if !ALLOWED.contains(&m.as_str()) {
                bad.push(format!("{name}: srv.{m}"));
            }
        }
        if code.contains("Server {") {
            bad.push(format!("{name}: destructures Server (use Server::data)"));
        }
        for m in FORBIDDEN_MODULES {
            if code.contains(m) {
                bad.push(format!("{name}: names {m}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "data commands reach past the keyspace service:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_member_scanner_sees_every_form() {
    let found = srv_members(
        "ctx.srv.repl.x; srv\n        .persistence; observer.srv_x; let srv = 1; (*srv).y",
    );
    assert_eq!(found, ["repl", "persistence"]);
}
