#!/usr/bin/env python3
"""The cost of `failover-safety strict` (docs/failover-safety.md), in the same run:

1. Writes: a master with two replicas of the same kind (Redis 7.0, picket classic, picket
   strict), `redis-benchmark -t set -c 50 -r 100000 --csv` at -P 1 and -P 16: requests per
   second and p99 latency, the median of --runs runs, the kinds alternating so that they
   share the machine's noise.
2. Failover: three picket-servers (classic or strict) and three picket-sentinels
   (down-after-milliseconds 1000), a client writing through Sentinel all along; the master
   gets SIGKILL. Measured: kill -> first +switch-master, and the client's downtime (the
   longest gap between two acknowledged writes around the failover).

Usage: bench/failover_safety.py [--picket target/release/picket-server]
                                [--picket-sentinel target/release/picket-sentinel]
                                [--redis redis-server] [--runs 3] [--requests 300000]
                                [--failovers 5]
"""
import argparse
import csv
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Conn, free_port, start, ROOT  # noqa: E402
from sentinel import Events, fields, info_field, start_sentinel, wait_until  # noqa: E402

KINDS = {
    "redis": ("redis", []),
    "classic": ("picket", ["--failover-safety", "classic"]),
    "strict": ("picket", ["--failover-safety", "strict"]),
}


def trio(binary, extra):
    """A master and two replicas; returns (procs, dirs, ports)."""
    procs, dirs = [], []
    ports = [free_port() for _ in range(3)]
    for i, port in enumerate(ports):
        d = tempfile.mkdtemp()
        dirs.append(d)
        args = ["--repl-diskless-sync-delay", "0"] + extra
        if i > 0:
            args += ["--replicaof", "127.0.0.1", str(ports[0])]
        procs.append(start(binary, port, d, args))
    for port in ports[1:]:
        wait_until("replica link", 20, lambda: info_field(port, "replication", "master_link_status") == "up")
    return procs, dirs, ports


def stop(procs, dirs):
    for p in procs:
        try:
            p.kill()
            p.wait()
        except OSError:
            pass
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def bench_writes(binary, extra, pipeline, requests):
    procs, dirs, ports = trio(binary, extra)
    try:
        out = subprocess.run(
            ["redis-benchmark", "-p", str(ports[0]), "-t", "set", "-n", str(requests), "-c", "50",
             "-P", str(pipeline), "-r", "100000", "--csv"],
            capture_output=True, text=True, timeout=600).stdout
        rows = list(csv.DictReader(io.StringIO(out)))
        row = rows[0]
        return float(row["rps"]), float(row["p99_latency_ms"])
    finally:
        stop(procs, dirs)


class Writer:
    """Writes through Sentinel all along; records the time of every acknowledged write."""

    def __init__(self, sentinel_port):
        self.sp = sentinel_port
        self.acks = []
        self.done = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        c, n = None, 0
        while not self.done:
            try:
                if c is None:
                    host, port = Conn(self.sp).cmd("SENTINEL", "get-master-addr-by-name", "mymaster")
                    c = Conn(int(port))
                    c.s.settimeout(1.0)
                n += 1
                if c.cmd("SET", "k%d" % n, "v") == "OK":
                    self.acks.append(time.monotonic())
                else:
                    c = None
                    time.sleep(0.01)
            except Exception:
                c = None
                time.sleep(0.01)

    def stop(self):
        self.done = True
        self.t.join(5)


def failover_once(binaries, extra):
    procs, dirs, ports = trio(binaries["picket"], extra)
    try:
        sports = [free_port() for _ in range(3)]
        for sp in sports:
            d = tempfile.mkdtemp()
            dirs.append(d)
            procs.append(start_sentinel("picket", {"picket-sentinel": binaries["picket-sentinel"]},
                                        sp, ports[0], 1000, d))
        for sp in sports:
            wait_until("discovery", 30, lambda: (lambda m: m.get("num-slaves") == "2" and m.get("num-other-sentinels") == "2")(
                fields(Conn(sp).cmd("SENTINEL", "MASTER", "mymaster"))))
        ev = Events(sports)
        w = Writer(sports[0])
        time.sleep(1.5 + (time.monotonic_ns() % 1000) / 1000.0)
        t0 = time.monotonic()
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].wait()
        wait_until("+switch-master", 60, lambda: ev.count("+switch-master") >= 1)
        switch_ms = (ev.first("+switch-master") - t0) * 1000
        # Writes resume on the new master.
        wait_until("writes after the failover", 30, lambda: w.acks and w.acks[-1] > ev.first("+switch-master"))
        time.sleep(0.5)
        w.stop()
        ev.close()
        before = [a for a in w.acks if a <= t0]
        after = [a for a in w.acks if a > t0]
        downtime_ms = ((after[0] - before[-1]) * 1000) if before and after else float("nan")
        return switch_ms, downtime_ms
    finally:
        stop(procs, dirs)


def med(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--picket-sentinel", default=os.path.join(ROOT, "target", "release", "picket-sentinel"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--failovers", type=int, default=5)
    a = ap.parse_args()
    binaries = {"picket": a.picket, "picket-sentinel": a.picket_sentinel, "redis": a.redis}
    for name, path in binaries.items():
        if shutil.which(path) is None:
            sys.exit("bench: %s not found at %s" % (name, path))
    res = {}
    for pipeline in (1, 16):
        for run in range(a.runs):
            for kind, (impl, extra) in KINDS.items():
                rps, p99 = bench_writes(binaries[impl], extra, pipeline, a.requests)
                res.setdefault((kind, pipeline), []).append((rps, p99))
                print("P%-2d run %d %-8s %10.0f req/s  p99 %6.2f ms" % (pipeline, run + 1, kind, rps, p99), flush=True)
    fo = {}
    for run in range(a.failovers):
        for kind in ("classic", "strict"):
            s, d = failover_once(binaries, KINDS[kind][1])
            fo.setdefault(kind, []).append((s, d))
            print("failover %d %-8s kill -> +switch-master %7.0f ms  client downtime %7.0f ms" % (run + 1, kind, s, d), flush=True)
    print("\n== SET, -c 50 -r 100000, master + 2 replicas, median of %d runs ==" % a.runs)
    print("%-6s %-10s %12s %10s %16s %14s" % ("", "kind", "req/s", "p99 ms", "req/s vs redis", "vs classic"))
    for pipeline in (1, 16):
        base = med([r for r, _ in res[("redis", pipeline)]])
        classic = med([r for r, _ in res[("classic", pipeline)]])
        for kind in KINDS:
            rps = med([r for r, _ in res[(kind, pipeline)]])
            p99 = med([p for _, p in res[(kind, pipeline)]])
            print("P%-5d %-10s %12.0f %10.2f %16.2f %14.2f" % (pipeline, kind, rps, p99, rps / base, rps / classic))
    print("\n== Failover (SIGKILL of the master, down-after 1000 ms), median of %d ==" % a.failovers)
    for kind in ("classic", "strict"):
        if kind not in fo:
            continue
        s = med([x for x, _ in fo[kind]])
        d = med([y for _, y in fo[kind]])
        print("%-8s kill -> +switch-master %7.0f ms   client downtime %7.0f ms" % (kind, s, d))


if __name__ == "__main__":
    main()
