//! The configs shipped in deploy/: picket-server starts from the TOML and the redis.conf
//! forms, and both give the same settings.

mod common;
use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Reply, Server};

fn settings(file: &str) -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(file);
    // Not the shared port 6379, no files written in the working tree.
    let s = Server::start_with_file(&path, &["--appendonly", "no", "--save", ""]);
    let mut c = s.conn();
    let items = c.q("CONFIG GET *").items();
    let mut m = BTreeMap::new();
    for kv in items.chunks(2) {
        let (Reply::Bulk(k), Reply::Bulk(v)) = (&kv[0], &kv[1]) else {
            continue;
        };
        let k = String::from_utf8_lossy(k).into_owned();
        if matches!(k.as_str(), "port" | "dir" | "logfile" | "pidfile") {
            continue;
        }
        m.insert(k, String::from_utf8_lossy(v).into_owned());
    }
    m
}

#[test]
fn toml_and_conf_forms_agree() {
    let toml = settings("deploy/server.toml");
    let conf = settings("deploy/server.conf");
    assert_eq!(
        toml.get("min-replicas-to-write").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        toml.get("repl-backlog-size").map(String::as_str),
        Some("16777216")
    );
    for (k, v) in &toml {
        assert_eq!(
            conf.get(k),
            Some(v),
            "{k} differs between server.toml and server.conf"
        );
    }
}
