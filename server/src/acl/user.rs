//! A user and its selectors, and the rules that change them: Redis 7.0's `ACLSetUser` and
//! `ACLSetSelector`, with their error kinds (`ACLSetUserStringError`).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::universe::{category_bit, UniverseRef};

/// Bits of the command bitmap (Redis's `USER_COMMAND_BITS_COUNT`); the last one is set only
/// by `+@all` ("future commands").
pub const BITS: usize = 1024;
const FUTURE: usize = BITS - 1;

/// Key pattern permissions.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const ALL: u8 = READ | WRITE;

/// Why a rule was refused (Redis's errno values), with Redis's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Unknown command or category name in ACL")]
    Unknown,
    #[error("Syntax error")]
    Syntax,
    #[error("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")]
    AfterAllKeys,
    #[error("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")]
    AfterAllChannels,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    BadHash,
    #[error("Allowing first-arg of a subcommand is not supported")]
    SubcommandFirstArg,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub flags: u8,
}

/// A set of permissions: the root selector of a user or one in `(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub root: bool,
    pub allkeys: bool,
    pub allchannels: bool,
    pub allcommands: bool,
    pub allowed: [u64; BITS / 64],
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by command id.
    pub firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    pub patterns: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
    /// The commands its ids are of (picket-server's, or a sentinel's).
    pub universe: UniverseRef,
}

impl Selector {
    /// `ACLCreateSelector`: nothing allowed; channels as `acl-pubsub-default`.
    pub fn new(root: bool, allchannels_default: bool) -> Selector {
        Selector::new_in(root, allchannels_default, UniverseRef::server())
    }

    /// [`Selector::new`] over the commands of `universe`.
    pub fn new_in(root: bool, allchannels_default: bool, universe: UniverseRef) -> Selector {
        Selector {
            root,
            allkeys: false,
            allchannels: allchannels_default,
            allcommands: false,
            allowed: [0; BITS / 64],
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
            universe,
        }
    }

    pub fn bit(&self, id: usize) -> bool {
        id < BITS && self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    pub fn can_run_future_commands(&self) -> bool {
        self.bit(FUTURE)
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if id >= BITS {
            return;
        }
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// `ACLChangeSelectorPerm`: a command and, for a container, all its subcommands.
    pub fn change_perm(&mut self, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        let u = self.universe;
        for &s in &u.cmds[id].subs {
            self.set_bit(s, allow);
        }
    }

    /// `ACLSetSelectorCommandBitsForCategory`.
    pub fn change_category(&mut self, cat: u32, allow: bool) {
        let u = self.universe;
        for (id, c) in u.cmds.iter().enumerate() {
            if c.cats & cat != 0 {
                self.change_perm(id, allow);
            }
        }
    }

    /// `ACLSetSelector`.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        let at = |i: usize| op.get(i).copied().unwrap_or(0);
        if is("allkeys") || is("~*") {
            self.allkeys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.allkeys = false;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.allchannels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.allowed = [u64::MAX; BITS / 64];
            self.allcommands = true;
            self.firstargs.clear();
        } else if is("nocommands") || is("-@all") {
            self.allowed = [0; BITS / 64];
            self.allcommands = false;
            self.firstargs.clear();
        } else if at(0) == b'~' || at(0) == b'%' {
            if self.allkeys {
                return Err(RuleError::AfterAllKeys);
            }
            let mut flags = 0u8;
            let mut offset = 1;
            if at(0) == b'%' {
                while offset < op.len() {
                    let c = op[offset].to_ascii_uppercase();
                    if c == b'R' && flags & READ == 0 {
                        flags |= READ;
                    } else if c == b'W' && flags & WRITE == 0 {
                        flags |= WRITE;
                    } else if op[offset] == b'~' {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Syntax);
                    }
                    offset += 1;
                }
            } else {
                flags = ALL;
            }
            let pat = op.get(offset..).unwrap_or(&[]);
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|p| p.pattern == pat) {
                Some(p) => p.flags |= flags,
                None => self.patterns.push(KeyPattern {
                    pattern: pat.to_vec(),
                    flags,
                }),
            }
            self.allkeys = false;
        } else if at(0) == b'&' {
            if self.allchannels {
                return Err(RuleError::AfterAllChannels);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pat) {
                self.channels.push(pat.to_vec());
            }
            self.allchannels = false;
        } else if at(0) == b'+' && at(1) != b'@' {
            let name = &op[1..];
            let u = self.universe;
            match name.iter().rposition(|&c| c == b'|') {
                None => {
                    let id = u.lookup(name).ok_or(RuleError::Unknown)?;
                    self.change_perm(id, true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let id = u.lookup(base).ok_or(RuleError::Unknown)?;
                    if u.cmds[id].parent.is_some() {
                        return Err(RuleError::SubcommandFirstArg);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !u.cmds[id].subs.is_empty() {
                        let sid = u.lookup(name).ok_or(RuleError::Unknown)?;
                        self.change_perm(sid, true);
                    } else {
                        tracing::warn!(
                            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                            String::from_utf8_lossy(name)
                        );
                        let list = self.firstargs.entry(id).or_default();
                        if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                            list.push(sub.to_vec());
                        }
                    }
                }
            }
        } else if at(0) == b'-' && at(1) != b'@' {
            let id = self.universe.lookup(&op[1..]).ok_or(RuleError::Unknown)?;
            self.change_perm(id, false);
        } else if (at(0) == b'+' || at(0) == b'-') && at(1) == b'@' {
            let cat = category_bit(&op[2..]).ok_or(RuleError::Unknown)?;
            self.change_category(cat, at(0) == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }
}

/// `ACLStringHasSpaces`: whitespace or NUL.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || c == b' ' || (b'\t'..=b'\r').contains(&c))
}

/// Redis's `ACLHashPassword`: lower-case hex SHA-256.
pub fn hash_password(pw: &[u8]) -> String {
    Sha256::digest(pw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_hash(h: &[u8]) -> Result<(), RuleError> {
    if h.len() != 64
        || !h
            .iter()
            .all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(RuleError::BadHash);
    }
    Ok(())
}

/// Sanitize-payload flags (`USER_FLAG_SANITIZE_PAYLOAD[_SKIP]`): neither on a new user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitize {
    Unset,
    Sanitize,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    /// `on` (else the user is off: a new user is off).
    pub enabled: bool,
    pub nopass: bool,
    pub sanitize: Sanitize,
    /// SHA-256 hex of each password, in the order added.
    pub passwords: Vec<String>,
    /// The root selector first.
    pub selectors: Vec<Selector>,
}

impl User {
    /// `ACLCreateUser`: off, no password, nothing allowed.
    pub fn new(name: &[u8], allchannels_default: bool) -> User {
        User::new_in(name, allchannels_default, UniverseRef::server())
    }

