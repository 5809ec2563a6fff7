//! CONFIG REWRITE: choosing the format and replacing the file atomically.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{conf, toml_file, ConfigError, ConfigStore, Format};

impl ConfigStore {
    /// CONFIG REWRITE of the file the store was loaded from, in its format.
    pub fn rewrite(&self) -> Result<(), ConfigError> {
        let file = self.file.as_ref().ok_or(ConfigError::NoConfigFile)?;
        self.rewrite_to(&file.path, file.format)
    }

    /// Rewrites `path` (read if it exists) to hold the current values, and replaces it
    /// atomically: temp file in the same directory, fsync, rename, fsync the directory.
    pub fn rewrite_to(&self, path: &Path, format: Format) -> Result<(), ConfigError> {
        let io_err = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let old = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(e)),
        };
        let new = self.rewritten(&old, path, format)?;
        write_atomic(path, &new).map_err(io_err)
    }

    /// The rewritten content of a file holding `old` (no I/O); `path` names it in errors.
    pub fn rewritten(
        &self,
        old: &[u8],
        path: &Path,
        format: Format,
    ) -> Result<Vec<u8>, ConfigError> {
        match format {
            Format::Conf => Ok(conf::rewrite_conf(self, old)),
            Format::Toml => toml_file::rewrite_toml(self, path, old),
        }
    }
}

/// Replaces `path` with `content` so that readers and crashes see the old or the new
/// file, never a mix. The file keeps its permissions.
pub(crate) fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
