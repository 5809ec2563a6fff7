//! CONFIG GET and CONFIG SET on a [`ConfigStore`], with Redis 7.0's semantics and replies.

use std::collections::BTreeMap;

use super::{display_value, parse_value, ConfigStore, Value};
use crate::sds::split_spaces;

/// A failed CONFIG SET. Display is Redis 7.0's full error reply line, `ERR` included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigSetError {
    #[error("ERR Unknown option or number of arguments for CONFIG SET - '{0}'")]
    UnknownOption(String),
    #[error(
        "ERR CONFIG SET failed (possibly related to argument '{0}') - can't set immutable config"
    )]
    Immutable(String),
    #[error(
        "ERR CONFIG SET failed (possibly related to argument '{0}') - can't set protected config"
    )]
    Protected(String),
    #[error("ERR CONFIG SET failed (possibly related to argument '{0}') - duplicate parameter")]
    Duplicate(String),
    /// The kind rejected the value.
    #[error(
        "ERR CONFIG SET failed (possibly related to argument '{name}'){}",
        dash(reason)
    )]
    BadValue { name: String, reason: String },
    /// The apply hook failed; every value was restored.
    #[error(
        "ERR CONFIG SET failed (possibly related to argument '{name}'){}",
        dash(reason)
    )]
    ApplyFailed { name: String, reason: String },
}

fn dash(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" - {reason}")
    }
}

fn is_pattern(p: &[u8]) -> bool {
    p.iter().any(|c| matches!(c, b'[' | b'*' | b'?'))
}

impl ConfigStore {
    /// CONFIG GET with one pattern; see [`ConfigStore::get_many`].
    pub fn get(&self, pattern: &[u8]) -> Vec<(String, String)> {
        self.get_many(&[pattern])
    }

    /// Redis 7.0 CONFIG GET with several arguments. An argument without `*?[` is looked up
    /// exactly (case-insensitively, names and aliases) and answered under the spelling
    /// given; a pattern is glob-matched case-insensitively against every name and alias and
    /// answered under the table's spelling; file-only directives are never listed. A name
    /// or alias appears once (the first argument that found it decides the spelling). Redis
    /// answers in hash order; this answers in table order, each name before its aliases.
    pub fn get_many(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut found: BTreeMap<(usize, usize), String> = BTreeMap::new();
        for &p in patterns {
            if !is_pattern(p) {
                let Ok(name) = std::str::from_utf8(p) else {
                    continue;
                };
                if let Some(slot) = self.lookup(name) {
                    if !self.table[slot.0].file_only {
                        found.entry(slot).or_insert_with(|| name.to_string());
                    }
                }
                continue;
            }
            for (i, d) in self.table.iter().enumerate() {
                if d.file_only {
                    continue;
                }
                for (slot, name) in d.slots() {
                    if crate::glob::string_match(p, name.as_bytes(), true) {
                        found.entry((i, slot)).or_insert_with(|| name.to_string());
                    }
                }
            }
        }
        found
            .into_iter()
            .map(|((i, _), key)| (key, display_value(&self.table[i], &self.values[i])))
            .collect()
    }

    /// Redis 7.0 multi-parameter CONFIG SET, with protected configs refused; see
    /// [`ConfigStore::set_checked`].
    pub fn set(
        &mut self,
        pairs: &[(String, String)],
        apply: impl FnMut(&str, &Value) -> Result<(), String>,
    ) -> Result<Vec<&'static str>, ConfigSetError> {
        self.set_checked(pairs, false, apply)
    }

    /// Redis 7.0 multi-parameter CONFIG SET: `pairs` are (name, value) as received; the
    /// value of a multi-argument directive is split on single spaces as Redis does.
    ///
    /// All or nothing. First every name is checked in order (the first unknown, immutable,
    /// protected — unless `allow_protected` — or repeated name fails the command); then
    /// every value is parsed (a bad one restores all); then `apply(name, new value)` runs
    /// once per directive whose value changed, in order of first mention. If an apply
    /// fails, all values are restored and `apply(name, old value)` is called again for the
    /// directives already applied and the failing one (errors ignored, as Redis).
    ///
    /// A name and its alias are different parameters to Redis (`replica-priority 1
    /// slave-priority 2` is accepted; the last wins). Returns the canonical names of the
    /// directives that changed.
    pub fn set_checked(
        &mut self,
        pairs: &[(String, String)],
        allow_protected: bool,
        mut apply: impl FnMut(&str, &Value) -> Result<(), String>,
    ) -> Result<Vec<&'static str>, ConfigSetError> {
        let mut targets: Vec<(usize, usize)> = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let Some((i, slot)) = self.lookup(name).filter(|&(i, _)| !self.table[i].file_only)
            else {
                return Err(ConfigSetError::UnknownOption(name.clone()));
            };
            let d = &self.table[i];
            if !d.mutable {
                return Err(ConfigSetError::Immutable(name.clone()));
            }
            if d.protected && !allow_protected {
                return Err(ConfigSetError::Protected(name.clone()));
            }
            if targets.contains(&(i, slot)) {
                return Err(ConfigSetError::Duplicate(name.clone()));
            }
            targets.push((i, slot));
        }

        // (directive, its value before the command, the spelling it was first set under)
        let mut backup: Vec<(usize, Value, &'static str)> = Vec::new();
        for (&(i, slot), (_, raw)) in targets.iter().zip(pairs) {
            let d = &self.table[i];
            let entry_name = d.slot_name(slot);
            if !backup.iter().any(|(j, _, _)| *j == i) {
                backup.push((i, self.values[i].clone(), entry_name));
            }
            let args = if d.multi_arg() {
                split_spaces(raw)
            } else {
                vec![raw.clone()]
            };
            match parse_value(d, &self.values[i], &args, true) {
                Ok(v) => self.values[i] = v,
                Err(reason) => {
                    self.restore(&backup);
                    return Err(ConfigSetError::BadValue {
                        name: entry_name.to_string(),
                        reason,
                    });
                }
            }
        }

        let changed: Vec<&(usize, Value, &'static str)> = backup
            .iter()
            .filter(|(i, old, _)| self.values[*i] != *old)
            .collect();
        for (n, &&(i, _, entry_name)) in changed.iter().enumerate() {
            if let Err(reason) = apply(self.table[i].name, &self.values[i]) {
                self.restore(&backup);
                for &&(j, ref old, _) in &changed[..=n] {
                    // Best effort, like Redis's restoreBackupConfig: failures are ignored.
                    let _ = apply(self.table[j].name, old);
                }
                return Err(ConfigSetError::ApplyFailed {
                    name: entry_name.to_string(),
                    reason,
                });
            }
        }
        Ok(changed
            .iter()
            .map(|(i, _, _)| self.table[*i].name)
            .collect())
    }

    fn restore(&mut self, backup: &[(usize, Value, &'static str)]) {
        for (i, old, _) in backup {
            self.values[*i] = old.clone();
        }
    }
}
