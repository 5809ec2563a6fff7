//! The command pipeline (seed 002's teller steps, Redis's `processCommand` + `call`):
//! look up → checks in Redis's order → MULTI queueing → execute → slowlog, commandstats,
//! MONITOR, propagation → reply.

use bytes::Bytes;
use picket_common::resp::ReplyBuf;
use picket_common::sds::repr;
use tokio::time::Instant;

use super::args::shown;
use super::error::CmdError;
use super::{flags, CommandSpec};
use crate::client::{cflags, Client, Queued};
pub use crate::ctx::{push_to, Ctx, Flow, Propagate};
use crate::server::Server;

/// A read on a strict master without its lease (`failover-safety strict`).
const LEASE_LOST: &str = "MASTERDOWN This master has not heard from enough replicas within failover-lease-ms (failover-safety strict): a replica may have been promoted.";
/// A write to a strict master without its lease: READONLY, the error Sentinel-aware clients
/// (redis-py's SentinelConnectionPool, ioredis with reconnectOnError) take as "this is no
/// longer the master" and answer by asking the sentinels again.
const LEASE_LOST_WRITE: &str = "READONLY You can't write against a master that has not heard from enough replicas within failover-lease-ms (failover-safety strict): a replica may have been promoted.";

const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Process one request for `client`. Its replies go to `out`.
pub fn process(srv: &mut Server, client: &mut Client, out: &mut ReplyBuf, args: &[Bytes]) -> Flow {
    // Within a batch the previous command's end serves as this one's start: one clock read
    // per command gives idle time, cached unix time and duration.
    let now = *srv.call.clock_hint.get_or_insert_with(Instant::now);
    client.last_interaction = now;
    srv.now_ms = srv.clock.unix_ms_at(now) as i64;
    // The arguments held while the command runs (`argv-mem`), released after it unless it
    // blocked.
    client.argv_mem = args.iter().map(|a| a.len()).sum();
    client.argc = args.len();
    srv.clients.start_running(client);
    srv.propagator.begin_unit();
    srv.call.resolved = None;
    let mark = out.len();
    // Handlers are guarded in `call`; this guards the checks around them, so that the unit
    // is always closed and the client alone pays for a bug.
    let flow = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process_inner(srv, client, out, args)
    })) {
        Ok(flow) => flow,
        Err(payload) => command_panicked(srv, client, out, mark, &shown(&args[0]), &*payload),
    };
    if srv.tracking.active() {
        // The invalidations the command caused to its own client follow its reply.
        if srv.tracking.has_pending() {
            srv.with_tracking(|t, sink| t.flush_pending(sink));
        }
        // CLIENT CACHING applies to the next command (or transaction) only; CLIENT
        // subcommands keep it (Redis's `resetClient`).
        if !client.in_multi() && srv.call.resolved != Some("client") {
            srv.tracking.clear_caching(client.id);
        }
    }
    srv.propagator.end_unit();
    if srv.clients.finish_running() {
        client.flags |= cflags::DIRTY_CAS;
    }
    // Pushes are written even under CLIENT REPLY OFF, as Redis's CLIENT_PUSHING.
    srv.clients.write_pushes(out);
    out.proto = client.proto;
    // The effects go to the stream now, so the client's write offset is known (WAIT).
    // A replica's own command (REPLCONF ACK) runs with its record out of the registry, where
    // the stream cannot reach it: what is pending then waits for the batch's end
    // (`after_batch`), or that replica would miss those bytes for good.
    if !client.has(cflags::REPLICA) {
        crate::replication::feed(srv);
    }
    client.woff = srv.repl.offset;
    // Clients blocked on keys this command filled are served now, each as its own unit
    // (and XREADGROUP clients whose stream it took away are told so).
    if !srv.keyspace.group_waits.is_empty() {
        srv.keyspace.signal_gone_streams();
    }
    if !srv.keyspace.ready_keys.is_empty() {
        super::reentry::serve_ready_keys(srv);
    }
    // A pause that ended (CLIENT UNPAUSE) lets the clients it held run, after this command.
    super::reentry::resume_if_pending(srv);
    // CLIENT REPLY SKIP silences the command after the one that set it, whatever became of
    // that command (Redis's `resetClient`).
    client.flags &= !cflags::REPLY_SKIP;
    if client.has(cflags::REPLY_SKIP_NEXT) {
        client.flags &= !cflags::REPLY_SKIP_NEXT;
        client.flags |= cflags::REPLY_SKIP;
    }
    if client.blocked.is_none() {
        client.argv_mem = 0;
        client.argc = 0;
    }
    client.rb.note(out.len());
    if client.has(cflags::CLOSE_AFTER_REPLY) || client.has(cflags::CLOSE_ASAP) {
        return Flow::Close;
    }
    if client.blocked.is_some() {
        return Flow::Blocked;
    }
    flow
}

