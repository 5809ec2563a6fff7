//! TLS on any [`Conn`], with rustls (the `ring` provider; no OpenSSL), configured as Redis
//! 7.0's `tls.c` configures OpenSSL: one server side context (the `tls-port` listener) and
//! one client side context (replication links, Sentinel links), both made from the same
//! `tls-*` settings ([`TlsSettings`]) by [`Tls::configure`], which either succeeds whole or
//! changes nothing (so `CONFIG SET tls-cert-file ...` can reload certificates: configure a
//! new [`Tls`] and swap it in; connections already open keep theirs).
//!
//! Redis's peer checks, kept here:
//! - a server asks for and verifies client certificates against the CA by
//!   `tls-auth-clients` (`yes`: required, `optional`: verified when given, `no`);
//! - a client verifies the server's chain against the CA but **not the host name**
//!   (OpenSSL's `SSL_VERIFY_PEER` without a host check, as Redis's replicas and sentinels
//!   connect to addresses), and presents `tls-client-cert-file` (else `tls-cert-file`).
//!
//! Differences that rustls imposes: TLSv1 and TLSv1.1 do not exist (a `tls-protocols` that
//! names only them is refused; mixed with newer ones they are dropped with a warning);
//! encrypted private keys (`tls-key-file-pass`) are refused with a message; `tls-dh-params-file`
//! has nothing to configure (rustls offers no finite-field DH: ECDHE and X25519 only).
//!
//! [`MaybeTls`] is the connection type of a listener or link that may or may not be TLS; it
//! is itself a [`Conn`], so the code above it (and the simulator's networks) do not change.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    CertificateError, CipherSuite, ClientConfig, DigitallySignedStruct, RootCertStore,
    ServerConfig, SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::Conn;

/// `tls-auth-clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthClients {
    /// A client certificate signed by the CA is required (Redis's default).
    #[default]
    Yes,
    /// No client certificate is asked for.
    No,
    /// A client certificate is verified when the client gives one.
    Optional,
}

impl AuthClients {
    /// Parse the config value (`yes`, `no`, `optional`, any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Some(Self::Yes),
            "no" => Some(Self::No),
            "optional" => Some(Self::Optional),
            _ => None,
        }
    }
    /// The config value, as CONFIG GET shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Optional => "optional",
        }
    }
}

/// The `tls-*` settings, as Redis's `redisTLSContextConfig` plus the switches that decide
/// whether a CA is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub key_file_pass: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub client_key_file_pass: Option<String>,
    pub ca_cert_file: Option<String>,
    pub ca_cert_dir: Option<String>,
    pub auth_clients: AuthClients,
    /// `tls-protocols`; `None` is Redis's default, TLSv1.2 and TLSv1.3.
    pub protocols: Option<String>,
    /// `tls-ciphers`: the TLSv1.2 suites, an OpenSSL cipher list.
    pub ciphers: Option<String>,
    /// `tls-ciphersuites`: the TLSv1.3 suites, `:`-separated IANA names.
    pub ciphersuites: Option<String>,
    pub prefer_server_ciphers: bool,
    pub session_caching: bool,
    pub session_cache_size: usize,
    pub session_cache_timeout: u64,
    /// `tls-replication` (or a sentinel's TLS links): outgoing links are TLS, so a CA is
    /// required to verify the peers.
    pub replication: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            key_file_pass: None,
            client_cert_file: None,
            client_key_file: None,
            client_key_file_pass: None,
            ca_cert_file: None,
            ca_cert_dir: None,
            auth_clients: AuthClients::Yes,
            protocols: None,
            ciphers: None,
            ciphersuites: None,
            prefer_server_ciphers: false,
            session_caching: true,
            session_cache_size: 20 * 1024,
            session_cache_timeout: 300,
            replication: false,
        }
    }
}

