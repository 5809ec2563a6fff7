//! TLS in picket-server, as Redis 7.0: the `tls-*` directives make a
//! [`picket_common::tls::Tls`] (both sides: the `tls-port` listener and the replication
//! link), at start-up when TLS is on (`tls-port`, `tls-replication` or `tls-cluster`, as
//! Redis's `initServer`), and again on CONFIG SET of any of them (Redis's `applyTlsCfg`):
//! all or nothing, a bad new configuration leaves the old one in force.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use picket_common::config::ConfigStore;
use picket_common::tls::{AuthClients, Tls, TlsSettings};

/// Redis's reply when CONFIG SET cannot reconfigure TLS (the reason goes to the log).
pub const UPDATE_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

/// Redis's reply when CONFIG SET tls-port cannot listen on the new port.
pub const LISTEN_FAILED: &str = "Unable to listen on this port. Check server logs.";

/// The directives whose change reconfigures TLS (Redis's `applyTlsCfg` rows). Redis reads
/// `tls-auth-clients` per connection; here it is part of the server's configuration, so it
/// reconfigures too.
pub const RECONFIGURED_BY: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-dh-params-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-protocols",
    "tls-ciphers",
    "tls-ciphersuites",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
    "tls-cluster",
    "tls-replication",
    "tls-auth-clients",
];

/// What a TLS handshake starting now uses: the configuration in force and the time it may
/// take (`tls-handshake-timeout`). Kept beside the server lock, not under it, so that a
/// connection accepted while a script holds the lock can still be handshaken.
#[derive(Debug, Clone, Default)]
pub struct InForce {
    pub tls: Option<Tls>,
    pub handshake_timeout: Duration,
}

/// The shared [`InForce`] (the server's `process.tls`, the runtime's copy of the `Arc`).
#[derive(Debug, Clone, Default)]
pub struct Current(Arc<RwLock<InForce>>);

impl Current {
    pub fn get(&self) -> InForce {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }
    pub fn set_tls(&self, tls: Option<Tls>) {
        match self.0.write() {
            Ok(mut g) => g.tls = tls,
            Err(e) => e.into_inner().tls = tls,
        }
    }
    pub fn set_handshake_timeout(&self, t: Duration) {
        match self.0.write() {
            Ok(mut g) => g.handshake_timeout = t,
            Err(e) => e.into_inner().handshake_timeout = t,
        }
    }
    /// Whether a configuration is in force (Redis's `isTlsConfigured`).
    pub fn configured(&self) -> bool {
        self.get().tls.is_some()
    }
}

/// Whether the configuration turns TLS on (Redis: `tls_port || tls_replication ||
/// tls_cluster`).
pub fn enabled(store: &ConfigStore) -> bool {
    store.get_int("tls-port") != 0
        || store.get_bool("tls-replication")
        || store.get_bool("tls-cluster")
}

/// The `tls-*` directives as [`TlsSettings`].
pub fn settings(store: &ConfigStore) -> TlsSettings {
    let opt = |name: &str| {
        let v = store.get_str(name);
        (!v.is_empty()).then(|| v.to_string())
    };
    TlsSettings {
        cert_file: opt("tls-cert-file"),
        key_file: opt("tls-key-file"),
        key_file_pass: opt("tls-key-file-pass"),
        client_cert_file: opt("tls-client-cert-file"),
        client_key_file: opt("tls-client-key-file"),
        client_key_file_pass: opt("tls-client-key-file-pass"),
        ca_cert_file: opt("tls-ca-cert-file"),
        ca_cert_dir: opt("tls-ca-cert-dir"),
        auth_clients: AuthClients::parse(store.get_str("tls-auth-clients")).unwrap_or_default(),
        protocols: opt("tls-protocols"),
        ciphers: opt("tls-ciphers"),
        ciphersuites: opt("tls-ciphersuites"),
        prefer_server_ciphers: store.get_bool("tls-prefer-server-ciphers"),
        session_caching: store.get_bool("tls-session-caching"),
        session_cache_size: usize::try_from(store.get_int("tls-session-cache-size")).unwrap_or(0),
        session_cache_timeout: u64::try_from(store.get_int("tls-session-cache-timeout"))
            .unwrap_or(0),
        // A CA is required for tls-cluster too (Redis's `tlsConfigure`).
        replication: store.get_bool("tls-replication") || store.get_bool("tls-cluster"),
    }
}

