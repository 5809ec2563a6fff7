//! DEBUG RELOAD and DEBUG LOADAOF: a round trip of the dataset through its files, under
//! the lock (the server stops meanwhile, as Redis does).
//!
//! Neither is propagated: the data is what the files hold, which replicas and the AOF
//! already have (or, with NOSAVE, a divergence the caller asked for, as in Redis).

use super::super::{CmdError, CmdResult, Ctx};
use crate::persist::loader::{
    allow_resizing, apply_item, end_of_commands, CommandLoad, Progress, Source, State,
};
use crate::persist::rdb::read::Parser;
use crate::server::Server;

/// Redis 7.0's reply when the RDB cannot be loaded back.
const RDB_LOAD_ERROR: &str = "ERR Error trying to load the RDB dump";
/// Redis exits when the AOF cannot be loaded; picket answers this instead (the details are
/// in the log).
const AOF_LOAD_ERROR: &str = "ERR Error trying to load the append only file, check the server logs";

/// RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the RDB (unless NOSAVE), empty the dataset
/// (unless NOFLUSH), and load the RDB. A key of the file that is already in memory (with
/// NOFLUSH) replaces it with MERGE; without MERGE, Redis stops the server, picket stops
/// loading and answers the load error (the keys loaded until then stay).
pub fn reload(ctx: &mut Ctx) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in &ctx.args[2..] {
        if opt.eq_ignore_ascii_case(b"merge") {
            merge = true;
        } else if opt.eq_ignore_ascii_case(b"noflush") {
            flush = false;
        } else if opt.eq_ignore_ascii_case(b"nosave") {
            save = false;
        } else {
            return Err(CmdError::err(
                "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let srv = &mut *ctx.srv;
    if save && crate::persist::save::save_now(srv).is_err() {
        // Redis's `shared.err`: a bare `-ERR` (the log says why).
        return Err(CmdError::Reply("ERR".into()));
    }
    if flush {
        empty_all(srv);
    }
    let path = crate::persist::save::rdb_path(srv);
    // Loading keys signals no waiting client (as Redis's `dbAddRDBLoad`): a client blocked
    // on a list the file brings back waits for the next push.
    let loaded = match std::fs::read(&path) {
        Ok(data) => load_rdb(srv, &data, merge),
        Err(e) => Err(format!(
            "Fatal error loading the DB from {}: {e}",
            path.display()
        )),
    };
    if let Err(e) = loaded {
        tracing::warn!("DEBUG RELOAD: {e}");
        return Err(CmdError::Reply(RDB_LOAD_ERROR.into()));
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

/// LOADAOF: write what the AOF buffer holds, empty the dataset, and run the AOF (its base
/// and incremental files, as the manifest on disk lists them) again. It works with the AOF
/// off too, from the files a previous run left, as in Redis. Where Redis exits (no AOF to
/// load, a corrupt one), picket answers an error: with nothing to load the dataset is left
/// as it was; a corrupt file leaves what was loaded before the fault.
pub fn loadaof(ctx: &mut Ctx) -> CmdResult {
    let srv = &mut *ctx.srv;
    if srv.persistence.aof.is_some() {
        crate::persist::aof::flush(srv);
    }
    let (sources, manifest) = match crate::persist::aof_sources(srv) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("DEBUG LOADAOF: {e}");
            return Err(CmdError::Reply(AOF_LOAD_ERROR.into()));
        }
    };
    if sources.is_empty() && manifest.is_none() {
        tracing::warn!(
            "DEBUG LOADAOF: there is no append only file in {}",
            crate::persist::aof::aof_dir(srv).display()
        );
        return Err(CmdError::Reply(AOF_LOAD_ERROR.into()));
    }
    empty_all(srv);
    let held = hold_clients(srv);
    let suspended = srv.propagator.suspend();
    let executing = srv.clients.suspend_running();
    let result = load_sources(srv, sources);
    srv.clients.resume_running(executing);
    srv.propagator.resume(suspended);
    release_clients(srv, held);
    if let Err(e) = result {
        tracing::warn!("DEBUG LOADAOF: {e}");
        return Err(CmdError::Reply(AOF_LOAD_ERROR.into()));
    }
    // What was loaded is what the AOF has: nothing to save or propagate.
    srv.dirty = 0;
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    ctx.out.ok();
    Ok(())
}

/// Redis's `emptyData`: every database emptied, the keys clients watch touched, the
/// functions gone.
fn empty_all(srv: &mut Server) {
    for db in 0..srv.keyspace.dbs.len() {
        srv.data().touch_all_watched(db, None);
        srv.keyspace.dbs[db].clear();
    }
    srv.data().signal_flushed();
    srv.functions.clear();
}

/// Clients that must not see the AOF's commands run: those blocked on keys (served after
/// the command instead, if their keys then have data, as Redis serves them after DEBUG
/// LOADAOF) and MONITORs (the loaded commands are not commands clients sent).
struct Held {
    blocking: std::collections::BTreeMap<(usize, bytes::Bytes), crate::blocking::Queue>,
    monitors: std::collections::BTreeSet<crate::client::ClientId>,
}

fn hold_clients(srv: &mut Server) -> Held {
    Held {
        blocking: std::mem::take(&mut srv.keyspace.blocking),
        monitors: std::mem::take(&mut srv.clients.monitors),
    }
}

fn release_clients(srv: &mut Server, held: Held) {
    srv.keyspace.blocking = held.blocking;
    srv.clients.monitors = held.monitors;
    for db in 0..srv.keyspace.dbs.len() {
        srv.keyspace.signal_ready_db(db);
    }
}

/// Load an RDB file's keys into the databases (a key already there is replaced when
/// `merge`, else an error).
fn load_rdb(srv: &mut Server, data: &[u8], merge: bool) -> Result<(), String> {
    let mut parser = Parser::new(data).map_err(|e| format!("Bad RDB format: {e}"))?;
    parser.skip_checksum = srv.debug.skip_checksum_validation;
    let mut st = State::new(srv.repl.is_replica());
    st.allow_dup = merge;
    let result = (|| loop {
        let at = parser.offset();
        match parser.next_item() {
            None => return Ok(()),
            Some(Err(e)) => return Err(format!("Bad RDB format: {e}")),
            Some(Ok(item)) => apply_item(srv, &mut st, item, at, data.len())?,
        }
    })();
    allow_resizing(srv);
    srv.persistence.rdb.last_load_keys_loaded = st.loaded;
    srv.persistence.rdb.last_load_keys_expired = st.expired;
    result?;
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        st.loaded,
        st.expired
    );
    Ok(())
}

/// Run the files of an AOF: an RDB preamble (base) is loaded as keys, commands go through
/// the command pipeline as the loader's client.
fn load_sources(srv: &mut Server, sources: Vec<Source>) -> Result<(), String> {
    let truncated_ok = srv.cfg.persist.aof_load_truncated;
    for source in sources {
        match source {
            Source::Rdb { path, data } => load_rdb(srv, &data, false)
                .map_err(|e| format!("{e} in the append only file {}", path.display()))?,
            Source::Commands { path, data, last } => {
                let mut load = CommandLoad::new(srv, crate::command::reentry::PIPELINE, &data);
                loop {
                    match load.run(srv, &path, 0, usize::MAX) {
                        Progress::More => {}
                        Progress::End => break,
                        Progress::Failed(e) => return Err(e),
                    }
                }
                end_of_commands(
                    &path,
                    data.len(),
                    load.consumed,
                    last,
                    load.multi_start,
                    truncated_ok,
                )?;
            }
        }
    }
    Ok(())
}
