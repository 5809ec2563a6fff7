//! Blocked stream readers under the deterministic simulator (issue 18): readers on their own
//! hosts block in XREAD BLOCK 0 and XREADGROUP BLOCK 0 (the group's PEL then holds the
//! entry) and are woken by an XADD from another host; a BLOCK with a timeout ends with a null
//! reply after that much simulated time; a destroyed group wakes its reader with -NOGROUP.
//! Ten seeds (PICKET_SIM_SEEDS for more), each replayable by its seed.

use std::time::Duration;

use picket_sim_tests::client::{cmd_text, show, SimClient};
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::{builder, run_server};

async fn connect() -> Result<SimClient, Box<dyn std::error::Error>> {
    Ok(SimClient::connect_retry("server", 6379, Duration::from_secs(2)).await?)
}

fn expect(what: &str, got: String, want: &str) -> turmoil::Result {
    if got != want {
        return Err(format!("{what}: got {got}, want {want}").into());
    }
    Ok(())
}

fn blocked_readers(seed: u64) -> Result<(), String> {
    let mut sim = builder(seed, Duration::from_secs(60)).build();
    sim.host("server", move || run_server(seed, &[]));
    // Two plain readers and a group reader wait for the first entry of `s`.
    for r in 0..2 {
        sim.client(format!("reader{r}"), async move {
            let mut c = connect().await.map_err(|e| e.to_string())?;
            c.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])
                .await?;
            let got = show(&c.read(Duration::from_secs(30)).await?);
            expect(&format!("reader{r}"), got, "[[$s,[[$1-1,[$f,$v]]]]]")
        });
    }
    sim.client("group-reader", async {
        let mut c = connect().await.map_err(|e| e.to_string())?;
        expect(
            "XGROUP CREATE",
            cmd_text(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await,
            "+OK",
        )?;
        c.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ])
        .await?;
        let got = show(&c.read(Duration::from_secs(30)).await?);
        expect("group reader", got, "[[$s,[[$1-1,[$f,$v]]]]]")?;
        expect(
            "XPENDING",
            cmd_text(&mut c, &["XPENDING", "s", "g"]).await,
            "[:1,$1-1,$1-1,[[$c1,$1]]]",
        )
    });
    // A reader with a timeout on a stream nobody writes to.
    sim.client("timeout-reader", async {
        let mut c = connect().await.map_err(|e| e.to_string())?;
        let start = tokio::time::Instant::now();
        let got = cmd_text(&mut c, &["XREAD", "BLOCK", "700", "STREAMS", "quiet", "$"]).await;
        let waited = start.elapsed();
        expect("timeout reader", got, "nil")?;
        if waited < Duration::from_millis(700) || waited > Duration::from_millis(1500) {
            return Err(format!("BLOCK 700 returned after {waited:?}").into());
        }
        Ok(())
    });
    // A group reader whose group is destroyed.
    sim.client("orphan", async {
        let mut c = connect().await.map_err(|e| e.to_string())?;
        expect(
            "XGROUP CREATE",
            cmd_text(
                &mut c,
                &["XGROUP", "CREATE", "t", "doomed", "$", "MKSTREAM"],
            )
            .await,
            "+OK",
        )?;
        c.send(&[
            "XREADGROUP",
            "GROUP",
            "doomed",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "t",
            ">",
        ])
        .await?;
        let got = show(&c.read(Duration::from_secs(30)).await?);
        expect(
            "orphaned reader",
            got,
            "-NOGROUP the consumer group this client was blocked on no longer exists",
        )
    });
    sim.client("writer", async {
        let mut c = connect().await.map_err(|e| e.to_string())?;
        // Wait until the four readers without a timeout block (the timeout reader may too).
        let mut blocked = false;
        for _ in 0..500 {
            let info = cmd_text(&mut c, &["INFO", "clients"]).await;
            if ["blocked_clients:4", "blocked_clients:5"]
                .iter()
                .any(|b| info.contains(b))
            {
                blocked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !blocked {
            return Err("the readers never blocked".into());
        }
        expect(
            "XADD",
            cmd_text(&mut c, &["XADD", "s", "1-1", "f", "v"]).await,
            "$1-1",
        )?;
        expect(
            "XGROUP DESTROY",
            cmd_text(&mut c, &["XGROUP", "DESTROY", "t", "doomed"]).await,
            ":1",
        )
    });
    sim.run().map_err(|e| e.to_string())
}

#[test]
fn blocked_stream_readers_in_simulated_time() {
    sweep(
        "streams_blocking",
        "blocked_stream_readers_in_simulated_time",
        10,
        blocked_readers,
    );
}
