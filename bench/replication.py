#!/usr/bin/env python3
"""Replication figures of picket-server beside Redis 7.0, in the same run (each side is a
master and a replica of the same implementation):

- full sync of ~1M mixed keys: time from REPLICAOF until the replica is up and caught up,
  and the longest round trip a client writing to the master sees meanwhile (and its p99);
- replication lag under a redis-benchmark write load: the master's offset minus the
  replica's, sampled every 10 ms (max and mean, bytes), and the time the replica needs to
  catch up once the load stops.

Usage: bench/replication.py [--picket target/release/picket-server] [--keys 1000000]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Conn, LatencyProbe, fill, free_port, start, ROOT  # noqa: E402


def info(c, section, field):
    for line in c.cmd("INFO", section).split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return ""


def caught_up(mc, rc):
    return (info(rc, "replication", "master_link_status") == "up"
            and info(mc, "replication", "master_repl_offset") == info(rc, "replication", "slave_repl_offset"))


def measure(binary, keys):
    work_m, work_r = tempfile.mkdtemp(), tempfile.mkdtemp()
    pm, pr = free_port(), free_port()
    extra = ["--repl-diskless-sync-delay", "0"]
    m = start(binary, pm, work_m, extra)
    r = start(binary, pr, work_r, extra)
    mc, rc = Conn(pm), Conn(pr)
    fill(mc, keys)
    n = int(mc.cmd("DBSIZE"))
    probe = LatencyProbe(pm).start()
    t = time.time()
    rc.cmd("REPLICAOF", "127.0.0.1", pm)
    while not caught_up(mc, rc):
        time.sleep(0.01)
    sync_s = time.time() - t
    during = probe.stop()
    # Lag under load.
    samples = []
    bench = subprocess.Popen(["redis-benchmark", "-p", str(pm), "-t", "set", "-n", "1000000", "-c", "50",
                              "-P", "16", "-r", "100000", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while bench.poll() is None:
        mo = int(info(mc, "replication", "master_repl_offset") or 0)
        ro = int(info(rc, "replication", "slave_repl_offset") or 0)
        samples.append(max(0, mo - ro))
        time.sleep(0.01)
    t = time.time()
    while not caught_up(mc, rc):
        time.sleep(0.001)
    catchup_s = time.time() - t
    for p in (m, r):
        p.terminate()
        p.wait()
    shutil.rmtree(work_m)
    shutil.rmtree(work_r)
    return {
        "keys": n,
        "sync_s": sync_s,
        "max_ms": max(during) * 1000 if during else 0,
        "p99_ms": statistics.quantiles(during, n=100)[98] * 1000 if len(during) > 100 else 0,
        "lag_max": max(samples) if samples else 0,
        "lag_mean": statistics.mean(samples) if samples else 0,
        "catchup_ms": catchup_s * 1000,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=1000000)
    a = ap.parse_args()
    res = {}
    for name, binary in (("redis", a.redis), ("picket", a.picket)):
        res[name] = measure(binary, a.keys)
        print(name, res[name], flush=True)
    r, p = res["redis"], res["picket"]
    print("\n== Replication, %d mixed keys ==" % p["keys"])
    print("%-30s %12s %12s %8s" % ("", "redis", "picket", "ratio"))
    for label, k, fmt in (
        ("full sync time (s)", "sync_s", "%.3f"),
        ("max master latency (ms)", "max_ms", "%.2f"),
        ("p99 master latency (ms)", "p99_ms", "%.2f"),
        ("lag under load, max (bytes)", "lag_max", "%d"),
        ("lag under load, mean (bytes)", "lag_mean", "%d"),
        ("catch-up after load (ms)", "catchup_ms", "%.1f"),
    ):
        print("%-30s %12s %12s %8.2f" % (label, fmt % r[k], fmt % p[k], p[k] / r[k] if r[k] else 0))


main()
