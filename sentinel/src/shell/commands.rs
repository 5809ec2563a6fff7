//! The client-facing command server of a Sentinel: PING, INFO, ROLE, AUTH, HELLO, CLIENT,
//! pub/sub for the events, PUBLISH (hellos only), SHUTDOWN, COMMAND, ACL, and the SENTINEL
//! family (`commands/sentinel.rs`) with Redis 7.0's replies (instance maps in its field
//! order, RESP2 and RESP3). Each command is checked in the order of Redis's
//! `processCommand`: known (the sentinel's table, `crate::acl`), its arity, authentication,
//! the user's ACL permissions (`commands/acl.rs`), then the pub/sub context.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use picket_common::net::Conn;
use picket_common::resp::{Limits, Proto, ReplyBuf, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::core::Input;
use crate::shell::{write_within, Outbox, Saving, Shared, Subscriber};

mod acl;
mod info;
mod sentinel;

use crate::stats::Stats;

struct Session {
    /// The command names after `rename-command`, when the config renamed any.
    commands: Option<crate::config::CommandNames>,
    id: u64,
    name: Option<String>,
    proto: Proto,
    /// Redis's `c->authenticated`: set at connection when the default user needs no
    /// password, then by AUTH / HELLO AUTH.
    authenticated: bool,
    /// The ACL user (`default` until AUTH); [`Shared::client_list`] has it too.
    user: Bytes,
    /// Close once the replies so far are written (its own user deleted by its command).
    close_after_reply: bool,
    subscribed: bool,
    /// The host of the SENTINEL MONITOR being run, when it did not resolve (Redis checks
    /// the name with `resolve-hostnames yes`); looked up before the command runs.
    unresolvable: Option<String>,
}

/// SENTINEL MONITOR with `resolve-hostnames yes` and a host name, once the checks Redis
/// makes before resolving pass: the name, to resolve before the command runs.
fn monitor_host(shared: &Shared, s: &Session, args: &[Bytes]) -> Option<String> {
    if args.len() != 6 || !s.authenticated {
        return None;
    }
    let typed = lower(&args[0]);
    let cmd = match &s.commands {
        None => typed,
        Some(names) => names.lookup(&typed)?.to_string(),
    };
    if cmd != "sentinel" || lower(&args[1]) != "monitor" {
        return None;
    }
    let host = text(&args[3]);
    let quorum_ok = text(&args[5]).parse::<i64>().is_ok_and(|q| q > 0);
    let port_ok = text(&args[4]).parse::<i64>().is_ok();
    (quorum_ok && port_ok && !crate::core::is_ip(&host) && shared.settings().resolve_hostnames)
        .then_some(host)
}

/// Serve one client connection.
pub async fn serve<C: Conn>(shared: Arc<Shared>, mut conn: C, addr: SocketAddr) {
    let id = {
        let mut n = shared.next_client.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    };
    let (commands, timeout) = {
        let st = shared.settings();
        let renamed = st.commands.is_renamed().then(|| st.commands.clone());
        (renamed, st.timeout)
    };
    let (tx, mut inbox) = crate::shell::outbox();
    let closed = inbox.closed.clone();
    let authenticated = {
        let acl = shared.acl();
        let start = tokio::time::Instant::now();
        shared.client_list().insert(
            id,
            crate::shell::ClientInfo {
                addr,
                laddr: conn.local_addr().ok(),
                fd: conn.raw_fd().map_or(-1, i64::from),
                name: None,
                user: Bytes::from_static(b"default"),
                created: start,
                last_interaction: start,
                cmd: None,
                resp: 2,
                kill: closed.clone(),
            },
        );
        acl.default_user().is_some_and(|u| u.nopass && u.enabled)
    };
    let mut s = Session {
        commands,
        id,
        name: None,
        proto: Proto::Resp2,
        authenticated,
        user: Bytes::from_static(b"default"),
        close_after_reply: false,
        subscribed: false,
        unresolvable: None,
    };
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = RequestDecoder::new();
    let cancel = shared.cancel.clone();
    // `timeout`: a client idle (nothing read or written) that long is closed, unless it is
    // subscribed, as Redis's clientsCronHandleTimeout.
    let idle_limit = (timeout > 0).then(|| std::time::Duration::from_secs(timeout));
    let mut last_interaction = tokio::time::Instant::now();
    'outer: loop {
        let mut out = ReplyBuf::new(s.proto);
        let mut close = false;
        loop {
            match decoder.decode(&mut buf, &Limits::default()) {
                Ok(Some(req)) => {
                    out.proto = s.proto;
                    let before = out.len();
                    let mut wait = None;
                    s.unresolvable = None;
                    if let Some(host) = monitor_host(&shared, &s, &req.args) {
                        let resolved = tokio::select! {
                            biased;
                            _ = cancel.cancelled() => break 'outer,
                            r = tokio::time::timeout(
                                std::time::Duration::from_secs(5),
                                (shared.resolver)(host.clone()),
                            ) => r,
                        };
                        if !matches!(resolved, Ok(Ok(ref ips)) if !ips.is_empty()) {
                            tracing::warn!("Failed to resolve hostname '{host}'");
                            s.unresolvable = Some(host);
                        }
                    }
                    let mut quit = dispatch(&shared, &mut s, &tx, &mut out, &req.args, &mut wait);
                    // A reply that waits for the state write (the client's task waits; the
                    // core goes on). The commands after it in the pipeline run after it.
                    if let Some(w) = wait {
                        let ok = tokio::select! {
                            biased;
                            _ = cancel.cancelled() => break 'outer,
                            ok = shared.saved(w.saving) => ok,
                        };
                        match w.then {
                            AfterSave::Replied => {}
                            AfterSave::OkOrFailed if ok => out.ok(),
                            AfterSave::OkOrFailed => {
                                out.error("ERR Failed to save config file. Check server logs.")
                            }
                            AfterSave::Shutdown => {
                                tracing::warn!("User requested shutdown...");
                                shared.cancel.cancel();
                                quit = true;
                            }
                        }
                    }
                    Stats::add(&shared.stats.commands_processed, 1);
                    if out.buf.get(before) == Some(&b'-') {
                        Stats::add(&shared.stats.error_replies, 1);
                    }
                    // Closed by another client's ACL command: at once, as Redis frees it.
                    if closed.is_cancelled() {
                        break 'outer;
                    }
                    if quit || s.close_after_reply {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.error(&format!("ERR {e}"));
                    close = true;
                    break;
                }
            }
        }
        if !out.is_empty() {
            let bytes = out.take();
            Stats::add(&shared.stats.net_output_bytes, bytes.len() as u64);
            Stats::add(&shared.stats.writes_processed, 1);
            let stall = shared.pubsub_limits().write_stall;
            if let Err(e) = write_within(&mut conn, &bytes, stall, &closed).await {
                tracing::debug!("Closing client {id}: {e}");
                break;
            }
            last_interaction = tokio::time::Instant::now();
        }
        if close {
            break;
        }
        let idle_deadline = idle_limit.map(|d| last_interaction + d);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break 'outer,
            // Over its queue's bound (see `Shared::publish`).
            _ = closed.cancelled() => break 'outer,
            // Pushes first: a client that keeps sending commands still gets its messages.
            Some((pattern, channel, msg)) = inbox.recv() => {
                let mut o = ReplyBuf::new(s.proto);
                push_message(&mut o, pattern.as_deref(), &channel, &msg);
                while let Some((p, c, m)) = inbox.try_recv() {
                    push_message(&mut o, p.as_deref(), &c, &m);
                }
                let bytes = o.take();
                Stats::add(&shared.stats.net_output_bytes, bytes.len() as u64);
                Stats::add(&shared.stats.writes_processed, 1);
                let stall = shared.pubsub_limits().write_stall;
                if let Err(e) = write_within(&mut conn, &bytes, stall, &closed).await {
                    tracing::debug!("Closing client {id}: {e}");
                    break 'outer;
                }
            }
            r = conn.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break 'outer,
                Ok(n) => {
                    last_interaction = tokio::time::Instant::now();
                    if let Some(c) = shared.client_list().get_mut(&id) {
                        c.last_interaction = last_interaction;
                    }
                    Stats::add(&shared.stats.net_input_bytes, n as u64);
                    Stats::add(&shared.stats.reads_processed, 1);
                }
            },
            _ = sleep_until_some(idle_deadline), if idle_deadline.is_some() && !s.subscribed => {
                tracing::debug!("Closing idle client");
                break 'outer;
            }
        }
    }
    shared
        .subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    shared.client_list().remove(&id);
    // Bounded: on TLS the close_notify is a write, which a peer that reads nothing stalls.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), conn.shutdown()).await;
}

