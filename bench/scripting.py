#!/usr/bin/env python3
"""Scripting throughput of picket-server against Redis 7.0 in the same run (issue 17).

redis-benchmark (50 clients, pipeline 1 and 16) runs, alternating between the servers so
machine noise hits both alike:
  - `SCRIPT LOAD "return 1"`,
  - `EVAL "return 1" 0`,
  - `EVALSHA` of a script of 5 commands (SET, INCR, GET, EXPIRE, GET) over random keys,
and the median of --runs repetitions is reported with the ratio picket/redis (target >= 1.0).

Usage: python3 bench/scripting.py [--requests N] [--runs R] [--picket PATH] [--baseline PATH]

--baseline runs a second picket-server binary (an earlier build) in the same alternation.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

FIVE = ("redis.call('SET', KEYS[1], ARGV[1]) "
        "redis.call('INCR', KEYS[2]) "
        "redis.call('GET', KEYS[1]) "
        "redis.call('EXPIRE', KEYS[1], 100) "
        "return redis.call('GET', KEYS[2])")


def rps(port, requests, pipeline, args):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "-P", str(pipeline),
         "-r", "100000", "--csv"] + args,
        capture_output=True, text=True, check=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith('"') and not l.startswith('"test"')]
    return float(lines[-1].split(",")[1].strip('"'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--picket", default=os.path.join(benchlib.ROOT, "target/release/picket-server"))
    ap.add_argument("--baseline")
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    a = ap.parse_args()
    if not os.path.exists(a.picket):
        sys.exit("build first: cargo build --release -p picket-server (or pass --picket)")
    if shutil.which("redis-benchmark") is None:
        sys.exit("redis-benchmark not found (apt-get install redis-tools)")
    servers = [("redis", a.redis), ("picket", a.picket)]
    if a.baseline:
        servers.append(("baseline", a.baseline))
    procs, ports = {}, {}
    tmp = tempfile.mkdtemp(prefix="picket-bench-scripting-")
    try:
        for name, binary in servers:
            port = benchlib.free_port()
            d = os.path.join(tmp, name)
            os.makedirs(d)
            procs[name] = benchlib.start(binary, port, d, ["--appendonly", "no"])
            ports[name] = port
        sha = None
        for name, _ in servers:
            s = benchlib.Conn(ports[name]).cmd("SCRIPT", "LOAD", FIVE)
            assert sha in (None, s), (sha, s)
            sha = s
        tests = [
            ("script load", ["script", "load", "return 1"]),
            ("eval return 1", ["eval", "return 1", "0"]),
            ("evalsha 5 cmds", ["evalsha", sha, "2", "k:__rand_int__", "c:__rand_int__", "v"]),
        ]
        res = {}
        for run in range(a.runs):
            for pipeline in (1, 16):
                for tname, args in tests:
                    for name, _ in servers:
                        r = rps(ports[name], a.requests, pipeline, args)
                        res.setdefault((tname, pipeline, name), []).append(r)
        print("%-16s %3s %12s %12s %7s%s" % ("test", "P", "redis", "picket", "ratio",
                                             "  baseline ratio" if a.baseline else ""))
        for tname, _ in tests:
            for pipeline in (1, 16):
                med = {n: statistics.median(res[(tname, pipeline, n)]) for n, _ in servers}
                line = "%-16s %3d %12.0f %12.0f %6.2fx" % (
                    tname, pipeline, med["redis"], med["picket"], med["picket"] / med["redis"])
                if a.baseline:
                    line += "  %12.0f %6.2fx" % (med["baseline"], med["baseline"] / med["redis"])
                print(line)
    finally:
        for p in procs.values():
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
