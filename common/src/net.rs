//! The network seam: servers and links are generic over [`Net`], so the same code runs on real
//! tokio sockets (the binaries pass [`TokioNet`]) and on turmoil's simulated ones (newtypes in
//! `sim-tests`, so no production crate depends on turmoil).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};

pub mod bind;

/// A byte stream between two hosts.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn local_addr(&self) -> io::Result<SocketAddr>;
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    /// Disable Nagle's algorithm where the stack has one.
    fn set_nodelay(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }
    /// TCP keepalive probes after `secs` idle seconds, as Redis's `anetKeepAlive`
    /// (`tcp-keepalive`): then every `secs / 3` seconds, three times. 0 does nothing.
    /// Networks without keepalive ignore it.
    fn set_keepalive(&self, _secs: u64) -> io::Result<()> {
        Ok(())
    }
    /// The file descriptor of the socket, where there is one (CLIENT LIST's `fd`).
    fn raw_fd(&self) -> Option<i32> {
        None
    }
}

/// A bound listening socket.
pub trait Listener: Send + Sync + 'static {
    type Conn: Conn;
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A network: how to listen and how to connect.
pub trait Net: Clone + Send + Sync + 'static {
    type Conn: Conn;
    type Listener: Listener<Conn = Self::Conn>;
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    /// Like [`Net::bind`] with the length of the queue of pending connections (`listen(2)`'s
    /// backlog, Redis's `tcp-backlog`). Networks without such a queue ignore it.
    fn bind_with_backlog(
        &self,
        addr: SocketAddr,
        _backlog: u32,
    ) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        self.bind(addr)
    }
    /// Connect to `host:port`; `host` may be a name or an address.
    fn connect(&self, host: &str, port: u16)
        -> impl Future<Output = io::Result<Self::Conn>> + Send;
    /// The addresses `host` (a name or an address) stands for now, in the order to try
    /// them: an address is itself; a name is looked up afresh on every call (no cache
    /// here), so a caller that resolves before each connection follows a host that came
    /// back at a new address. An unknown name is an error (`NotFound` or the resolver's).
    fn resolve(&self, host: &str) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send;
}

/// Resolve `host` and connect to the first of its addresses that answers: the address
/// connected to, and the connection. `host` may be an address.
pub async fn connect_resolved<N: Net>(
    net: &N,
    host: &str,
    port: u16,
) -> io::Result<(IpAddr, N::Conn)> {
    let ips = net.resolve(host).await?;
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("no address found for {host}"),
    );
    for ip in ips {
        match net.connect(&ip.to_string(), port).await {
            Ok(c) => return Ok((ip, c)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The listen backlog of [`Net::bind`]: Redis's default `tcp-backlog`.
pub const DEFAULT_BACKLOG: u32 = 511;

/// The real network.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioNet;

impl Conn for tokio::net::TcpStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::TcpStream::local_addr(self)
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::TcpStream::peer_addr(self)
    }
    fn raw_fd(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        Some(self.as_raw_fd())
    }
    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        tokio::net::TcpStream::set_nodelay(self, on)
    }
    fn set_keepalive(&self, secs: u64) -> io::Result<()> {
        if secs == 0 {
            return Ok(());
        }
        let idle = std::time::Duration::from_secs(secs);
        let every = std::time::Duration::from_secs((secs / 3).max(1));
        let ka = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval(every)
            .with_retries(3);
        socket2::SockRef::from(self).set_tcp_keepalive(&ka)
    }
}

/// A tokio listener; IPv6 sockets are bound v6-only, as Redis does, so `bind * ::*` can hold
/// both families on one port.
pub struct TokioListener(tokio::net::TcpListener);

impl Listener for TokioListener {
    type Conn = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<(Self::Conn, SocketAddr)> {
        self.0.accept().await
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Net for TokioNet {
    type Conn = tokio::net::TcpStream;
    type Listener = TokioListener;

    async fn bind(&self, addr: SocketAddr) -> io::Result<TokioListener> {
        self.bind_with_backlog(addr, DEFAULT_BACKLOG).await
    }

    async fn bind_with_backlog(&self, addr: SocketAddr, backlog: u32) -> io::Result<TokioListener> {
        let socket = if addr.is_ipv6() {
            let s = tokio::net::TcpSocket::new_v6()?;
            set_v6only(&s)?;
            s
        } else {
            tokio::net::TcpSocket::new_v4()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        Ok(TokioListener(socket.listen(backlog)?))
    }

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Conn> {
        let s = tokio::net::TcpStream::connect((host, port)).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let mut ips: Vec<IpAddr> = Vec::new();
        for a in tokio::net::lookup_host((host, 0)).await? {
            let ip = a.ip().to_canonical();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        if ips.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no address found for {host}"),
            ));
        }
        Ok(ips)
    }
}

fn set_v6only(s: &tokio::net::TcpSocket) -> io::Result<()> {
    socket2::SockRef::from(s).set_only_v6(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tokio_net_round_trip() {
        let net = TokioNet;
        let l = net.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let t = tokio::spawn(async move {
            let (mut c, _) = l.accept().await.unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).await.unwrap();
            c.write_all(&b).await.unwrap();
        });
        let mut c = net.connect("127.0.0.1", port).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ping");
        t.await.unwrap();
    }

    #[tokio::test]
    async fn resolve_names_and_addresses() {
        let net = TokioNet;
        assert_eq!(
            net.resolve("10.1.2.3").await.unwrap(),
            vec!["10.1.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            net.resolve("::1").await.unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
        let local = net.resolve("localhost").await.unwrap();
        assert!(
            !local.is_empty() && local.iter().all(|ip| ip.is_loopback()),
            "{local:?}"
        );
        assert!(net.resolve("no-such-host.invalid").await.is_err());
    }

    #[tokio::test]
    async fn connect_resolved_tries_each_address() {
        // `localhost` may stand for ::1 before 127.0.0.1: a listener on 127.0.0.1 only is
        // still reached.
        let net = TokioNet;
        let l = net.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (ip, c) = connect_resolved(&net, "localhost", port).await.unwrap();
        assert_eq!(ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.peer_addr().unwrap().port(), port);
        assert!(connect_resolved(&net, "no-such-host.invalid", port)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn keepalive_as_redis_sets_it() {
        let net = TokioNet;
        let l = net.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let c = net.connect("127.0.0.1", port).await.unwrap();
        let sock = socket2::SockRef::from(&c);
        c.set_keepalive(0).unwrap();
        assert!(!sock.keepalive().unwrap());
        c.set_keepalive(300).unwrap();
        assert!(sock.keepalive().unwrap());
        #[cfg(target_os = "linux")]
        {
            assert_eq!(sock.tcp_keepalive_time().unwrap().as_secs(), 300);
            assert_eq!(sock.tcp_keepalive_interval().unwrap().as_secs(), 100);
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
        }
    }
}
