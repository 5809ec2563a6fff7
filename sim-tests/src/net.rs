//! picket's `Net` over turmoil's simulated TCP.

use std::io;
use std::net::SocketAddr;
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
}
