//! LATENCY: the latency monitor's events (LATEST, HISTORY, GRAPH, DOCTOR, RESET) and latency
//! tracking's histograms (HISTOGRAM), as Redis 7.0's `latencyCommand` (crate::latency).

use super::client_cmd::help_reply;
use super::{all_commands, lookup_sub, CmdError, CmdResult, CommandSpec, Ctx};
use crate::latency::report;
use crate::persist::aof_file::Fsync;

fn now_s(ctx: &Ctx) -> i64 {
    (ctx.srv.clock.unix_ms() / 1000) as i64
}

/// LATENCY LATEST: per event, its name, the latest sample's time and latency, and the worst.
pub fn latest(ctx: &mut Ctx) -> CmdResult {
    let out = &mut *ctx.out;
    out.array(ctx.srv.latency.events.len());
    for (event, ts) in &ctx.srv.latency.events {
        let last = ts.latest();
        out.array(4);
        out.bulk_str(event);
        out.int(last.time);
        out.int(last.latency as i64);
        out.int(ts.max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: the event's samples, oldest first (none for an unknown event).
pub fn history(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(&ctx.args[2]);
    let out = &mut *ctx.out;
    match ctx.srv.latency.events.get(name.as_ref()) {
        None => out.array(0),
        Some(ts) => {
            let samples: Vec<_> = ts.samples().collect();
            out.array(samples.len());
            for s in samples {
                out.array(2);
                out.int(s.time);
                out.int(s.latency as i64);
            }
        }
    }
    Ok(())
}

/// LATENCY GRAPH event: the ASCII graph of the event's samples.
pub fn graph(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
    let now = now_s(ctx);
    let Some(ts) = ctx.srv.latency.events.get(name.as_str()) else {
        return Err(CmdError::err(format!(
            "No samples available for event '{name}'"
        )));
    };
    let text = report::graph(&name, ts, now);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR: the human-readable report.
pub fn doctor(ctx: &mut Ctx) -> CmdResult {
    let cx = report::DoctorContext {
        now_s: now_s(ctx),
        threshold_ms: ctx.srv.cfg.latency_monitor_threshold,
        slowlog_log_slower_than: ctx.srv.cfg.slowlog_log_slower_than,
        appendfsync_always: ctx.srv.cfg.persist.appendfsync == Fsync::Always,
        hz: ctx.srv.cfg.hz,
    };
    let text = report::doctor(&ctx.srv.latency, cx);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// LATENCY RESET [event ...]: forget the named events (every event without names); how many.
pub fn reset(ctx: &mut Ctx) -> CmdResult {
    let n = if ctx.args.len() == 2 {
        ctx.srv.latency.reset(None)
    } else {
        let mut n = 0;
        for e in &ctx.args[2..] {
            n += ctx.srv.latency.reset(Some(e));
        }
        n
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The command a HISTOGRAM argument names (`lookupCommandBySds`): `name` or `name|sub`.
fn named(ctx: &Ctx, arg: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = arg.split(|&b| b == b'|');
    let base = ctx.srv.config.renames.lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) => lookup_sub(base, sub),
        _ => None,
    }
}

/// `fillCommandCDF`: the calls and the cumulative power-of-two buckets of one command.
fn fill_cdf(ctx: &mut Ctx, name: &str, calls: u64, cdf: &[(u64, u64)]) {
    let out = &mut *ctx.out;
    out.bulk_str(name);
    out.map(2);
    out.bulk_str("calls");
    out.int(calls as i64);
    out.bulk_str("histogram_usec");
    out.map(cdf.len());
    for &(usec, count) in cdf {
        out.int(usec as i64);
        out.int(count as i64);
    }
}

/// LATENCY HISTOGRAM [command ...]: per command with recorded latencies (all of them without
/// names; a container's subcommands for its name; unknown names skipped), in name order.
pub fn histogram(ctx: &mut Ctx) -> CmdResult {
    let mut specs: Vec<&'static CommandSpec> = Vec::new();
    if ctx.args.len() == 2 {
        specs.extend(all_commands());
        specs.sort_by_key(|c| c.full_name);
    } else {
        for a in &ctx.args[2..] {
            let Some(c) = named(ctx, a) else { continue };
            specs.push(c);
            let mut subs: Vec<_> = c.subcommands.iter().collect();
            subs.sort_by_key(|s| s.full_name);
            specs.extend(subs);
        }
    }
    type Cdf = (&'static str, u64, Vec<(u64, u64)>);
    let with_data: Vec<Cdf> = specs
        .into_iter()
        .filter_map(|c| {
            let h = ctx.srv.stats.commands.get(c.id)?.latency.as_ref()?;
            Some((c.full_name, h.total(), h.cdf_usec()))
        })
        .collect();
    ctx.out.map(with_data.len());
    for (name, calls, cdf) in &with_data {
        fill_cdf(ctx, name, *calls, cdf);
    }
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}
