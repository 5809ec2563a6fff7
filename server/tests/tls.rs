//! TLS in picket-server against real clients and Redis 7.0 (Debian's redis-server 7.0.15,
//! built with TLS): redis-cli, redis-py and `openssl s_client` on the TLS port, the start-up
//! and CONFIG SET errors of bad TLS configurations, `tls-auth-clients`, reloading, moving
//! the TLS port, handshakes that fail or never come, and replication over TLS in both
//! directions. Skipped loudly without openssl / the Redis tools; failing instead under
//! PICKET_REQUIRE_REDIS=1.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, which, Conn, Reply, Server};
use picket_common::tls::{AuthClients, MaybeTls, Tls, TlsSettings};

fn required() -> bool {
    std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1")
}

fn missing(what: &str) {
    if required() {
        panic!("{what} (PICKET_REQUIRE_REDIS=1: .ci/run installs it)");
    }
    eprintln!("\n*** SKIPPING: {what} ***\n");
}

/// A throwaway CA and certificates (tools/gen-test-certs.sh), or None (loudly) without
/// the openssl command.
fn make_certs() -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("tempdir");
    match picket_common::tls::gen_test_certs(dir.path(), &[]) {
        Ok(true) => Some(dir),
        Ok(false) => {
            missing("openssl is not installed (apt-get install openssl): TLS tests need it to make certificates");
            None
        }
        Err(e) => panic!("gen-test-certs: {e}"),
    }
}

fn p(dir: &Path, f: &str) -> String {
    dir.join(f).to_string_lossy().into_owned()
}

/// The arguments of a TLS server on `tls_port` with the generic certificate.
fn tls_args(dir: &Path, tls_port: u16) -> Vec<String> {
    vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        p(dir, "redis.crt"),
        "--tls-key-file".into(),
        p(dir, "redis.key"),
        "--tls-ca-cert-file".into(),
        p(dir, "ca.crt"),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Wait until something listens on `port`.
fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {port}");
}

/// picket (and, when installed, Redis) with the same TLS arguments; the servers listen on a
/// plain port too, which the tests use to look inside.
struct TlsServer {
    server: Server,
    tls_port: u16,
}

fn start_tls(dir: &Path, redis: bool, extra: &[&str]) -> Option<TlsServer> {
    let tls_port = free_port();
    let mut args = tls_args(dir, tls_port);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args = strs(&args);
    let server = if redis {
        Server::redis(&args)?
    } else {
        Server::start(&[&["--save", ""], &args[..]].concat())
    };
    wait_listening(tls_port);
    Some(TlsServer { server, tls_port })
}

/// redis-cli over TLS with `cert` (the client certificate and key, or none): its exit
/// status and output.
fn cli(
    dir: &Path,
    port: u16,
    cert: Option<(&str, &str)>,
    ca: &str,
    args: &[&str],
) -> (bool, String) {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-p", &port.to_string(), "--tls", "--cacert", ca]);
    if let Some((c, k)) = cert {
        cmd.args(["--cert", &p(dir, c), "--key", &p(dir, k)]);
    }
    let out = cmd.args(args).output().expect("run redis-cli");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (
        out.status.success() && !text.contains("Error") && !text.contains("ERR"),
        text,
    )
}

fn cli_ok(dir: &Path, port: u16, args: &[&str]) -> String {
    let (ok, text) = cli(
        dir,
        port,
        Some(("client.crt", "client.key")),
        &p(dir, "ca.crt"),
        args,
    );
    assert!(ok, "redis-cli {args:?}: {text}");
    text
}

fn have_tools(tools: &[&str]) -> bool {
    tools.iter().all(|t| which(t).is_some())
}

/// A TLS client made with picket's own TLS layer (the client certificate of `dir`),
/// blocking.
struct TlsConn {
    rt: tokio::runtime::Runtime,
    stream: MaybeTls<tokio::net::TcpStream>,
    got: Vec<u8>,
}

impl TlsConn {
    fn connect(dir: &Path, port: u16) -> std::io::Result<TlsConn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let tls = Tls::configure(&TlsSettings {
            cert_file: Some(p(dir, "client.crt")),
            key_file: Some(p(dir, "client.key")),
            ca_cert_file: Some(p(dir, "ca.crt")),
            auth_clients: AuthClients::No,
            ..TlsSettings::default()
        })
        .map_err(std::io::Error::other)?;
        let stream = rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            tls.connect(tcp, "127.0.0.1").await
        })?;
        Ok(TlsConn {
            rt,
            stream,
            got: Vec::new(),
        })
    }

    fn send(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        let args: Vec<&str> = line.split(' ').collect();
        let bytes = picket_common::resp::encode_command(&args);
        let s = &mut self.stream;
        self.rt
            .block_on(async {
                s.write_all(&bytes).await?;
                s.flush().await
            })
            .expect("TLS write");
    }

    /// Read until what was received contains `want` (true), the peer closes or 10 s pass.
    fn wait_for(&mut self, want: &str) -> bool {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if String::from_utf8_lossy(&self.got).contains(want) {
                return true;
            }
            let mut b = vec![0u8; 65536];
            let s = &mut self.stream;
            let r = self
                .rt
                .block_on(async { tokio::time::timeout_at(deadline, s.read(&mut b)).await });
            match r {
                Ok(Ok(n)) if n > 0 => self.got.extend_from_slice(&b[..n]),
                _ => return false,
            }
        }
    }

    /// Whether the server closed the connection within 5 s.
    fn closed(&mut self) -> bool {
        use tokio::io::AsyncReadExt;
        let s = &mut self.stream;
        self.rt.block_on(async {
            let mut b = [0u8; 4096];
            loop {
                match tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    Ok(Ok(_)) => continue,
                    Err(_) => return false,
                }
            }
        })
    }
}

