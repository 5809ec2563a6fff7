//! The client-facing command server of a Sentinel: PING, INFO, ROLE, AUTH, HELLO, CLIENT,
//! pub/sub for the events, PUBLISH (hellos only), SHUTDOWN, COMMAND, and the SENTINEL
//! family with Redis 7.0's replies (instance maps in its field order, RESP2 and RESP3).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use picket_common::net::Conn;
use picket_common::resp::{Limits, Proto, ReplyBuf, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::core::{instance_flags, Addr, Core, Input, Instance, Master, Timers};
use crate::shell::{Shared, Subscriber};

struct Session {
    id: u64,
    addr: SocketAddr,
    name: Option<String>,
    proto: Proto,
    authenticated: bool,
    subscribed: bool,
}

/// Serve one client connection.
pub async fn serve<C: Conn>(shared: Arc<Shared>, mut conn: C, addr: SocketAddr) {
    let id = {
        let mut n = shared.next_client.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    };
    let mut s = Session {
        id,
        addr,
        name: None,
        proto: Proto::Resp2,
        authenticated: shared.settings().requirepass.is_none(),
        subscribed: false,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<(Option<String>, String, String)>();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = RequestDecoder::new();
    let cancel = shared.cancel.clone();
    'outer: loop {
        let mut out = ReplyBuf::new(s.proto);
        let mut close = false;
        loop {
            match decoder.decode(&mut buf, &Limits::default()) {
                Ok(Some(req)) => {
                    out.proto = s.proto;
                    if dispatch(&shared, &mut s, &tx, &mut out, &req.args) {
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
        if !out.is_empty() && conn.write_all(&out.take()).await.is_err() {
            break;
        }
        if close {
            break;
        }
        tokio::select! {
            _ = cancel.cancelled() => break 'outer,
            r = conn.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break 'outer,
                Ok(_) => {}
            },
            Some((pattern, channel, msg)) = rx.recv() => {
                let mut o = ReplyBuf::new(s.proto);
                push_message(&mut o, pattern.as_deref(), &channel, &msg);
                while let Ok((p, c, m)) = rx.try_recv() {
                    push_message(&mut o, p.as_deref(), &c, &m);
                }
                if conn.write_all(&o.take()).await.is_err() {
                    break 'outer;
                }
            }
        }
    }
    shared
        .subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    let _ = conn.shutdown().await;
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

/// Run one command; true when the connection must close.
fn dispatch(
    shared: &Arc<Shared>,
    s: &mut Session,
    tx: &mpsc::UnboundedSender<(Option<String>, String, String)>,
    out: &mut ReplyBuf,
    args: &[Bytes],
) -> bool {
    let cmd = lower(&args[0]);
    let wrong_args = |out: &mut ReplyBuf, name: &str| {
        out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    };
    if !s.authenticated && !matches!(cmd.as_str(), "auth" | "hello" | "quit") {
        out.error("NOAUTH Authentication required.");
        return false;
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
        "auth" => {
            let pass = match args.len() {
                2 => &args[1],
                3 => &args[2],
                _ => {
                    wrong_args(out, "auth");
                    return false;
                }
            };
            match shared.settings().requirepass.clone() {
                None => out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
                Some(p) if p.as_bytes() == &pass[..] => {
                    s.authenticated = true;
                    out.ok();
                }
                Some(_) => out.error("WRONGPASS invalid username-password pair or user is disabled."),
            }
        }
        "hello" => hello(shared, s, out, args),
        "info" => info(shared, out, args),
        "role" => {
            let core = shared.lock();
            out.array(2);
            out.bulk(b"sentinel");
            out.array(core.masters.len());
            for n in core.masters.keys() {
                out.bulk(n.as_bytes());
            }
        }
        "client" => client(s, out, args),
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
            shared.flush(&core);
            drop(core);
            tracing::warn!("User requested shutdown...");
            shared.cancel.cancel();
            return true;
        }
        "command" => match args.get(1).map(lower).as_deref() {
            Some("count") => out.int(0),
            Some("docs") => out.map(0),
            _ => out.array(0),
        },
        "sentinel" => sentinel(shared, s, out, args),
        _ => {
            let mut list = String::new();
            for a in &args[1..] {
                if list.len() >= 128 {
                    break;
                }
                list.push_str(&format!("'{}' ", text(a)));
            }
            out.error(&format!(
                "ERR unknown command '{}', with args beginning with: {list}",
                text(&args[0])
            ));
        }
    }
    false
}

fn hello(shared: &Shared, s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    let mut i = 1;
    let mut proto = s.proto;
    if let Some(v) = args.get(1) {
        match text(v).parse::<i64>() {
            Ok(2) => proto = Proto::Resp2,
            Ok(3) => proto = Proto::Resp3,
            Ok(_) => {
                out.error("NOPROTO unsupported protocol version");
                return;
            }
            Err(_) => {
                out.error("ERR Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
    }
    while i < args.len() {
        match lower(&args[i]).as_str() {
            "auth" if i + 2 < args.len() => {
                let ok = shared
                    .settings()
                    .requirepass
                    .as_ref()
                    .is_none_or(|p| p.as_bytes() == &args[i + 2][..]);
                if !ok {
                    out.error("WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }
                s.authenticated = true;
                i += 3;
            }
            "setname" if i + 1 < args.len() => {
                s.name = Some(text(&args[i + 1]));
                i += 2;
            }
            _ => {
                out.error(&format!(
                    "ERR Syntax error in HELLO option '{}'",
                    text(&args[i])
                ));
                return;
            }
        }
    }
    if !s.authenticated {
        out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    s.proto = proto;
    out.proto = proto;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto.number());
    out.bulk(b"id");
    out.int(s.id as i64);
    out.bulk(b"mode");
    out.bulk(b"sentinel");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

fn client(s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    let sub = args.get(1).map(lower).unwrap_or_default();
    match (sub.as_str(), args.len()) {
        ("setname", 3) => {
            s.name = Some(text(&args[2]));
            out.ok();
        }
        ("getname", 2) => match &s.name {
            Some(n) => out.bulk(n.as_bytes()),
            None => out.null(),
        },
        ("id", 2) => out.int(s.id as i64),
        ("info", 2) | ("list", 2) => {
            let line = format!(
                "id={} addr={} name={} db=0 cmd=client|{sub}\n",
                s.id,
                s.addr,
                s.name.clone().unwrap_or_default()
            );
            out.verbatim("txt", line.as_bytes());
        }
        ("kill", _) => out.int(0),
        _ => out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            args.get(1).map(text).unwrap_or_default()
        )),
    }
}

fn info(shared: &Shared, out: &mut ReplyBuf, args: &[Bytes]) {
    let core = shared.lock();
    let section = args.get(1).map(lower).unwrap_or_else(|| "default".into());
    let all = matches!(section.as_str(), "default" | "all" | "everything");
    let mut t = String::new();
    let uptime = shared.now() / 1000;
    if all || section == "server" {
        let port = shared.settings().port;
        t.push_str(&format!(
            "# Server\r\nredis_version:{}\r\npicket_version:{}\r\nredis_mode:sentinel\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{port}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nconfig_file:{}\r\n\r\n",
            crate::REDIS_VERSION,
            crate::PICKET_VERSION,
            std::env::consts::OS,
            std::process::id(),
            core.myid,
            uptime / 86400,
            shared.config_path.display(),
        ));
    }
    if all || section == "clients" {
        let subs = shared
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        t.push_str(&format!("# Clients\r\npubsub_clients:{subs}\r\n\r\n"));
    }
    if all || section == "sentinel" {
        let now = shared.now();
        t.push_str("# Sentinel\r\n");
        t.push_str(&format!("sentinel_masters:{}\r\n", core.masters.len()));
        t.push_str(&format!(
            "sentinel_tilt:{}\r\n",
            u8::from(core.tilt_since.is_some())
        ));
        t.push_str(&format!(
            "sentinel_tilt_since_seconds:{}\r\n",
            core.tilt_since
                .map_or(-1, |s| (now.saturating_sub(s) / 1000) as i64)
        ));
        t.push_str(&format!(
            "sentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:0\r\n",
            *shared
                .pending_scripts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        ));
        t.push_str(&format!(
            "sentinel_simulate_failure_flags:{}\r\n",
            u8::from(core.sim.crash_after_election)
                | (u8::from(core.sim.crash_after_promotion) << 1)
        ));
        for (i, (name, m)) in core.masters.iter().enumerate() {
            let status = if m.odown_since.is_some() {
                "odown"
            } else if m.inst.sdown_since.is_some() {
                "sdown"
            } else {
                "ok"
            };
            let a = m.inst.addr.name();
            t.push_str(&format!(
                "master{i}:name={name},status={status},address={a},slaves={},sentinels={}\r\n",
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
    }
    while t.ends_with("\r\n\r\n") {
        t.truncate(t.len() - 2);
    }
    out.verbatim("txt", t.as_bytes());
}

/// An instance map, Redis's field order.
fn fields(
    core: &Core,
    m: &Master,
    inst: &Instance,
    kind: u8,
    now: u64,
) -> Vec<(&'static str, String)> {
    let ago = |t: Option<u64>| t.map_or(0, |t| now.saturating_sub(t)).to_string();
    let mut f: Vec<(&'static str, String)> = vec![
        ("name", inst.name.clone()),
        ("ip", inst.addr.host.clone()),
        ("port", inst.addr.port.to_string()),
        ("runid", inst.runid.clone().unwrap_or_default()),
        (
            "flags",
            match kind {
                0 => m.flags(),
                1 => instance_flags(inst, false),
                _ => instance_flags(inst, true),
            },
        ),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
    ];
    if kind == 0 && m.in_failover() {
        f.push(("failover-state", m.failover_state.name().into()));
    }
    f.push(("last-ping-sent", ago(inst.act_ping)));
    f.push((
        "last-ok-ping-reply",
        now.saturating_sub(inst.last_avail).to_string(),
    ));
    f.push((
        "last-ping-reply",
        ago(inst.last_pong.or(Some(inst.link_since))),
    ));
    if let Some(t) = inst.sdown_since {
        f.push(("s-down-time", now.saturating_sub(t).to_string()));
    }
    if kind == 0 {
        if let Some(t) = m.odown_since {
            f.push(("o-down-time", now.saturating_sub(t).to_string()));
        }
    }
    f.push(("down-after-milliseconds", m.down_after.to_string()));
    if kind < 2 {
        f.push(("info-refresh", ago(inst.info_refresh)));
        f.push((
            "role-reported",
            match inst.role {
                crate::core::Role::Slave => "slave",
                crate::core::Role::Master => "master",
                crate::core::Role::Unknown => {
                    if kind == 0 {
                        "master"
                    } else {
                        "slave"
                    }
                }
            }
            .into(),
        ));
        f.push((
            "role-reported-time",
            now.saturating_sub(inst.role_time).to_string(),
        ));
    }
    match kind {
        0 => {
            f.push(("config-epoch", m.config_epoch.to_string()));
            f.push(("num-slaves", m.replicas.len().to_string()));
            f.push(("num-other-sentinels", m.sentinels.len().to_string()));
            f.push(("quorum", m.quorum.to_string()));
            f.push(("failover-timeout", m.failover_timeout.to_string()));
            f.push(("parallel-syncs", m.parallel_syncs.to_string()));
            if let Some(s) = &m.notification_script {
                f.push(("notification-script", s.clone()));
            }
            if let Some(s) = &m.client_reconfig_script {
                f.push(("client-reconfig-script", s.clone()));
            }
        }
        1 => {
            f.push((
                "master-link-down-time",
                inst.master_link_down_ms.to_string(),
            ));
            f.push((
                "master-link-status",
                if inst.master_link_up { "ok" } else { "err" }.into(),
            ));
            f.push((
                "master-host",
                inst.master_host.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("master-port", inst.master_port.to_string()));
            f.push(("slave-priority", inst.priority.to_string()));
            f.push(("slave-repl-offset", inst.repl_offset.to_string()));
            f.push(("replica-announced", u8::from(inst.announced).to_string()));
        }
        _ => {
            f.push(("last-hello-message", ago(inst.last_hello)));
            f.push((
                "voted-leader",
                inst.leader.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("voted-leader-epoch", inst.leader_epoch.to_string()));
        }
    }
    let _ = core;
    f
}

fn reply_map(out: &mut ReplyBuf, f: &[(&'static str, String)]) {
    out.map(f.len());
    for (k, v) in f {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

fn no_master(out: &mut ReplyBuf) {
    out.error("ERR No such master with that name");
}

fn sentinel(shared: &Arc<Shared>, s: &mut Session, out: &mut ReplyBuf, args: &[Bytes]) {
    let _ = s;
    let Some(sub) = args.get(1).map(lower) else {
        out.error("ERR wrong number of arguments for 'sentinel' command");
        return;
    };
    let n = args.len();
    let arity = |out: &mut ReplyBuf| {
        out.error(&format!(
            "ERR wrong number of arguments for 'sentinel|{sub}' command"
        ))
    };
    let now = shared.now();
    let mut core = shared.lock();
    let mut after: Vec<crate::core::Action> = Vec::new();
    match sub.as_str() {
        "masters" => {
            if n != 2 {
                return arity(out);
            }
            out.array(core.masters.len());
            for m in core.masters.values() {
                reply_map(out, &fields(&core, m, &m.inst, 0, now));
            }
        }
        "master" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => reply_map(out, &fields(&core, m, &m.inst, 0, now)),
                None => no_master(out),
            }
        }
        "replicas" | "slaves" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => {
                    out.array(m.replicas.len());
                    for r in m.replicas.values() {
                        reply_map(out, &fields(&core, m, r, 1, now));
                    }
                }
                None => no_master(out),
            }
        }
        "sentinels" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => {
                    out.array(m.sentinels.len());
                    for x in m.sentinels.values() {
                        reply_map(out, &fields(&core, m, x, 2, now));
                    }
                }
                None => no_master(out),
            }
        }
        "get-master-addr-by-name" => {
            if n != 3 {
                return arity(out);
            }
            match core.masters.get(&text(&args[2])) {
                Some(m) => {
                    let a = m.current_addr();
                    out.array(2);
                    out.bulk(a.host.as_bytes());
                    out.bulk(a.port.to_string().as_bytes());
                }
                None => out.null_array(),
            }
        }
        "is-master-down-by-addr" => {
            if n != 6 {
                return arity(out);
            }
            let (Ok(port), Ok(epoch)) =
                (text(&args[3]).parse::<u16>(), text(&args[4]).parse::<u64>())
            else {
                out.error("ERR value is not an integer or out of range");
                return;
            };
            let addr = Addr::new(text(&args[2]), port);
            let (down, leader, e) = core.is_master_down_by_addr(now, &addr, epoch, &text(&args[5]));
            out.array(3);
            out.int(i64::from(down));
            out.bulk(leader.as_bytes());
            out.int(e as i64);
            after = core.take_actions();
        }
        "reset" => {
            if n != 3 {
                return arity(out);
            }
            let pat = text(&args[2]);
            let names: Vec<String> = core
                .masters
                .keys()
                .filter(|k| picket_common::glob::string_match_str(&pat, k, false))
                .cloned()
                .collect();
            for k in &names {
                core.reset_master(now, k);
            }
            out.int(names.len() as i64);
            after = core.take_actions();
        }
        "failover" => {
            if n != 3 {
                return arity(out);
            }
            match core.force_failover(now, &text(&args[2])) {
                Ok(()) => out.ok(),
                Err(e) if e.starts_with('-') => out.error(&e[1..]),
                Err(e) => out.error(&format!("ERR {e}")),
            }
            after = core.take_actions();
        }
        "ckquorum" => {
            if n != 3 {
                return arity(out);
            }
            let Some(m) = core.masters.get(&text(&args[2])) else {
                return no_master(out);
            };
            let voters = m.sentinels.len() + 1;
            let usable = 1 + m
                .sentinels
                .values()
                .filter(|x| x.sdown_since.is_none())
                .count();
            let majority = voters / 2 + 1;
            if usable < m.quorum as usize {
                out.error(&format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master"));
            } else if usable < majority {
                out.error(&format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover"));
            } else {
                out.simple(&format!(
                    "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                ));
            }
        }
        "flushconfig" => {
            if n != 2 {
                return arity(out);
            }
            if shared.flush(&core) {
                out.ok();
            } else {
                out.error("ERR Failed to save config file. Check server logs.");
            }
        }
        "monitor" => {
            if n != 6 {
                return arity(out);
            }
            let name = text(&args[2]);
            let ip = text(&args[3]);
            let Ok(port) = text(&args[4]).parse::<u16>() else {
                out.error("ERR Invalid port number");
                return;
            };
            let quorum = text(&args[5]).parse::<i64>().unwrap_or(0);
            if quorum <= 0 {
                out.error("ERR Quorum must be 1 or greater.");
                return;
            }
            if !shared.settings().resolve_hostnames && ip.parse::<std::net::IpAddr>().is_err() {
                out.error("ERR Invalid IP address or hostname specified");
                return;
            }
            if core.masters.contains_key(&name) {
                out.error("ERR Duplicated master name");
                return;
            }
            let m = core.monitor(&name, Addr::new(ip.clone(), port), quorum as u32, now);
            let msg = format!("{} quorum {quorum}", Core::at_master(m));
            tracing::warn!("+monitor {msg}");
            shared.publish("+monitor", &msg);
            after = core.take_actions();
            shared.flush(&core);
            out.ok();
        }
        "remove" => {
            if n != 3 {
                return arity(out);
            }
            let name = text(&args[2]);
            match core.masters.remove(&name) {
                Some(m) => {
                    let msg = Core::at_master(&m);
                    tracing::warn!("-monitor {msg}");
                    shared.publish("-monitor", &msg);
                    after.push(crate::core::Action::Disconnect(
                        crate::core::Target::Master(name.clone()),
                    ));
                    for k in m.replicas.keys() {
                        after.push(crate::core::Action::Disconnect(
                            crate::core::Target::Replica(name.clone(), k.clone()),
                        ));
                    }
                    for k in m.sentinels.keys() {
                        after.push(crate::core::Action::Disconnect(
                            crate::core::Target::Sentinel(name.clone(), k.clone()),
                        ));
                    }
                    shared.flush(&core);
                    out.ok();
                }
                None => no_master(out),
            }
        }
        "set" => {
            if n < 5 || n.is_multiple_of(2) {
                return arity(out);
            }
            let name = text(&args[2]);
            let deny = shared.settings().deny_scripts_reconfig;
            let Some(m) = core.masters.get_mut(&name) else {
                return no_master(out);
            };
            let mut i = 3;
            let mut events = Vec::new();
            let mut relink = false;
            while i + 1 < n {
                let opt = lower(&args[i]);
                let val = text(&args[i + 1]);
                let known = [
                    "down-after-milliseconds",
                    "failover-timeout",
                    "parallel-syncs",
                    "notification-script",
                    "client-reconfig-script",
                    "auth-pass",
                    "auth-user",
                    "quorum",
                    "master-reboot-down-after-period",
                ];
                if opt == "rename-command" {
                    if i + 2 >= n {
                        out.error(&format!(
                            "ERR Unknown option or number of arguments for SENTINEL SET '{opt}'"
                        ));
                        return;
                    }
                    let to = text(&args[i + 2]);
                    m.renamed.insert(val.to_ascii_lowercase(), to.clone());
                    events.push(format!("{} {opt} {val} {to}", Core::at_master(m)));
                    relink = true;
                    i += 3;
                    continue;
                }
                if !known.contains(&opt.as_str()) {
                    out.error(&format!(
                        "ERR Unknown option or number of arguments for SENTINEL SET '{opt}'"
                    ));
                    return;
                }
                if opt.ends_with("-script") {
                    if deny {
                        out.error("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your config file for more info.");
                        return;
                    }
                    if !val.is_empty() && !is_executable(&val) {
                        out.error("ERR Notification script seems non existing or non executable");
                        return;
                    }
                }
                if let Err(_e) =
                    crate::config::apply_option(m, &opt, std::slice::from_ref(&val), now)
                {
                    out.error(&format!(
                        "ERR Invalid argument '{val}' for SENTINEL SET '{opt}'"
                    ));
                    return;
                }
                let shown = if opt == "auth-pass" {
                    "******".to_string()
                } else {
                    val.clone()
                };
                events.push(format!("{} {opt} {shown}", Core::at_master(m)));
                if opt.starts_with("auth-") {
                    relink = true;
                }
                i += 2;
            }
            if relink {
                let addr = m.inst.addr.clone();
                after.push(crate::core::Action::Disconnect(
                    crate::core::Target::Master(name.clone()),
                ));
                after.push(crate::core::Action::Connect(
                    crate::core::Target::Master(name.clone()),
                    addr,
                ));
                for (k, r) in &m.replicas {
                    after.push(crate::core::Action::Disconnect(
                        crate::core::Target::Replica(name.clone(), k.clone()),
                    ));
                    after.push(crate::core::Action::Connect(
                        crate::core::Target::Replica(name.clone(), k.clone()),
                        r.addr.clone(),
                    ));
                }
            }
            for e in events {
                tracing::warn!("+set {e}");
                shared.publish("+set", &e);
            }
            if shared.flush(&core) {
                out.ok();
            } else {
                out.error("ERR Failed to save config file. Check server logs.");
            }
        }
        "config" => {
            let op = args.get(2).map(lower).unwrap_or_default();
            let mut st = shared.settings();
            match (op.as_str(), n) {
                ("get", 4) => {
                    let pat = text(&args[3]);
                    let all = [
                        (
                            "resolve-hostnames",
                            if st.resolve_hostnames { "yes" } else { "no" }.to_string(),
                        ),
                        (
                            "announce-hostnames",
                            if st.announce_hostnames { "yes" } else { "no" }.to_string(),
                        ),
                        ("announce-ip", st.announce_ip.clone()),
                        ("announce-port", st.announce_port.to_string()),
                        (
                            "sentinel-user",
                            st.sentinel_user.clone().unwrap_or_default(),
                        ),
                        (
                            "sentinel-pass",
                            st.sentinel_pass.clone().unwrap_or_default(),
                        ),
                    ];
                    let hits: Vec<_> = all
                        .iter()
                        .filter(|(k, _)| picket_common::glob::string_match_str(&pat, k, true))
                        .collect();
                    out.map(hits.len());
                    for (k, v) in hits {
                        out.bulk(k.as_bytes());
                        out.bulk(v.as_bytes());
                    }
                }
                ("set", 5) => {
                    let k = lower(&args[3]);
                    let v = text(&args[4]);
                    let yn = |v: &str| match v.to_ascii_lowercase().as_str() {
                        "yes" => Some(true),
                        "no" => Some(false),
                        _ => None,
                    };
                    let ok = match k.as_str() {
                        "resolve-hostnames" => yn(&v).map(|b| st.resolve_hostnames = b).is_some(),
                        "announce-hostnames" => yn(&v).map(|b| st.announce_hostnames = b).is_some(),
                        "announce-ip" => {
                            st.announce_ip = v.clone();
                            core.announce_ip = v.clone();
                            true
                        }
                        "announce-port" => v
                            .parse::<u16>()
                            .map(|p| {
                                st.announce_port = p;
                                if p != 0 {
                                    core.announce_port = p;
                                }
                            })
                            .is_ok(),
                        "sentinel-user" => {
                            st.sentinel_user = (!v.is_empty()).then_some(v.clone());
                            true
                        }
                        "sentinel-pass" => {
                            st.sentinel_pass = (!v.is_empty()).then_some(v.clone());
                            true
                        }
                        _ => {
                            out.error(&format!(
                                "ERR Invalid argument '{k}' to SENTINEL CONFIG SET"
                            ));
                            return;
                        }
                    };
                    drop(st);
                    if !ok {
                        out.error(&format!(
                            "ERR Invalid value '{v}' to SENTINEL CONFIG SET '{k}'"
                        ));
                        return;
                    }
                    shared.flush(&core);
                    out.ok();
                }
                _ => arity(out),
            }
        }
        "myid" => {
            if n != 2 {
                return arity(out);
            }
            out.bulk(core.myid.as_bytes());
        }
        "info-cache" => {
            let names: Vec<String> = if n > 2 {
                args[2..]
                    .iter()
                    .map(text)
                    .filter(|k| core.masters.contains_key(k))
                    .collect()
            } else {
                core.masters.keys().cloned().collect()
            };
            out.array(names.len() * 2);
            for k in names {
                let m = &core.masters[&k];
                out.bulk(k.as_bytes());
                let insts: Vec<&Instance> = std::iter::once(&m.inst)
                    .chain(m.replicas.values())
                    .collect();
                out.array(insts.len());
                for i in insts {
                    out.array(2);
                    out.int(i.info_refresh.map_or(0, |t| now.saturating_sub(t)) as i64);
                    match &i.info {
                        Some(t) => out.bulk(t.as_bytes()),
                        None => out.null(),
                    }
                }
            }
        }
        "simulate-failure" => {
            for a in &args[2..] {
                match lower(a).as_str() {
                    "crash-after-election" => core.sim.crash_after_election = true,
                    "crash-after-promotion" => core.sim.crash_after_promotion = true,
                    "help" => {
                        out.array(2);
                        out.bulk(b"crash-after-election");
                        out.bulk(b"crash-after-promotion");
                        return;
                    }
                    _ => {
                        out.error("ERR Unknown failure simulation specified");
                        return;
                    }
                }
            }
            out.ok();
        }
        "debug" => {
            if n == 2 {
                let t = core.timers.clone();
                let mut tt = t.clone();
                out.map(Timers::NAMES.len());
                for name in Timers::NAMES {
                    out.bulk(name.to_ascii_uppercase().as_bytes());
                    out.bulk(tt.get_mut(name).map_or(0, |v| *v).to_string().as_bytes());
                }
                return;
            }
            if !n.is_multiple_of(2) {
                return arity(out);
            }
            let mut i = 2;
            while i + 1 < n {
                let name = lower(&args[i]);
                let v = text(&args[i + 1]).parse::<u64>().ok().filter(|v| *v > 0);
                match (core.timers.get_mut(&name), v) {
                    (Some(slot), Some(v)) => *slot = v,
                    _ => {
                        out.error(&format!(
                            "ERR Unknown option or number of arguments for SENTINEL DEBUG '{name}'"
                        ));
                        return;
                    }
                }
                i += 2;
            }
            out.ok();
        }
        "pending-scripts" => out.array(0),
        "help" => {
            let lines = [
                "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CKQUORUM <master-name>",
                "CONFIG SET|GET <param> [<value>]",
                "DEBUG [<param> <value> ...]",
                "GET-MASTER-ADDR-BY-NAME <master-name>",
                "FAILOVER <master-name>",
                "FLUSHCONFIG",
                "INFO-CACHE <master-name>",
                "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
                "MASTER <master-name>",
                "MASTERS",
                "MONITOR <name> <ip> <port> <quorum>",
                "MYID",
                "PENDING-SCRIPTS",
                "REMOVE <master-name>",
                "REPLICAS <master-name>",
                "RESET <pattern>",
                "SENTINELS <master-name>",
                "SET <master-name> <option> <value> [<option> <value> ...]",
                "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
                "HELP",
            ];
            out.array(lines.len());
            for l in lines {
                out.simple(l);
            }
        }
        _ => out.error(&format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            text(&args[1])
        )),
    }
    drop(core);
    if !after.is_empty() {
        let _ = shared.actions.send(after);
    }
}

fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
