//! A Sentinel-aware client follows a failover: the `redis` crate's own Sentinel support
//! (`redis::sentinel::SentinelClient`: SENTINEL MASTERS / SLAVES, flag filters and a ROLE
//! check on the candidate, as redis-rs does) resolves `mymaster` through picket sentinels,
//! writes, the master is killed -9, and the client re-resolves and writes to the new master.

mod support;

use std::time::{Duration, Instant};

use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::AsyncCommands;
use support::*;

fn client(sentinels: &[Proc], kind: SentinelServerType) -> SentinelClient {
    let urls: Vec<String> = sentinels
        .iter()
        .map(|s| format!("redis://127.0.0.1:{}/", s.port))
        .collect();
    SentinelClient::build(urls, "mymaster".to_string(), None, kind).expect("sentinel client")
}

/// Resolve, connect and write until it works (the spec's retry loop), returning how many
/// attempts it took.
async fn write_through_sentinels(c: &mut SentinelClient, key: &str, secs: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let r: redis::RedisResult<()> = async {
            let mut con = c.get_async_connection().await?;
            con.set::<_, _, ()>(key, "v").await
        }
        .await;
        match r {
            Ok(()) => return attempts,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "no write through the sentinels within {secs}s: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[test]
fn redis_rs_sentinel_client_follows_a_failover() {
    let mut d = deploy(None, &[], "");
    let old = d.servers[0].port;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut masters = client(&d.sentinels, SentinelServerType::Master);
    let mut replicas = client(&d.sentinels, SentinelServerType::Replica);
    let con = rt.block_on(async {
        assert_eq!(write_through_sentinels(&mut masters, "before", 10).await, 1);
        let mut con = masters.get_async_connection().await.unwrap();
        let n: i64 = redis::cmd("WAIT")
            .arg(2)
            .arg(2000)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(n, 2);
        // A replica client reads the write from a replica.
        let mut rcon = replicas.get_async_connection().await.unwrap();
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut rcon).await.unwrap();
        assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));
        let v: String = rcon.get("before").await.unwrap();
        assert_eq!(v, "v");
        con
    });
    assert_eq!(cmd(old, &["GET", "before"]).s(), "v");

    d.servers[0].kill9();
    rt.block_on(async {
        // The old connection breaks.
        let mut con = con;
        assert!(con.set::<_, _, ()>("lost", "x").await.is_err());
        // Re-resolving through the sentinels reaches the promoted replica.
        write_through_sentinels(&mut masters, "after", 60).await;
        let mut con = masters.get_async_connection().await.unwrap();
        let v: String = con.get("before").await.unwrap();
        assert_eq!(v, "v");
    });
    let new = master_addr(d.sentinels[0].port);
    assert_ne!(new, format!("127.0.0.1:{old}"));
    let port = port_of(&new);
    assert_eq!(cmd(port, &["GET", "after"]).s(), "v");
    assert_eq!(cmd(port, &["ROLE"]).items()[0].s(), "master");
}