/// Why a TLS configuration was refused. The texts are Redis's where Redis has one.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("No tls-cert-file configured!")]
    NoCert,
    #[error("No tls-key-file configured!")]
    NoKey,
    #[error("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!")]
    NoCa,
    #[error("Failed to load certificate: {path}: {reason}")]
    Cert { path: String, reason: String },
    #[error("Failed to load private key: {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("Failed to configure CA certificate(s) file/directory: {0}")]
    Ca(String),
    #[error("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.")]
    Protocols,
    #[error("tls-protocols '{0}' names no protocol that picket supports (TLSv1.2 and TLSv1.3)")]
    NoSupportedProtocol(String),
    #[error("Failed to configure ciphers: {0}")]
    Ciphers(String),
    #[error("Failed to configure ciphersuites: {0}")]
    Ciphersuites(String),
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS client certificate verifier refused: {0}")]
    Verifier(String),
}

/// A configured TLS context: cheap to clone (shared configs), used for every handshake.
#[derive(Clone)]
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    /// `None` when no CA is configured: outgoing TLS links cannot verify a peer then.
    connector: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("client", &self.connector.is_some())
            .finish()
    }
}

impl Tls {
    /// Build both contexts from `s`, as Redis's `tlsConfigure`: all or nothing.
    pub fn configure(s: &TlsSettings) -> Result<Self, TlsError> {
        Self::configure_with_provider(s, ring_provider())
    }

    /// [`Tls::configure`] with rustls's randomness (client and server randoms, session ids,
    /// tickets) drawn from `random`: a seeded generator makes a simulation's handshakes
    /// replay. (The *ring* provider's key exchange and signatures draw from the system's
    /// generator whatever this says: see [`Tls::configure_with_provider`].)
    pub fn configure_with_random(
        s: &TlsSettings,
        random: &'static dyn rustls::crypto::SecureRandom,
    ) -> Result<Self, TlsError> {
        Self::configure_with_provider(
            s,
            CryptoProvider {
                secure_random: random,
                ..ring_provider()
            },
        )
    }

