//! Running the queued notification and client-reconfig scripts (the queue itself, pure, is
//! `crate::scripts`).

use crate::scripts::Exit;

use super::*;

/// Start the queued scripts that are due (Redis's `sentinelRunPendingScripts`). Each child is
/// watched by a task that kills it after `script-max-runtime` and reports how it ended.
pub(crate) fn run_pending(shared: &Arc<Shared>) {
    let now = shared.now();
    let due = shared.script_queue().due(now);
    for (id, argv) in due {
        let child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                // Redis's child exits with 2 when exec fails; a spawn error here covers both
                // that and a failed fork, reported as Redis reports a failed fork.
                tracing::debug!("script {} could not start: {e}", argv[0]);
                let failed = shared.script_queue().spawn_failed(id);
                if let Some(e) = failed {
                    super::event(shared, &e);
                }
                continue;
            }
        };
        let pid = child.id().unwrap_or(0);
        shared.script_queue().started(id, pid);
        super::event(shared, &Event::ScriptChild { pid });
        let max_runtime = Duration::from_millis(shared.lock().timers.script_max_runtime);
        let sh = shared.clone();
        shared.tracker.spawn(async move {
            let status = match tokio::time::timeout(max_runtime, child.wait()).await {
                Ok(st) => st,
                Err(_) => {
                    let path = argv[0].clone();
                    super::event(&sh, &Event::ScriptTimeout { path, pid });
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let exit = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    match (st.code(), st.signal()) {
                        (Some(c), _) => Exit::Code(c),
                        (None, Some(sig)) => Exit::Signal(sig),
                        (None, None) => Exit::Code(-1),
                    }
                }
                Err(_) => Exit::Code(-1),
            };
            let (c, sig) = match exit {
                Exit::Code(c) => (c, 0),
                Exit::Signal(s) => (0, s),
            };
            let ended = Event::ScriptChildExit {
                pid,
                code: c,
                signal: sig,
            };
            super::event(&sh, &ended);
            let (now, delay) = (sh.now(), sh.lock().timers.script_retry_delay);
            let failed = sh.script_queue().finished(id, exit, now, delay);
            if let Some(e) = failed {
                super::event(&sh, &e);
            }
        });
    }
}
