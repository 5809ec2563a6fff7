//! The script queue, as Redis Sentinel's: notification and client-reconfig scripts run as
//! child processes, at most [`MAX_RUNNING`] at a time, from a queue of at most [`MAX_QUEUE`]
//! jobs (a new job past that drops the oldest one not running).
//!
//! A script that exits with 1 or is killed by a signal is retried, up to [`MAX_RETRY`] runs,
//! after `script-retry-delay` doubled for every run after the first; any other failure is
//! reported as `-script-error <path> <signal> <exit code>`. A script running longer than
//! `script-max-runtime` gets `-script-timeout <path> <pid>` and SIGKILL (and is then retried,
//! having died by a signal). SENTINEL PENDING-SCRIPTS lists the queue.
//!
//! [`Queue`] is the bookkeeping alone, on a millisecond clock the caller passes in;
//! the shell (`shell/script_runs.rs`) spawns the processes and reports how they ended.

use crate::core::Event;

/// Redis's `SENTINEL_SCRIPT_MAX_QUEUE`.
pub const MAX_QUEUE: usize = 256;
/// Redis's `SENTINEL_SCRIPT_MAX_RUNNING`.
pub const MAX_RUNNING: usize = 16;
/// Redis's `SENTINEL_SCRIPT_MAX_RETRY`: runs of one job, the first included.
pub const MAX_RETRY: u32 = 10;

/// One queued script run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    /// The script's path, then its arguments.
    pub argv: Vec<String>,
    pub running: bool,
    /// The child's pid while running, else 0.
    pub pid: u32,
    /// When it started (running) or when it may start (scheduled; 0 = at once), in ms.
    pub start_time: u64,
    /// Runs started so far.
    pub retry_num: u32,
}

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// The queue of script jobs.
#[derive(Debug, Default)]
pub struct Queue {
    jobs: Vec<Job>,
    next_id: u64,
}

impl Queue {
    /// Add a run of `argv` (Redis's `sentinelScheduleScriptExecution`).
    pub fn schedule(&mut self, argv: Vec<String>) {
        self.next_id += 1;
        self.jobs.push(Job {
            id: self.next_id,
            argv,
            running: false,
            pid: 0,
            start_time: 0,
            retry_num: 0,
        });
        if self.jobs.len() > MAX_QUEUE {
            if let Some(i) = self.jobs.iter().position(|j| !j.running) {
                let dropped = self.jobs.remove(i);
                tracing::debug!("script queue full: dropped {}", dropped.argv[0]);
            }
        }
    }

    /// The jobs to start now, marked running (Redis's `sentinelRunPendingScripts`); the caller
    /// spawns each and reports [`Queue::started`] or [`Queue::spawn_failed`].
    pub fn due(&mut self, now: u64) -> Vec<(u64, Vec<String>)> {
        let mut free = MAX_RUNNING.saturating_sub(self.running());
        let mut out = Vec::new();
        for j in self.jobs.iter_mut() {
            if free == 0 {
                break;
            }
            if j.running || j.start_time > now {
                continue;
            }
            j.running = true;
            j.start_time = now;
            j.retry_num += 1;
            free -= 1;
            out.push((j.id, j.argv.clone()));
        }
        out
    }

    /// Job `id`'s child is `pid`.
    pub fn started(&mut self, id: u64, pid: u32) {
        if let Some(j) = self.jobs.iter_mut().find(|j| j.id == id) {
            j.pid = pid;
        }
    }

    /// The process of job `id` could not be created: the job is dropped; returns the
    /// `-script-error` payload (Redis reports a failed fork as signal 99, exit code 0).
    pub fn spawn_failed(&mut self, id: u64) -> Option<Event> {
        let i = self.jobs.iter().position(|j| j.id == id)?;
        let j = self.jobs.remove(i);
        Some(Event::ScriptError {
            path: j.argv[0].clone(),
            signal: 99,
            code: 0,
        })
    }

