#!/usr/bin/env python3
"""Data-type throughput of picket-server beside Redis 7.0, in the same run, on big values.

Both servers are first loaded with a 1M-element list, set, hash and sorted set (through
`redis-cli --pipe`), then redis-benchmark runs, alternating servers so machine noise hits
both alike (50 clients, pipeline 1 and 16, median of --runs runs):

  LPUSH / LPOP on the 1M list, SADD / HSET / ZADD of random members into the 1M
  set / hash / zset, ZRANGE of 10 members at the middle rank (rank walk) and from a
  random score (ZRANGEBS, BYSCORE LIMIT 0 10), ZRANK of a random member.

Usage: bench/datatypes.py [--picket target/release/picket-server] [--members 1000000]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, cli, start  # noqa: E402


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def load_file(path, members):
    """The protocol stream that builds the four big values, 1000 members per command."""
    with open(path, "wb") as f:
        for start_at in range(0, members, 1000):
            rng = range(start_at, min(start_at + 1000, members))
            f.write(resp("RPUSH", "biglist", *("e%d" % i for i in rng)))
            f.write(resp("SADD", "bigset", *("m:%d" % i for i in rng)))
            hargs = []
            for i in rng:
                hargs += ["f:%d" % i, "v%d" % i]
            f.write(resp("HSET", "bighash", *hargs))
            zargs = []
            for i in rng:
                zargs += [str(i), "m:%d" % i]
            f.write(resp("ZADD", "bigzset", *zargs))


# (label, command line) pairs; __rand_int__ is replaced by redis-benchmark (-r members).
TESTS = [
    ("LPUSH", ["LPUSH", "biglist", "x"]),
    ("LPOP", ["LPOP", "biglist"]),
    ("SADD", ["SADD", "bigset", "n:__rand_int__"]),
    ("HSET", ["HSET", "bighash", "g:__rand_int__", "v"]),
    ("ZADD", ["ZADD", "bigzset", "__rand_int__", "n:__rand_int__"]),
    ("ZRANGE", None),  # 10 members from the middle rank, built in main()
    ("ZRANGEBS", ["ZRANGE", "bigzset", "(__rand_int__", "+inf", "BYSCORE", "WITHSCORES",
                  "LIMIT", "0", "10"]),
    ("ZRANK", ["ZRANK", "bigzset", "m:__rand_int__"]),
]


def bench(port, cmd, requests, pipeline, members):
    args = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests),
            "-P", str(pipeline), "-r", str(members), "--csv"]
    out = subprocess.run(args + cmd, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) >= 2 and parts[0] != "test":
            try:
                return float(parts[1])
            except ValueError:
                pass
    sys.exit("redis-benchmark gave no figure for %s: %s" % (cmd, out.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--members", type=int, default=1000000)
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    rport, rproc = start(a.redis, [], work)
    pport, pproc = start(a.picket, [], work)
    try:
        data = os.path.join(work, "load.resp")
        load_file(data, a.members)
        for port in (rport, pport):
            with open(data, "rb") as f:
                subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                               capture_output=True, check=True)
            sizes = [cli(port, c, k).strip() for c, k in
                     (("LLEN", "biglist"), ("SCARD", "bigset"), ("HLEN", "bighash"),
                      ("ZCARD", "bigzset"))]
            if sizes != [str(a.members)] * 4:
                sys.exit("load failed on port %d: %s" % (port, sizes))
        print("== Throughput on %d-member values (requests/s, 50 clients, median of %d) =="
              % (a.members, a.runs))
        print("%-8s %4s %12s %12s %8s" % ("test", "P", "redis", "picket", "ratio"))
        for pipeline in (1, 16):
            for label, cmd in TESTS:
                if cmd is None:
                    mid = a.members // 2
                    cmd = ["ZRANGE", "bigzset", str(mid), str(mid + 9), "WITHSCORES"]
                got = {"redis": [], "picket": []}
                for _ in range(a.runs):
                    for name, port in (("redis", rport), ("picket", pport)):
                        got[name].append(bench(port, cmd, a.requests, pipeline, a.members))
                r = statistics.median(got["redis"])
                p = statistics.median(got["picket"])
                print("%-8s %4d %12.0f %12.0f %8.2f" % (label, pipeline, r, p, p / r))
                sys.stdout.flush()
    finally:
        for p in (rproc, pproc):
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
