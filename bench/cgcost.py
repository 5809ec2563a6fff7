#!/usr/bin/env python3
"""Per-request CPU cost of picket-server and Redis 7.0, counted by cachegrind (issues 17, 18).

Throughput at pipeline 1 moves by +-10% between runs on a shared machine; instruction counts
and simulated cache misses do not. Each server runs under `valgrind --tool=cachegrind` twice,
for SHORT and for LONG requests of the same redis-benchmark test (one client, so requests are
not batched across clients); the difference of the two runs' totals divided by
LONG - SHORT is the cost of one request, with start-up and shutdown cancelled out.

Reported per request: Ir (instructions), D1mr (L1 data read misses), DLmr (last-level data read
misses), for the user-space code of the server process (the kernel is not simulated).

Usage: python3 bench/cgcost.py [--tests set,get,evalsha,...] [--pipeline 1] [--short N]
                               [--long N] [--picket PATH] [--baseline PATH] [--redis PATH]
Tests: set, get, incr, lpush, lrange, hset, zadd, sadd, evalsha (a 5-command script),
eval1 (EVAL "return 1" 0), ping.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from scripting import FIVE  # noqa: E402

TESTS = {
    "ping": ["ping"],
    "set": ["set", "k:__rand_int__", "xxxxxxxxxxxxxxxx"],
    "get": ["get", "k:__rand_int__"],
    "incr": ["incr", "c:__rand_int__"],
    "lpush": ["lpush", "l", "xxxxxxxx"],
    "lrange": ["lrange", "l", "0", "99"],
    "hset": ["hset", "h:__rand_int__", "f", "v"],
    "zadd": ["zadd", "z", "__rand_int__", "m:__rand_int__"],
    "sadd": ["sadd", "s", "m:__rand_int__"],
    "eval1": ["eval", "return 1", "0"],
    "evalsha": None,  # the sha of FIVE, filled in at run time
}


def totals(path):
    """The summary line of a cachegrind output file: {event: count}."""
    events, summary = None, None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:"):
                summary = [int(x) for x in line.split()[1:]]
    if events is None or summary is None:
        sys.exit("no summary in %s" % path)
    return dict(zip(events, summary))


def one_run(binary, requests, test, pipeline, tmp):
    port = benchlib.free_port()
    d = tempfile.mkdtemp(dir=tmp)
    out = os.path.join(d, "cg.out")
    args = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=" + out,
            binary, "--port", str(port), "--dir", d, "--save", "", "--appendonly", "no"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            try:
                c = benchlib.Conn(port)
                if c.cmd("PING") == "PONG":
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            sys.exit("%s did not start under valgrind" % binary)
        cmd = TESTS[test]
        if test == "evalsha":
            cmd = ["evalsha", c.cmd("SCRIPT", "LOAD", FIVE), "2", "k:__rand_int__", "c:__rand_int__", "v"]
        if test == "lrange":
            for _ in range(2):
                c.cmd("RPUSH", "l", *["x%d" % i for i in range(50)])
        subprocess.run(["redis-benchmark", "-p", str(port), "-c", "1", "-n", str(requests), "-P", str(pipeline),
                        "-r", "100000", "-q"] + cmd, stdout=subprocess.DEVNULL, check=True)
        c.send("SHUTDOWN", "NOSAVE")
    finally:
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return totals(out)


def per_request(binary, test, pipeline, short, long, tmp):
    a = one_run(binary, short, test, pipeline, tmp)
    b = one_run(binary, long, test, pipeline, tmp)
    return {e: (b[e] - a[e]) / (long - short) for e in ("Ir", "D1mr", "DLmr") if e in a}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", default="set,get,evalsha")
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=12000)
    ap.add_argument("--picket", default=os.path.join(benchlib.ROOT, "target/release/picket-server"))
    ap.add_argument("--baseline")
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    a = ap.parse_args()
    for tool in ("valgrind", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit("%s not found" % tool)
    tests = a.tests.split(",")
    unknown = [t for t in tests if t not in TESTS]
    if unknown:
        sys.exit("unknown tests %s (known: %s)" % (unknown, ", ".join(TESTS)))
    servers = [("redis", a.redis), ("picket", a.picket)] + ([("baseline", a.baseline)] if a.baseline else [])
    tmp = tempfile.mkdtemp(prefix="picket-cgcost-")
    try:
        print("per request, pipeline %d (Ir instructions / D1mr L1 read misses / DLmr LL read misses)"
              % a.pipeline)
        print("%-8s " % "test" + "".join("%-26s" % n for n, _ in servers) + "picket/redis Ir")
        for t in tests:
            row = {n: per_request(b, t, a.pipeline, a.short, a.long, tmp) for n, b in servers}
            cells = "".join("%-26s" % ("%.0f / %.1f / %.2f" % (r["Ir"], r["D1mr"], r["DLmr"]))
                            for r in row.values())
            print("%-8s %s%.3f" % (t, cells, row["picket"]["Ir"] / row["redis"]["Ir"]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