fn process_inner(
    srv: &mut Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: &[Bytes],
) -> Flow {
    // An HTTP request sent to the port (cross protocol scripting): drop the connection and
    // whatever it was owed, as Redis's `securityWarningCommand`.
    if args[0].eq_ignore_ascii_case(b"post") || args[0].eq_ignore_ascii_case(b"host:") {
        if srv.now_ms - srv.process.security_warned_ms > 60_000 {
            srv.process.security_warned_ms = srv.now_ms;
            tracing::warn!("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.");
        }
        client.close_asap("security warning");
        return Flow::Close;
    }
    // 1. Look the command up (and its subcommand), under the names `rename-command` gave.
    let trusted = client.has(cflags::LOADER) || client.has(cflags::MASTER);
    let spec = match super::resolve_renamed(&srv.config.renames, args, trusted) {
        Ok(spec) => spec,
        Err(e) => {
            reject(srv, client, out, None, &e.to_string());
            return Flow::Continue;
        }
    };
    client.last_cmd = spec.full_name;
    srv.call.resolved = Some(spec.parent.unwrap_or(spec.name));
    // 2. Arity.
    if !spec.arity_ok(args.len()) {
        reject(
            srv,
            client,
            out,
            Some(spec),
            &CmdError::Arity(spec.full_name.to_string()).to_string(),
        );
        return Flow::Continue;
    }
    // 3. Authentication.
    if srv.requires_auth() && !client.authenticated && !spec.has(flags::NO_AUTH) {
        reject(srv, client, out, Some(spec), &CmdError::NoAuth.to_string());
        return Flow::Continue;
    }
    // 3b. ACL: the user may run this command on these keys and channels (checked when
    // queued in MULTI, as Redis's `processCommand`).
    let ctx_kind = if client.in_multi() {
        crate::acl::Context::Multi
    } else {
        crate::acl::Context::Toplevel
    };
    if let Err(denied) = super::acl_cmd::check_client(srv, client, spec, args, ctx_kind) {
        reject(
            srv,
            client,
            out,
            Some(spec),
            &crate::acl::noperm_text(denied, spec),
        );
        return Flow::Continue;
    }
    // 4. Past maxmemory: evict by the policy; if that cannot make room, commands that may
    // grow memory are refused. The master's stream and the AOF loader are obeyed.
    let loader = client.has(cflags::LOADER) || client.has(cflags::MASTER);
    let replica = srv.repl.is_replica();
    // A script that declares flags (`#!lua flags=...`) replaces EVAL's own.
    let (cmd_flags, declared) = super::scripting::command_flags_declared(srv, spec, args);
    let is_write = cmd_flags & flags::WRITE != 0
        || (spec.name == "exec" && client.multi.iter().any(|q| q.spec.is_write()));
    // Strict failover safety gates the replies of writes (not of PUBLISH or a read whose
    // lookup expired a key, which move the offset too).
    client.last_was_write = is_write;
    let evicts = srv.cfg.maxmemory > 0 && !(replica && srv.cfg.repl.ignore_maxmemory);
    srv.call.pre_command_oom = !loader && evicts && !crate::evict::perform_evictions(srv);
    if srv.call.pre_command_oom && cmd_flags & flags::DENYOOM != 0 {
        reject(
            srv,
            client,
            out,
            Some(spec),
            "OOM command not allowed when used memory > 'maxmemory'.",
        );
        return Flow::Continue;
    }
    // 4a. The client-side caching table within `tracking-table-max-keys`; what that and
    // the eviction sent this client precedes its reply.
    if srv.tracking.active() {
        srv.tracking_limit();
        if !srv.clients.pushes.is_empty() {
            srv.clients.write_pushes(out);
        }
    }
    // 4b. A failed background save stops writes (and PING), as Redis's MISCONF.
    if !loader
        && !replica
        && srv.cfg.stop_writes_on_bgsave_error
        && !srv.cfg.save.is_empty()
        && !srv.persistence.rdb.last_bgsave_ok
        && (is_write || spec.name == "ping")
    {
        reject(srv, client, out, Some(spec), MISCONF);
        return Flow::Continue;
    }
    // 4b'. The AOF cannot be written (the last write or background fsync failed): writes and
    // PING are refused with the reason until a write succeeds, as Redis's MISCONF.
    if is_write || spec.name == "ping" {
        if let Some(reason) = srv.persistence.aof.as_ref().and_then(|a| a.write_denied()) {
            if client.has(cflags::MASTER) {
                if !srv.cfg.repl.ignore_disk_write_errors && spec.name != "ping" {
                    // Redis exits here. The link is closed instead, with this command not
                    // applied, and resumes from it once the AOF can be written.
                    client.close_asap(format!(
                        "Replica was unable to write command to disk: {reason}"
                    ));
                    return Flow::Close;
                }
                if srv.now_ms - srv.process.disk_error_logged_ms > 10_000 {
                    srv.process.disk_error_logged_ms = srv.now_ms;
                    tracing::warn!(
                        "Replica is applying a command even though it is unable to write to disk."
                    );
                }
            } else if !loader {
                let msg = format!("MISCONF Errors writing to the AOF file: {reason}");
                reject(srv, client, out, Some(spec), &msg);
                return Flow::Continue;
            }
        }
    }
    // 4c. min-replicas-to-write.
    if is_write && !crate::replication::master::enough_good_replicas(srv) {
        let msg = if srv.cfg.repl.strict_acks().is_some() {
            LEASE_LOST_WRITE
        } else {
            "NOREPLICAS Not enough good replicas to write."
        };
        reject(srv, client, out, Some(spec), msg);
        return Flow::Continue;
    }
    // 4c'. A strict master that lost its lease serves no data: the sentinels may have
    // promoted a replica meanwhile (docs/failover-safety.md, rule 3). Commands that read no
    // data (PING, INFO, ROLE, CONFIG, the replication handshake...) still run.
    if !is_write
        && !loader
        && spec.has(flags::READONLY)
        && !crate::replication::master::lease_held(srv)
    {
        reject(srv, client, out, Some(spec), LEASE_LOST);
        return Flow::Continue;
    }
    // 4d. A read-only replica takes writes only from its master.
    if replica && !loader && is_write && srv.cfg.repl.read_only {
        let msg = "READONLY You can't write against a read only replica.";
        reject(srv, client, out, Some(spec), msg);
        return Flow::Continue;
    }
    // 5. The RESP2 subscribed context allows only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT, RESET.
    if client.in_pubsub_context()
        && !matches!(
            spec.name,
            "subscribe"
                | "unsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "ping"
                | "quit"
                | "reset"
                | "ssubscribe"
                | "sunsubscribe"
        )
    {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.full_name
        );
        reject(srv, client, out, Some(spec), &msg);
        return Flow::Continue;
    }
    // 5b. A replica whose link is down may refuse stale reads (replica-serve-stale-data no).
    if replica
        && !srv.repl.link_up()
        && !srv.cfg.repl.serve_stale_data
        && cmd_flags & flags::STALE == 0
    {
        let msg =
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
        reject(srv, client, out, Some(spec), msg);
        return Flow::Continue;
    }
    // 6. While the dataset loads, only commands flagged `loading` run.
    if srv.persistence.rdb.loading && !loader && !spec.has(flags::LOADING) {
        reject(
            srv,
            client,
            out,
            Some(spec),
            "LOADING Redis is loading the dataset in memory",
        );
        return Flow::Continue;
    }
    // 6b. A client pause holds the command (before MULTI would queue it, as Redis).
    // (A script or function that declared its flags may replicate only if it may write.)
    let declared_write = declared.then_some(cmd_flags & flags::WRITE != 0);
    if crate::pause::must_wait(srv, client, spec, declared_write) {
        crate::pause::hold(srv, client, spec, args);
        return Flow::Blocked;
    }
    // 7. MULTI: queue everything but the transaction commands themselves.
    if client.in_multi()
        && !matches!(
            spec.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        if spec.has(flags::NO_MULTI) {
            let msg = "ERR Command not allowed inside a transaction".to_string();
            reject(srv, client, out, Some(spec), &msg);
            return Flow::Continue;
        }
        // A transaction already doomed keeps nothing (Redis's `queueMultiCommand`).
        if !client.has(cflags::DIRTY_CAS) && !client.has(cflags::DIRTY_EXEC) {
            // Redis's `argv_len_sums`: the bytes and an 8-byte pointer per argument.
            let mem: usize = args.iter().map(|a| a.len()).sum();
            client.multi_mem += mem + 8 * args.len();
            client.multi.push(Queued {
                spec,
                args: args.to_vec(),
            });
        }
        if !replies_suppressed(client) {
            out.simple("QUEUED");
        }
        return Flow::Continue;
    }
    // Commands that touch arbitrary keys (and may expire several on the way) propagate
    // those DELs unwrapped when run directly, as Redis's `CMD_TOUCHES_ARBITRARY_KEYS`.
    if matches!(spec.name, "scan" | "randomkey") {
        srv.propagator.unit_without_multi();
    }
    call(srv, client, out, spec, args)
}

