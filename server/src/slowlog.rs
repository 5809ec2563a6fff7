//! SLOWLOG: commands that took longer than `slowlog-log-slower-than` microseconds.

use std::collections::VecDeque;

use bytes::Bytes;

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC` and `SLOWLOG_ENTRY_MAX_STRING`.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub peer: String,
    pub name: Bytes,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// Record a command, trimming arguments as Redis does, and keep at most `max_len` entries.
    pub fn push(
        &mut self,
        args: &[Bytes],
        duration_us: u64,
        time_s: i64,
        peer: String,
        name: Bytes,
        max_len: usize,
    ) {
        let mut kept: Vec<Bytes> = Vec::with_capacity(args.len().min(MAX_ARGC));
        for (i, a) in args.iter().enumerate() {
            if i == MAX_ARGC - 1 && args.len() > MAX_ARGC {
                let more = args.len() - MAX_ARGC + 1;
                kept.push(Bytes::from(format!("... ({more} more arguments)")));
                break;
            }
            if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                kept.push(Bytes::from(s));
            } else {
                kept.push(a.clone());
            }
        }
        self.entries.push_front(Entry {
            id: self.next_id,
            time_s,
            duration_us,
            args: kept,
            peer,
            name,
        });
        self.next_id += 1;
        self.trim(max_len);
    }

    pub fn trim(&mut self, max_len: usize) {
        while self.entries.len() > max_len {
            self.entries.pop_back();
        }
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_arguments_like_redis() {
        let mut s = SlowLog::default();
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        s.push(&args, 10, 0, String::new(), Bytes::new(), 128);
        let e = &s.entries[0];
        assert_eq!(e.args.len(), 32);
        assert_eq!(&e.args[31][..], b"... (9 more arguments)");
        let big = vec![Bytes::from(vec![b'x'; 200])];
        s.push(&big, 10, 0, String::new(), Bytes::new(), 1);
        assert_eq!(s.entries.len(), 1);
        assert!(s.entries[0].args[0].ends_with(b"... (72 more bytes)"));
        assert_eq!(s.entries[0].id, 1);
    }
}