    /// [`Tls::configure`] on another crypto provider (its cipher suites chosen by
    /// `tls-ciphers` and `tls-ciphersuites` as the default's are): the simulation's, whose
    /// randomness, key exchange and all, comes from a seed. Start from [`base_provider`].
    pub fn configure_with_provider(
        s: &TlsSettings,
        base: CryptoProvider,
    ) -> Result<Self, TlsError> {
        let cert_file = s.cert_file.as_deref().ok_or(TlsError::NoCert)?;
        let key_file = s.key_file.as_deref().ok_or(TlsError::NoKey)?;
        if (s.auth_clients != AuthClients::No || s.replication)
            && s.ca_cert_file.is_none()
            && s.ca_cert_dir.is_none()
        {
            return Err(TlsError::NoCa);
        }
        let versions = parse_protocols(s.protocols.as_deref())?;
        let provider = Arc::new(provider(s, base)?);

        let certs = load_certs(cert_file)?;
        let key = load_key(key_file, s.key_file_pass.is_some())?;
        let roots = load_roots(s.ca_cert_file.as_deref(), s.ca_cert_dir.as_deref())?;

        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let mut server = match s.auth_clients {
            AuthClients::No => builder.with_no_client_auth(),
            auth => {
                let b = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots.clone()),
                    provider.clone(),
                );
                let b = if auth == AuthClients::Optional {
                    b.allow_unauthenticated()
                } else {
                    b
                };
                let v = b.build().map_err(|e| TlsError::Verifier(e.to_string()))?;
                builder.with_client_cert_verifier(v)
            }
        }
        .with_single_cert(certs.clone(), key.clone_key())
        .map_err(|e| key_error(e, key_file))?;
        server.ignore_client_order = s.prefer_server_ciphers;
        if s.session_caching {
            server.session_storage = ServerSessionMemoryCache::new(s.session_cache_size.max(1));
        } else {
            server.session_storage = Arc::new(NoServerSessionStorage {});
            server.send_tls13_tickets = 0;
        }

        let connector = if roots.is_empty() {
            None
        } else {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsError::Verifier(e.to_string()))?;
            let builder = ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&versions)?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)));
            let (ccerts, ckey, ckey_file) = match (&s.client_cert_file, &s.client_key_file) {
                (Some(c), Some(k)) => (
                    load_certs(c)?,
                    load_key(k, s.client_key_file_pass.is_some())?,
                    k.as_str(),
                ),
                _ => (certs, key, key_file),
            };
            let client = builder
                .with_client_auth_cert(ccerts, ckey)
                .map_err(|e| key_error(e, ckey_file))?;
            Some(tokio_rustls::TlsConnector::from(Arc::new(client)))
        };
        Ok(Self {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector,
        })
    }

    /// The server side handshake on an accepted connection. The caller bounds it in time
    /// (a peer that never finishes its handshake must not hold a task forever) and runs it
    /// off the accept loop.
    pub async fn accept<C: Conn>(&self, conn: C) -> io::Result<MaybeTls<C>> {
        let s = self.acceptor.accept(conn).await?;
        Ok(MaybeTls::Tls(Box::new(tokio_rustls::TlsStream::Server(s))))
    }

    /// The client side handshake on a connection to `host` (a name or an address, sent as
    /// SNI when it is a name; the certificate's names are not checked, as in Redis).
    pub async fn connect<C: Conn>(&self, conn: C, host: &str) -> io::Result<MaybeTls<C>> {
        let Some(connector) = &self.connector else {
            return Err(io::Error::other(
                "TLS: no CA certificate configured (tls-ca-cert-file or tls-ca-cert-dir) to verify the peer",
            ));
        };
        let name = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        };
        let s = connector.connect(name, conn).await?;
        Ok(MaybeTls::Tls(Box::new(tokio_rustls::TlsStream::Client(s))))
    }

    /// Whether outgoing links can be made (a CA is configured).
    pub fn can_connect(&self) -> bool {
        self.connector.is_some()
    }

    /// The client side configuration (`None` without a CA), for a blocking client of
    /// rustls's own (`rustls::StreamOwned`), as tests use.
    pub fn client_config(&self) -> Option<Arc<ClientConfig>> {
        self.connector.as_ref().map(|c| c.config().clone())
    }
}

/// A key rustls refuses next to its certificate: Redis's text (OpenSSL's reason differs).
fn key_error(e: rustls::Error, path: &str) -> TlsError {
    let reason = match e {
        rustls::Error::InconsistentKeys(_) => "key values mismatch".to_string(),
        rustls::Error::General(why) => why,
        e => return TlsError::Rustls(e),
    };
    TlsError::Key {
        path: path.to_string(),
        reason,
    }
}

/// Verifies a server's chain against the CA, not its names (see the module's notes).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain (and revocation) first and the name last: a name error
        // means the chain was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `tls-protocols` as Redis parses it (space separated, any case).
fn parse_protocols(s: Option<&str>) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let Some(s) = s else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let (mut v12, mut v13, mut old) = (false, false, Vec::new());
    for w in s.split(' ').filter(|w| !w.is_empty()) {
        match w.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => old.push(w.to_string()),
            "tlsv1.2" => v12 = true,
            "tlsv1.3" => v13 = true,
            _ => return Err(TlsError::Protocols),
        }
    }
    if !old.is_empty() {
        tracing::warn!(
            "tls-protocols: {} not supported (TLSv1.2 and TLSv1.3 only), ignored",
            old.join(" ")
        );
    }
    let mut v = Vec::new();
    if v13 {
        v.push(&rustls::version::TLS13);
    }
    if v12 {
        v.push(&rustls::version::TLS12);
    }
    if v.is_empty() {
        return Err(TlsError::NoSupportedProtocol(s.to_string()));
    }
    Ok(v)
}

