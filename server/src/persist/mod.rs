//! Persistence: RDB snapshots and the append-only file.

pub mod aof;
pub mod aof_commands;
pub mod aof_file;
pub mod aof_rewrite;
pub mod bgfile;
pub mod config;
pub mod load;
pub mod loader;
pub mod rdb;
pub mod save;
pub mod snapshot;
pub mod state;
pub mod stream_load;

use crate::server::Server;

/// What to load at start-up: the AOF (base and incremental files) when `appendonly` is on,
/// else the RDB if it exists. With the AOF on, the second element is its manifest (None
/// when there is no AOF yet: it is created after loading). Nothing to do for a fresh server
/// without AOF.
#[allow(clippy::type_complexity)]
pub fn startup_sources(
    srv: &Server,
) -> Result<Option<(Vec<loader::Source>, Option<Option<aof::Manifest>>)>, String> {
    if srv.cfg.persist.appendonly {
        let (sources, manifest) = aof_sources(srv)?;
        return Ok(Some((sources, Some(manifest))));
    }
    let rdb = save::rdb_path(srv);
    match std::fs::read(&rdb) {
        Ok(data) => Ok(Some((vec![loader::Source::Rdb { path: rdb, data }], None))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "Fatal error loading the DB from {}: {e}. Exiting.",
            rdb.display()
        )),
    }
}

/// The files of the AOF in `appenddirname` (base, then incremental files), as its manifest
/// lists them, and the manifest; or Redis 6's single-file AOF in `dir` when there is no
/// manifest (no sources at all when neither exists).
#[allow(clippy::type_complexity)]
pub fn aof_sources(srv: &Server) -> Result<(Vec<loader::Source>, Option<aof::Manifest>), String> {
    let dir = aof::aof_dir(srv);
    let name = &srv.cfg.persist.appendfilename;
    let manifest = aof::Aof::read_manifest(&dir, name).map_err(|e| e.to_string())?;
    let mut sources = Vec::new();
    if let Some(m) = &manifest {
        let files: Vec<&aof::AofFile> = m.base.iter().chain(m.incrs.iter()).collect();
        for (i, f) in files.iter().enumerate() {
            let p = dir.join(&f.name);
            match std::fs::read(&p) {
                Ok(data) => sources.push(loader::Source::aof_file(p, data, i + 1 == files.len())),
                // An incremental file created just before a crash may not exist yet.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && f.kind == 'i' => {}
                Err(e) => {
                    return Err(format!(
                        "Fatal error loading the append only file {}: {e}",
                        p.display()
                    ))
                }
            }
        }
    } else {
        // Redis 6's single-file AOF in `dir`: load it; the multi-part AOF starts from it.
        let old = std::path::Path::new(&srv.cfg.dir).join(name);
        if old.exists() {
            tracing::info!("Loading the old single-file AOF {}", old.display());
            let data = std::fs::read(&old).map_err(|e| {
                format!(
                    "Fatal error loading the DB from {}: {e}. Exiting.",
                    old.display()
                )
            })?;
            sources.push(loader::Source::aof_file(old, data, true));
        }
    }
    Ok((sources, manifest))
}