/// A command refused before execution: reply with the error, count it as rejected, and make
/// a surrounding MULTI fail with EXECABORT (Redis's `rejectCommand`).
fn reject(
    srv: &mut Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    spec: Option<&'static CommandSpec>,
    msg: &str,
) {
    if client.in_multi() {
        client.flags |= cflags::DIRTY_EXEC;
    }
    if let Some(c) = spec {
        srv.stats.cmd(c.id).rejected += 1;
    }
    // A refused EXEC discards the transaction and says why (Redis's `execCommandAbort`),
    // with or without a MULTI; "ERR " is not repeated after "because of:".
    let abort;
    let msg = if spec.is_some_and(|c| c.full_name == "exec") {
        super::multi::discard_transaction(client);
        super::multi::unwatch_all(srv, client);
        abort = format!(
            "EXECABORT Transaction discarded because of: {}",
            msg.strip_prefix("ERR ").unwrap_or(msg)
        );
        abort.as_str()
    } else {
        msg
    };
    srv.stats.count_error(msg);
    if !replies_suppressed(client) {
        out.error(msg);
    }
}

/// CLIENT REPLY OFF, or SKIP for this command: replies are dropped (pushes are not).
fn replies_suppressed(client: &Client) -> bool {
    client.replies_suppressed()
}