/// The crypto provider [`Tls::configure`] starts from (rustls's *ring*), for
/// [`Tls::configure_with_provider`].
pub fn base_provider() -> CryptoProvider {
    ring_provider()
}

/// rustls's *ring* provider. rustls 0.23.48 deprecates it for lacking post-quantum key
/// exchange, which Redis 7.0's OpenSSL 3.0 lacks too; the alternative (aws-lc-rs) needs a
/// much heavier C build on every fresh CI machine.
#[allow(deprecated)]
pub(crate) fn ring_provider() -> CryptoProvider {
    ring::default_provider()
}

/// The TLSv1.2 suites by their OpenSSL names (`tls-ciphers`).
const TLS12_NAMES: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The TLSv1.3 suites by their IANA names (`tls-ciphersuites`).
const TLS13_NAMES: &[(&str, CipherSuite)] = &[
    (
        "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// `p` with the suites `tls-ciphers` and `tls-ciphersuites` choose.
fn provider(s: &TlsSettings, mut p: CryptoProvider) -> Result<CryptoProvider, TlsError> {
    let all = p.cipher_suites.clone();
    let is13 = |c: &SupportedCipherSuite| matches!(c, SupportedCipherSuite::Tls13(_));
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    match &s.ciphersuites {
        None => chosen.extend(all.iter().filter(|c| is13(c)).copied()),
        Some(list) => {
            let picked = pick(list, TLS13_NAMES, &all, false);
            if picked.is_empty() {
                return Err(TlsError::Ciphersuites(list.clone()));
            }
            chosen.extend(picked);
        }
    }
    match &s.ciphers {
        None => chosen.extend(all.iter().filter(|c| !is13(c)).copied()),
        Some(list) => {
            let picked = pick(list, TLS12_NAMES, &all, true);
            if picked.is_empty() {
                return Err(TlsError::Ciphers(list.clone()));
            }
            chosen.extend(picked);
        }
    }
    p.cipher_suites = chosen;
    Ok(p)
}

/// The suites a `:`-separated list names, in its order. In an OpenSSL cipher list
/// (`keywords`), `DEFAULT`, `ALL`, `HIGH` and `SECURE` stand for every suite, and exclusions
/// and modifiers (`!x`, `-x`, `+x`, `@x`) are ignored; names rustls lacks are skipped, as
/// OpenSSL skips unknown names (the list is refused only when nothing is left).
fn pick(
    list: &str,
    names: &[(&str, CipherSuite)],
    all: &[SupportedCipherSuite],
    keywords: bool,
) -> Vec<SupportedCipherSuite> {
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    let mut add = |cs: CipherSuite| {
        if let Some(s) = all.iter().find(|s| s.suite() == cs) {
            if !out.iter().any(|o| o.suite() == cs) {
                out.push(*s);
            }
        }
    };
    for w in list
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        if keywords && matches!(w.chars().next(), Some('!' | '-' | '+' | '@')) {
            continue;
        }
        if keywords
            && ["DEFAULT", "ALL", "HIGH", "SECURE"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(w))
        {
            for (_, cs) in names {
                add(*cs);
            }
            continue;
        }
        match names.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)) {
            Some((_, cs)) => add(*cs),
            None => tracing::warn!("TLS cipher {w} is not supported, ignored"),
        }
    }
    out
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Cert {
        path: path.to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(certs)
}

fn load_key(path: &str, has_pass: bool) -> Result<PrivateKeyDer<'static>, TlsError> {
    let err = |reason: String| TlsError::Key {
        path: path.to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if text.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(err(format!(
            "encrypted private keys are not supported{}; store the key decrypted (openssl pkey -in KEY -out PLAIN)",
            if has_pass { " (tls-key-file-pass)" } else { "" }
        )));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| err(e.to_string()))
}