// ------------------------------------------------------------------------------ start-up

/// Run a server binary that must fail at start-up: (exit code, what it printed and logged).
fn start_fails(bin: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let mut child = Command::new(bin)
        .args(args)
        .args(["--logfile", log.to_str().unwrap_or_default(), "--save", ""])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut s = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut s);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    text.push_str(&s);
    (status.and_then(|s| s.code()), text)
}

#[test]
fn bad_tls_configs_stop_the_server_with_redis_messages() {
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let redis = which("redis-server");
    let (cert, key, ca) = (p(d, "redis.crt"), p(d, "redis.key"), p(d, "ca.crt"));
    let tls_port = free_port().to_string();
    let port = free_port().to_string();
    let base = ["--port", &port, "--tls-port", &tls_port];
    let missing_file = p(d, "nonexistent.crt");
    let dh_missing = p(d, "nonexistent-dh.pem");
    // (extra arguments, what both servers log)
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec![], "No tls-cert-file configured!".into()),
        (
            vec!["--tls-cert-file", &cert],
            "No tls-key-file configured!".into(),
        ),
        (
            vec!["--tls-cert-file", &cert, "--tls-key-file", &key],
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into(),
        ),
        (
            vec![
                "--tls-cert-file",
                &missing_file,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
            ],
            format!("Failed to load certificate: {missing_file}"),
        ),
        (
            vec![
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-protocols",
                "TLSv1.2 SSLv3",
            ],
            "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into(),
        ),
        (
            vec![
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-dh-params-file",
                &dh_missing,
            ],
            format!("Failed to load {dh_missing}: No such file or directory"),
        ),
        (
            vec![
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-ciphersuites",
                "TLS_NO_SUCH_SUITE",
            ],
            "Failed to configure ciphersuites: TLS_NO_SUCH_SUITE".into(),
        ),
    ];
    for (extra, want) in &cases {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let (code, text) = start_fails(common::picket_bin(), &args);
        assert_eq!(code, Some(1), "picket {args:?}: {text}");
        assert!(
            text.contains(want.as_str()),
            "picket {args:?}: want {want}:\n{text}"
        );
        if let Some(r) = &redis {
            let (code, text) = start_fails(r, &args);
            assert_eq!(code, Some(1), "redis {args:?}: {text}");
            assert!(
                text.contains(want.as_str()),
                "redis {args:?}: want {want}:\n{text}"
            );
        }
    }
    // Without the TLS port, tls-replication turns TLS on too (a CA is needed).
    let args = [
        "--port",
        &port,
        "--tls-replication",
        "yes",
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-auth-clients",
        "no",
    ];
    let (code, text) = start_fails(common::picket_bin(), &args);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Either tls-ca-cert-file"), "{text}");
    // Nowhere to listen.
    let (code, text) = start_fails(common::picket_bin(), &["--port", "0"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("Configured to not listen anywhere, exiting."),
        "{text}"
    );
    if let Some(r) = &redis {
        let (code, text) = start_fails(r, &["--port", "0"]);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains("Configured to not listen anywhere, exiting."),
            "{text}"
        );
    }
}