/// Execute a command that passed the checks (also used by EXEC for queued commands).
pub fn call(
    srv: &mut Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Flow {
    let dirty_before = srv.dirty;
    // A command starts when the previous one (or `process`) read the clock.
    let start = *srv.call.clock_hint.get_or_insert_with(Instant::now);
    // CLIENT REPLY OFF/SKIP: what the command writes is dropped if replies are off before
    // and after it runs (so CLIENT REPLY ON answers, and an EXEC keeps what its queued
    // commands wrote before one of them turned replies off).
    let mark = out.len();
    let suppressed_before = replies_suppressed(client);
    // Inside a command, the invalidations of its own client wait for its reply; a script's
    // reads track the keys its caller declared.
    srv.tracking.call_depth += 1;
    let outer_script = script_caller(srv, client, spec, args);
    let mut ctx = Ctx {
        srv,
        client,
        out,
        args,
        spec,
        propagate: Propagate::Args,
        push_mark: mark,
    };
    // The command boundary: a bug that panics inside a handler costs its client, not the
    // server (see `command_panicked`).
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::handler_of(spec)(&mut ctx)
    })) {
        Ok(r) => r,
        Err(payload) => {
            srv_stats_failed(ctx.srv, spec);
            ctx.srv.tracking.call_depth -= 1;
            if let Some(prev) = outer_script {
                ctx.srv.tracking.script = prev;
            }
            return command_panicked(
                ctx.srv,
                ctx.client,
                ctx.out,
                mark,
                spec.full_name,
                &*payload,
            );
        }
    };
    let propagate = std::mem::take(&mut ctx.propagate);
    let failed = if let Err(e) = result {
        let msg = e.to_string();
        ctx.srv.stats.count_error(&msg);
        ctx.out.error(&msg);
        true
    } else {
        false
    };
    let end = Instant::now();
    ctx.srv.call.clock_hint = Some(end);
    let elapsed_us = end.saturating_duration_since(start).as_micros() as u64;
    let push_mark = ctx.push_mark;
    let srv = ctx.srv;
    let client = ctx.client;
    let out = ctx.out;
    if suppressed_before && replies_suppressed(client) {
        out.buf.truncate(mark);
    } else if !srv.clients.pushes.is_empty() && !replies_suppressed(client) {
        // Pushes the command caused to its own client (a keyspace event, a message on a
        // channel it subscribes) and did not write itself: the events of keys its lookups
        // expired come before its reply (after the pushes it wrote), as Redis expires keys
        // at lookup; the others after it, as Redis notifies once it has replied (commands
        // that notify before replying write their events themselves, `Ctx::changed`).
        let early = srv.clients.pushes_early.min(srv.clients.pushes.len());
        let late = srv.clients.pushes.split_off(early);
        let reply = out.buf.split_off(push_mark);
        out.buf.extend_from_slice(&srv.clients.pushes);
        out.buf.unsplit(reply);
        out.buf.extend_from_slice(&late);
        srv.clients.pushes.clear();
    }
    srv.clients.pushes_early = 0;

    // Statistics. A blocked client's command run again when a key got data is the same
    // call: it adds time, not a call, and is not logged or shown to MONITOR again.
    let reprocessing = srv.call.reprocessing;
    let st = srv.stats.cmd(spec.id);
    st.usec += elapsed_us;
    if !reprocessing {
        st.calls += 1;
        srv.stats.total_commands_processed += 1;
    }
    if failed {
        srv.stats.cmd(spec.id).failed += 1;
    }
    // Latency tracking: a blocked command is recorded when it completes (Redis's
    // `updateStatsOnUnblock`), by the run that serves it.
    if srv.cfg.latency_tracking && !client.has(cflags::BLOCKED) {
        srv.stats
            .cmd(spec.id)
            .latency
            .get_or_insert_with(Default::default)
            .record(elapsed_us.saturating_mul(1000));
    }
    // The latency monitor, by Redis's rule: "fast-command" for commands flagged fast.
    let event = if spec.has(flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    srv.latency_sample(event, elapsed_us / 1000);

    // Slowlog.
    let slower = srv.cfg.slowlog_log_slower_than;
    if !reprocessing && slower >= 0 && elapsed_us >= slower as u64 && !spec.has(flags::SKIP_SLOWLOG)
    {
        let peer = client.addr.to_string();
        let cname = client.name.clone().unwrap_or_default();
        let max = srv.cfg.slowlog_max_len;
        let t = srv.now_ms / 1000;
        // ACL SETUSER's rules (passwords) are redacted, as Redis redacts them.
        if spec.full_name == "acl|setuser" {
            let mut shown: Vec<Bytes> = args.to_vec();
            for a in shown.iter_mut().skip(2) {
                *a = Bytes::from_static(b"(redacted)");
            }
            srv.slowlog.push(&shown, elapsed_us, t, peer, cname, max);
        } else {
            srv.slowlog.push(args, elapsed_us, t, peer, cname, max);
        }
    }

    // MONITOR.
    if !reprocessing
        && !srv.clients.monitors.is_empty()
        && !spec.has(flags::ADMIN)
        && !spec.has(flags::SKIP_MONITOR)
    {
        feed_monitors(srv, client, spec, args);
    }

    // Propagation of the effects.
    let db = client.db;
    match propagate {
        Propagate::Force => srv.propagator.feed(db, args),
        Propagate::ForceRepl => srv
            .propagator
            .feed_to(db, args, crate::propagate::target::REPL),
        // Only a command that changed data (dirty grew: SAVE lowers it) propagates.
        _ if srv.dirty <= dirty_before => {}
        Propagate::Args => srv.propagator.feed(db, args),
        Propagate::Commands(cmds) => {
            for c in cmds {
                srv.propagator.feed(db, &c);
            }
        }
        Propagate::Nothing => {}
    }
    srv.tracking.call_depth -= 1;
    if let Some(prev) = outer_script {
        srv.tracking.script = prev;
    }
    // Client-side caching: the keys a read command fetched may now be cached by its client
    // (Redis's `trackingRememberKeys`, for read-only commands other than the read-only
    // script commands, whose reads inside count).
    if srv.tracking.active()
        && spec.has(flags::READONLY)
        && !matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        remember_read_keys(srv, client, spec, args);
    }
    Flow::Continue
}

