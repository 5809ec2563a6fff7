//! One task per monitored instance: its command link (PING, INFO, hellos, questions to
//! peers, reconfigurations) and, for masters and replicas, its pub/sub link (hellos).

use picket_common::tls::MaybeTls;

use super::*;

/// A command for a link task.
#[derive(Debug, Clone)]
pub(super) enum LinkCmd {
    Ping,
    Info,
    Publish(String),
    Ask {
        ip: String,
        port: u16,
        epoch: u64,
        runid: String,
    },
    ReplicaOf(Option<Addr>),
    /// REPLFENCE <epoch>, to a replica of a strict master.
    Fence(u64),
    /// FAILOVER TO <ip> <port> TIMEOUT <ms> FORCE, to a master.
    Switchover {
        to: Addr,
        timeout_ms: u64,
    },
}

pub(super) struct LinkHandle {
    pub(super) addr: Addr,
    pub(super) tx: mpsc::UnboundedSender<LinkCmd>,
    pub(super) cancel: CancellationToken,
}

pub(super) fn send(shared: &Shared, t: &Target, cmd: LinkCmd) {
    let links = shared.links.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = links.get(t) {
        let _ = h.tx.send(cmd);
    }
}

pub(super) fn connect<N: Net>(shared: &Arc<Shared>, net: &N, t: Target, addr: Addr) {
    let mut links = shared.links.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = links.get(&t) {
        if h.addr == addr && !h.cancel.is_cancelled() {
            return;
        }
        h.cancel.cancel();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = shared.cancel.child_token();
    links.insert(
        t.clone(),
        LinkHandle {
            addr: addr.clone(),
            tx,
            cancel: cancel.clone(),
        },
    );
    drop(links);
    let sh = shared.clone();
    let n = net.clone();
    shared.tracker.spawn(link_task(sh, n, t, addr, rx, cancel));
}

/// Encode a command.
fn encode(args: &[&str]) -> Vec<u8> {
    picket_common::resp::encode_command(args).into()
}

/// Read one reply.
async fn read_reply<C: Conn>(conn: &mut C, buf: &mut BytesMut, within: Duration) -> Option<Frame> {
    let mut reader = ReplyReader::default();
    tokio::time::timeout(within, async {
        loop {
            match reader.read_reply(buf) {
                Ok(Some((f, _))) => return Some(f),
                Ok(None) => {}
                Err(_) => return None,
            }
            buf.reserve(16 * 1024);
            match conn.read_buf(buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .flatten()
}

fn frame_text(f: &Frame) -> String {
    picket_common::resp::frame::show(f)
}

fn frame_bytes(f: &Frame) -> Option<Bytes> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => Some(b.clone()),
        _ => None,
    }
}

/// Name a command as renamed for this master (`rename-command`).
fn cmd_name(renamed: &BTreeMap<String, String>, name: &str) -> String {
    renamed
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |(_, v)| v.clone())
}

/// AUTH (user, password), command renames, and the first 8 characters of our id.
type LinkParams = (
    Option<(Option<String>, String)>,
    BTreeMap<String, String>,
    String,
);

/// AUTH arguments and renames for a target.
fn link_params(shared: &Shared, t: &Target) -> LinkParams {
    let core = shared.lock();
    let myid8: String = core.myid.chars().take(8).collect();
    let Some(m) = core.masters.get(t.master()) else {
        return (None, BTreeMap::new(), myid8);
    };
    let auth = match t {
        Target::Sentinel(..) => {
            let s = shared.settings();
            s.sentinel_pass
                .clone()
                .or_else(|| s.requirepass.clone())
                .map(|p| (s.sentinel_user.clone(), p))
        }
        _ => m.auth_pass.clone().map(|p| (m.auth_user.clone(), p)),
    };
    let renamed = if matches!(t, Target::Sentinel(..)) {
        BTreeMap::new()
    } else {
        m.renamed.clone()
    };
    (auth, renamed, myid8)
}

/// Why a link could not be opened.
enum OpenError {
    /// Our own shortage (descriptors, buffers, memory, local ports): nothing about the
    /// instance.
    Local(std::io::Error),
    /// Refused, unreachable, timed out, or an unexpected answer.
    Remote,
}

/// A link's connection: TLS with `tls-replication yes`.
type LinkConn<N> = MaybeTls<<N as Net>::Conn>;

/// How long a link's TLS handshake may take (as its TCP connection's).
const TLS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Open a link: the host is resolved afresh (through the [`Net`]) on every connection, so
/// a name whose instance came back at a new address is followed; the answer is reported
/// to the core ([`Input::Resolved`]) for what it shows with `announce-hostnames no`.
/// With `tls-replication yes` the link is TLS (Redis's `instanceLinkNegotiateTLS`), its
/// peer's certificate checked against the CA, not against the name.
async fn open<N: Net>(
    shared: &Shared,
    net: &N,
    addr: &Addr,
    auth: &Option<(Option<String>, String)>,
    renamed: &BTreeMap<String, String>,
    name: &str,
) -> Result<(LinkConn<N>, BytesMut), OpenError> {
    let resolved = tokio::time::timeout(Duration::from_secs(5), net.resolve(&addr.host)).await;
    let ips = match resolved {
        Ok(Ok(ips)) => ips,
        Ok(Err(e)) if is_local_resource_error(&e) => return Err(OpenError::Local(e)),
        Ok(Err(_)) | Err(_) => {
            tracing::warn!("Failed to resolve hostname '{}'", addr.host);
            return Err(OpenError::Remote);
        }
    };
    let mut conn = None;
    let mut local = None;
    for ip in ips {
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            net.connect(&ip.to_string(), addr.port),
        )
        .await;
        match connected {
            Ok(Ok(c)) => {
                conn = Some((ip, c));
                break;
            }
            Ok(Err(e)) if is_local_resource_error(&e) => local = Some(e),
            Ok(Err(_)) | Err(_) => {}
        }
    }
    let (ip, c) = match (conn, local) {
        (Some((ip, c)), _) => {
            if !crate::core::is_ip(&addr.host) {
                let _ = shared.inputs.send(Input::Resolved {
                    host: addr.host.clone(),
                    ip: ip.to_canonical().to_string(),
                });
            }
            (ip, c)
        }
        (None, Some(e)) => return Err(OpenError::Local(e)),
        (None, None) => return Err(OpenError::Remote),
    };
    let tls = shared.link_tls().cloned();
    let mut c = match tls {
        None => MaybeTls::Plain(c),
        // The address connected to names the peer (no SNI, as Redis's links send none).
        Some(tls) => {
            match tokio::time::timeout(TLS_CONNECT_TIMEOUT, tls.connect(c, &ip.to_string())).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::debug!(
                        "link to {}:{}: Failed to initialize TLS: {e}",
                        addr.host,
                        addr.port
                    );
                    return Err(OpenError::Remote);
                }
                Err(_) => {
                    tracing::debug!(
                        "link to {}:{}: TLS handshake timed out",
                        addr.host,
                        addr.port
                    );
                    return Err(OpenError::Remote);
                }
            }
        }
    };
    let mut buf = BytesMut::new();
    let mut cmds = Vec::new();
    if let Some((user, pass)) = auth {
        let a = cmd_name(renamed, "AUTH");
        cmds.push(match user {
            Some(u) => encode(&[&a, u, pass]),
            None => encode(&[&a, pass]),
        });
    }
    let client = cmd_name(renamed, "CLIENT");
    cmds.push(encode(&[&client, "SETNAME", name]));
    for c2 in &cmds {
        c.write_all(c2).await.map_err(|_| OpenError::Remote)?;
    }
    c.flush().await.map_err(|_| OpenError::Remote)?;
    for _ in &cmds {
        // Errors (an unknown CLIENT on an old server, a bad password) are not fatal here:
        // the instance will look down if it refuses our PINGs.
        read_reply(&mut c, &mut buf, Duration::from_secs(5))
            .await
            .ok_or(OpenError::Remote)?;
    }
    Ok((c, buf))
}