#[test]
fn tls_only_server_with_port_zero() {
    if !have_tools(&["redis-cli"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    for redis in [false, true] {
        let bin = if redis {
            match which("redis-server") {
                Some(b) => b,
                None => continue,
            }
        } else {
            common::picket_bin().to_string()
        };
        let tls_port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["--port".to_string(), "0".into(), "--save".into(), "".into()];
        args.push("--dir".into());
        args.push(dir.path().to_string_lossy().into_owned());
        args.extend(tls_args(d, tls_port));
        let mut child = Command::new(&bin)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        wait_listening(tls_port);
        let info = cli_ok(d, tls_port, &["INFO", "server"]);
        assert!(
            info.contains(&format!("tcp_port:{tls_port}")),
            "redis={redis}: {info}"
        );
        assert_eq!(cli_ok(d, tls_port, &["PING"]).trim(), "PONG");
        assert_eq!(
            cli_ok(d, tls_port, &["CONFIG", "GET", "port"]).trim(),
            "port\n0"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ------------------------------------------------------------------------------ CONFIG

#[test]
fn config_get_shows_the_tls_directives_as_redis() {
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let Some(pair) = common::Pair::start(&[]) else {
        // Still check picket's defaults on its own.
        let s = Server::start(&[]);
        let r = s.conn().q("CONFIG GET tls-auth-clients");
        assert_eq!(r, Reply::bulks(&["tls-auth-clients", "yes"]));
        return;
    };
    // The same directives and defaults (in another order; picket's own
    // tls-handshake-timeout besides).
    let pairs = |c: &mut Conn| {
        let items = c.q("CONFIG GET tls-*").items();
        let mut v: Vec<(String, String)> = items
            .chunks(2)
            .map(|p| (p[0].text(), p[1].text()))
            .filter(|(k, _)| k != "tls-handshake-timeout")
            .collect();
        v.sort();
        v
    };
    let theirs = pairs(&mut pair.redis.conn());
    assert_eq!(pairs(&mut pair.picket.conn()), theirs);
    assert_eq!(theirs.len(), 20, "{theirs:?}");
    // Set, shown and rewritten the same (the key passphrases are shown, as Redis 7.0 does).
    let (pi, pr) = (pair.picket.conn(), pair.redis.conn());
    for mut c in [pi, pr] {
        assert_eq!(
            c.cmd(&[
                "CONFIG",
                "SET",
                "tls-key-file-pass",
                "secret",
                "tls-protocols",
                "TLSv1.2 TLSv1.3",
                "tls-auth-clients",
                "optional",
                "tls-session-cache-size",
                "100",
                "tls-ca-cert-file",
                &p(d, "ca.crt"),
            ]),
            Reply::ok()
        );
    }
    pair.same(&[
        &["CONFIG", "GET", "tls-key-file-pass"],
        &["CONFIG", "GET", "tls-protocols"],
        &["CONFIG", "GET", "tls-auth-clients"],
        &["CONFIG", "GET", "tls-session-cache-size"],
        &["CONFIG", "SET", "tls-auth-clients", "maybe"],
        &["CONFIG", "SET", "tls-session-cache-size", "-1"],
        &["CONFIG", "SET", "tls-port", "65536"],
    ]);
}

#[test]
fn config_rewrite_writes_the_tls_directives() {
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("picket.conf");
    let tls_port = free_port();
    let mut text = String::new();
    for pair in tls_args(d, tls_port).chunks(2) {
        text.push_str(&format!(
            "{} {}\n",
            pair[0].trim_start_matches("--"),
            pair[1]
        ));
    }
    std::fs::write(&conf, &text).expect("write conf");
    let s = Server::start_with_file(&conf, &["--save", ""]);
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "tls-auth-clients",
            "optional",
            "tls-protocols",
            "TLSv1.3"
        ]),
        Reply::ok()
    );
    assert_eq!(c.q("CONFIG REWRITE"), Reply::ok());
    let written = std::fs::read_to_string(&conf).expect("read conf");
    for want in [
        format!("tls-port {tls_port}"),
        format!("tls-cert-file \"{}\"", p(d, "redis.crt")),
        "tls-auth-clients optional".to_string(),
        "tls-protocols \"TLSv1.3\"".to_string(),
    ] {
        assert!(written.contains(&want), "{want} missing:\n{written}");
    }
    // The TOML form takes the same names.
    let toml = dir.path().join("picket.toml");
    std::fs::write(
        &toml,
        format!(
            "tls-port = {tls_port}\ntls-cert-file = \"{}\"\ntls-key-file = \"{}\"\ntls-ca-cert-file = \"{}\"\ntls-auth-clients = \"no\"\n",
            p(d, "redis.crt"),
            p(d, "redis.key"),
            p(d, "ca.crt")
        ),
    )
    .expect("write toml");
    drop(c);
    drop(s);
    let s = Server::start_with_file(&toml, &["--save", ""]);
    wait_listening(tls_port);
    let mut c = s.conn();
    assert_eq!(
        c.q("CONFIG GET tls-auth-clients"),
        Reply::bulks(&["tls-auth-clients", "no"])
    );
    if have_tools(&["redis-cli"]) {
        // tls-auth-clients no: no client certificate needed.
        let (ok, out) = cli(d, tls_port, None, &p(d, "ca.crt"), &["PING"]);
        assert!(ok && out.contains("PONG"), "{out}");
    }
}

/// CONFIG SET of the TLS files reconfigures TLS all or nothing, with Redis's error; new
/// connections get the new certificate, open ones go on.
#[test]
fn config_set_reloads_tls_atomically() {
    if !have_tools(&["redis-cli", "openssl"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let refused = |name: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs.")
    };
    for redis in [false, true] {
        let Some(s) = start_tls(d, redis, &[]) else {
            continue;
        };
        let mut c = s.server.conn();
        let bad = p(d, "nonexistent.crt");
        // A bad file, alone or with good ones: refused, nothing changes.
        let r = c.cmd(&["CONFIG", "SET", "tls-cert-file", &bad]);
        assert_eq!(r.text(), refused("tls-cert-file"), "redis={redis}");
        let r = c.cmd(&[
            "CONFIG",
            "SET",
            "tls-key-file",
            &p(d, "server.key"),
            "tls-cert-file",
            &p(d, "server.crt"),
            "tls-ca-cert-file",
            &bad,
        ]);
        assert_eq!(r.text(), refused("tls-key-file"), "redis={redis}");
        assert_eq!(
            c.q("CONFIG GET tls-cert-file").items()[1].text(),
            p(d, "redis.crt")
        );
        // A key that does not match the certificate.
        let r = c.cmd(&["CONFIG", "SET", "tls-key-file", &p(d, "server.key")]);
        assert_eq!(r.text(), refused("tls-key-file"), "redis={redis}");
        assert!(cli_ok(d, s.tls_port, &["PING"]).contains("PONG"));
        if redis {
            continue;
        }
        // An open TLS connection, then the new certificate.
        let mut open = TlsConn::connect(d, s.tls_port).expect("TLS connect");
        open.send("PING");
        assert!(open.wait_for("+PONG"));
        assert_eq!(subject(d, s.tls_port), "Generic-cert");
        let r = c.cmd(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &p(d, "server.crt"),
            "tls-key-file",
            &p(d, "server.key"),
        ]);
        assert_eq!(r, Reply::ok());
        assert_eq!(subject(d, s.tls_port), "Server-only");
        open.send("ECHO still-here");
        assert!(open.wait_for("still-here"));
        assert!(cli_ok(d, s.tls_port, &["PING"]).contains("PONG"));
        // tls-auth-clients applies to new connections: no certificate is fine now.
        assert_eq!(c.q("CONFIG SET tls-auth-clients no"), Reply::ok());
        let (ok, out) = cli(d, s.tls_port, None, &p(d, "ca.crt"), &["PING"]);
        assert!(ok, "{out}");
        // A server without TLS takes any file (nothing to configure), as Redis.
        let plain = Server::start(&["--save", ""]);
        assert_eq!(
            plain.conn().cmd(&["CONFIG", "SET", "tls-cert-file", &bad]),
            Reply::ok()
        );
    }
}

/// The CN of the certificate the server on `port` presents (openssl s_client).
fn subject(d: &Path, port: u16) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            &p(d, "ca.crt"),
            "-cert",
            &p(d, "client.crt"),
            "-key",
            &p(d, "client.key"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .and_then(|l| l.rsplit("CN = ").next())
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn config_set_tls_port_opens_moves_and_closes_the_listener() {
    if !have_tools(&["redis-cli"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    for redis in [false, true] {
        // No TLS at start: CONFIG SET tls-port configures it (Redis's applyTLSPort).
        let files = [
            "--tls-cert-file".to_string(),
            p(d, "redis.crt"),
            "--tls-key-file".into(),
            p(d, "redis.key"),
            "--tls-ca-cert-file".into(),
            p(d, "ca.crt"),
        ];
        let s = if redis {
            match Server::redis(&strs(&files)) {
                Some(s) => s,
                None => continue,
            }
        } else {
            Server::start(&strs(&files))
        };
        let mut c = s.conn();
        let a = free_port();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "tls-port", &a.to_string()]),
            Reply::ok()
        );
        assert!(cli_ok(d, a, &["PING"]).contains("PONG"), "redis={redis}");
        // Moved.
        let b = free_port();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "tls-port", &b.to_string()]),
            Reply::ok()
        );
        assert!(cli_ok(d, b, &["PING"]).contains("PONG"));
        assert!(
            TcpStream::connect(("127.0.0.1", a)).is_err(),
            "redis={redis}"
        );
        // A port in use: Redis's error.
        let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let busy_port = busy.local_addr().expect("addr").port();
        let r = c.cmd(&["CONFIG", "SET", "tls-port", &busy_port.to_string()]);
        assert_eq!(
            r.text(),
            "ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this port. Check server logs.",
            "redis={redis}"
        );
        assert_eq!(c.q("CONFIG GET tls-port").items()[1].text(), b.to_string());
        if !redis {
            // picket binds the new port before closing the old one: still serving.
            assert!(cli_ok(d, b, &["PING"]).contains("PONG"));
        }
        // Closed.
        assert_eq!(c.q("CONFIG SET tls-port 0"), Reply::ok());
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", b)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            TcpStream::connect(("127.0.0.1", b)).is_err(),
            "redis={redis}"
        );
        assert_eq!(c.q("PING"), Reply::simple("PONG"));
    }
}