/// The CA certificates of `tls-ca-cert-file` and of every file in `tls-ca-cert-dir` (files
/// that hold no certificate, such as OpenSSL's CRLs, are skipped).
fn load_roots(file: Option<&str>, dir: Option<&str>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let mut add = |certs: Vec<CertificateDer<'static>>, from: &str| -> Result<(), TlsError> {
        for c in certs {
            roots
                .add(c)
                .map_err(|e| TlsError::Ca(format!("{from}: {e}")))?;
        }
        Ok(())
    };
    if let Some(f) = file {
        let certs = CertificateDer::pem_file_iter(f)
            .map_err(|e| TlsError::Ca(format!("{f}: {e}")))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Ca(format!("{f}: {e}")))?;
        if certs.is_empty() {
            return Err(TlsError::Ca(format!("{f}: no certificate in the file")));
        }
        add(certs, f)?;
    }
    if let Some(d) = dir {
        let mut paths: Vec<_> = std::fs::read_dir(d)
            .map_err(|e| TlsError::Ca(format!("{d}: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            if let Some(certs) = certs_in(&p) {
                add(certs, &p.display().to_string())?;
            }
        }
    }
    Ok(roots)
}

fn certs_in(p: &Path) -> Option<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(p)
        .ok()?
        .filter_map(Result::ok)
        .collect();
    (!certs.is_empty()).then_some(certs)
}

/// A connection that is plain or TLS.
pub enum MaybeTls<C> {
    Plain(C),
    Tls(Box<tokio_rustls::TlsStream<C>>),
}

impl<C> MaybeTls<C> {
    /// The transport under the TLS session.
    pub fn get_ref(&self) -> &C {
        match self {
            Self::Plain(c) => c,
            Self::Tls(t) => t.get_ref().0,
        }
    }
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }
}

impl<C: Conn> AsyncRead for MaybeTls<C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(c) => Pin::new(c).poll_read(cx, buf),
            Self::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<C: Conn> AsyncWrite for MaybeTls<C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(c) => Pin::new(c).poll_write(cx, buf),
            Self::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(c) => Pin::new(c).poll_write_vectored(cx, bufs),
            Self::Tls(t) => Pin::new(t.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(c) => c.is_write_vectored(),
            Self::Tls(t) => t.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(c) => Pin::new(c).poll_flush(cx),
            Self::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(c) => Pin::new(c).poll_shutdown(cx),
            Self::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

impl<C: Conn> Conn for MaybeTls<C> {
    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.get_ref().local_addr()
    }
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.get_ref().peer_addr()
    }
    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(on)
    }
    fn set_keepalive(&self, secs: u64) -> io::Result<()> {
        self.get_ref().set_keepalive(secs)
    }
    fn raw_fd(&self) -> Option<i32> {
        self.get_ref().raw_fd()
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;

/// Make a throwaway CA and certificates in `dir` with `tools/gen-test-certs.sh` (OpenSSL's
/// command line, as Redis's test suite makes its own), naming `hosts` besides localhost.
/// `Ok(false)` when the `openssl` command is absent, so tests can skip loudly.
pub fn gen_test_certs(dir: &Path, hosts: &[&str]) -> io::Result<bool> {
    run_gen_test_certs(dir, hosts, false)
}

/// [`gen_test_certs`] with Ed25519 keys (`--ed25519`): their signatures are deterministic,
/// so with a seeded provider a handshake's bytes depend on the seed alone (the simulation).
pub fn gen_test_certs_ed25519(dir: &Path, hosts: &[&str]) -> io::Result<bool> {
    run_gen_test_certs(dir, hosts, true)
}

fn run_gen_test_certs(dir: &Path, hosts: &[&str], ed25519: bool) -> io::Result<bool> {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        return Ok(false);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/gen-test-certs.sh");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(script);
    if ed25519 {
        cmd.arg("--ed25519");
    }
    let out = cmd.arg(dir).args(hosts).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(true)
}
