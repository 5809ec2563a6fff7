//! The connection task: reads requests, runs them in batches under the server lock, and writes
//! the replies (and pushes from other clients) after releasing it.

use std::sync::Arc;

use bytes::BytesMut;
use picket_common::net::Conn;
use picket_common::resp::{Limits, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::client::{cflags, Client, ClientId};
use crate::command::exec::{process, Flow};
use crate::replication::gate::{Write, NOT_ACKNOWLEDGED};
use crate::server::check_output_limits;
use crate::server::Server;
use crate::shared::Shared;

/// Read buffer growth step (Redis's `PROTO_IOBUF_LEN`).
const READ_CHUNK: usize = crate::client_mem::PROTO_IOBUF_LEN;

/// Serve one accepted connection until it closes, the client is killed or the server stops.
pub async fn serve<C: Conn>(
    shared: Arc<Shared>,
    mut conn: C,
    id: ClientId,
    notify: Arc<Notify>,
    received: BytesMut,
) {
    // (What a connection accepted while a script was busy sent meanwhile.)
    let mut buf = if received.is_empty() {
        BytesMut::with_capacity(READ_CHUNK)
    } else {
        let mut b = received;
        b.reserve(READ_CHUNK);
        b
    };
    let mut decoder = RequestDecoder::new();
    // The arguments of the request being run, in storage kept from request to request.
    let mut args: Vec<bytes::Bytes> = Vec::new();
    // The client's protocol as of its last batch (for FUNCTION STATS answered while busy).
    let mut proto = picket_common::resp::Proto::Resp2;
    let cancel = shared.cancel.clone();
    // Armed once and kept across requests: a new `Notified` (or cancellation future) per
    // wait would join and leave the waiter list every time, a cost every request paid.
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    let notified = notify.notified();
    tokio::pin!(notified);
    let mut eof = false;
    // The last read: what it asked for and what it got, for Redis's query-buffer sizes.
    let mut last_read: Option<(usize, usize)> = None;
    let writing = shared.lock().clients.get(&id).map(|c| c.writing.clone());
    loop {
        // Run whatever is decodable, and collect output, under the lock (once a script that
        // holds it past busy-reply-threshold is done: meanwhile -BUSY and SCRIPT KILL).
        let (output, close, blocked) = {
            let mut guard =
                match lock_or_busy(&shared, &mut conn, &mut decoder, &mut buf, proto).await {
                    Some(g) => g,
                    None => break,
                };
            let srv = &mut *guard;
            let Some(mut client) = srv.clients.remove(&id) else {
                break;
            };
            let mut out = std::mem::take(&mut client.out);
            srv.call.clock_hint = None;
            if let Some((asked, got)) = last_read.take() {
                client.qb.make_room(asked);
                client.qb.read(got);
            }
            // The cron released an idle client's buffer (Redis's
            // `clientsCronResizeQueryBuffer`).
            if let Some(alloc) = client.qbuf_resize.take() {
                let keep = alloc.max(buf.len());
                if buf.capacity() > keep {
                    let mut smaller = BytesMut::with_capacity(keep);
                    smaller.extend_from_slice(&buf);
                    buf = smaller;
                }
            }
            // (CLOSE_AFTER_REPLY: a held QUIT that ran when a pause ended.)
            let mut close = client.has(cflags::CLOSE_ASAP) || client.has(cflags::CLOSE_AFTER_REPLY);
            // A blocked client whose deadline passed gets its time-out reply.
            let now = tokio::time::Instant::now();
            if client
                .blocked
                .as_ref()
                .is_some_and(|b| b.deadline.is_some_and(|d| d <= now))
            {
                crate::command::reentry::timed_out(srv, &mut client, &mut out);
            }
            // Strict failover safety: a write's reply (and what follows it) waits for the
            // replicas' acknowledgement. Output that a served blocked command wrote since
            // the last batch is such a reply.
            let strict = srv.cfg.repl.strict_acks().filter(|_| {
                !srv.repl.is_replica() && client.class() != crate::client::ClientClass::Replica
            });
            let mut writes = Vec::new();
            if let Some(offset) = client.served_write.take() {
                if strict.is_some() && !out.is_empty() {
                    writes.push(Write {
                        start: 0,
                        end: out.len(),
                        offset,
                    });
                }
            }
            // A blocked client's further input waits until it is served.
            while !close && client.blocked.is_none() {
                let limits = Limits {
                    max_bulk_len: srv.cfg.proto_max_bulk_len,
                    unauthenticated: !client.authenticated && srv.requires_auth(),
                };
                match decoder.decode_into(&mut buf, &limits, &mut args) {
                    Ok(true) => {
                        let (start, offset) = (out.len(), srv.repl.offset);
                        client.last_was_write = false;
                        if process(srv, &mut client, &mut out, &args) == Flow::Close {
                            close = true;
                        }
                        // (They share the read buffer's storage, which a later read can
                        // reuse in place only once nothing else holds it.)
                        args.clear();
                        if strict.is_some() && client.last_was_write && srv.repl.offset > offset {
                            writes.push(Write {
                                start,
                                end: out.len(),
                                offset: srv.repl.offset,
                            });
                        }
                        // Replies not yet written count against the output buffer limit
                        // of the client's class (`normal` for most).
                        let now = srv.clock.now();
                        check_output_limits(&mut client, out.len(), &srv.cfg.obuf_limits, now);
                    }
                    Ok(false) => break,
                    Err(e) => {
                        let msg = format!("ERR {e}");
                        srv.stats.count_error(&msg);
                        out.error(&msg);
                        // Redis logs these at verbose level, with the start of the input.
                        let what = e.to_string();
                        tracing::debug!(
                            "Protocol error ({}) from client: {}. Query buffer during protocol error: '{}'",
                            what.strip_prefix("Protocol error: ").unwrap_or(&what),
                            client.info_line(srv.clock.now()),
                            String::from_utf8_lossy(&buf[..buf.len().min(128)]).escape_debug()
                        );
                        close = true;
                    }
                }
            }
            client.qbuf = buf.len();
            client.qbuf_peak = client.qbuf_peak.max(buf.len());
            // Redis trims the query buffer after the batch; a big argument being received
            // sits alone at its start.
            match decoder.bulk_in_progress(&buf) {
                Some((bulk, start)) if bulk >= crate::client_mem::PROTO_MBULK_BIG_ARG => {
                    client.qb.big_arg_header(bulk, buf.len() - start);
                    if buf.len() - start <= bulk + 2 {
                        client.qb.len = buf.len() - start;
                    } else {
                        client.qb.len = buf.len();
                    }
                }
                _ => client.qb.processed(buf.len()),
            }
            if client.blocked.is_none() {
                (client.argc, client.argv_mem) = decoder.partial_args();
            }
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
            // A client closed ASAP (killed, over its output limit) gets nothing more, as
            // Redis frees it with its pending replies; QUIT and protocol errors reply first.
            if client.has(cflags::CLOSE_ASAP) {
                close = true;
                out.buf.clear();
            }
            let mut output = out.take();
            if strict.is_some() || !client.gate.is_empty() {
                output = gate_output(srv, &mut client, output, &writes, strict);
            }
            // Handed to the socket: the reply buffer is free again.
            client.rb.note(0);
            // A blocked client with a deadline, or a held write with its lease, wakes up.
            let blocked = client.blocked.as_ref().map(|b| b.deadline);
            let blocked = match (blocked, client.gate.waiting_for()) {
                (Some(Some(d)), Some((_, lease))) => Some(Some(d.min(lease))),
                (Some(d), None) => Some(d),
                (None, Some((_, lease))) | (Some(None), Some((_, lease))) => Some(Some(lease)),
                (None, None) => None,
            };
            client.out = out;
            proto = client.proto;
            srv.clients.insert(id, client);
            // Writes reach the AOF (fsynced under `always`) before their replies go out, and
            // the replicas; ACKs that arrived answer WAITs.
            crate::replication::after_batch(srv);
            srv.tracking_before_sleep();
            // The batch could not be made durable: none of its replies may leave.
            if srv.process.fatal.is_some() {
                break;
            }
            if srv.process.shutdown.is_some_and(|r| r.prepared) {
                cancel.cancel();
            }
            (output, close, blocked)
        };
        if !output.is_empty() {
            // Let every other connection with input ready run its commands first, then write:
            // Redis's order (read and execute for all ready clients, write in `beforeSleep`).
            tokio::task::yield_now().await;
            let n = output.len();
            // (A TLS stream holds records it could not send yet until flushed; a plain
            // socket's flush does nothing.)
            let write = async {
                conn.write_all(&output).await?;
                conn.flush().await
            };
            tokio::pin!(write);
            // A peer that does not read blocks the write: keep listening for the client
            // being closed meanwhile (killed, or over its output buffer limit).
            let mut woken = false;
            let mut first = true;
            let written = loop {
                tokio::select! {
                    biased;
                    r = &mut write => break r.is_ok(),
                    _ = cancelled.as_mut() => break false,
                    // The peer does not take it all at once: waiting to write (`events=rw`).
                    _ = std::future::ready(()), if first => {
                        first = false;
                        if let Some(w) = &writing {
                            w.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    _ = notified.as_mut() => {
                        notified.set(notify.notified());
                        if closing(&shared, id) {
                            break false;
                        }
                        // New pushes arrived meanwhile: collect them right after this write.
                        woken = true;
                    }
                }
            };
            if let Some(w) = &writing {
                w.store(false, std::sync::atomic::Ordering::Relaxed);
            }
            if !written {
                break;
            }
            shared.net.add_output(n);
            if woken && !close && !eof {
                continue;
            }
        }
        if close || eof {
            break;
        }
        // A big argument is received into a buffer that holds all of it (Redis's greedy
        // read of big arguments); otherwise 16 KB at a time.
        let asked = match decoder.bulk_in_progress(&buf) {
            Some((bulk, start)) if bulk >= crate::client_mem::PROTO_MBULK_BIG_ARG => {
                let remaining = (start + bulk + 2).saturating_sub(buf.len());
                buf.reserve(remaining);
                remaining.max(1)
            }
            _ => {
                if buf.capacity() - buf.len() < READ_CHUNK / 2 {
                    buf.reserve(READ_CHUNK);
                }
                READ_CHUNK
            }
        };
        // A blocked client with a deadline wakes up to time out.
        let deadline = async move {
            match blocked {
                Some(Some(d)) => tokio::time::sleep_until(d).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancelled.as_mut() => break,
            _ = notified.as_mut() => notified.set(notify.notified()),
            _ = deadline => {}
            r = conn.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => {
                    // Run what was received before the peer closed (a pipeline ending in QUIT).
                    eof = true;
                }
                Ok(n) => {
                    shared.net.add_input(n);
                    last_read = Some((asked, n));
                }
            },
        }
    }
    // (Bounded: a TLS shutdown writes its close_notify, which a peer that does not read
    // would hold for ever.)
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), conn.shutdown()).await;
    crate::runtime::remove_client(&shared, id);
}

/// Hand a batch's output to the client's acknowledgement gate and take what may leave:
/// replies up to the first write fewer than `strict` replicas acknowledged (all of it once
/// strict mode is off). A batch with writes asks the replicas for an ACK now, and the
/// client is woken when ACKs arrive (`replication::after_batch`).
fn gate_output(
    srv: &mut Server,
    client: &mut Client,
    output: BytesMut,
    writes: &[Write],
    strict: Option<usize>,
) -> BytesMut {
    let now = srv.clock.now();
    let lease = std::time::Duration::from_millis(srv.cfg.repl.lease_ms);
    client.gate.push(output, writes, now + lease);
    if !writes.is_empty() {
        srv.repl.gate_ack = true;
    }
    let acks = &srv.repl.acks;
    // The error frame is needed only once the oldest held write's lease ran out (the
    // deadlines grow in order).
    let mut err = picket_common::resp::ReplyBuf::new(client.proto);
    if client
        .gate
        .waiting_for()
        .is_some_and(|(_, lease)| lease <= now)
    {
        err.error(NOT_ACKNOWLEDGED);
    }
    let (released, failed) = client.gate.release(
        |offset| strict.is_none_or(|n| acks.count_acked(offset) >= n),
        now,
        &err.buf,
    );
    for _ in 0..failed {
        srv.stats.count_error(NOT_ACKNOWLEDGED);
    }
    if failed > 0 {
        tracing::warn!(
            "{failed} write(s) of client {} not acknowledged by the replicas within failover-lease-ms",
            client.id
        );
    }
    if client.gate.is_empty() {
        srv.repl.gated.remove(&client.id);
    } else {
        srv.repl.gated.insert(client.id);
    }
    released
}

/// Whether the client was asked to close while its connection was busy writing.
pub(crate) fn closing(shared: &Shared, id: ClientId) -> bool {
    shared
        .lock()
        .clients
        .get(&id)
        .is_none_or(|c| c.has(cflags::CLOSE_ASAP))
}

/// Take the server lock. While a script holds it (it runs on another thread of the runtime,
/// `io-threads` > 1), the connection does not block its thread on the lock: it waits
/// asynchronously, and once the script runs past `busy-reply-threshold` it answers the
/// requests it has as Redis does meanwhile: SCRIPT KILL stops a script that has not
/// written, anything else gets -BUSY (commands are not run; SHUTDOWN NOSAVE and the other
/// `allow-busy` commands wait for the script). `None`: the connection failed.
async fn lock_or_busy<'a, C: Conn>(
    shared: &'a Shared,
    conn: &mut C,
    decoder: &mut RequestDecoder,
    buf: &mut BytesMut,
    proto: picket_common::resp::Proto,
) -> Option<crate::shared::Locked<'a>> {
    let watch = shared.script.clone();
    loop {
        if let Some(g) = shared.try_lock() {
            return Some(g);
        }
        if !watch.running() {
            // Ordinary contention: another connection's batch, soon over.
            return Some(shared.lock());
        }
        if !answer_while_busy(&watch, conn, decoder, buf, proto).await {
            return None;
        }
        // Keep reading: the client may send SCRIPT KILL (or more) while it waits.
        tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => return None,
            r = conn.read_buf(buf), if watch.busy() => match r {
                Ok(0) | Err(_) => return None,
                Ok(n) => shared.net.add_input(n),
            },
            _ = tokio::time::sleep(std::time::Duration::from_millis(2)) => {}
        }
    }
}

