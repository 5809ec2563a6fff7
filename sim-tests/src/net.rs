//! picket's `Net` over turmoil's simulated TCP.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use picket_common::net::{Conn, Listener, Net};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Clone, Copy, Default)]
pub struct SimNet;

pub struct SimListener(turmoil::net::TcpListener);

pub struct SimConn(pub turmoil::net::TcpStream);

impl AsyncRead for SimConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Conn for SimConn {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl Listener for SimListener {
    type Conn = SimConn;
    async fn accept(&self) -> io::Result<(SimConn, SocketAddr)> {
        let (s, a) = self.0.accept().await?;
        Ok((SimConn(s), a))
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Net for SimNet {
    type Conn = SimConn;
    type Listener = SimListener;

    async fn bind(&self, addr: SocketAddr) -> io::Result<SimListener> {
        Ok(SimListener(turmoil::net::TcpListener::bind(addr).await?))
    }

    async fn connect(&self, host: &str, port: u16) -> io::Result<SimConn> {
        Ok(SimConn(
            turmoil::net::TcpStream::connect((host, port)).await?,
        ))
    }

    /// turmoil's DNS: a host name of the simulation, or an address. An unknown name is an
    /// error (`turmoil::lookup` would make it up).
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        Ok(turmoil::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// [`SimNet`] with DNS names of its own on top of turmoil's hosts: a name (a service name
/// such as Docker's or Kubernetes') stands for a turmoil host and may be pointed at
/// another one, as a pod that comes back at a new address. Resolution goes through
/// [`Net::resolve`], so only code that resolves through its `Net` finds the hosts; a name
/// that is no alias is a turmoil host name.
#[derive(Debug, Clone, Default)]
pub struct AliasNet {
    aliases: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
}

impl AliasNet {
    /// Point `name` at the turmoil host `host`.
    pub fn point(&self, name: &str, host: &str) {
        self.aliases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_ascii_lowercase(), host.to_string());
    }

    /// The turmoil host `name` stands for now.
    pub fn target(&self, name: &str) -> String {
        self.aliases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }
}

impl Net for AliasNet {
    type Conn = SimConn;
    type Listener = SimListener;

    async fn bind(&self, addr: SocketAddr) -> io::Result<SimListener> {
        SimNet.bind(addr).await
    }

    async fn connect(&self, host: &str, port: u16) -> io::Result<SimConn> {
        SimNet.connect(&self.target(host), port).await
    }

    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        SimNet.resolve(&self.target(host)).await
    }
}