async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn push_message(o: &mut ReplyBuf, pattern: Option<&str>, channel: &str, msg: &str) {
    match pattern {
        Some(p) => {
            o.push(4);
            o.bulk(b"pmessage");
            o.bulk(p.as_bytes());
        }
        None => {
            o.push(3);
            o.bulk(b"message");
        }
    }
    o.bulk(channel.as_bytes());
    o.bulk(msg.as_bytes());
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn lower(b: &Bytes) -> String {
    text(b).to_ascii_lowercase()
}

/// A reply that waits until a save is on disk: Redis flushes the config inside the
/// command, before its reply (a vote, a config change's OK, SHUTDOWN).
pub(crate) struct AwaitSave {
    pub saving: Saving,
    pub then: AfterSave,
}

/// What follows the save.
pub(crate) enum AfterSave {
    /// Nothing: the reply is written already, it only waits.
    Replied,
    /// `+OK`, or Redis's error when the file could not be saved.
    OkOrFailed,
    /// The sentinel stops (SHUTDOWN).
    Shutdown,
}

/// Run one command; true when the connection must close. `wait`: the reply waits for a
/// save.
fn dispatch(
    shared: &Arc<Shared>,
    s: &mut Session,
    tx: &Outbox,
    out: &mut ReplyBuf,
    args: &[Bytes],
    wait: &mut Option<AwaitSave>,
) -> bool {
    let typed = lower(&args[0]);
    // `rename-command`: the name calls the command it was renamed from; an old name is gone.
    let cmd = match &s.commands {
        None => typed,
        Some(names) => match names.lookup(&typed) {
            Some(c) => c.to_string(),
            None => {
                out.error(&unknown_command(args));
                return false;
            }
        },
    };
    let wrong_args = |out: &mut ReplyBuf, name: &str| {
        out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    };
    // QUIT is picket's own on a sentinel (Redis 7.0's sentinel table has no QUIT).
    if cmd != "quit" {
        // Redis's processCommand: the command and its arity, authentication, then the
        // user's permissions, then the pub/sub context.
        let c = match crate::acl::lookup(&cmd, args) {
            Ok(c) => c,
            Err(crate::acl::NotFound::Command) => {
                out.error(&unknown_command(args));
                return false;
            }
            Err(crate::acl::NotFound::Subcommand) => {
                out.error(&format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    text(&args[1]).chars().take(128).collect::<String>(),
                    text(&args[0]).to_uppercase()
                ));
                return false;
            }
        };
        if let Some(info) = shared.client_list().get_mut(&s.id) {
            info.cmd = Some(c.full_name);
        }
        if !c.arity_ok(args.len()) {
            out.error(&c.arity_error());
            return false;
        }
        if !c.no_auth && !s.authenticated && shared.acl().auth_required() {
            out.error("NOAUTH Authentication required.");
            return false;
        }
        if let Err(e) = acl::check(shared, s, &c, args) {
            out.error(&e);
            return false;
        }
    }
    if s.subscribed
        && s.proto == Proto::Resp2
        && !matches!(
            cmd.as_str(),
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping" | "quit" | "reset"
        )
    {
        out.error(&format!("ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"));
        return false;
    }
    match cmd.as_str() {
        "ping" => match args.len() {
            1 if s.subscribed && s.proto == Proto::Resp2 => {
                out.array(2);
                out.bulk(b"pong");
                out.bulk(b"");
            }
            1 => out.simple("PONG"),
            2 => out.bulk(&args[1]),
            _ => wrong_args(out, "ping"),
        },
        "quit" => {
            out.ok();
            return true;
        }
        "auth" => acl::auth(shared, s, out, args),
        "hello" => acl::hello(shared, s, out, args),
        "acl" => acl::command(shared, s, out, args),
        "info" => info::info(shared, out, args),
        "role" => {
            let core = shared.lock();
            out.array(2);
            out.bulk(b"sentinel");
            out.array(core.masters.len());
            for n in core.masters.keys() {
                out.bulk(n.as_bytes());
            }
        }
        "client" => client(shared, s, out, args),
        "subscribe" | "psubscribe" => {
            if args.len() < 2 {
                wrong_args(out, &cmd);
                return false;
            }
            let mut subs = shared.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            let sub = subs.entry(s.id).or_insert_with(|| Subscriber {
                channels: Default::default(),
                patterns: Default::default(),
                tx: tx.clone(),
                resp3: s.proto == Proto::Resp3,
            });
            for a in &args[1..] {
                let name = text(a);
                if cmd == "subscribe" {
                    sub.channels.insert(name.clone());
                } else {
                    sub.patterns.insert(name.clone());
                }
                out.push(3);
                out.bulk(cmd.as_bytes());
                out.bulk(a);
                out.int((sub.channels.len() + sub.patterns.len()) as i64);
            }
            s.subscribed = true;
        }
        "unsubscribe" | "punsubscribe" => {
            let mut subs = shared.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            let sub = subs.entry(s.id).or_insert_with(|| Subscriber {
                channels: Default::default(),
                patterns: Default::default(),
                tx: tx.clone(),
                resp3: s.proto == Proto::Resp3,
            });
            let names: Vec<String> = if args.len() > 1 {
                args[1..].iter().map(text).collect()
            } else if cmd == "unsubscribe" {
                sub.channels.iter().cloned().collect()
            } else {
                sub.patterns.iter().cloned().collect()
            };
            if names.is_empty() {
                out.push(3);
                out.bulk(cmd.as_bytes());
                out.null();
                out.int((sub.channels.len() + sub.patterns.len()) as i64);
            }
            for n in names {
                if cmd == "unsubscribe" {
                    sub.channels.remove(&n);
                } else {
                    sub.patterns.remove(&n);
                }
                out.push(3);
                out.bulk(cmd.as_bytes());
                out.bulk(n.as_bytes());
                out.int((sub.channels.len() + sub.patterns.len()) as i64);
            }
            s.subscribed = sub.channels.len() + sub.patterns.len() > 0;
        }
        "publish" => {
            if args.len() != 3 {
                wrong_args(out, "publish");
                return false;
            }
            if &args[1][..] != b"__sentinel__:hello" {
                out.error("ERR Only HELLO messages are accepted by Sentinel instances.");
            } else {
                let _ = shared.inputs.send(Input::Hello(text(&args[2])));
                out.int(1);
            }
        }
        "shutdown" => {
            let core = shared.lock();
            *wait = Some(AwaitSave {
                saving: shared.save(&core),
                then: AfterSave::Shutdown,
            });
            return true;
        }
        "command" => match args.get(1).map(lower).as_deref() {
            Some("count") => out.int(0),
            Some("docs") => out.map(0),
            _ => out.array(0),
        },
        "sentinel" => sentinel::command(shared, out, args, wait, s.unresolvable.as_deref()),
        _ => out.error(&unknown_command(args)),
    }
    false
}