/// While a script runs past `busy-reply-threshold`, answer the requests in `buf` that need
/// no lock: SCRIPT KILL, FUNCTION KILL and FUNCTION STATS, and -BUSY for the others (up to
/// the first other `allow-busy` command, which waits for the script). False: the connection
/// failed.
async fn answer_while_busy<C: Conn>(
    watch: &crate::scripts::ScriptWatch,
    conn: &mut C,
    decoder: &mut RequestDecoder,
    buf: &mut BytesMut,
    proto: picket_common::resp::Proto,
) -> bool {
    if !watch.busy() {
        return true;
    }
    let mut out = picket_common::resp::ReplyBuf::new(proto);
    loop {
        match next_request_while_busy(buf) {
            WhileBusy::Wait => break,
            WhileBusy::Answer => {}
            WhileBusy::ShutdownNosave => {
                // Stop the script and exit (Redis 7.0 exits mid-script). The request stays
                // in the buffer: once the script stopped, it runs as any SHUTDOWN NOSAVE,
                // if the server is still there.
                watch.request_shutdown();
                break;
            }
        }
        let Ok(Some(req)) = decoder.decode(buf, &Limits::default()) else {
            break;
        };
        let sub = |cmd: &[u8], sub: &[u8]| {
            req.args.len() == 2
                && req.args[0].eq_ignore_ascii_case(cmd)
                && req.args[1].eq_ignore_ascii_case(sub)
        };
        if sub(b"script", b"kill") || sub(b"function", b"kill") {
            match watch.request_kill_of(sub(b"script", b"kill")).error() {
                None => out.ok(),
                Some(e) => out.error(e),
            }
        } else if sub(b"function", b"stats") {
            // Redis's `functionStatsCommand`: an EVAL script running is an error.
            match watch.running_function() {
                None => out.error(crate::scripts::BUSY),
                Some(f) => {
                    let ms = f.started.elapsed().as_millis() as u64;
                    crate::command::scripting::function_stats_reply(
                        &mut out,
                        Some(&f),
                        f.libraries,
                        f.functions,
                        ms,
                    );
                }
            }
        } else if let Err(e) = crate::command::resolve(&req.args) {
            out.error(&e.to_string());
        } else {
            out.error(watch.busy_error());
        }
    }
    out.is_empty() || (conn.write_all(&out.buf).await.is_ok() && conn.flush().await.is_ok())
}