    /// Job `id`'s child ended (Redis's `sentinelCollectTerminatedScripts`): retried later when
    /// it exited with 1 or died by a signal and has runs left, else dropped. Returns the
    /// `-script-error` payload when it failed for good.
    pub fn finished(&mut self, id: u64, exit: Exit, now: u64, retry_delay: u64) -> Option<Event> {
        let i = self.jobs.iter().position(|j| j.id == id)?;
        let retry = matches!(exit, Exit::Code(1) | Exit::Signal(_));
        if retry && self.jobs[i].retry_num != MAX_RETRY {
            let j = &mut self.jobs[i];
            j.running = false;
            j.pid = 0;
            j.start_time = now.saturating_add(retry_delay_for(retry_delay, j.retry_num));
            return None;
        }
        let j = self.jobs.remove(i);
        let (signal, code) = match exit {
            Exit::Code(0) => return None,
            Exit::Code(c) => (0, c),
            Exit::Signal(s) => (s, 0),
        };
        Some(Event::ScriptError {
            path: j.argv[0].clone(),
            signal,
            code,
        })
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.running).count()
    }

    /// Jobs queued, running ones included (INFO's `sentinel_scripts_queue_length`).
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The queue in order (SENTINEL PENDING-SCRIPTS).
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }
}

/// Redis's `sentinelScriptRetryDelay`: the base delay, doubled for every run after the first.
fn retry_delay_for(base: u64, retry_num: u32) -> u64 {
    let doublings = retry_num.saturating_sub(1).min(32);
    base.saturating_mul(1u64 << doublings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(p: &str) -> Vec<String> {
        vec![
            p.to_string(),
            "+sdown".into(),
            "master m 1.2.3.4 6379".into(),
        ]
    }

    #[test]
    fn runs_at_most_sixteen_at_once_in_order() {
        let mut q = Queue::default();
        for i in 0..20 {
            q.schedule(argv(&format!("/s{i}")));
        }
        let first = q.due(1000);
        assert_eq!(first.len(), MAX_RUNNING);
        assert_eq!(first[0].1[0], "/s0");
        assert_eq!(q.running(), 16);
        assert!(q.due(1001).is_empty());
        assert_eq!(q.finished(first[0].0, Exit::Code(0), 1002, 30_000), None);
        let next = q.due(1003);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].1[0], "/s16");
        assert_eq!(q.len(), 19);
    }

    #[test]
    fn a_full_queue_drops_the_oldest_waiting_job() {
        let mut q = Queue::default();
        q.schedule(argv("/running"));
        let _ = q.due(0);
        for i in 0..MAX_QUEUE {
            q.schedule(argv(&format!("/w{i}")));
        }
        assert_eq!(q.len(), MAX_QUEUE);
        assert_eq!(q.jobs()[0].argv[0], "/running");
        assert_eq!(q.jobs()[1].argv[0], "/w1", "/w0 was the oldest waiting");
    }

    #[test]
    fn exit_one_and_signals_retry_with_doubling_delay_then_fail() {
        let mut q = Queue::default();
        q.schedule(argv("/flaky"));
        let mut now = 0;
        let mut delays = Vec::new();
        for run in 1..=MAX_RETRY {
            let due = q.due(now);
            assert_eq!(due.len(), 1, "run {run}");
            let exit = if run % 2 == 0 {
                Exit::Signal(9)
            } else {
                Exit::Code(1)
            };
            let err = q.finished(due[0].0, exit, now, 100).map(|e| e.to_string());
            if run < MAX_RETRY {
                assert_eq!(err, None);
                let j = q.jobs()[0].clone();
                assert!(!j.running && j.pid == 0);
                delays.push(j.start_time - now);
                assert!(q.due(j.start_time - 1).is_empty(), "not before its delay");
                now = j.start_time;
            } else {
                assert_eq!(err.as_deref(), Some("/flaky 9 0"));
            }
        }
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600]);
        assert!(q.is_empty());
    }

    #[test]
    fn other_exit_codes_fail_at_once_and_success_is_silent() {
        let mut q = Queue::default();
        q.schedule(argv("/bad"));
        q.schedule(argv("/good"));
        let due = q.due(5);
        q.started(due[0].0, 4242);
        assert_eq!(q.jobs()[0].pid, 4242);
        assert_eq!(
            q.finished(due[0].0, Exit::Code(2), 6, 30_000)
                .map(|e| e.to_string())
                .as_deref(),
            Some("/bad 0 2")
        );
        assert_eq!(q.finished(due[1].0, Exit::Code(0), 6, 30_000), None);
        assert!(q.is_empty());
        q.schedule(argv("/missing"));
        let due = q.due(7);
        assert_eq!(
            q.spawn_failed(due[0].0).map(|e| e.to_string()).as_deref(),
            Some("/missing 99 0")
        );
        assert!(q.is_empty());
        assert_eq!(q.finished(12345, Exit::Code(0), 8, 1), None, "unknown id");
    }
}
