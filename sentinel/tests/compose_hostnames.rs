//! deploy/compose.yaml: three nodes by host name, each a picket-server and a picket-sentinel
//! sharing the node's network namespace. Checked here: the services and what they mount;
//! the configs' host names, all of which are the compose services' names (servers announce
//! and follow names, sentinels monitor and announce names with resolve-hostnames and
//! announce-hostnames); the configs load with picket's config readers and start the real
//! binaries; and `docker compose config -q` when the compose plugin is installed (skipped
//! loudly otherwise).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::*;

const NODES: [&str; 3] = ["node1", "node2", "node3"];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("deploy")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The services of the compose file: name -> the lines of its block.
fn services(compose: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut in_services = false;
    let mut current: Option<String> = None;
    for line in compose.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_services = line == "services:";
            current = None;
            continue;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        {
            let name = name.trim_end_matches(':').to_string();
            out.insert(name.clone(), Vec::new());
            current = Some(name);
        } else if let Some(c) = &current {
            out.entry(c.clone())
                .or_default()
                .push(line.trim().to_string());
        }
    }
    out
}

/// The config lines (no comments), split in words.
fn directives(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn has(d: &[Vec<String>], words: &[&str]) -> bool {
    d.iter().any(|l| l == words)
}

#[test]
fn services_mount_configs_that_name_the_services() {
    let dir = deploy();
    let compose = read(&dir.join("compose.yaml"));
    let svcs = services(&compose);
    let want: Vec<String> = NODES
        .iter()
        .flat_map(|n| [n.to_string(), format!("{n}-sentinel")])
        .collect();
    let mut got: Vec<String> = svcs.keys().cloned().collect();
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted, "services of deploy/compose.yaml");
    for (i, n) in NODES.iter().enumerate() {
        let server = &svcs[*n];
        let sentinel = &svcs[&format!("{n}-sentinel")];
        assert!(
            server.contains(&format!("hostname: {n}")),
            "{n}: {server:?}"
        );
        // The sentinel is reached at the node's name: it shares the node's network.
        assert!(
            sentinel.contains(&format!("network_mode: \"service:{n}\"")),
            "{n}-sentinel: {sentinel:?}"
        );
        let server_conf = format!("compose/{n}/server.conf");
        let sentinel_conf = format!("compose/{n}/sentinel.conf");
        assert!(
            server.contains(&format!("- ./{server_conf}:/etc/picket/server.conf:ro")),
            "{n} mounts {server_conf}"
        );
        assert!(
            sentinel.contains(&format!("- ./{sentinel_conf}:/etc/picket/sentinel.conf:ro")),
            "{n}-sentinel mounts {sentinel_conf}"
        );
        assert!(server.contains(&format!("- {n}-data:/data")));
        assert!(sentinel.contains(&format!("- {n}-sentinel-data:/data")));

        // What the server config says: its name, its master by name.
        let sd = directives(&read(&dir.join(&server_conf)));
        assert!(has(&sd, &["port", "6379"]), "{server_conf}");
        assert!(has(&sd, &["replica-announce-ip", n]), "{server_conf}");
        let replicaof: Vec<&Vec<String>> = sd
            .iter()
            .filter(|l| l[0] == "replicaof" || l[0] == "slaveof")
            .collect();
        if i == 0 {
            assert!(replicaof.is_empty(), "node1 starts as the master");
        } else {
            assert_eq!(
                replicaof,
                vec![&vec![
                    "replicaof".to_string(),
                    "node1".into(),
                    "6379".into()
                ]]
            );
        }
        // What the sentinel config says: names only, resolved and announced.
        let td = directives(&read(&dir.join(&sentinel_conf)));
        for words in [
            &["port", "26379"][..],
            &["sentinel", "resolve-hostnames", "yes"],
            &["sentinel", "announce-hostnames", "yes"],
            &["sentinel", "announce-ip", n],
            &["sentinel", "monitor", "mymaster", "node1", "6379", "2"],
        ] {
            assert!(has(&td, words), "{sentinel_conf} lacks {words:?}");
        }
        // Every host a config names is a service of the compose file with that hostname.
        for l in sd.iter().chain(&td) {
            for w in l {
                if w.starts_with("node") {
                    assert!(
                        NODES.contains(&w.as_str()),
                        "{w} in {server_conf} or {sentinel_conf} is no node"
                    );
                }
            }
            assert!(
                !l.iter()
                    .any(|w| w.parse::<std::net::IpAddr>().is_ok() && w != "0.0.0.0"),
                "an IP in a config of {n}: {l:?}"
            );
        }

        // picket's config readers take them.
        let sp = dir.join(&server_conf);
        let state = picket_server::config::ConfigState::load(Some(&sp), &[])
            .unwrap_or_else(|e| panic!("{server_conf}: {e}"));
        assert_eq!(
            state.get(b"replica-announce-ip"),
            vec![("replica-announce-ip".to_string(), n.to_string())]
        );
        let tp = dir.join(&sentinel_conf);
        let loaded = picket_sentinel::config::parse_file(&tp, &read(&tp), &[])
            .unwrap_or_else(|e| panic!("{sentinel_conf}: {e}"));
        assert!(loaded.server.resolve_hostnames && loaded.server.announce_hostnames);
        assert_eq!(loaded.server.announce_ip, *n);
        let (name, m) = &loaded.masters[0];
        assert_eq!(name, "mymaster");
        let (addr, quorum) = m.addr.clone().expect("a monitor line");
        assert_eq!((addr.host.as_str(), addr.port, quorum), ("node1", 6379, 2));
    }
}

