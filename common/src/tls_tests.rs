use std::path::PathBuf;
use std::sync::OnceLock;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::net::{Listener, Net, TokioNet};

/// One PKI for the whole test binary, and a second CA that signs nothing we trust.
fn pki() -> Option<&'static (PathBuf, PathBuf)> {
    static PKI: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    PKI.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("picket-tls-unit-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        let ok = gen_test_certs(&a, &[]).expect("gen-test-certs") && gen_test_certs(&b, &[]).expect("gen-test-certs");
        if !ok {
            assert!(
                std::env::var_os("PICKET_REQUIRE_REDIS").is_none(),
                "openssl is required for the TLS tests"
            );
            eprintln!("!!! SKIPPED: openssl is not installed; the TLS unit tests need it to make certificates");
            return None;
        }
        Some((a, b))
    })
    .as_ref()
}

fn settings(dir: &Path, cert: &str) -> TlsSettings {
    let f = |n: &str| Some(dir.join(n).display().to_string());
    TlsSettings {
        cert_file: f(&format!("{cert}.crt")),
        key_file: f(&format!("{cert}.key")),
        ca_cert_file: f("ca.crt"),
        ..TlsSettings::default()
    }
}

/// Accept one TLS connection with `server`, connect with `client`; the echo of 4 bytes or
/// the first error (server side errors win: they say why the handshake failed).
async fn round_trip(server: &Tls, client: &Tls, host: &str) -> io::Result<()> {
    let net = TokioNet;
    let l = net.bind("127.0.0.1:0".parse().unwrap()).await?;
    let port = l.local_addr()?.port();
    let server = server.clone();
    let t = tokio::spawn(async move {
        let (c, _) = l.accept().await?;
        let mut c = server.accept(c).await?;
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await?;
        c.write_all(&b).await?;
        c.flush().await?;
        io::Result::Ok(())
    });
    let r = async {
        let c = net.connect("127.0.0.1", port).await?;
        let mut c = client.connect(c, host).await?;
        assert!(c.is_tls());
        c.write_all(b"ping").await?;
        c.flush().await?;
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await?;
        assert_eq!(&b, b"ping");
        io::Result::Ok(())
    }
    .await;
    match t.await.unwrap() {
        Err(e) => Err(e),
        Ok(()) => r,
    }
}

#[tokio::test]
async fn mutual_tls_round_trip_without_host_name_check() {
    let Some((a, _)) = pki() else { return };
    let server = Tls::configure(&settings(a, "server")).unwrap();
    let client = Tls::configure(&TlsSettings {
        client_cert_file: Some(a.join("client.crt").display().to_string()),
        client_key_file: Some(a.join("client.key").display().to_string()),
        ..settings(a, "redis")
    })
    .unwrap();
    round_trip(&server, &client, "127.0.0.1").await.unwrap();
    // The certificate does not name this host: Redis does not check names, nor do we.
    round_trip(&server, &client, "db.example.invalid")
        .await
        .unwrap();
}

#[tokio::test]
async fn peers_of_another_ca_are_refused_both_ways() {
    let Some((a, b)) = pki() else { return };
    let server = Tls::configure(&settings(a, "redis")).unwrap();
    // The client trusts CA a but presents a certificate of CA b: the server refuses it.
    let stranger = Tls::configure(&TlsSettings {
        ca_cert_file: Some(a.join("ca.crt").display().to_string()),
        ..settings(b, "redis")
    })
    .unwrap();
    assert!(round_trip(&server, &stranger, "127.0.0.1").await.is_err());
    // The client trusts only CA b: it refuses the server's certificate.
    let wary = Tls::configure(&settings(b, "redis")).unwrap();
    assert!(round_trip(&server, &wary, "127.0.0.1").await.is_err());
}

