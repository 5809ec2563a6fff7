//! picket-server on one simulated host, clients on others: SET/GET, expiry driven by
//! simulated time (lazy and active), PUBLISH reaching a SUBSCRIBE on a third host, and the
//! same seed giving the same trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use picket_sim_tests::client::{cmd_text, show, SimClient};
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::{builder, run_server};

type Trace = Arc<Mutex<Vec<String>>>;

fn record(trace: &Trace, what: String) {
    let t = turmoil::sim_elapsed().unwrap_or_default().as_millis();
    trace
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{t}ms {what}"));
}

/// SET/GET and expiry; returns the client's trace.
fn kv_and_expiry(seed: u64) -> Result<Vec<String>, String> {
    let trace: Trace = Arc::default();
    let mut sim = builder(seed, Duration::from_secs(30)).build();
    sim.host("server", move || run_server(seed, &[]));
    let t = trace.clone();
    sim.client("client", async move {
        let mut c = SimClient::connect_retry("server", 6379, Duration::from_secs(2)).await?;
        let mut check = async |args: &[&str], want: &str| -> turmoil::Result {
            let got = cmd_text(&mut c, args).await;
            record(&t, format!("{args:?} -> {got}"));
            if got != want {
                return Err(format!("{args:?}: got {got}, want {want}").into());
            }
            Ok(())
        };
        check(&["SET", "k", "v"], "+OK").await?;
        check(&["GET", "k"], "$v").await?;
        check(&["INCR", "n"], ":1").await?;
        // Lazy expiry on access, with simulated time.
        check(&["SET", "t", "v", "PX", "500"], "+OK").await?;
        check(&["GET", "t"], "$v").await?;
        tokio::time::sleep(Duration::from_millis(600)).await;
        check(&["GET", "t"], "nil").await?;
        check(&["PTTL", "t"], ":-2").await?;
        // Active expiry: keys nobody reads disappear on their own. (The 50 SETs take a
        // round trip each: their TTL outlives them all.)
        for i in 0..50 {
            let key = format!("tmp:{i}");
            check(&["SET", &key, "x", "PX", "2000"], "+OK").await?;
        }
        check(&["DBSIZE"], ":52").await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        check(&["DBSIZE"], ":2").await?;
        Ok(())
    });
    sim.run().map_err(|e| e.to_string())?;
    let out = trace.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(out)
}

#[test]
fn set_get_and_expiry_in_simulated_time() {
    sweep(
        "server_basic",
        "set_get_and_expiry_in_simulated_time",
        5,
        |seed| kv_and_expiry(seed).map(|_| ()),
    );
}

#[test]
fn publish_reaches_a_subscriber_on_a_third_host() {
    sweep(
        "server_basic",
        "publish_reaches_a_subscriber_on_a_third_host",
        5,
        |seed| {
            let mut sim = builder(seed, Duration::from_secs(30)).build();
            sim.host("server", move || run_server(seed, &[]));
            sim.client("subscriber", async {
                let mut c =
                    SimClient::connect_retry("server", 6379, Duration::from_secs(2)).await?;
                c.send(&["SUBSCRIBE", "news"]).await?;
                let confirm = show(&c.read(Duration::from_secs(5)).await?);
                if confirm != "[$subscribe,$news,:1]" {
                    return Err(format!("confirmation: {confirm}").into());
                }
                let msg = show(&c.read(Duration::from_secs(10)).await?);
                if msg != "[$message,$news,$hello]" {
                    return Err(format!("message: {msg}").into());
                }
                Ok(())
            });
            sim.client("publisher", async {
                let mut c =
                    SimClient::connect_retry("server", 6379, Duration::from_secs(2)).await?;
                // Wait until the subscriber is registered, then publish once.
                for _ in 0..100 {
                    if cmd_text(&mut c, &["PUBSUB", "NUMSUB", "news"]).await == "[$news,:1]" {
                        let n = cmd_text(&mut c, &["PUBLISH", "news", "hello"]).await;
                        if n != ":1" {
                            return Err(format!("PUBLISH reached {n}").into());
                        }
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err("the subscriber never subscribed".into())
            });
            sim.run().map_err(|e| e.to_string())
        },
    );
}

#[test]
fn same_seed_same_trace() {
    sweep("server_basic", "same_seed_same_trace", 3, |seed| {
        let a = kv_and_expiry(seed)?;
        let b = kv_and_expiry(seed)?;
        if a != b {
            return Err(format!("traces differ:\n{a:#?}\n{b:#?}"));
        }
        Ok(())
    });
}