/// `port` moves at runtime too (Redis 7.0's updatePort), and `port 0` leaves a TLS-only
/// server; INFO's tcp_port follows.
#[test]
fn config_set_port_moves_and_closes_the_tcp_listener() {
    if !have_tools(&["redis-cli"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    for redis in [false, true] {
        let Some(s) = start_tls(d, redis, &[]) else {
            continue;
        };
        let old = s.server.port;
        let new = free_port();
        let mut c = s.server.conn();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "port", &new.to_string()]),
            Reply::ok()
        );
        // The connection that moved it stays.
        assert_eq!(c.q("PING"), Reply::simple("PONG"));
        let mut moved = Conn::connect(new);
        assert!(
            moved
                .q("INFO server")
                .text()
                .contains(&format!("tcp_port:{new}\r")),
            "redis={redis}"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", old)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            TcpStream::connect(("127.0.0.1", old)).is_err(),
            "redis={redis}"
        );
        // TLS only.
        assert!(cli_ok(d, s.tls_port, &["CONFIG", "SET", "port", "0"]).contains("OK"));
        let info = cli_ok(d, s.tls_port, &["INFO", "server"]);
        assert!(
            info.contains(&format!("tcp_port:{}", s.tls_port)),
            "redis={redis}: {info}"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", new)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            TcpStream::connect(("127.0.0.1", new)).is_err(),
            "redis={redis}"
        );
    }
}

