//! The connection task: reads requests, runs them in batches under the server lock, and writes
//! the replies (and pushes from other clients) after releasing it.

use std::sync::Arc;

use bytes::BytesMut;
use picket_common::net::Conn;
use picket_common::resp::{Limits, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::client::{cflags, ClientId};
use crate::command::exec::{process, Flow};
use crate::runtime::Shared;

/// Read buffer growth step (Redis's `PROTO_IOBUF_LEN`).
const READ_CHUNK: usize = 16 * 1024;

/// Serve one accepted connection until it closes, the client is killed or the server stops.
pub async fn serve<C: Conn>(shared: Arc<Shared>, mut conn: C, id: ClientId, notify: Arc<Notify>) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = RequestDecoder::new();
    let cancel = shared.cancel.clone();
    let mut eof = false;
    loop {
        // Run whatever is decodable, and collect output, under the lock.
        let (output, close) = {
            let mut guard = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let srv = &mut *guard;
            let Some(mut client) = srv.clients.remove(&id) else {
                break;
            };
            let mut out = std::mem::take(&mut client.out);
            let mut close = client.has(cflags::CLOSE_ASAP);
            while !close {
                let limits = Limits {
                    max_bulk_len: srv.cfg.proto_max_bulk_len,
                    unauthenticated: !client.authenticated && srv.requires_auth(),
                };
                match decoder.decode(&mut buf, &limits) {
                    Ok(Some(req)) => {
                        if process(srv, &mut client, &mut out, &req.args) == Flow::Close {
                            close = true;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let msg = format!("ERR {e}");
                        srv.stats.count_error(&msg);
                        out.error(&msg);
                        tracing::info!(
                            "Protocol error ({}) from client: id={} addr={}",
                            e,
                            client.id,
                            client.addr
                        );
                        close = true;
                    }
                }
            }
            client.qbuf = buf.len();
            client.qbuf_peak = client.qbuf_peak.max(buf.len());
            if buf.len() as u64 > srv.cfg.client_query_buffer_limit {
                tracing::warn!(
                    "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                    client.id,
                    client.addr,
                    String::from_utf8_lossy(&buf[..buf.len().min(64)])
                );
                close = true;
            }
            if let Some(reason) = client.close_reason.take() {
                tracing::debug!(client = client.id, "{reason}");
            }
            close = close || client.has(cflags::CLOSE_ASAP);
            let output = out.take();
            client.out = out;
            srv.clients.insert(id, client);
            if srv.shutdown.is_some() {
                cancel.cancel();
            }
            (output, close)
        };
        if !output.is_empty() {
            let n = output.len();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                r = conn.write_all(&output) => {
                    if r.is_err() {
                        break;
                    }
                    shared.net.add_output(n);
                }
            }
        }
        if close || eof {
            break;
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = notify.notified() => {}
            r = conn.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => {
                    // Run what was received before the peer closed (a pipeline ending in QUIT).
                    eof = true;
                }
                Ok(n) => shared.net.add_input(n),
            },
        }
    }
    let _ = conn.shutdown().await;
    shared.remove_client(id);
}
