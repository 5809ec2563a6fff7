//! CONFIG SET applied to the running server: the directive table checks and stores the
//! values (`crate::config`), then each change takes effect here, where the engines it
//! reaches (the AOF, the replicas' accounting, the slow log) are below.

use std::path::Path;

use picket_common::config::Value;

use crate::config::{compat, Allow};
use crate::server::Server;

/// CONFIG SET name value [name value ...]: all or nothing, then refresh the typed settings.
pub fn config_set(
    srv: &mut Server,
    pairs: &[(String, String)],
    local_client: bool,
) -> Result<(), String> {
    let allow_protected = match srv.cfg.enable_protected_configs {
        Allow::Yes => true,
        Allow::Local => local_client,
        Allow::No => false,
    };
    // Redis's DENY_LOADING_CONFIG: switching the AOF on (its base would miss the keys not
    // loaded yet) or moving `dir` while the dataset loads.
    if srv.persistence.rdb.loading
        && pairs
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("appendonly") || k.eq_ignore_ascii_case("dir"))
    {
        return Err("LOADING Redis is loading the dataset in memory".to_string());
    }
    // TLS (Redis's applyTLSPort and applyTlsCfg): the new configuration is made from the
    // values the command would leave before any is stored, so a bad one changes nothing.
    // It is in force before the values are (a TLS listener opened below uses it).
    let new_tls = plan_tls(srv, pairs, allow_protected)?;
    let old_tls = new_tls.as_ref().map(|_| srv.process.tls.get().tls);
    if let Some(t) = &new_tls {
        srv.process.tls.set_tls(Some(t.clone()));
    }
    let on_loglevel = srv.config.on_loglevel.take();
    let on_maxclients = srv.config.on_maxclients.take();
    let on_listen = srv.config.on_listen.take();
    let mut bound: Option<Vec<std::net::SocketAddr>> = None;
    let mut tls_bound: Option<Vec<std::net::SocketAddr>> = None;
    let result = srv
        .config
        .store
        .set_checked(pairs, allow_protected, |name, value| {
            match (name, value) {
                ("dir", Value::Str(d)) if !Path::new(d).is_dir() => {
                    return Err("No such file or directory".to_string());
                }
                ("loglevel", Value::Str(level)) => {
                    if let Some(f) = &on_loglevel {
                        f(level);
                    }
                }
                ("maxclients", Value::Int(n)) => {
                    if let Some(f) = &on_maxclients {
                        f(u64::try_from(*n).unwrap_or(1))?;
                    }
                }
                ("port", Value::Int(n)) => {
                    if let Some(f) = &on_listen {
                        if let Some(addrs) = f(false, u16::try_from(*n).unwrap_or(0))? {
                            bound = Some(addrs);
                        }
                    }
                }
                ("tls-port", Value::Int(n)) => {
                    if let Some(f) = &on_listen {
                        if let Some(addrs) = f(true, u16::try_from(*n).unwrap_or(0))? {
                            tls_bound = Some(addrs);
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        });
    srv.config.on_loglevel = on_loglevel;
    srv.config.on_maxclients = on_maxclients;
    srv.config.on_listen = on_listen;
    if let Some(addrs) = bound {
        srv.process.bound = addrs;
    }
    if let Some(addrs) = tls_bound {
        srv.process.tls_bound = addrs;
    }
    let changed = match result {
        Ok(c) => c,
        Err(e) => {
            if let Some(old) = old_tls {
                srv.process.tls.set_tls(old);
            }
            return Err(e.to_string());
        }
    };
    if new_tls.is_some() {
        tracing::info!(
            "TLS configuration applied: new TLS connections use it, open ones keep theirs"
        );
    }
    for name in &changed {
        let inert = srv
            .config
            .store
            .find(name)
            .map(|(d, _)| d.doc.starts_with(compat::INERT));
        if inert == Some(true) {
            let shown = srv.config.store.display(name).unwrap_or_default();
            tracing::info!("CONFIG SET {name} {shown}: accepted, but it has no effect in picket");
        }
    }
    // The AOF switch below reads the new persistence settings (appendfsync...).
    srv.cfg.persist = crate::persist::config::PersistSettings::from_store(&srv.config.store);
    if changed.contains(&"appendonly") {
        let on = srv.cfg.persist.appendonly;
        if let Err(e) = crate::persist::aof::set_enabled(srv, on) {
            let back = if on { "no" } else { "yes" };
            let _ = srv.config.store.set_checked(
                &[("appendonly".to_string(), back.to_string())],
                true,
                |_, _| Ok(()),
            );
            srv.cfg = srv.config.settings();
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
            ));
        }
    }
    // requirepass is the default user's password (Redis's `ACLUpdateDefaultUserPassword`).
    if changed.contains(&"requirepass") {
        let pass = srv.config.store.get_str("requirepass").to_string();
        srv.acl
            .set_default_password((!pass.is_empty()).then_some(pass.as_bytes()));
    }
    if changed.contains(&"hz") {
        srv.config.clamp_hz();
    }
    if changed.contains(&"repl-backlog-size") {
        srv.config.clamp_backlog_size();
    }
    srv.cfg = srv.config.settings();
    srv.acl.pubsub_default_all = srv.cfg.acl_pubsub_default_all;
    srv.process
        .tls
        .set_handshake_timeout(srv.cfg.tls_handshake_timeout);
    if changed.contains(&"repl-backlog-size") {
        let size = srv.cfg.repl.backlog_size;
        if let Some(b) = srv.repl.backlog.as_mut() {
            b.resize(size);
        }
    }
    if changed.contains(&"min-replicas-to-write") || changed.contains(&"min-replicas-max-lag") {
        crate::replication::master::refresh_good_replicas(srv);
    }
    if changed.contains(&"slowlog-max-len") {
        let max = srv.cfg.slowlog_max_len;
        srv.slowlog.trim(max);
    }
    Ok(())
}

/// The TLS configuration that CONFIG SET `pairs` calls for, made from the values they would
/// leave (None: TLS is not reconfigured), or Redis's error when it cannot be made (the
/// reason is logged, as Redis logs it). Redis reconfigures when a `tls-*` file or setting
/// changes while TLS is on (`applyTlsCfg`), and when `tls-port` opens a listener before
/// anything configured TLS (`applyTLSPort`); the argument named is the first such change.
fn plan_tls(
    srv: &Server,
    pairs: &[(String, String)],
    allow_protected: bool,
) -> Result<Option<picket_common::tls::Tls>, String> {
    if !pairs
        .iter()
        .any(|(k, _)| k.len() > 4 && k[..4].eq_ignore_ascii_case("tls-"))
    {
        return Ok(None);
    }
    let mut trial = srv.config.store.clone();
    // A value the table refuses is reported by the real CONFIG SET that follows.
    let Ok(changed) = trial.set_checked(pairs, allow_protected, |_, _| Ok(())) else {
        return Ok(None);
    };
    let opens_port = trial.get_int("tls-port") != 0 && !srv.process.tls.configured();
    let trigger = changed.iter().find(|n| {
        (crate::tls::RECONFIGURED_BY.contains(n) && crate::tls::enabled(&trial))
            || (**n == "tls-port" && opens_port)
    });
    let Some(name) = trigger else {
        return Ok(None);
    };
    match crate::tls::configure(&trial) {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            tracing::warn!("{e}");
            tracing::warn!("Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings.");
            Err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {}",
                crate::tls::UPDATE_FAILED
            ))
        }
    }
}
