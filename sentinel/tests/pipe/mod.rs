//! An in-memory client connection for tests that drive the sentinel's shell directly: one
//! end of a `tokio::io::duplex` pipe, seen as a `Conn` from 127.0.0.1:40000.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use picket_common::net::Conn;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// A pipe end as a client connection.
pub struct Pipe(pub DuplexStream);

impl AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Conn for Pipe {
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok("127.0.0.1:26379".parse().expect("a literal address"))
    }
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        Ok("127.0.0.1:40000".parse().expect("a literal address"))
    }
}