async fn link_task<N: Net>(
    shared: Arc<Shared>,
    net: N,
    t: Target,
    addr: Addr,
    mut rx: mpsc::UnboundedReceiver<LinkCmd>,
    cancel: CancellationToken,
) {
    let inputs = shared.inputs.clone();
    // A link replaced or removed (SENTINEL SET auth-pass, RESET, a switch to a new master)
    // says nothing more: what it would report now (a late reply, its own failure) is
    // about the instance it was opened for, and would land on the one that took its
    // name (a stale Disconnected marks a healthy new master disconnected: never pinged
    // again, so down).
    let report = |i: Input| {
        if !cancel.is_cancelled() {
            let _ = inputs.send(i);
        }
    };
    let mut attempt: Option<Instant> = None;
    loop {
        // No sooner than ping-period after the previous attempt (Redis's reconnection pace).
        if let Some(at) = attempt {
            let wait = crate::link_timing::reconnect_wait(at.elapsed(), timers(&shared).0);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            while rx.try_recv().is_ok() {}
        }
        attempt = Some(Instant::now());
        let (auth, renamed, myid8) = link_params(&shared, &t);
        let cmd_name_ = format!("sentinel-{myid8}-cmd");
        let opened = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            o = open(&shared, &net, &addr, &auth, &renamed, &cmd_name_) => o,
        };
        let (mut conn, mut buf) = match opened {
            Ok(c) => c,
            Err(e) => {
                // A local error says nothing about the instance (it must not count towards
                // SDOWN); any other failure is the instance's.
                let input = match e {
                    OpenError::Local(e) => Input::LocalLinkError(t.clone(), os_error_text(&e)),
                    OpenError::Remote => Input::Disconnected(t.clone()),
                };
                report(input);
                // Drop queued commands and retry.
                while rx.try_recv().is_ok() {}
                continue;
            }
        };
        let opened_at = Instant::now();
        // Our address as the peer sees it, for hellos without announce-ip.
        if let Ok(local) = conn.local_addr() {
            let mut core = shared.lock();
            if core.announce_ip.is_empty() && core.settings.announce_ip.is_empty() {
                core.announce_ip = local.ip().to_canonical().to_string();
            }
        }
        report(Input::Connected(t.clone()));
        // The pub/sub link of a master or replica: hellos from the other sentinels.
        let sub_cancel = cancel.child_token();
        if !matches!(t, Target::Sentinel(..)) {
            let sh = shared.clone();
            let n = net.clone();
            let (t2, a) = (t.clone(), addr.clone());
            let sc = sub_cancel.clone();
            shared.tracker.spawn(async move {
                pubsub_task(sh, n, t2, a, sc).await;
            });
        }
        let ok = loop {
            let cmd = tokio::select! {
                biased;
                _ = cancel.cancelled() => { sub_cancel.cancel(); return; }
                c = rx.recv() => match c { Some(c) => c, None => { sub_cancel.cancel(); return; } },
                // A peer that closed an idle link (a killed process) is noticed now, as
                // Redis's event loop does, not at the next PING.
                r = conn.read_buf(&mut buf) => match r {
                    Ok(0) | Err(_) => break false,
                    Ok(_) => continue,
                },
            };
            let (bytes, n_replies) = match &cmd {
                LinkCmd::Ping => (encode(&[&cmd_name(&renamed, "PING")]), 1),
                LinkCmd::Info => (encode(&[&cmd_name(&renamed, "INFO")]), 1),
                LinkCmd::Publish(p) => (
                    encode(&[&cmd_name(&renamed, "PUBLISH"), "__sentinel__:hello", p]),
                    1,
                ),
                LinkCmd::Ask {
                    ip,
                    port,
                    epoch,
                    runid,
                } => (
                    encode(&[
                        "SENTINEL",
                        "is-master-down-by-addr",
                        ip,
                        &port.to_string(),
                        &epoch.to_string(),
                        runid,
                    ]),
                    1,
                ),
                LinkCmd::ReplicaOf(to) => {
                    let (h, p) = match to {
                        Some(a) => (a.host.clone(), a.port.to_string()),
                        None => ("NO".to_string(), "ONE".to_string()),
                    };
                    let mut b = encode(&[&cmd_name(&renamed, "MULTI")]);
                    b.extend(encode(&[&cmd_name(&renamed, "SLAVEOF"), &h, &p]));
                    b.extend(encode(&[&cmd_name(&renamed, "CONFIG"), "REWRITE"]));
                    b.extend(encode(&[
                        &cmd_name(&renamed, "CLIENT"),
                        "KILL",
                        "TYPE",
                        "normal",
                    ]));
                    b.extend(encode(&[
                        &cmd_name(&renamed, "CLIENT"),
                        "KILL",
                        "TYPE",
                        "pubsub",
                    ]));
                    b.extend(encode(&[&cmd_name(&renamed, "EXEC")]));
                    (b, 6)
                }
                LinkCmd::Fence(epoch) => (
                    encode(&[&cmd_name(&renamed, "REPLFENCE"), &epoch.to_string()]),
                    1,
                ),
                LinkCmd::Switchover { to, timeout_ms } => (
                    encode(&[
                        &cmd_name(&renamed, "FAILOVER"),
                        "TO",
                        &to.host,
                        &to.port.to_string(),
                        "TIMEOUT",
                        &timeout_ms.to_string(),
                        "FORCE",
                    ]),
                    1,
                ),
            };
            if conn.write_all(&bytes).await.is_err() || conn.flush().await.is_err() {
                break false;
            }
            // A reply that does not come in time means a dead link (Redis closes a link
            // whose PING is pending for more than half of down-after, once the link is
            // older than min-link-reconnect-period): reconnect rather than queue behind it.
            let wait = if n_replies > 1 {
                Duration::from_secs(10)
            } else {
                let (_, _, min_link) = timers(&shared);
                let down_after = shared
                    .lock()
                    .masters
                    .get(t.master())
                    .map_or(30_000, |m| m.down_after);
                crate::link_timing::reply_wait(opened_at.elapsed(), down_after, min_link)
            };
            let replies = async {
                let mut last = None;
                for _ in 0..n_replies {
                    match read_reply(&mut conn, &mut buf, wait).await {
                        Some(f) => last = Some(f),
                        None => break,
                    }
                }
                last
            };
            let last = tokio::select! {
                biased;
                _ = cancel.cancelled() => { sub_cancel.cancel(); return; }
                last = replies => last,
            };
            let Some(reply) = last else { break false };
            let input = match cmd {
                LinkCmd::Ping => {
                    let line = frame_text(&reply);
                    Some(Input::PingReply(t.clone(), line))
                }
                LinkCmd::Info => frame_bytes(&reply)
                    .map(|b| Input::InfoReply(t.clone(), String::from_utf8_lossy(&b).into_owned())),
                LinkCmd::Ask { .. } => match &reply {
                    Frame::Array(items) if items.len() == 3 => {
                        let down = matches!(items[0], Frame::Integer(1));
                        let leader = frame_bytes(&items[1])
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_else(|| "*".into());
                        let epoch = match items[2] {
                            Frame::Integer(e) => e.max(0) as u64,
                            _ => 0,
                        };
                        Some(Input::MasterDownReply {
                            from: t.clone(),
                            down,
                            leader,
                            epoch,
                        })
                    }
                    _ => None,
                },
                LinkCmd::Fence(epoch) => Some(Input::FenceReply {
                    target: t.clone(),
                    epoch,
                    result: fence_report(&reply),
                }),
                LinkCmd::Switchover { .. } => Some(Input::SwitchoverReply {
                    master: t.master().to_string(),
                    result: match frame_text(&reply) {
                        s if s == "+OK" || s == "OK" => Ok(()),
                        s => Err(s),
                    },
                }),
                _ => None,
            };
            if let Some(i) = input {
                report(i);
            }
        };
        let _ = ok;
        sub_cancel.cancel();
        report(Input::Disconnected(t.clone()));
        while rx.try_recv().is_ok() {}
    }
}

