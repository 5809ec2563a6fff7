//! Real clients work unchanged: the `redis` crate (sync and async, RESP2 and RESP3, pipelines,
//! transactions, pub/sub) and `redis-cli` (one-shot commands, --pipe, RESP3, scan).

mod common;
use common::{redis_cli, Server};
use redis::{Commands, RedisResult};

fn url(s: &Server) -> String {
    format!("redis://127.0.0.1:{}/", s.port)
}

#[test]
fn redis_rs_sync_commands_pipeline_and_transaction() -> RedisResult<()> {
    let s = Server::start(&[]);
    let client = redis::Client::open(url(&s))?;
    let mut con = client.get_connection()?;
    let _: () = con.set("greeting", "hello")?;
    let v: String = con.get("greeting")?;
    assert_eq!(v, "hello");
    let n: i64 = con.incr("counter", 5)?;
    assert_eq!(n, 5);
    let missing: Option<String> = con.get("nope")?;
    assert_eq!(missing, None);
    let (a, b): (String, i64) = redis::pipe()
        .set("p1", "x")
        .ignore()
        .get("p1")
        .incr("counter", 1)
        .query(&mut con)?;
    assert_eq!((a.as_str(), b), ("x", 6));
    let (t1, t2): (i64, i64) = redis::pipe()
        .atomic()
        .incr("t", 1)
        .incr("t", 1)
        .query(&mut con)?;
    assert_eq!((t1, t2), (1, 2));
    let err = redis::cmd("INCR")
        .arg("greeting")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
    // The connection is still fine after an error.
    let v: String = con.get("greeting")?;
    assert_eq!(v, "hello");
    Ok(())
}

#[test]
fn redis_rs_resp3_and_async() -> RedisResult<()> {
    let s = Server::start(&[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = redis::Client::open(format!("{}?protocol=resp3", url(&s)))?;
        let mut con = client.get_multiplexed_async_connection().await?;
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut con)
            .await?;
        let v: String = redis::cmd("GET").arg("k").query_async(&mut con).await?;
        assert_eq!(v, "v");
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut con)
            .await?;
        assert!(info.contains("redis_version:7.0.15"));
        Ok(())
    })
}

#[test]
fn redis_rs_pubsub() -> RedisResult<()> {
    let s = Server::start(&[]);
    let client = redis::Client::open(url(&s))?;
    let mut sub_con = client.get_connection()?;
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("news")?;
    pubsub.psubscribe("n*")?;
    let mut publisher = client.get_connection()?;
    let receivers: i64 = publisher.publish("news", "hello")?;
    assert_eq!(receivers, 2);
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = pubsub.get_message()?;
        let payload: String = msg.get_payload()?;
        got.push((msg.get_channel_name().to_string(), payload));
    }
    assert_eq!(
        got,
        vec![
            ("news".into(), "hello".into()),
            ("news".into(), "hello".into())
        ]
    );
    Ok(())
}

#[test]
fn redis_cli_works_unchanged() {
    let s = Server::start(&[]);
    let Some(out) = redis_cli(s.port, &["SET", "a", "1"]) else {
        return;
    };
    assert_eq!(out.trim(), "OK");
    assert_eq!(redis_cli(s.port, &["INCR", "a"]).unwrap().trim(), "2");
    assert_eq!(redis_cli(s.port, &["GET", "nope"]).unwrap().trim(), "");
    // RESP3 through redis-cli (raw output when stdout is not a terminal, as with Redis).
    assert_eq!(redis_cli(s.port, &["-3", "GET", "a"]).unwrap().trim(), "2");
    // --scan walks the keyspace with SCAN.
    for i in 0..50 {
        redis_cli(s.port, &["SET", &format!("key:{i}"), "v"]).unwrap();
    }
    let scanned = redis_cli(s.port, &["--scan", "--pattern", "key:*"]).unwrap();
    assert_eq!(scanned.lines().count(), 50);
    // --pipe: mass insertion of raw protocol.
    let mut input = Vec::new();
    for i in 0..1000 {
        let k = format!("bulk:{i}");
        input.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n$1\r\nx\r\n", k.len(), k).as_bytes(),
        );
    }
    let bin = common::which("redis-cli").unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["-p", &s.port.to_string(), "--pipe"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 1000"), "{text}");
    assert_eq!(redis_cli(s.port, &["DBSIZE"]).unwrap().trim(), "1051");
    // INFO and CONFIG as an operator types them.
    let info = redis_cli(s.port, &["INFO", "keyspace"]).unwrap();
    assert!(info.contains("db0:keys=1051,expires=0,avg_ttl=0"), "{info}");
}
