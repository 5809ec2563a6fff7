//! TLS in the simulation: every link of a deployment encrypted, and replayable.
//!
//! - [`TlsNet`] puts TLS on every connection of a [`Net`]: its listeners accept with
//!   [`Tls::accept`] (each handshake in a task of its own, bounded in time), its connects
//!   handshake with [`Tls::connect`]. The simulated servers run on it, whatever their own
//!   configuration says; the sentinels use their own TLS (`tls-port`, `tls-replication`),
//!   the code the binary runs.
//! - [`seeded_tls`]: rustls's randomness (client and server randoms, session ids) from a
//!   seeded generator, and a key exchange (X25519) whose private keys come from it too:
//!   *ring*'s own key exchange and RSA/ECDSA signatures draw from the system's generator,
//!   so the simulation's certificates are Ed25519 ([`sim_certs`]), whose signatures draw
//!   nothing. With both, a seed replays the bytes on the wire, not only the events.
//!   (Clocks: rustls reads the real time only to check certificates' validity, years here,
//!   and session resumption, which the simulation turns off: `tls-session-caching no`.)
//! - [`TapNet`] adds a digest of the plaintext handshake records written on a connection
//!   (the randoms and key shares) into a [`WireDigest`], which the determinism test
//!   compares between two runs of a seed.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use picket_common::net::{Conn, Listener, Net};
use picket_common::tls::{base_provider, MaybeTls, Tls, TlsError, TlsSettings};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::NamedGroup;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

/// How long a handshake may take on a [`TlsNet`] (the simulated network has no
/// retransmit: a lost segment stalls a handshake for ever).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A seeded generator as rustls's [`SecureRandom`].
#[derive(Debug)]
struct SeededRandom(Mutex<picket_common::ids::Rng>);

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        use rand::Rng;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fill_bytes(buf);
        Ok(())
    }
}

/// X25519 with private keys from a [`SeededRandom`] (rustls's *ring* group draws them
/// from the system's generator).
#[derive(Debug)]
struct SeededX25519(&'static SeededRandom);

impl SupportedKxGroup for SeededX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let mut seed = [0u8; 32];
        self.0
            .fill(&mut seed)
            .map_err(|_| rustls::Error::FailedToGetRandomBytes)?;
        // *ring* takes no generator of ours (its trait is sealed) but this one, which
        // hands it our 32 bytes: X25519's private key is exactly one fill of 32 bytes.
        #[allow(deprecated)]
        let rng = ring::test::rand::FixedSliceRandom { bytes: &seed };
        let private =
            ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::X25519, &rng)
                .map_err(|_| rustls::Error::FailedToGetRandomBytes)?;
        let public = private
            .compute_public_key()
            .map_err(|_| rustls::Error::FailedToGetRandomBytes)?
            .as_ref()
            .to_vec();
        Ok(Box::new(SeededKx { private, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct SeededKx {
    private: ring::agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl ActiveKeyExchange for SeededKx {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let peer = ring::agreement::UnparsedPublicKey::new(&ring::agreement::X25519, peer);
        ring::agreement::agree_ephemeral(self.private, &peer, |secret| SharedSecret::from(secret))
            .map_err(|_| rustls::PeerMisbehaved::InvalidKeyShare.into())
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// The crypto provider of a simulated host: rustls's *ring* with its randomness and key
/// exchange drawn from `seed`. rustls keeps `&'static` references to them: each call
/// leaks two small values (one per host start of a simulation).
pub fn seeded_provider(seed: u64) -> CryptoProvider {
    let random: &'static SeededRandom = Box::leak(Box::new(SeededRandom(Mutex::new(
        picket_common::ids::seeded(seed),
    ))));
    let kx: &'static SeededX25519 = Box::leak(Box::new(SeededX25519(random)));
    CryptoProvider {
        secure_random: random,
        kx_groups: vec![kx],
        ..base_provider()
    }
}

/// [`Tls::configure`] on [`seeded_provider`].
pub fn seeded_tls(settings: &TlsSettings, seed: u64) -> Result<Tls, TlsError> {
    Tls::configure_with_provider(settings, seeded_provider(seed))
}

/// The simulation's certificates (Ed25519, made once per process with
/// `tools/gen-test-certs.sh --ed25519`, valid for ten years of real time); `None`,
/// loudly, without openssl (a failure under PICKET_REQUIRE_REDIS=1, as CI installs it).
pub fn sim_certs() -> Option<&'static Path> {
    static CERTS: OnceLock<Option<PathBuf>> = OnceLock::new();
    CERTS
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("picket-sim-certs-{}", std::process::id()));
            match picket_common::tls::gen_test_certs_ed25519(&dir, &[]) {
                Ok(true) => Some(dir),
                Ok(false) => {
                    assert!(
                        std::env::var("PICKET_REQUIRE_REDIS").as_deref() != Ok("1"),
                        "openssl is required (PICKET_REQUIRE_REDIS=1) for the TLS simulation's certificates"
                    );
                    eprintln!("\n!!! SKIPPED: openssl is not installed: the TLS simulation needs it to make certificates\n");
                    None
                }
                Err(e) => panic!("tools/gen-test-certs.sh --ed25519: {e}"),
            }
        })
        .as_deref()
}