/// A REPLFENCE reply: `role <role> epoch <n> replid <id> offset <n>`, or the error line.
fn fence_report(reply: &Frame) -> Result<crate::core::FenceReport, String> {
    let Frame::Array(items) = reply else {
        return Err(frame_text(reply));
    };
    let mut role = None;
    let mut epoch = None;
    let mut replid = None;
    let mut offset = None;
    for pair in items.chunks(2) {
        let [k, v] = pair else { break };
        let key = frame_bytes(k).map(|b| String::from_utf8_lossy(&b).into_owned());
        let text = || frame_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned());
        let int = || match v {
            Frame::Integer(n) if *n >= 0 => Some(*n as u64),
            _ => None,
        };
        match key.as_deref() {
            Some("role") => {
                role = text().map(|r| match r.as_str() {
                    "master" => crate::core::Role::Master,
                    "slave" => crate::core::Role::Slave,
                    _ => crate::core::Role::Unknown,
                })
            }
            Some("epoch") => epoch = int(),
            Some("replid") => replid = text(),
            Some("offset") => offset = int(),
            _ => {}
        }
    }
    match (role, epoch, replid, offset) {
        (Some(role), Some(epoch), Some(replid), Some(offset)) => Ok(crate::core::FenceReport {
            role,
            epoch,
            replid,
            offset,
        }),
        _ => Err(format!("unexpected REPLFENCE reply {reply:?}")),
    }
}

