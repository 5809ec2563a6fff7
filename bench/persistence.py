#!/usr/bin/env python3
"""Persistence figures of picket-server beside Redis 7.0, in the same run:

- SAVE time and RDB size for ~1M mixed keys (strings, lists, hashes, sets, sorted sets);
- load time at start-up;
- the longest latency a client sees while BGSAVE runs (a client sends SET in a loop and
  records every round trip), and its p99.

Usage: bench/persistence.py [--picket target/release/picket-server] [--keys 1000000]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Conn, LatencyProbe, fill, free_port, start, wait_loaded, ROOT  # noqa: E402


def measure(name, binary, keys, extra):
    work = tempfile.mkdtemp()
    port = free_port()
    p = start(binary, port, work, extra)
    c = Conn(port)
    fill(c, keys)
    n = int(c.cmd("DBSIZE"))
    t = time.time()
    c.cmd("SAVE")
    save_s = time.time() - t
    size = os.path.getsize(os.path.join(work, "dump.rdb"))
    # The longest round trip a writing client sees meanwhile.
    probe = LatencyProbe(port).start()
    t = time.time()
    c.cmd("BGSAVE")
    while "rdb_bgsave_in_progress:1" in c.cmd("INFO", "persistence") or time.time() - t < 0.2:
        time.sleep(0.005)
    bgsave_s = time.time() - t
    during = probe.stop()
    c.cmd("SHUTDOWN", "NOSAVE") if False else None
    p.terminate()
    p.wait()
    # Load time.
    started = time.time()
    p = start(binary, port, work, extra)
    load_s = wait_loaded(port, started)
    p.terminate()
    p.wait()
    shutil.rmtree(work)
    return {
        "keys": n,
        "save_s": save_s,
        "size": size,
        "load_s": load_s,
        "bgsave_s": bgsave_s,
        "max_ms": max(during) * 1000 if during else 0,
        "p99_ms": statistics.quantiles(during, n=100)[98] * 1000 if len(during) > 100 else 0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=1000000)
    a = ap.parse_args()
    res = {}
    for name, binary in (("redis", a.redis), ("picket", a.picket)):
        res[name] = measure(name, binary, a.keys, [])
        print(name, res[name], flush=True)
    r, p = res["redis"], res["picket"]
    print("\n== Persistence, %d mixed keys ==" % p["keys"])
    print("%-26s %12s %12s %8s" % ("", "redis", "picket", "ratio"))
    for label, k, fmt in (
        ("SAVE time (s)", "save_s", "%.3f"),
        ("RDB size (bytes)", "size", "%d"),
        ("load time (s)", "load_s", "%.3f"),
        ("BGSAVE duration (s)", "bgsave_s", "%.3f"),
        ("max latency in BGSAVE (ms)", "max_ms", "%.2f"),
        ("p99 latency in BGSAVE (ms)", "p99_ms", "%.2f"),
    ):
        print("%-26s %12s %12s %8.2f" % (label, fmt % r[k], fmt % p[k], p[k] / r[k] if r[k] else 0))


main()