#[test]
fn the_configs_start_the_real_binaries() {
    // Each node's two configs as the containers run them (a copy in a data directory), on
    // free ports: the names need not resolve here for the programs to start.
    let dir = deploy();
    for n in NODES {
        let port = free_port();
        let data = tempfile::tempdir().unwrap();
        let conf = data.path().join("server.conf");
        std::fs::copy(dir.join(format!("compose/{n}/server.conf")), &conf).unwrap();
        let args: Vec<String> = vec![
            conf.display().to_string(),
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            data.path().display().to_string(),
        ];
        let server = spawn(&server_bin(), &args, data, port, Some(conf));
        let r = cmd(server.port, &["CONFIG", "GET", "replica-announce-ip"]);
        assert_eq!(r.items()[1].s(), n);
        let role = cmd(server.port, &["ROLE"]);
        let want_role = if n == "node1" { "master" } else { "slave" };
        assert_eq!(role.items()[0].s(), want_role, "{n}: {role:?}");
        if n != "node1" {
            assert_eq!(role.items()[1].s(), "node1");
        }

        let sport = free_port();
        let text = read(&dir.join(format!("compose/{n}/sentinel.conf")))
            .replace("port 26379", &format!("port {sport}"));
        let sentinel = sentinel_from(None, sport, "sentinel.conf", &text, None);
        let r = cmd(sentinel.port, &["SENTINEL", "CONFIG", "GET", "*hostnames"]);
        let m: Vec<String> = r.items().iter().map(|x| x.s()).collect();
        assert_eq!(
            m,
            ["resolve-hostnames", "yes", "announce-hostnames", "yes"],
            "{n}"
        );
        let master = cmd(sentinel.port, &["SENTINEL", "MASTER", "mymaster"]);
        assert_eq!(master.field("ip").as_deref(), Some("node1"));
        let addr = cmd(
            sentinel.port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        );
        let addr: Vec<String> = addr.items().iter().map(|x| x.s()).collect();
        assert_eq!(addr, ["node1", "6379"]);
        // The sentinel rewrote its copy (its state) and kept the names.
        let saved = sentinel.conf_text();
        assert!(
            saved.contains("sentinel monitor mymaster node1 6379 2"),
            "{saved}"
        );
        assert!(
            saved.contains(&format!("sentinel announce-ip \"{n}\""))
                || saved.contains(&format!("sentinel announce-ip {n}")),
            "{saved}"
        );
    }
}

#[test]
fn docker_compose_accepts_the_file() {
    let file = deploy().join("compose.yaml");
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !plugin {
        eprintln!(
            "\n!!! SKIPPED docker compose config -q on deploy/compose.yaml: the docker compose plugin is not installed\n"
        );
        return;
    }
    let out = Command::new("docker")
        .args(["compose", "-f"])
        .arg(&file)
        .args(["config", "-q"])
        .output()
        .expect("docker compose config");
    assert!(
        out.status.success(),
        "docker compose config:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
