//! A minimal RESP client for workloads on simulated hosts: send a command, read one reply.
//! (redis-rs works in the simulation too, but a pub/sub subscriber and exact reply shapes
//! are simpler with our own.)

use std::time::Duration;

use bytes::BytesMut;
use picket_common::net::Net;
pub use picket_common::resp::frame::{show, Frame};
use picket_common::resp::{encode_command, ReplyReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The connection of a client: plain, or TLS (see [`SimClient::connect_on`]).
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

pub struct SimClient {
    conn: Box<dyn Stream>,
    buf: BytesMut,
    reader: ReplyReader,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out")]
    Timeout,
    #[error("connection closed")]
    Closed,
}

impl SimClient {
    pub async fn connect(host: &str, port: u16) -> Result<Self, ClientError> {
        Self::connect_on(&crate::net::SimNet, host, port).await
    }

    /// Connect through another network (a [`crate::tls::TlsNet`]: a TLS client).
    pub async fn connect_on<N: Net>(net: &N, host: &str, port: u16) -> Result<Self, ClientError> {
        let conn = net.connect(host, port).await?;
        Ok(SimClient {
            conn: Box::new(conn),
            buf: BytesMut::new(),
            reader: ReplyReader::default(),
        })
    }

    pub async fn send(&mut self, args: &[&str]) -> Result<(), ClientError> {
        self.conn.write_all(&encode_command(args)).await?;
        // A TLS connection holds what its socket did not take until flushed.
        self.conn.flush().await?;
        Ok(())
    }

    /// Read one reply, waiting at most `within` (simulated time).
    pub async fn read(&mut self, within: Duration) -> Result<Frame, ClientError> {
        tokio::time::timeout(within, async {
            loop {
                if let Some((f, _)) = self
                    .reader
                    .read_reply(&mut self.buf)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?
                {
                    return Ok(f);
                }
                let n = self.conn.read_buf(&mut self.buf).await?;
                if n == 0 {
                    return Err(ClientError::Closed);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// Send a command and read its reply (5 s deadline: the simulated network has no
    /// retransmit, so every wait needs one).
    pub async fn cmd(&mut self, args: &[&str]) -> Result<Frame, ClientError> {
        self.send(args).await?;
        self.read(Duration::from_secs(5)).await
    }
}

/// Convenience for the trace of a command: its reply as text, or the error.
pub async fn cmd_text(c: &mut SimClient, args: &[&str]) -> String {
    match c.cmd(args).await {
        Ok(f) => show(&f),
        Err(e) => format!("!{e}"),
    }
}

impl SimClient {
    /// Connect, retrying for up to `within` while the server host is still starting.
    pub async fn connect_retry(
        host: &str,
        port: u16,
        within: Duration,
    ) -> Result<Self, ClientError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match Self::connect(host, port).await {
                Ok(c) => return Ok(c),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}