/// A connection accepted while a script holds the lock: until the script ends, answer what
/// it sends as [`answer_while_busy`] does; what it sent and was not answered is returned for
/// [`serve`]. None: the connection failed or the server stops.
pub async fn before_admission<C: Conn>(shared: &Shared, conn: &mut C) -> Option<BytesMut> {
    let watch = shared.script.clone();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = RequestDecoder::new();
    while watch.running() {
        let proto = picket_common::resp::Proto::Resp2;
        if !answer_while_busy(&watch, conn, &mut decoder, &mut buf, proto).await {
            return None;
        }
        tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => return None,
            r = conn.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => return None,
                Ok(n) => shared.net.add_input(n),
            },
            _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
        }
    }
    Some(buf)
}

/// What to do with the next request in `buf` while a script is busy.
enum WhileBusy {
    /// Incomplete, or a command flagged `allow-busy`: it waits for the script.
    Wait,
    /// Answered without the lock: SCRIPT KILL, FUNCTION KILL, FUNCTION STATS, a SHUTDOWN
    /// without NOSAVE (-BUSY, as Redis's `shutdownCommand`), or -BUSY for any other command.
    Answer,
    /// SHUTDOWN NOSAVE: stops the script and the server.
    ShutdownNosave,
}

fn next_request_while_busy(buf: &BytesMut) -> WhileBusy {
    let mut probe = buf.clone();
    let mut d = RequestDecoder::new();
    let Ok(Some(req)) = d.decode(&mut probe, &Limits::default()) else {
        return WhileBusy::Wait;
    };
    if req.args.is_empty() {
        return WhileBusy::Wait;
    }
    match crate::command::resolve(&req.args) {
        Ok(spec)
            if matches!(
                spec.full_name,
                "script|kill" | "function|kill" | "function|stats"
            ) =>
        {
            WhileBusy::Answer
        }
        Ok(spec) if spec.name == "shutdown" => {
            let nosave = req.args[1..]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(b"nosave"));
            let save = req.args[1..]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(b"save"));
            if nosave && !save {
                WhileBusy::ShutdownNosave
            } else {
                WhileBusy::Answer
            }
        }
        Ok(spec) if spec.has(crate::command::flags::ALLOW_BUSY) => WhileBusy::Wait,
        _ => WhileBusy::Answer,
    }
}
