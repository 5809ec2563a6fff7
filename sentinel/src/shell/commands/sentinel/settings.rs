//! The shell's part of SENTINEL SET (which script paths are executable) and SENTINEL
//! CONFIG GET; the changes themselves are core commands (`core/settings.rs`).

use std::collections::BTreeSet;

use picket_common::resp::ReplyBuf;

use crate::core::SCRIPT_OPTIONS;

fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The values given to a script option of SENTINEL SET that name an executable file
/// (Redis's `access(X_OK)`), for the core to decide with.
pub(super) fn executable_scripts(words: &[String]) -> BTreeSet<String> {
    words
        .windows(2)
        .filter(|w| SCRIPT_OPTIONS.iter().any(|o| w[0].eq_ignore_ascii_case(o)))
        .map(|w| &w[1])
        .filter(|p| is_executable(p))
        .cloned()
        .collect()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// SENTINEL CONFIG GET <glob>.
pub(super) fn config_get(st: &crate::config::ServerSettings, pat: &str, out: &mut ReplyBuf) {
    let all = [
        ("resolve-hostnames", yes_no(st.resolve_hostnames)),
        ("announce-hostnames", yes_no(st.announce_hostnames)),
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
        (
            "max-sentinels-per-master",
            st.max_sentinels_per_master.to_string(),
        ),
    ];
    let hits: Vec<_> = all
        .iter()
        .filter(|(k, _)| picket_common::glob::string_match_str(pat, k, true))
        .collect();
    out.map(hits.len());
    for (k, v) in hits {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}