/// Configure TLS from the directives, as Redis's `tlsConfigure`; the error is the reason
/// Redis logs (its texts), which the caller logs and reports.
pub fn configure(store: &ConfigStore) -> Result<Tls, String> {
    let s = settings(store);
    // Redis checks certificate and key before the DH parameters; so does this order.
    let tls = Tls::configure(&s).map_err(|e| e.to_string())?;
    let dh = store.get_str("tls-dh-params-file");
    if !dh.is_empty() {
        check_dh_params(dh)?;
    }
    Ok(tls)
}

static DH_LOGGED: AtomicBool = AtomicBool::new(false);

/// `tls-dh-params-file`: read as Redis reads it (its errors), then unused: rustls offers
/// ECDHE key exchange only. Said once in the log.
fn check_dh_params(path: &str) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| {
        let e = picket_common::fdlimit::os_error_text(&e);
        format!("Failed to load {path}: {e}")
    })?;
    let has = |m: &[u8]| text.windows(m.len()).any(|w| w == m);
    if !has(b"-----BEGIN DH PARAMETERS-----") && !has(b"-----BEGIN X9.42 DH PARAMETERS-----") {
        return Err(format!("{path}: failed to read DH params."));
    }
    if !DH_LOGGED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "tls-dh-params-file {path}: accepted, but rustls has no finite-field Diffie-Hellman (ECDHE key exchange only): there is nothing to configure"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigState;

    #[test]
    fn defaults_are_off_and_redis_like() {
        let c = ConfigState::from_args(&[]).unwrap();
        assert!(!enabled(c.store()));
        let s = settings(c.store());
        assert_eq!(s, TlsSettings::default());
    }

    #[test]
    fn any_switch_turns_tls_on() {
        for args in [
            &["--tls-port", "6380"][..],
            &["--tls-replication", "yes"][..],
            &["--tls-cluster", "yes"][..],
        ] {
            let c = ConfigState::from_args(args).unwrap();
            assert!(enabled(c.store()), "{args:?}");
        }
    }

    #[test]
    fn reasons_are_redis_texts() {
        let c = ConfigState::from_args(&["--tls-port", "6380"]).unwrap();
        assert_eq!(
            configure(c.store()).unwrap_err(),
            "No tls-cert-file configured!"
        );
        let c =
            ConfigState::from_args(&["--tls-port", "6380", "--tls-cert-file", "/nonexistent/c"])
                .unwrap();
        assert_eq!(
            configure(c.store()).unwrap_err(),
            "No tls-key-file configured!"
        );
        let c = ConfigState::from_args(&[
            "--tls-port",
            "6380",
            "--tls-cert-file",
            "/nonexistent/c",
            "--tls-key-file",
            "/nonexistent/k",
        ])
        .unwrap();
        assert!(configure(c.store())
            .unwrap_err()
            .starts_with("Either tls-ca-cert-file"));
    }

    #[test]
    fn dh_params_are_checked_as_redis_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let m = missing.to_str().unwrap();
        assert_eq!(
            check_dh_params(m).unwrap_err(),
            format!("Failed to load {m}: No such file or directory")
        );
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not DH\n").unwrap();
        let b = bad.to_str().unwrap();
        assert_eq!(
            check_dh_params(b).unwrap_err(),
            format!("{b}: failed to read DH params.")
        );
        let good = dir.path().join("dh.pem");
        std::fs::write(
            &good,
            "-----BEGIN DH PARAMETERS-----\nMAA=\n-----END DH PARAMETERS-----\n",
        )
        .unwrap();
        assert!(check_dh_params(good.to_str().unwrap()).is_ok());
    }
}
