//! The state file is written off the core: while a write is slow (a busy disk), the core
//! goes on ticking (PINGs go on, no TILT), and what must be durable before it is answered
//! (the reply that grants a vote) waits for the write.
//!
//! The disk is a [`StateStore`] whose writes wait for a gate the test opens; the master is a
//! tiny fake that answers PING and counts them; the client is one end of an in-memory pipe.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use picket_common::net::TokioNet;
use picket_common::resp::{Limits, RequestDecoder};
use picket_sentinel::config::ServerSettings;
use picket_sentinel::core::{Addr, Core};
use picket_sentinel::shell::{self, Shared, StateStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

mod pipe;
use pipe::Pipe;

/// A disk whose writes each wait for one permit of `gate`.
struct GatedDisk {
    gate: Arc<Semaphore>,
    writes: Arc<AtomicU64>,
}

impl StateStore for GatedDisk {
    fn write(
        &self,
        path: std::path::PathBuf,
        text: String,
    ) -> Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> {
        let (gate, writes) = (self.gate.clone(), self.writes.clone());
        Box::pin(async move {
            let permit = gate.acquire().await.map_err(std::io::Error::other)?;
            permit.forget();
            picket_sentinel::config::write_atomically(&path, &text)?;
            writes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// A master that answers PING with +PONG (counted), INFO with a master's INFO, SUBSCRIBE
/// with its confirmation and anything else with +OK.
async fn fake_master(pings: Arc<AtomicU64>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("bound").port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let pings = pings.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                let mut dec = RequestDecoder::new();
                loop {
                    while let Ok(Some(req)) = dec.decode(&mut buf, &Limits::default()) {
                        let cmd = String::from_utf8_lossy(&req.args[0]).to_ascii_uppercase();
                        let reply: Vec<u8> = match cmd.as_str() {
                            "PING" => {
                                pings.fetch_add(1, Ordering::SeqCst);
                                b"+PONG\r\n".to_vec()
                            }
                            "INFO" => {
                                let info = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
                                format!("${}\r\n{info}\r\n", info.len()).into_bytes()
                            }
                            "SUBSCRIBE" => {
                                b"*3\r\n$9\r\nsubscribe\r\n$18\r\n__sentinel__:hello\r\n:1\r\n"
                                    .to_vec()
                            }
                            "PUBLISH" => b":0\r\n".to_vec(),
                            _ => b"+OK\r\n".to_vec(),
                        };
                        if c.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                    match c.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    port
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend(format!("${}\r\n{a}\r\n", a.len()).into_bytes());
    }
    v
}

#[tokio::test]
async fn a_vote_waits_for_a_slow_write_while_the_core_goes_on() {
    let pings = Arc::new(AtomicU64::new(0));
    let port = fake_master(pings.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sentinel.conf");
    std::fs::write(&path, "").expect("temp dir is writable");
    let settings = ServerSettings {
        bind: vec![],
        ..ServerSettings::default()
    };
    let mut core = Core::new("1".repeat(40), picket_common::ids::seeded(7));
    core.monitor("m", Addr::new("127.0.0.1", port), 1, 0);
    let shared: Arc<Shared> = shell::start(
        TokioNet,
        core,
        settings,
        path.clone(),
        picket_common::clock::Clock::system(),
    )
    .await
    .expect("no listener to bind");
    let gate = Arc::new(Semaphore::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    shared.set_state_store(Arc::new(GatedDisk {
        gate: gate.clone(),
        writes: writes.clone(),
    }));
    // The link is up and answering.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(pings.load(Ordering::SeqCst) >= 1, "the master is pinged");

    let (server_end, mut client) = tokio::io::duplex(4096);
    let peer = "127.0.0.1:40000".parse().expect("a literal address");
    tokio::spawn(picket_sentinel::shell::commands::serve(
        shared.clone(),
        Pipe(server_end),
        peer,
    ));
    let voter = "2".repeat(40);
    let port_s = port.to_string();
    client
        .write_all(&resp(&[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            &port_s,
            "1",
            &voter,
        ]))
        .await
        .expect("pipe open");

    // The disk holds the write for 3 s (more than the TILT trigger, 2 s).
    let pings_before = pings.load(Ordering::SeqCst);
    let tick_before = shared.lock().previous_tick;
    let mut got = vec![0u8; 256];
    let early = tokio::time::timeout(Duration::from_secs(3), client.read(&mut got)).await;
    assert!(
        early.is_err(),
        "the vote's reply left before it was on disk"
    );
    assert_eq!(writes.load(Ordering::SeqCst), 0);
    {
        let core = shared.lock();
        // The vote is given (in memory) and the core went on.
        assert_eq!(core.current_epoch, 1);
        assert_eq!(core.masters["m"].leader.as_deref(), Some(voter.as_str()));
        assert!(
            core.tilt_since.is_none(),
            "a slow write put the sentinel in TILT"
        );
        assert!(core.previous_tick > tick_before, "the timer stopped");
    }
    assert!(
        pings.load(Ordering::SeqCst) >= pings_before + 2,
        "PINGs stopped during the write"
    );

    // The disk goes on: the reply leaves once the vote is on disk.
    gate.add_permits(1000);
    let want = format!("*3\r\n:0\r\n$40\r\n{voter}\r\n:1\r\n");
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got))
        .await
        .expect("the reply after the write")
        .expect("pipe open");
    assert_eq!(String::from_utf8_lossy(&got), want);
    assert!(writes.load(Ordering::SeqCst) >= 1);
    let text = std::fs::read_to_string(&path).expect("the state file");
    assert!(text.contains("sentinel current-epoch 1"), "{text}");
    assert!(text.contains("sentinel leader-epoch m 1"), "{text}");
    shared.stop(shell::Outcome::Shutdown);
}