    /// [`User::new`] over the commands of `universe`.
    pub fn new_in(name: &[u8], allchannels_default: bool, universe: UniverseRef) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: Sanitize::Unset,
            passwords: Vec::new(),
            selectors: vec![Selector::new_in(true, allchannels_default, universe)],
        }
    }

    /// The commands its selectors' ids are of.
    pub fn universe(&self) -> UniverseRef {
        self.selectors[0].universe
    }

    /// `ACLCreateDefaultUser`.
    pub fn default_user(allchannels_default: bool) -> User {
        User::default_user_in(allchannels_default, UniverseRef::server())
    }

    /// [`User::default_user`] over the commands of `universe`.
    pub fn default_user_in(allchannels_default: bool, universe: UniverseRef) -> User {
        let mut u = User::new_in(b"default", allchannels_default, universe);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            // These rules are valid: `apply` accepts each of them.
            let _ = u.apply(op.as_bytes(), allchannels_default);
        }
        u
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// `ACLSetUser`.
    pub fn apply(&mut self, op: &[u8], allchannels_default: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Sanitize::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = Sanitize::Sanitize;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let pass = if op[0] == b'>' {
                hash_password(&op[1..])
            } else {
                check_hash(&op[1..])?;
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            if !self.passwords.contains(&pass) {
                self.passwords.push(pass);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let pass = if op[0] == b'<' {
                hash_password(&op[1..])
            } else {
                check_hash(&op[1..])?;
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == pass)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new_in(false, allchannels_default, self.universe());
            let inner = &op[1..op.len() - 1];
            let args = picket_common::sds::split_args(inner).unwrap_or_default();
            for a in args {
                s.apply(&a)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            self.nopass = false;
            self.passwords.clear();
            let root = &mut self.selectors[0];
            root.allkeys = false;
            root.patterns.clear();
            root.allchannels = allchannels_default;
            root.channels.clear();
            self.enabled = false;
            self.sanitize = Sanitize::Sanitize;
            self.selectors.truncate(1);
            let root = &mut self.selectors[0];
            root.allowed = [0; BITS / 64];
            root.allcommands = false;
            root.firstargs.clear();
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }
}