#[tokio::test]
async fn auth_clients_no_and_optional_take_clients_without_certificates() {
    let Some((a, _)) = pki() else { return };
    // A rustls client with no certificate at all.
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(a.join("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(ring_provider());
    let bare = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let bare = Tls {
        acceptor: Tls::configure(&settings(a, "redis")).unwrap().acceptor,
        connector: Some(tokio_rustls::TlsConnector::from(Arc::new(bare))),
    };
    let yes = Tls::configure(&settings(a, "redis")).unwrap();
    assert!(round_trip(&yes, &bare, "localhost").await.is_err());
    for auth in [AuthClients::No, AuthClients::Optional] {
        let server = Tls::configure(&TlsSettings {
            auth_clients: auth,
            ..settings(a, "redis")
        })
        .unwrap();
        round_trip(&server, &bare, "localhost").await.unwrap();
    }
}

#[tokio::test]
async fn protocols_and_suites_restrict_the_handshake() {
    let Some((a, _)) = pki() else { return };
    let only = |p: &str| {
        Tls::configure(&TlsSettings {
            protocols: Some(p.into()),
            ..settings(a, "redis")
        })
        .unwrap()
    };
    let (v12, v13) = (only("TLSv1.2"), only("tlsv1.3"));
    round_trip(&v12, &v12, "localhost").await.unwrap();
    round_trip(&v13, &v13, "localhost").await.unwrap();
    assert!(round_trip(&v12, &v13, "localhost").await.is_err());
    // Old protocols next to a supported one are dropped, alone they are refused.
    round_trip(&only("TLSv1 TLSv1.1 TLSv1.2"), &v12, "localhost")
        .await
        .unwrap();
    let aes = Tls::configure(&TlsSettings {
        ciphersuites: Some("TLS_AES_128_GCM_SHA256".into()),
        ..settings(a, "redis")
    })
    .unwrap();
    let chacha = Tls::configure(&TlsSettings {
        ciphersuites: Some("TLS_CHACHA20_POLY1305_SHA256".into()),
        ..settings(a, "redis")
    })
    .unwrap();
    assert!(round_trip(&aes, &chacha, "localhost").await.is_err());
    let rsa12 = Tls::configure(&TlsSettings {
        protocols: Some("TLSv1.2".into()),
        ciphers: Some("ECDHE-RSA-AES256-GCM-SHA384:!aNULL".into()),
        ..settings(a, "redis")
    })
    .unwrap();
    round_trip(&rsa12, &v12, "localhost").await.unwrap();
}

#[test]
fn bad_configurations_are_refused_with_redis_messages() {
    let Some((a, _)) = pki() else { return };
    let good = settings(a, "redis");
    let err = |s: TlsSettings| Tls::configure(&s).unwrap_err().to_string();
    assert_eq!(
        err(TlsSettings {
            cert_file: None,
            ..good.clone()
        }),
        "No tls-cert-file configured!"
    );
    assert_eq!(
        err(TlsSettings {
            key_file: None,
            ..good.clone()
        }),
        "No tls-key-file configured!"
    );
    assert!(err(TlsSettings {
        ca_cert_file: None,
        ..good.clone()
    })
    .starts_with("Either tls-ca-cert-file or tls-ca-cert-dir must be specified"));
    // No CA is fine when nothing needs one.
    assert!(!Tls::configure(&TlsSettings {
        ca_cert_file: None,
        auth_clients: AuthClients::No,
        ..good.clone()
    })
    .unwrap()
    .can_connect());
    assert!(err(TlsSettings {
        ca_cert_file: None,
        auth_clients: AuthClients::No,
        replication: true,
        ..good.clone()
    })
    .starts_with("Either tls-ca-cert-file"));
    assert!(err(TlsSettings {
        protocols: Some("TLSv1.4".into()),
        ..good.clone()
    })
    .starts_with("Invalid tls-protocols specified."));
    assert!(err(TlsSettings {
        protocols: Some("TLSv1 TLSv1.1".into()),
        ..good.clone()
    })
    .contains("names no protocol"));
    assert!(err(TlsSettings {
        cert_file: Some("/nonexistent/cert.pem".into()),
        ..good.clone()
    })
    .starts_with("Failed to load certificate: /nonexistent/cert.pem:"));
    // A key file that holds a certificate, and a certificate file that holds a key.
    assert!(err(TlsSettings {
        key_file: good.cert_file.clone(),
        ..good.clone()
    })
    .starts_with("Failed to load private key:"));
    assert!(err(TlsSettings {
        cert_file: good.key_file.clone(),
        ..good.clone()
    })
    .starts_with("Failed to load certificate:"));
    // A key that does not belong to the certificate: Redis's text.
    let other = a.join("client.key").display().to_string();
    assert_eq!(
        err(TlsSettings {
            key_file: Some(other.clone()),
            ..good.clone()
        }),
        format!("Failed to load private key: {other}: key values mismatch")
    );
    assert!(err(TlsSettings {
        ca_cert_file: Some("/nonexistent/ca.pem".into()),
        ..good.clone()
    })
    .starts_with("Failed to configure CA certificate(s) file/directory:"));
    assert_eq!(
        err(TlsSettings {
            ciphers: Some("RC4-MD5:!aNULL".into()),
            ..good.clone()
        }),
        "Failed to configure ciphers: RC4-MD5:!aNULL"
    );
    assert_eq!(
        err(TlsSettings {
            ciphersuites: Some("TLS_AES_128_CCM_SHA256".into()),
            ..good.clone()
        }),
        "Failed to configure ciphersuites: TLS_AES_128_CCM_SHA256"
    );
    // Encrypted keys are refused with a way out.
    let enc = a.join("encrypted.key");
    let st = std::process::Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(a.join("redis.key"))
        .arg("-out")
        .arg(&enc)
        .status()
        .unwrap();
    assert!(st.success());
    let e = err(TlsSettings {
        key_file: Some(enc.display().to_string()),
        key_file_pass: Some("secret".into()),
        ..good.clone()
    });
    assert!(
        e.contains("encrypted private keys are not supported"),
        "{e}"
    );
}

#[test]
fn ca_dir_is_read_whole() {
    let Some((a, _)) = pki() else { return };
    let dir = a.join("cadir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(a.join("ca.crt"), dir.join("ca.pem")).unwrap();
    std::fs::write(dir.join("README"), "not a certificate").unwrap();
    let s = TlsSettings {
        ca_cert_file: None,
        ca_cert_dir: Some(dir.display().to_string()),
        ..settings(a, "redis")
    };
    assert!(Tls::configure(&s).unwrap().can_connect());
    assert!(Tls::configure(&TlsSettings {
        ca_cert_dir: Some("/nonexistent-dir".into()),
        ..s
    })
    .is_err());
}

#[test]
fn auth_clients_values() {
    assert_eq!(AuthClients::parse("OPTIONAL"), Some(AuthClients::Optional));
    assert_eq!(AuthClients::parse("yes"), Some(AuthClients::Yes));
    assert_eq!(
        AuthClients::parse("no").map(AuthClients::as_str),
        Some("no")
    );
    assert_eq!(AuthClients::parse("maybe"), None);
}

/// A generator that counts its uses (and gives constant bytes: fine for a round trip).
#[derive(Debug)]
struct Counting(std::sync::atomic::AtomicUsize);

impl rustls::crypto::SecureRandom for Counting {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        buf.fill(0x5a);
        Ok(())
    }
}

#[tokio::test]
async fn handshakes_draw_from_the_given_generator_and_take_ed25519_keys() {
    let Some(_) = pki() else { return };
    static RANDOM: Counting = Counting(std::sync::atomic::AtomicUsize::new(0));
    let dir = std::env::temp_dir().join(format!("picket-tls-unit-ed-{}", std::process::id()));
    assert!(gen_test_certs_ed25519(&dir, &["db.example"]).expect("gen-test-certs --ed25519"));
    let key = std::fs::read_to_string(dir.join("redis.key")).unwrap();
    assert!(PrivateKeyDer::from_pem_slice(key.as_bytes()).is_ok());
    let seeded = Tls::configure_with_random(&settings(&dir, "redis"), &RANDOM).unwrap();
    let plain = Tls::configure(&settings(&dir, "redis")).unwrap();
    round_trip(&seeded, &plain, "localhost").await.unwrap();
    let server_side = RANDOM.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        server_side > 0,
        "the server's random and session id come from it"
    );
    round_trip(&plain, &seeded, "localhost").await.unwrap();
    assert!(RANDOM.0.load(std::sync::atomic::Ordering::SeqCst) > server_side);
    // The client side configuration is there for blocking clients.
    assert!(seeded.client_config().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
