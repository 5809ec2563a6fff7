//! Real queue libraries end to end against picket-server (issues 17 and 18): BullMQ (Node.js;
//! Lua scripts by EVALSHA, lists, sorted sets, XADD/XTRIM events and QueueEvents' XREAD
//! BLOCK) processes 1,000 jobs with retries and delays, and an rq burst worker (Python;
//! scripts, results stored with XADD) finishes its jobs, failing ones retried.
//!
//! They need Node.js with `npm ci --prefix server/tests/queue_libs` and Python with rq
//! (`pip install rq`), as .ci/run installs them: missing, the tests skip loudly, or fail
//! under PICKET_REQUIRE_REDIS=1.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;

fn libs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/queue_libs")
}

fn required() -> bool {
    std::env::var("PICKET_REQUIRE_REDIS").as_deref() == Ok("1")
}

/// Skip (or fail in CI) for a missing tool.
fn missing(what: &str) {
    if required() {
        panic!("{what} (PICKET_REQUIRE_REDIS=1: .ci/run installs it)");
    }
    eprintln!("\n*** SKIPPING: {what} ***\n");
}

#[test]
fn bullmq_worker_processes_1000_jobs_with_retries_and_delays() {
    if common::which("node").is_none() {
        return missing("node is not installed (apt-get install nodejs npm)");
    }
    if !libs_dir().join("node_modules/bullmq").is_dir() {
        return missing("BullMQ is not installed: npm ci --prefix server/tests/queue_libs");
    }
    let picket = Server::start(&["--save", ""]);
    let out = Command::new("node")
        .arg(libs_dir().join("bullmq.js"))
        .arg(picket.port.to_string())
        .arg("1000")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "BullMQ run failed: {stdout}\n{stderr}\nserver log:\n{}",
        picket.log_text()
    );
    // {"done":1000,"counts":{"completed":1000,"failed":0,...},"retried":100,"completedEvents":1000,...}
    for want in [
        "\"done\":1000",
        "\"completed\":1000",
        "\"failed\":0",
        "\"waiting\":0",
        "\"delayed\":0",
        "\"active\":0",
        "\"retried\":100",
        "\"completedEvents\":1000",
    ] {
        assert!(stdout.contains(want), "{want} missing from {stdout}");
    }
    eprintln!("BullMQ: {stdout}");
}

#[test]
fn rq_burst_worker_finishes_its_jobs() {
    let Some(python) = common::which("python3") else {
        return;
    };
    let has_rq = Command::new(&python)
        .args(["-c", "import rq"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_rq {
        return missing("python3 has no rq: pip install rq");
    }
    let picket = Server::start(&["--save", ""]);
    let out = Command::new(&python)
        .arg(libs_dir().join("rq_run.py"))
        .arg(picket.port.to_string())
        .arg("200")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rq run failed: {stdout}\n{stderr}\nserver log:\n{}",
        picket.log_text()
    );
    for want in [
        "'n': 200",
        "'bad': 0",
        "'bad_flaky': 0",
        "'results_of_first': 1",
        "'failed_registry': 0",
    ] {
        assert!(stdout.contains(want), "{want} missing from {stdout}");
    }
    eprintln!("rq: {stdout}");
}