/// A script command by a client: its caller and declared keys become the tracking state's
/// script context for the commands it runs. Returns the context it replaces.
fn script_caller(
    srv: &mut Server,
    client: &Client,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Option<Option<crate::tracking::ScriptCaller>> {
    if !srv.tracking.active()
        || client.id == crate::client::SCRIPT_CLIENT_ID
        || !matches!(
            spec.name,
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
        )
    {
        return None;
    }
    let keys = if srv.tracking.wants_keys(client.id) {
        key_args(spec, args)
    } else {
        Vec::new()
    };
    let ctx = crate::tracking::ScriptCaller {
        id: client.id,
        keys,
    };
    Some(srv.tracking.script.replace(ctx))
}

/// The key arguments of a command, by its key specs (Redis's `getKeysFromCommand`).
fn key_args(spec: &'static CommandSpec, args: &[Bytes]) -> Vec<Bytes> {
    super::getkeys::key_positions(spec, args)
        .into_iter()
        .map(|(i, _)| args[i].clone())
        .collect()
}

/// Remember the keys a read command fetched for its client, or for the script's caller.
fn remember_read_keys(
    srv: &mut Server,
    client: &Client,
    spec: &'static CommandSpec,
    args: &[Bytes],
) {
    if client.id == crate::client::SCRIPT_CLIENT_ID {
        if let Some(sc) = srv.tracking.script.as_ref().filter(|s| !s.keys.is_empty()) {
            let (id, keys) = (sc.id, sc.keys.clone());
            srv.tracking.remember(id, &keys);
        }
        return;
    }
    // Shard channels are keys to COMMAND, not cached data.
    if !srv.tracking.wants_keys(client.id) || spec.has(flags::PUBSUB) {
        return;
    }
    let keys = key_args(spec, args);
    srv.tracking.remember(client.id, &keys);
}

/// A handler panicked (a bug). Redis would crash; picket keeps serving everyone else:
/// - the panicking command propagates nothing (what it did before panicking is unknown);
/// - the commands that completed before it in the same execution unit (an EXEC's earlier
///   commands, keys expired on the way) stay in the unit, which the caller closes as usual,
///   so replicas and the AOF get them as one MULTI/EXEC, as the dataset has them;
/// - nothing after it runs: EXEC stops at it, and its client is closed after an error reply
///   that replaces whatever the command had written.
///
/// The lock is held by the caller and never poisoned: the panic stops here.
fn command_panicked(
    srv: &mut Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    mark: usize,
    name: &str,
    payload: &(dyn std::any::Any + Send),
) -> Flow {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    tracing::error!(
        "Internal error executing '{name}' for client {}: {what}. The client is closed; the command's own effects are not propagated to replicas and the AOF, and the keys it touched may hold part of them.",
        client.info_line(srv.clock.now())
    );
    srv.call.clock_hint = Some(Instant::now());
    let msg = format!(
        "ERR internal error executing '{name}', the connection is closed (see the server log)"
    );
    srv.stats.count_error(&msg);
    // What the command wrote before it panicked is not a reply.
    out.buf.truncate(mark);
    out.error(&msg);
    client.flags |= cflags::CLOSE_AFTER_REPLY;
    Flow::Close
}

fn srv_stats_failed(srv: &mut Server, spec: &CommandSpec) {
    let st = srv.stats.cmd(spec.id);
    st.calls += 1;
    st.failed += 1;
    srv.stats.total_commands_processed += 1;
}

/// MONITOR's line: `+<unix s>.<us> [<db> <addr>] "arg" ...`.
pub(crate) fn feed_monitors(srv: &mut Server, client: &Client, spec: &CommandSpec, args: &[Bytes]) {
    let us = srv.clock.unix_us();
    // A script's commands show as Redis shows them: from `lua`.
    let from = if client.id == crate::client::SCRIPT_CLIENT_ID {
        "lua".to_string()
    } else {
        client.addr.to_string()
    };
    let mut line = format!(
        "{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        client.db,
        from
    );
    let redact = matches!(spec.name, "auth" | "hello") || spec.name == "migrate";
    for (i, a) in args.iter().enumerate() {
        line.push(' ');
        if (redact && i > 0 && (spec.name == "auth" || is_hello_secret(args, i)))
            || (spec.full_name == "acl|setuser" && i >= 2)
        {
            line.push_str("\"(redacted)\"");
        } else {
            line.push_str(&repr(a));
        }
    }
    // MONITOR lines are replies: a monitor with CLIENT REPLY OFF (or SKIP) gets none.
    let ids: Vec<_> = srv
        .clients
        .monitors
        .iter()
        .copied()
        .filter(|&id| {
            if id == client.id {
                !client.replies_suppressed()
            } else {
                srv.clients
                    .get(&id)
                    .is_some_and(|c| !c.replies_suppressed())
            }
        })
        .collect();
    for id in ids {
        srv.data().deliver(id, &|o: &mut ReplyBuf| o.simple(&line));
    }
}

fn is_hello_secret(args: &[Bytes], i: usize) -> bool {
    // HELLO <ver> AUTH <user> <pass>: the user and password are redacted.
    args.iter()
        .position(|a| a.eq_ignore_ascii_case(b"auth"))
        .is_some_and(|p| i == p + 1 || i == p + 2)
}

/// The message for an unknown command, as Redis 7.0 formats it: arguments quoted, the list
/// cut once it reaches 128 bytes.
pub fn unknown_command(args: &[Bytes]) -> CmdError {
    let mut list: Vec<u8> = Vec::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    CmdError::Reply(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        shown(&args[0]),
        String::from_utf8_lossy(&list)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::client::Queued;
    use crate::command::{lookup, CmdResult};
    use crate::testkit::TestServer;

    /// SET, changed to panic once it has written its key.
    fn set_then_panic(ctx: &mut Ctx) -> CmdResult {
        super::super::strings::set(ctx)?;
        panic!("injected bug");
    }

    fn panicking_set() -> &'static CommandSpec {
        let set = lookup(b"set").expect("set");
        let id = crate::command::test_handlers::add(set_then_panic);
        Box::leak(Box::new(CommandSpec { id, ..*set }))
    }

    #[test]
    fn a_panicking_command_costs_its_client_only() {
        let mut t = TestServer::new(&[]);
        let a = t.connect();
        let b = t.connect();
        let boom = panicking_set();
        let mut c = t.srv.clients.remove(&a).expect("client");
        let mut out = ReplyBuf::default();
        let args: Vec<Bytes> = ["SET", "x", "1"].iter().map(|s| Bytes::from(*s)).collect();
        let flow = call(&mut t.srv, &mut c, &mut out, boom, &args);
        assert_eq!(flow, Flow::Close);
        assert!(c.has(cflags::CLOSE_AFTER_REPLY));
        assert_eq!(
            String::from_utf8_lossy(&out.take()),
            "-ERR internal error executing 'set', the connection is closed (see the server log)\r\n"
        );
        t.srv.clients.insert(a, c);
        // Its own effect is not propagated; the server goes on for everyone else.
        assert!(t.propagated().is_empty());
        assert_eq!(t.line(b, "SET y 2"), "+OK\r\n");
        assert_eq!(t.propagated(), vec!["SET y 2"]);
        assert!(t.line(b, "INFO stats").contains("total_error_replies:1"));
    }

    #[test]
    fn a_panic_inside_exec_propagates_the_completed_part_whole_and_runs_no_more() {
        let mut t = TestServer::new(&[]);
        let a = t.connect();
        let b = t.connect();
        assert_eq!(t.line(a, "MULTI"), "+OK\r\n");
        assert_eq!(t.line(a, "SET x 1"), "+QUEUED\r\n");
        assert_eq!(t.line(a, "INCR n"), "+QUEUED\r\n");
        let boom = panicking_set();
        let args: Vec<Bytes> = ["SET", "z", "3"].iter().map(|s| Bytes::from(*s)).collect();
        t.srv
            .clients
            .get_mut(&a)
            .expect("client")
            .multi
            .push(Queued { spec: boom, args });
        assert_eq!(t.line(a, "SET after 4"), "+QUEUED\r\n");
        let reply = t.line(a, "EXEC");
        assert_eq!(
            reply,
            "*4\r\n+OK\r\n:1\r\n-ERR internal error executing 'set', the connection is closed (see the server log)\r\n"
        );
        assert!(t
            .srv
            .clients
            .get(&a)
            .expect("client a")
            .has(cflags::CLOSE_AFTER_REPLY));
        // The stream has what the dataset has from the completed commands, as one
        // transaction; the panicking command and the ones after it are not there.
        assert_eq!(t.propagated(), vec!["MULTI", "SET x 1", "INCR n", "EXEC"]);
        assert_eq!(t.line(b, "GET after"), "$-1\r\n");
        assert_eq!(t.line(b, "GET x"), "$1\r\n1\r\n");
        // The next unit starts clean.
        assert_eq!(t.line(b, "SET w 5"), "+OK\r\n");
        assert_eq!(t.propagated(), vec!["SET w 5"]);
    }
}
