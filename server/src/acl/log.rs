//! The ACL security log (ACL LOG): Redis 7.0's `addACLLogEntry`, which folds a failure into a
//! recent similar entry (same reason, context, object and user within 60 s) and keeps at
//! most `acllog-max-len` entries, newest first.

use std::collections::VecDeque;

/// Why a command (or AUTH) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    // In Redis's ACL_DENIED_* order (the most relevant error of several selectors).
    Command,
    Key,
    Auth,
    Channel,
}

impl Denied {
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key => "key",
            Denied::Channel => "channel",
            Denied::Auth => "auth",
        }
    }
}

/// Where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub count: u64,
    pub reason: Denied,
    pub context: Context,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix ms of the last occurrence.
    pub ctime: i64,
    pub client_info: String,
}

const GROUPING_MAX_TIME_DELTA: i64 = 60_000;

#[derive(Debug, Default)]
pub struct Log {
    pub entries: VecDeque<Entry>,
}

impl Log {
    pub fn add(&mut self, e: Entry, max_len: usize) {
        let found = self.entries.iter().take(10).position(|cur| {
            cur.reason == e.reason
                && cur.context == e.context
                && (cur.ctime - e.ctime).abs() <= GROUPING_MAX_TIME_DELTA
                && cur.object == e.object
                && cur.username == e.username
        });
        if let Some(i) = found {
            if let Some(mut m) = self.entries.remove(i) {
                m.client_info = e.client_info;
                m.ctime = e.ctime;
                m.count += 1;
                self.entries.push_front(m);
            }
            return;
        }
        self.entries.push_front(e);
        while self.entries.len() > max_len {
            self.entries.pop_back();
        }
    }
}
