//! docs/config-reference.md is generated from picket-server's directive table, so it cannot
//! drift: this test regenerates it and fails when the committed file differs.
//! `PICKET_REGENERATE_DOCS=1 cargo test -p picket-server --test config_reference` rewrites it.

use std::path::PathBuf;

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn generate() -> String {
    let mut out = String::from(
        "# picket-server configuration reference\n\n\
         Generated from the directive table (`server/src/config.rs`,\n\
         `server/src/replication/config.rs` and `server/src/config/compat.rs`) by\n\
         `server/tests/config_reference.rs`; do not edit by hand. Every directive works in a\n\
         redis.conf-style file, in a TOML file (same names as keys), as a `--name value`\n\
         argument, and with `CONFIG GET`; those marked *runtime* also with `CONFIG SET`;\n\
         those marked *file only* neither with `CONFIG GET` nor `CONFIG SET`, as in Redis, and\n\
         `CONFIG REWRITE` leaves their lines as written. The table holds all 192 parameters\n\
         Redis 7.0 lists in `CONFIG GET *`, with Redis's defaults, and picket's own\n\
         `failover-safety`, `failover-lease-ms` and `failover-epoch` (docs/failover-safety.md)\n\
         and `tls-handshake-timeout`;\n\
         a directive without effect in picket says so (and a value other than its default is\n\
         logged at start-up).\n\n\
         | directive | default | runtime | also named | description |\n\
         |---|---|---|---|---|\n",
    );
    let mut rows: Vec<_> = picket_server::config::DIRECTIVES.iter().collect();
    rows.sort_by_key(|d| d.name);
    for d in rows {
        let default = if d.default.is_empty() {
            "\"\"".to_string()
        } else {
            format!("`{}`", d.default)
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            d.name,
            default,
            if d.file_only {
                "file only"
            } else if d.mutable {
                "yes"
            } else {
                "no"
            },
            d.aliases
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", "),
            escape(d.doc)
        ));
    }
    out
}

#[test]
fn config_reference_matches_the_directive_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/config-reference.md");
    let want = generate();
    if std::env::var("PICKET_REGENERATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &want).expect("write docs/config-reference.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/config-reference.md is out of date: run PICKET_REGENERATE_DOCS=1 cargo test -p picket-server --test config_reference"
    );
}