// ------------------------------------------------------------------------------ clients

#[test]
fn redis_cli_over_tls_pipelines_and_large_values() {
    if !have_tools(&["redis-cli"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let s = start_tls(d, false, &[]).expect("picket");
    let t = s.tls_port;
    assert_eq!(cli_ok(d, t, &["PING"]).trim(), "PONG");
    assert_eq!(cli_ok(d, t, &["SET", "k", "v"]).trim(), "OK");
    assert_eq!(cli_ok(d, t, &["GET", "k"]).trim(), "v");
    // 10,000 commands in one pipeline (--pipe).
    let mut input = String::new();
    for i in 0..10_000 {
        input.push_str(&format!("SET key:{i} value:{i}\r\n"));
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &t.to_string(), "--tls", "--cacert", &p(d, "ca.crt")])
        .args(["--cert", &p(d, "client.crt"), "--key", &p(d, "client.key")])
        .arg("--pipe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli --pipe");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("redis-cli --pipe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 10000"), "{text}");
    let mut c = s.server.conn();
    assert_eq!(c.q("DBSIZE").int(), 10_001);
    assert_eq!(c.q("GET key:9999").text(), "value:9999");
    // Repeated commands (-r), each a round trip.
    cli_ok(d, t, &["-r", "1000", "INCR", "counter"]);
    assert_eq!(c.q("GET counter"), Reply::bulk("1000"));
    // A value of 6 MB, written and read back over TLS (many records, partial writes).
    let big: String = (0..6 * 1024 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let mut child = Command::new("redis-cli")
        .args(["-p", &t.to_string(), "--tls", "--cacert", &p(d, "ca.crt")])
        .args(["--cert", &p(d, "client.crt"), "--key", &p(d, "client.key")])
        .args(["-x", "SET", "big"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli -x");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(big.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("redis-cli -x");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    assert_eq!(c.q("STRLEN big").int(), big.len() as i64);
    let got = cli_ok(d, t, &["GET", "big"]);
    assert_eq!(got.trim_end_matches('\n'), big);
}

/// redis-py with ssl=True: commands, a pipeline, a large value and pub/sub pushes.
#[test]
fn redis_py_over_tls() {
    let Some(python) = which("python3") else {
        return;
    };
    let has_redis = Command::new(&python)
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_redis {
        return missing("python3 has no redis-py: pip install redis");
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let s = start_tls(d, false, &[]).expect("picket");
    let script = r#"
import sys, time, redis
port, d = int(sys.argv[1]), sys.argv[2]
def conn():
    return redis.Redis(host="127.0.0.1", port=port, ssl=True,
                       ssl_certfile=d + "/client.crt", ssl_keyfile=d + "/client.key",
                       ssl_ca_certs=d + "/ca.crt")
r = conn()
assert r.ping()
r.set("py", "thon")
assert r.get("py") == b"thon"
p = r.pipeline(transaction=False)
for i in range(10000):
    p.set("p:%d" % i, i)
assert all(p.execute())
big = b"x" * (5 * 1024 * 1024) + b"end"
r.set("big", big)
assert r.get("big") == big
sub = conn().pubsub()
sub.subscribe("news")
assert sub.get_message(timeout=5)["type"] == "subscribe"
for i in range(100):
    assert r.publish("news", "m%d" % i) == 1
got = []
deadline = time.time() + 10
while len(got) < 100 and time.time() < deadline:
    m = sub.get_message(timeout=1)
    if m and m["type"] == "message":
        got.append(m["data"])
assert got == [b"m%d" % i for i in range(100)], got
print("redis-py ok")
"#;
    let out = Command::new(&python)
        .args(["-c", script, &s.tls_port.to_string(), &d.to_string_lossy()])
        .output()
        .expect("python3");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("redis-py ok"),
        "{text}\nserver log:\n{}",
        s.server.log_text()
    );
    assert_eq!(s.server.conn().q("EXISTS p:9999").int(), 1);
}

/// Output that no request of the TLS client's own triggers (pushes, MONITOR, a served
/// BLPOP, a kill) reaches it: every write to a client is flushed.
#[test]
fn pushes_to_tls_clients_are_flushed() {
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let s = start_tls(d, false, &[]).expect("picket");
    let mut plain = s.server.conn();
    let mut sub = TlsConn::connect(d, s.tls_port).expect("TLS");
    // CLIENT INFO of a TLS client is that of any client (Redis 7.0 shows nothing of TLS):
    // its socket's descriptor, its addresses.
    sub.send("CLIENT INFO");
    assert!(sub.wait_for("resp=2\n"));
    let info = String::from_utf8_lossy(&sub.got).into_owned();
    assert!(info.contains(" fd=") && !info.contains(" fd=-1 "), "{info}");
    assert!(
        info.contains(&format!("laddr=127.0.0.1:{} ", s.tls_port)),
        "{info}"
    );
    sub.got.clear();
    sub.send("SUBSCRIBE ch");
    assert!(sub.wait_for("subscribe"));
    assert_eq!(plain.q("PUBLISH ch hello-tls").int(), 1);
    assert!(
        sub.wait_for("hello-tls"),
        "{:?}",
        String::from_utf8_lossy(&sub.got)
    );
    let mut mon = TlsConn::connect(d, s.tls_port).expect("TLS");
    mon.send("MONITOR");
    assert!(mon.wait_for("+OK"));
    plain.q("SET monitored 1");
    assert!(mon.wait_for("monitored"));
    let mut blocked = TlsConn::connect(d, s.tls_port).expect("TLS");
    blocked.send("BLPOP q 0");
    // (Until the BLPOP is blocked.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while plain.q("INFO clients").text().contains("blocked_clients:0") && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    plain.q("LPUSH q woken");
    assert!(blocked.wait_for("woken"));
    assert!(plain.q("CLIENT KILL TYPE pubsub").int() >= 1);
    assert!(sub.closed());
}

// ------------------------------------------------------------------------------ handshakes

/// A peer that connects and never speaks, and one that speaks plain RESP to the TLS port,
/// are dropped; meanwhile the server serves others, and while in its handshake a client
/// counts against maxclients, as in Redis.
#[test]
fn failed_and_silent_handshakes_are_dropped() {
    if !have_tools(&["redis-cli"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let s = start_tls(
        d,
        false,
        &["--tls-handshake-timeout", "700", "--maxclients", "3"],
    )
    .expect("picket");
    let mut admin = s.server.conn();
    // Plain RESP on the TLS port: not a TLS client hello, dropped at once.
    let mut speaker = TcpStream::connect(("127.0.0.1", s.tls_port)).expect("connect");
    speaker.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
    speaker
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = Vec::new();
    let _ = speaker.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("PONG"), "{got:?}");
    // A silent peer holds a client slot while its handshake may run...
    let mut silent = TcpStream::connect(("127.0.0.1", s.tls_port)).expect("connect");
    let deadline = Instant::now() + Duration::from_secs(5);
    while admin
        .q("INFO clients")
        .text()
        .contains("connected_clients:1\r")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        admin
            .q("INFO clients")
            .text()
            .contains("connected_clients:2\r"),
        "{}",
        admin.q("CLIENT LIST").text()
    );
    // ...others are served meanwhile...
    assert!(cli_ok(d, s.tls_port, &["PING"]).contains("PONG"));
    let _third = Conn::connect(s.server.port);
    let mut fourth = Conn::connect(s.server.port);
    assert_eq!(
        fourth.try_read(),
        Some(Reply::err("ERR max number of clients reached"))
    );
    // ...until its time is up: dropped.
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut b = [0u8; 64];
    let started = Instant::now();
    let r = silent.read(&mut b);
    assert!(
        matches!(r, Ok(0) | Err(_)) && started.elapsed() < Duration::from_secs(5),
        "{r:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !admin
        .q("INFO clients")
        .text()
        .contains("connected_clients:2\r")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(admin
        .q("INFO clients")
        .text()
        .contains("connected_clients:2\r"));
    assert_eq!(admin.q("PING"), Reply::simple("PONG"));
}

/// A client in its handshake is a client: CLIENT LIST shows it and CLIENT KILL closes
/// it at once (not at the end of tls-handshake-timeout), as in Redis.
#[test]
fn a_client_in_its_handshake_can_be_killed() {
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    for redis in [false, true] {
        let Some(s) = start_tls(d, redis, &[]) else {
            continue;
        };
        let mut admin = s.server.conn();
        let mut silent = TcpStream::connect(("127.0.0.1", s.tls_port)).expect("connect");
        let addr = silent.local_addr().expect("addr").to_string();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !admin.q("CLIENT LIST").text().contains(&addr) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            admin.q("CLIENT LIST").text().contains(&addr),
            "redis={redis}"
        );
        assert_eq!(
            admin.cmd(&["CLIENT", "KILL", &addr]),
            Reply::ok(),
            "redis={redis}"
        );
        silent
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut b = [0u8; 64];
        let r = silent.read(&mut b);
        assert!(matches!(r, Ok(0) | Err(_)), "redis={redis}: {r:?}");
        if let Err(e) = &r {
            assert_ne!(
                e.kind(),
                std::io::ErrorKind::WouldBlock,
                "redis={redis}: not closed"
            );
        }
        assert!(
            !admin.q("CLIENT LIST").text().contains(&addr),
            "redis={redis}"
        );
    }
}

/// `tls-auth-clients` yes / optional / no: the same clients get in, or not, as with Redis.
#[test]
fn auth_clients_modes_match_redis() {
    if !have_tools(&["redis-cli"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let Some(other) = make_certs() else { return };
    let d = certs.path();
    let ca = p(d, "ca.crt");
    // Client certificates: ours, none, one of another CA (copied beside ours).
    for f in ["client.crt", "client.key"] {
        std::fs::copy(other.path().join(f), d.join(format!("other-{f}"))).expect("copy");
    }
    let clients: [(&str, Option<(&str, &str)>); 3] = [
        ("own CA", Some(("client.crt", "client.key"))),
        ("none", None),
        ("other CA", Some(("other-client.crt", "other-client.key"))),
    ];
    let expected = [
        ("yes", [true, false, false]),
        ("optional", [true, true, false]),
        ("no", [true, true, true]),
    ];
    for (mode, want) in expected {
        for redis in [false, true] {
            let Some(s) = start_tls(d, redis, &["--tls-auth-clients", mode]) else {
                continue;
            };
            for ((what, cert), want) in clients.iter().zip(want) {
                let (ok, out) = cli(d, s.tls_port, *cert, &ca, &["PING"]);
                assert_eq!(
                    ok && out.contains("PONG"),
                    want,
                    "tls-auth-clients {mode}, client cert {what}, redis={redis}: {out}"
                );
            }
        }
    }
}

/// `tls-protocols`, `tls-ciphersuites` and `tls-ciphers` restrict what `openssl s_client`
/// can negotiate, as with Redis.
#[test]
fn protocol_and_cipher_restrictions_match_redis() {
    if !have_tools(&["openssl"]) {
        return;
    }
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    // (server arguments, s_client arguments, handshake succeeds)
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&["--tls-protocols", "TLSv1.2"], &["-tls1_3"], false),
        (&["--tls-protocols", "TLSv1.2"], &["-tls1_2"], true),
        (&["--tls-protocols", "TLSv1.3"], &["-tls1_2"], false),
        (&["--tls-protocols", "TLSv1.3"], &["-tls1_3"], true),
        (
            &["--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
            false,
        ),
        (
            &["--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            true,
        ),
        (
            &["--tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
            false,
        ),
        (
            &["--tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
            true,
        ),
    ];
    for &(server, client, want) in cases {
        for redis in [false, true] {
            let Some(s) = start_tls(d, redis, server) else {
                continue;
            };
            let out = Command::new("openssl")
                .args(["s_client", "-connect", &format!("127.0.0.1:{}", s.tls_port)])
                .args(["-CAfile", &p(d, "ca.crt")])
                .args(["-cert", &p(d, "client.crt"), "-key", &p(d, "client.key")])
                .args(client)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    // PING, then end the session.
                    if let Some(mut i) = child.stdin.take() {
                        let _ = i.write_all(b"PING\r\n");
                        std::thread::sleep(Duration::from_millis(300));
                    }
                    child.wait_with_output()
                })
                .expect("openssl s_client");
            let text = String::from_utf8_lossy(&out.stdout);
            let ok = text.contains("+PONG");
            assert_eq!(
                ok,
                want,
                "server {server:?}, s_client {client:?}, redis={redis}:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

// ------------------------------------------------------------------------------ replication

/// Start a server for the replication tests: picket or Redis, TLS with tls-replication.
fn repl_node(d: &Path, redis: bool) -> Option<TlsServer> {
    start_tls(
        d,
        redis,
        &["--tls-replication", "yes", "--repl-diskless-sync", "no"],
    )
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let text = c.q(&format!("INFO {section}")).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A replica of a master over TLS: full sync of a dataset with values of several MB, the
/// stream, the TLS port announced, then a partial resync after the master kills the link.
fn replicate_over_tls(master_redis: bool, replica_redis: bool) {
    let Some(certs) = make_certs() else { return };
    let d = certs.path();
    let Some(m) = repl_node(d, master_redis) else {
        return;
    };
    let Some(r) = repl_node(d, replica_redis) else {
        return;
    };
    let who = format!("master redis={master_redis}, replica redis={replica_redis}");
    let mut mc = m.server.conn();
    let mut rc = r.server.conn();
    let big = "v".repeat(3 * 1024 * 1024);
    for i in 0..3 {
        assert_eq!(mc.cmd(&["SET", &format!("big:{i}"), &big]), Reply::ok());
    }
    for i in 0..1000 {
        mc.cmd(&["SET", &format!("k:{i}"), &i.to_string()]);
    }
    assert_eq!(
        rc.cmd(&["REPLICAOF", "127.0.0.1", &m.tls_port.to_string()]),
        Reply::ok()
    );
    wait_until(&format!("link up ({who})"), || {
        info_field(&mut rc, "replication", "master_link_status") == "up"
    });
    wait_until(&format!("full sync ({who})"), || {
        rc.q("DBSIZE").int() == 1003
    });
    assert_eq!(rc.q("STRLEN big:1").int(), big.len() as i64, "{who}");
    // The replica announced its TLS port.
    let role = mc.q("ROLE").items();
    let replicas = role[2].items();
    assert_eq!(replicas.len(), 1, "{who}: {role:?}");
    assert_eq!(
        replicas[0].items()[1].text(),
        r.tls_port.to_string(),
        "{who}"
    );
    // The stream.
    for i in 0..500 {
        mc.cmd(&["INCR", "streamed"]);
        if i % 100 == 0 {
            mc.cmd(&["SET", &format!("big:s{i}"), &big]);
        }
    }
    wait_until(&format!("stream ({who})"), || {
        rc.q("GET streamed") == Reply::bulk("500")
    });
    // The master drops the link: the replica comes back with a partial resync.
    let partial_before: i64 = info_field(&mut mc, "stats", "sync_partial_ok")
        .parse()
        .unwrap_or(-1);
    let full_before: i64 = info_field(&mut mc, "stats", "sync_full")
        .parse()
        .unwrap_or(-1);
    assert_eq!(mc.q("CLIENT KILL TYPE replica").int(), 1, "{who}");
    mc.q("SET after-kill yes");
    wait_until(&format!("resync ({who})"), || {
        rc.q("GET after-kill") == Reply::bulk("yes")
    });
    wait_until(&format!("partial resync counted ({who})"), || {
        info_field(&mut mc, "stats", "sync_partial_ok")
            .parse::<i64>()
            .unwrap_or(-1)
            == partial_before + 1
    });
    assert_eq!(
        info_field(&mut mc, "stats", "sync_full")
            .parse::<i64>()
            .unwrap_or(-1),
        full_before,
        "{who}: no second full sync"
    );
    wait_until(&format!("offsets agree ({who})"), || {
        info_field(&mut mc, "replication", "master_repl_offset")
            == info_field(&mut rc, "replication", "slave_repl_offset")
    });
}

#[test]
fn redis_replica_of_picket_master_over_tls() {
    if which("redis-server").is_none() {
        return;
    }
    replicate_over_tls(false, true);
}

#[test]
fn picket_replica_of_redis_master_over_tls() {
    if which("redis-server").is_none() {
        return;
    }
    replicate_over_tls(true, false);
}

#[test]
fn picket_replica_of_picket_master_over_tls() {
    replicate_over_tls(false, false);
}

/// A replica whose certificate the master's CA did not sign cannot connect; the master's
/// TLS port stays up for others.
#[test]
fn replica_with_a_foreign_certificate_is_refused() {
    let Some(certs) = make_certs() else { return };
    let Some(other) = make_certs() else { return };
    let d = certs.path();
    let m = start_tls(d, false, &[]).expect("picket");
    // The replica trusts the master's CA but presents a certificate of another CA.
    let mut args = tls_args(other.path(), free_port());
    args.extend(["--tls-replication".to_string(), "yes".to_string()]);
    let ca_pos = args
        .iter()
        .position(|a| a == "--tls-ca-cert-file")
        .expect("ca");
    args[ca_pos + 1] = p(d, "ca.crt");
    let r = Server::start(&[&["--save", ""], &strs(&args)[..]].concat());
    let mut rc = r.conn();
    assert_eq!(
        rc.cmd(&["REPLICAOF", "127.0.0.1", &m.tls_port.to_string()]),
        Reply::ok()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_ne!(
        info_field(&mut rc, "replication", "master_link_status"),
        "up"
    );
    let mut mc = m.server.conn();
    assert_eq!(info_field(&mut mc, "replication", "connected_slaves"), "0");
    assert_eq!(mc.q("PING"), Reply::simple("PONG"));
}