/// The `SENTINEL DEBUG` timers the links follow: ping-period, publish-period,
/// min-link-reconnect-period (ms).
fn timers(shared: &Shared) -> (u64, u64, u64) {
    let t = &shared.lock().timers;
    (t.ping_period, t.publish_period, t.min_link_reconnect_period)
}

/// The pub/sub link of a master or replica (hellos from the other sentinels), as long as
/// its command link lives: opened again whenever it fails or falls silent, as Redis
/// reconnects either link of an instance.
async fn pubsub_task<N: Net>(
    shared: Arc<Shared>,
    net: N,
    t: Target,
    addr: Addr,
    cancel: CancellationToken,
) {
    let inputs = shared.inputs.clone();
    let mut attempt: Option<Instant> = None;
    loop {
        if let Some(at) = attempt {
            let wait = crate::link_timing::reconnect_wait(at.elapsed(), timers(&shared).0);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        attempt = Some(Instant::now());
        let (auth, renamed, myid8) = link_params(&shared, &t);
        let name = format!("sentinel-{myid8}-pubsub");
        let opened = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            o = open(&shared, &net, &addr, &auth, &renamed, &name) => o,
        };
        let Ok((mut conn, mut buf)) = opened else {
            continue;
        };
        let opened_at = Instant::now();
        let sub = encode(&[&cmd_name(&renamed, "SUBSCRIBE"), "__sentinel__:hello"]);
        if conn.write_all(&sub).await.is_err() || conn.flush().await.is_err() {
            continue;
        }
        loop {
            let (_, publish, min_link) = timers(&shared);
            let silence = crate::link_timing::pubsub_wait(opened_at.elapsed(), publish, min_link);
            let f = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                f = read_reply(&mut conn, &mut buf, silence) => f,
            };
            // Closed, or silent for too long: a dead link.
            let Some(f) = f else { break };
            let items = match f {
                Frame::Array(v) => v,
                _ => continue,
            };
            if items.len() == 3 {
                if let (Some(kind), Some(msg)) = (frame_bytes(&items[0]), frame_bytes(&items[2])) {
                    if &kind[..] == b"message" {
                        let _ =
                            inputs.send(Input::Hello(String::from_utf8_lossy(&msg).into_owned()));
                    }
                }
            }
        }
    }
}