/// The `tls-*` settings of every simulated process (server, sentinel, client): the generic
/// certificate, the CA, TLS links, no session resumption (see the module's notes).
pub fn sim_tls_settings(certs: &Path) -> TlsSettings {
    let f = |n: &str| Some(certs.join(n).display().to_string());
    TlsSettings {
        cert_file: f("redis.crt"),
        key_file: f("redis.key"),
        ca_cert_file: f("ca.crt"),
        session_caching: false,
        replication: true,
        ..TlsSettings::default()
    }
}

/// The same settings as a sentinel's config lines.
pub fn sim_tls_conf_lines(certs: &Path) -> String {
    let f = |n: &str| certs.join(n).display().to_string();
    format!(
        "tls-replication yes\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-session-caching no\n",
        f("redis.crt"),
        f("redis.key"),
        f("ca.crt")
    )
}

/// A [`Net`] whose every connection is TLS.
#[derive(Clone)]
pub struct TlsNet<N> {
    inner: N,
    tls: Tls,
}

impl<N> TlsNet<N> {
    pub fn new(inner: N, tls: Tls) -> Self {
        TlsNet { inner, tls }
    }
}

/// An accepted connection, once its handshake is done.
type Accepted<C> = io::Result<(MaybeTls<C>, SocketAddr)>;

/// A listener of a [`TlsNet`]: a task accepts on the inner listener and runs each
/// handshake in a task of its own (a client that stalls its handshake holds no other);
/// [`Listener::accept`] takes the connections whose handshake is done.
pub struct TlsListener<C> {
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Accepted<C>>>,
    local: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl<C> Drop for TlsListener<C> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<C: Conn> TlsListener<C> {
    fn start<L: Listener<Conn = C>>(inner: L, tls: Tls) -> io::Result<Self> {
        let local = inner.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let (conn, peer) = match inner.accept().await {
                    Ok(a) => a,
                    Err(e) => {
                        if tx.send(Err(e)).is_err() {
                            return;
                        }
                        continue;
                    }
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(conn)).await {
                        Ok(Ok(c)) => {
                            let _ = tx.send(Ok((c, peer)));
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        })
        .abort_handle();
        Ok(TlsListener {
            rx: tokio::sync::Mutex::new(rx),
            local,
            task,
        })
    }
}

impl<C: Conn> Listener for TlsListener<C> {
    type Conn = MaybeTls<C>;

