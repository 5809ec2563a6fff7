//! REPLICAOF/SLAVEOF, ROLE, and the commands replicas send (SYNC, PSYNC, REPLCONF) and
//! WAIT, whose logic lives in `crate::replication`.

use super::args::{is, parse_i64};
use super::{CmdError, CmdResult, Ctx};
use crate::replication::{master, replica};

pub use crate::replication::fence::replfence;
pub use master::{psync, replconf, sync, wait};

/// REPLICAOF host port | NO ONE (and SLAVEOF).
pub fn replicaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.has(crate::client::cflags::REPLICA) {
        return Err(CmdError::err(
            "Command is not valid when client is a replica.",
        ));
    }
    let who = ctx.client.info_line(ctx.srv.clock.now());
    if is(&ctx.args[1], "no") && is(&ctx.args[2], "one") {
        if ctx.srv.repl.is_replica() {
            replica::unset_master(ctx.srv);
            tracing::info!("MASTER MODE enabled (user request from '{who}')");
        }
        ctx.out.simple("OK");
        return Ok(());
    }
    let port = parse_i64(&ctx.args[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| CmdError::err("Invalid master port"))?;
    let host = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    if !replica::set_master(ctx.srv, &host, port as u16) {
        tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    tracing::info!("REPLICAOF {host}:{port} enabled (user request from '{who}')");
    ctx.out.simple("OK");
    Ok(())
}

/// ROLE: `master offset [[ip port offset] ...]` or `slave host port state offset`.
pub fn role(ctx: &mut Ctx) -> CmdResult {
    let srv = &*ctx.srv;
    match &srv.repl.master {
        None => {
            let rows: Vec<_> = master::replica_rows(srv)
                .into_iter()
                .filter(|r| r.2 == master::RState::Online)
                .collect();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(srv.repl.offset as i64);
            ctx.out.array(rows.len());
            for (ip, port, _, off, _) in rows {
                ctx.out.array(3);
                ctx.out.bulk(ip.as_bytes());
                ctx.out.bulk(port.to_string().as_bytes());
                ctx.out.bulk(off.to_string().as_bytes());
            }
        }
        Some(m) => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(m.host.as_bytes());
            ctx.out.int(m.port as i64);
            ctx.out.bulk(m.state.name().as_bytes());
            let off = if m.has_client {
                srv.repl.offset as i64
            } else {
                -1
            };
            ctx.out.int(off);
        }
    }
    Ok(())
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]
pub fn failover(ctx: &mut Ctx) -> CmdResult {
    crate::replication::failover::failover(ctx)
}