/// Redis's reply to a command it does not know.
fn unknown_command(args: &[Bytes]) -> String {
    let mut list = String::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        list.push_str(&format!("'{}' ", text(a)));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {list}",
        text(&args[0])
    )
}

fn client(shared: &Shared, s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    let Some(sub) = args.get(1).map(lower) else {
        out.error("ERR wrong number of arguments for 'client' command");
        return;
    };
    let n = args.len();
    // (arity as Redis's command table: exact when positive, a minimum when negative)
    let arity: i64 = match sub.as_str() {
        "setname" => 3,
        "getname" | "id" | "info" | "help" => 2,
        "list" => -2,
        "kill" => -3,
        _ => {
            out.error(&format!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                text(&args[1])
            ));
            return;
        }
    };
    if (arity > 0 && n as i64 != arity) || (arity < 0 && (n as i64) < -arity) {
        out.error(&format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        ));
        return;
    }
    match sub.as_str() {
        "setname" => {
            let name = text(&args[2]);
            if name.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
            }
            s.set_name(shared, (!name.is_empty()).then_some(name));
            out.ok();
        }
        "getname" => match &s.name {
            Some(n) => out.bulk(n.as_bytes()),
            None => out.null(),
        },
        "id" => out.int(s.id as i64),
        "info" => {
            let line = format!("{}\n", shared.client_line(s.id));
            out.verbatim("txt", line.as_bytes());
        }
        "list" => {
            if n > 2 {
                out.error("ERR syntax error");
                return;
            }
            let ids: Vec<u64> = shared.client_list().keys().copied().collect();
            let mut text = String::new();
            for id in ids {
                let line = shared.client_line(id);
                if !line.is_empty() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            out.verbatim("txt", text.as_bytes());
        }
        "kill" => out.int(0),
        _ => {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "LIST",
                "    Return information about client connections.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "HELP",
                "    Prints this help.",
            ];
            out.array(lines.len());
            for l in lines {
                out.simple(l);
            }
        }
    }
}