    async fn accept(&self) -> io::Result<(MaybeTls<C>, SocketAddr)> {
        match self.rx.lock().await.recv().await {
            Some(a) => a,
            None => Err(io::Error::other("the TLS listener's task ended")),
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl<N: Net> Net for TlsNet<N> {
    type Conn = MaybeTls<N::Conn>;
    type Listener = TlsListener<N::Conn>;

    async fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener> {
        TlsListener::start(self.inner.bind(addr).await?, self.tls.clone())
    }

    async fn bind_with_backlog(
        &self,
        addr: SocketAddr,
        backlog: u32,
    ) -> io::Result<Self::Listener> {
        TlsListener::start(
            self.inner.bind_with_backlog(addr, backlog).await?,
            self.tls.clone(),
        )
    }

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Conn> {
        let c = self.inner.connect(host, port).await?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.tls.connect(c, host))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }

    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.inner.resolve(host).await
    }
}

/// A digest of the plaintext TLS handshake records (ClientHello, ServerHello: the randoms,
/// session ids and key shares, everything a seed must replay) written on the connections
/// of a [`TapNet`]: the sum of each record's FNV-1a hash, so records of different hosts
/// add up in any order. (The encrypted records that follow carry the servers' INFO, whose
/// memory and CPU figures are the process's own, not the simulation's: they do not replay
/// byte for byte even without TLS.)
/// [`WireDigest::all_bytes`] counts every byte written instead.
#[derive(Debug, Clone, Default)]
pub struct WireDigest {
    sum: Arc<AtomicU64>,
    all: bool,
}

impl WireDigest {
    /// A digest of the handshake records (the [`Default`]).
    pub fn handshakes() -> Self {
        Self::default()
    }

    /// A digest of every byte written, each write hashed alone.
    pub fn all_bytes() -> Self {
        WireDigest {
            sum: Arc::default(),
            all: true,
        }
    }

    pub fn value(&self) -> u64 {
        self.sum.load(Ordering::SeqCst)
    }

