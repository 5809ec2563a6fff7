//! The shell's bounds towards its clients and how it stops: a subscriber that never reads is
//! dropped when its queue of events overflows, or when a write to it makes no progress for
//! the write deadline; SENTINEL SIMULATE-FAILURE's crash is an outcome, not an exit.
//!
//! The client is one end of an in-memory pipe with a 64-byte buffer that nobody reads: the
//! connection task's writes stall at once, as towards a TCP peer whose window is closed.

use std::sync::Arc;
use std::time::Duration;

use picket_common::net::TokioNet;
use picket_sentinel::config::ServerSettings;
use picket_sentinel::core::{Action, Core};
use picket_sentinel::shell::{self, Outcome, PubsubLimits, Shared};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

mod pipe;
use pipe::Pipe;

/// A sentinel with no listener and no master; its state file in `dir`.
async fn sentinel(dir: &tempfile::TempDir) -> Arc<Shared> {
    let settings = ServerSettings {
        bind: vec![],
        ..ServerSettings::default()
    };
    let core = Core::new("1".repeat(40), picket_common::ids::seeded(7));
    let path = dir.path().join("sentinel.conf");
    std::fs::write(&path, "").expect("temp dir is writable");
    shell::start(
        TokioNet,
        core,
        settings,
        path,
        picket_common::clock::Clock::system(),
    )
    .await
    .expect("no listener to bind")
}

/// A client that sent PSUBSCRIBE * and read its confirmation, and will read nothing more.
async fn silent_subscriber(shared: &Arc<Shared>) -> (tokio::task::JoinHandle<()>, DuplexStream) {
    let (server_end, mut client) = tokio::io::duplex(64);
    let sh = shared.clone();
    let peer = "127.0.0.1:40000".parse().expect("a literal address");
    let task = tokio::spawn(picket_sentinel::shell::commands::serve(
        sh,
        Pipe(server_end),
        peer,
    ));
    client
        .write_all(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n")
        .await
        .expect("pipe open");
    let want = b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n";
    let mut got = vec![0u8; want.len()];
    client.read_exact(&mut got).await.expect("confirmation");
    assert_eq!(&got[..], &want[..]);
    (task, client)
}

fn subscribers(shared: &Shared) -> usize {
    shared
        .subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len()
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_dropped_when_its_queue_overflows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = sentinel(&dir).await;
    shared.set_pubsub_limits(PubsubLimits {
        max_queued_bytes: 64 * 1024,
        // Long: the queue's bound must be what drops it.
        write_stall: Duration::from_secs(3600),
    });
    let (task, _client) = silent_subscriber(&shared).await;
    assert_eq!(subscribers(&shared), 1);
    let payload = "x".repeat(1000);
    let mut delivered = 0;
    for _ in 0..200 {
        delivered += shared.publish("+test", &payload);
        tokio::task::yield_now().await;
    }
    // Taken until about 64 KB waited, then the client is gone.
    assert!((60..200).contains(&delivered), "delivered {delivered}");
    assert_eq!(subscribers(&shared), 0);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the connection closes at once")
        .expect("the task ends cleanly");
    assert_eq!(shared.publish("+test", "after"), 0);
    shared.stop(Outcome::Shutdown);
}

#[tokio::test]
async fn a_write_that_makes_no_progress_closes_the_client() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = sentinel(&dir).await;
    shared.set_pubsub_limits(PubsubLimits {
        max_queued_bytes: 32 * 1024 * 1024,
        write_stall: Duration::from_millis(300),
    });
    let (task, _client) = silent_subscriber(&shared).await;
    // Well under the queue's bound, but more than the pipe holds.
    assert_eq!(shared.publish("+test", &"y".repeat(1000)), 1);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("closed after the write deadline")
        .expect("the task ends cleanly");
    assert_eq!(subscribers(&shared), 0);
    shared.stop(Outcome::Shutdown);
}

#[tokio::test]
async fn a_simulated_crash_stops_the_shell_with_its_outcome() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = sentinel(&dir).await;
    shared
        .actions
        .send((None, vec![Action::Crash]))
        .expect("the driver runs");
    let outcome = tokio::time::timeout(Duration::from_secs(5), shared.stopped())
        .await
        .expect("stops at once");
    assert_eq!(outcome, Outcome::SimulatedCrash);
    assert_eq!(outcome.exit_code(), 99);
}
