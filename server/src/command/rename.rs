//! `rename-command <name> <new-name>`: the command table as the config file renamed it.
//!
//! Redis applies the lines in order to its command dictionary: the command found under
//! `<name>` (case-insensitively, renamed already or not) leaves that name and is added under
//! `<new-name>`, or is gone when the new name is empty. The generated table is never
//! changed; [`Renames`] records the names whose meaning differs from it.

use super::lookup::lookup;
use super::spec::CommandSpec;

/// Why a `rename-command` line is refused (Redis's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("No such command in rename-command")]
    NoSuchCommand,
    #[error("Target command name already exists")]
    TargetExists,
}

/// The names `rename-command` changed: a new name and its command, or a name that no
/// longer exists (`None`). Few entries, scanned case-insensitively without allocating.
#[derive(Debug, Clone, Default)]
pub struct Renames {
    changed: Vec<(String, Option<&'static CommandSpec>)>,
}

impl Renames {
    /// Replays `(name, new-name)` pairs in order.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, RenameError> {
        let mut r = Renames::default();
        for (old, new) in pairs {
            r.rename(old, new)?;
        }
        Ok(r)
    }

    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }

    fn entry(&self, name: &[u8]) -> Option<Option<&'static CommandSpec>> {
        self.changed
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(_, spec)| *spec)
    }

    /// The command known under `name` now.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if self.changed.is_empty() {
            return lookup(name);
        }
        match self.entry(name) {
            Some(spec) => spec,
            None => lookup(name),
        }
    }

    fn set(&mut self, name: &str, spec: Option<&'static CommandSpec>) {
        let name = name.to_ascii_lowercase();
        self.changed.retain(|(n, _)| *n != name);
        // A name back to its table meaning needs no entry.
        let same = match (spec, lookup(name.as_bytes())) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.changed.push((name, spec));
        }
    }

    /// One `rename-command` line.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), RenameError> {
        let spec = self
            .lookup(old.as_bytes())
            .ok_or(RenameError::NoSuchCommand)?;
        self.set(old, None);
        if !new.is_empty() {
            if self.lookup(new.as_bytes()).is_some() {
                return Err(RenameError::TargetExists);
            }
            self.set(new, Some(spec));
        }
        Ok(())
    }

    /// Whether the table's command `spec` is reachable under some name.
    pub fn is_reachable(&self, spec: &'static CommandSpec) -> bool {
        if self.changed.is_empty() {
            return true;
        }
        let by_own_name = self
            .entry(spec.name.as_bytes())
            .is_none_or(|s| s.is_some_and(|s| std::ptr::eq(s, spec)));
        by_own_name
            || self
                .changed
                .iter()
                .any(|(_, s)| s.is_some_and(|s| std::ptr::eq(s, spec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(r: &Renames, n: &str) -> Option<&'static str> {
        r.lookup(n.as_bytes()).map(|c| c.name)
    }

    #[test]
    fn renames_as_redis_applies_them() {
        let r =
            Renames::from_pairs([("get", "myget"), ("FLUSHALL", ""), ("myget", "Get2")]).unwrap();
        assert_eq!(name_of(&r, "get"), None);
        assert_eq!(name_of(&r, "myget"), None);
        assert_eq!(name_of(&r, "GET2"), Some("get"));
        assert_eq!(name_of(&r, "flushall"), None);
        assert_eq!(name_of(&r, "set"), Some("set"));
        let get = super::lookup(b"get").unwrap();
        let flushall = super::lookup(b"flushall").unwrap();
        assert!(r.is_reachable(get));
        assert!(!r.is_reachable(flushall));
        // A name freed by a rename may be taken by another command.
        let r = Renames::from_pairs([("get", "g"), ("set", "get")]).unwrap();
        assert_eq!(name_of(&r, "get"), Some("set"));
        assert_eq!(name_of(&r, "g"), Some("get"));
        // Renaming back leaves nothing changed.
        let r = Renames::from_pairs([("get", "g"), ("g", "get")]).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(
            Renames::from_pairs([("nosuch", "x")]).unwrap_err(),
            RenameError::NoSuchCommand
        );
        assert_eq!(
            Renames::from_pairs([("get", "set")]).unwrap_err(),
            RenameError::TargetExists
        );
        assert_eq!(
            Renames::from_pairs([("get", ""), ("get", "x")]).unwrap_err(),
            RenameError::NoSuchCommand
        );
        // Subcommands are not commands of the dictionary.
        assert_eq!(
            Renames::from_pairs([("config|get", "x")]).unwrap_err(),
            RenameError::NoSuchCommand
        );
    }
}
