//! The documentation and key-specification parts of a command's metadata (COMMAND DOCS and
//! the key specs of COMMAND INFO), as Redis 7.0 reports them.

/// Where the search for keys begins.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    Index(i64),
    Keyword {
        keyword: &'static str,
        startfrom: i64,
    },
    Unknown,
}

/// How keys are found from the beginning.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    pub flags: &'static [&'static str],
    pub begin: BeginSearch,
    pub find: FindKeys,
}

/// One argument of a command's syntax (nested for blocks and one-ofs).
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub typ: &'static str,
    /// Index into the command's key specs for `key` arguments, -1 otherwise.
    pub key_spec_index: i64,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub display: Option<&'static str>,
    pub args: &'static [Arg],
}

/// COMMAND DOCS of one command.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: &'static str,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [Arg],
}