    fn add(&self, h: u64) {
        self.sum.fetch_add(h, Ordering::SeqCst);
    }
}

/// FNV-1a over bytes fed in pieces.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// TLS's record content type of handshake messages (sent in plaintext until the keys are
/// agreed: ClientHello and ServerHello in TLS 1.3).
const HANDSHAKE_RECORD: u8 = 0x16;

/// Follows the TLS records one side of a connection writes.
#[derive(Debug, Default)]
struct RecordReader {
    header: Vec<u8>,
    left: usize,
    hash: Option<u64>,
}

impl RecordReader {
    /// Feed written bytes; the hashes of the handshake records they complete go to `digest`.
    fn feed(&mut self, mut bytes: &[u8], digest: &WireDigest) {
        if digest.all {
            digest.add(fnv(FNV_START, bytes));
            return;
        }
        while !bytes.is_empty() {
            if self.left == 0 {
                let take = (5 - self.header.len()).min(bytes.len());
                self.header.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.header.len() < 5 {
                    return;
                }
                self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                self.hash =
                    (self.header[0] == HANDSHAKE_RECORD).then(|| fnv(FNV_START, &self.header));
                self.header.clear();
            }
            let take = self.left.min(bytes.len());
            if let Some(h) = self.hash.as_mut() {
                *h = fnv(*h, &bytes[..take]);
            }
            self.left -= take;
            bytes = &bytes[take..];
            if self.left == 0 {
                if let Some(h) = self.hash.take() {
                    digest.add(h);
                }
            }
        }
    }
}

/// A [`Net`] whose connections (TLS ones) add the handshake records they write to a
/// [`WireDigest`].
#[derive(Clone)]
pub struct TapNet<N> {
    inner: N,
    digest: WireDigest,
}

impl<N> TapNet<N> {
    pub fn new(inner: N, digest: WireDigest) -> Self {
        TapNet { inner, digest }
    }
}

pub struct TapConn<C> {
    inner: C,
    digest: WireDigest,
    records: RecordReader,
}

impl<C: Conn> AsyncRead for TapConn<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<C: Conn> AsyncWrite for TapConn<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let me = &mut *self;
            me.records.feed(&buf[..*n], &me.digest);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<C: Conn> Conn for TapConn<C> {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

pub struct TapListener<L> {
    inner: L,
    digest: WireDigest,
}

impl<L: Listener> Listener for TapListener<L> {
    type Conn = TapConn<L::Conn>;

    async fn accept(&self) -> io::Result<(Self::Conn, SocketAddr)> {
        let (c, a) = self.inner.accept().await?;
        Ok((
            TapConn {
                inner: c,
                digest: self.digest.clone(),
                records: RecordReader::default(),
            },
            a,
        ))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl<N: Net> Net for TapNet<N> {
    type Conn = TapConn<N::Conn>;
    type Listener = TapListener<N::Listener>;

    async fn bind(&self, addr: SocketAddr) -> io::Result<Self::Listener> {
        Ok(TapListener {
            inner: self.inner.bind(addr).await?,
            digest: self.digest.clone(),
        })
    }

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Conn> {
        Ok(TapConn {
            inner: self.inner.connect(host, port).await?,
            digest: self.digest.clone(),
            records: RecordReader::default(),
        })
    }

    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.inner.resolve(host).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picket_common::net::TokioNet;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One TLS round trip between two hosts of `seed` over loopback, tapped: the digest of
    /// both sides' bytes, every one of them.
    async fn tapped_round_trip(certs: &Path, seed: u64) -> u64 {
        let digest = WireDigest::all_bytes();
        let s = sim_tls_settings(certs);
        let server = TlsNet::new(
            TapNet::new(TokioNet, digest.clone()),
            seeded_tls(&s, seed).expect("the simulation's certificates load"),
        );
        let client = TlsNet::new(
            TapNet::new(TokioNet, digest.clone()),
            seeded_tls(&s, seed + 1).expect("the simulation's certificates load"),
        );
        let l = server
            .bind("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("bind");
        let port = l.local_addr().expect("bound").port();
        let echo = tokio::spawn(async move {
            let (mut c, _) = l.accept().await.expect("accept");
            let mut b = [0u8; 5];
            c.read_exact(&mut b).await.expect("read");
            c.write_all(&b).await.expect("write");
            c.flush().await.expect("flush");
            // The client's close_notify, then ours.
            let _ = c.read(&mut b).await;
            c.shutdown().await.expect("shutdown");
        });
        let mut c = client.connect("127.0.0.1", port).await.expect("connect");
        c.write_all(b"hello").await.expect("write");
        c.flush().await.expect("flush");
        let mut b = [0u8; 5];
        c.read_exact(&mut b).await.expect("read");
        assert_eq!(&b, b"hello");
        c.shutdown().await.expect("shutdown");
        echo.await.expect("the echo task");
        digest.value()
    }

    #[test]
    fn handshake_records_are_hashed_whatever_the_writes() {
        let records: Vec<u8> = [
            &[0x16u8, 3, 1, 0, 3, 1, 2, 3][..],
            &[0x17, 3, 3, 0, 2, 9, 9],
            &[0x16, 3, 3, 0, 1, 7],
        ]
        .concat();
        let whole = WireDigest::handshakes();
        RecordReader::default().feed(&records, &whole);
        let bytewise = WireDigest::handshakes();
        let mut r = RecordReader::default();
        for b in &records {
            r.feed(std::slice::from_ref(b), &bytewise);
        }
        assert_eq!(whole.value(), bytewise.value());
        let want = fnv(FNV_START, &records[..8]).wrapping_add(fnv(FNV_START, &records[15..]));
        assert_eq!(
            whole.value(),
            want,
            "the application data record is not counted"
        );
    }

    #[tokio::test]
    async fn a_seed_replays_the_handshake_byte_for_byte() {
        let Some(certs) = sim_certs() else { return };
        let a = tapped_round_trip(certs, 7).await;
        assert_ne!(a, 0);
        assert_eq!(a, tapped_round_trip(certs, 7).await);
        assert_ne!(a, tapped_round_trip(certs, 8).await);
    }
}
