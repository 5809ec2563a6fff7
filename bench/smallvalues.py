#!/usr/bin/env python3
"""Memory and speed of small values (issue 18): picket-server beside Redis 7.0, same run.

For each small type, a fresh Redis and a fresh picket are loaded (through `redis-cli --pipe`)
with --keys keys of that type, each holding a few short elements (the compact encodings:
listpack hashes, sorted sets and list nodes, intsets, and Redis 7.0's small hashtable sets),
and `used_memory` and RSS are compared. Then redis-benchmark runs commands on random keys of
those values (50 clients, pipeline 1 and 16, median of --runs runs, servers alternated).

Usage: bench/smallvalues.py [--picket target/release/picket-server] [--keys 1000000]
       [--types hash,zset,list,intset,set] [--no-speed] [--no-memory]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, cli, info_field, rss_of, start  # noqa: E402
from datatypes import bench, resp  # noqa: E402


# Key names as redis-benchmark's __rand_int__ writes them (12 digits), so the speed tests hit
# the loaded keys. Each value: five short elements.
def value_cmd(kind, i):
    if kind == "hash":
        return resp("HSET", "h:%012d" % i, *sum([["f%d" % j, "value:%d" % (i + j)] for j in range(5)], []))
    if kind == "zset":
        return resp("ZADD", "z:%012d" % i, *sum([[str(j + 1.5), "m%d" % j] for j in range(5)], []))
    if kind == "list":
        return resp("RPUSH", "l:%012d" % i, *("item:%d" % (i + j) for j in range(5)))
    if kind == "intset":
        return resp("SADD", "i:%012d" % i, *(str(i + j * 1000) for j in range(5)))
    if kind == "set":
        return resp("SADD", "s:%012d" % i, *("m:%d" % (i + j) for j in range(5)))
    raise ValueError(kind)


SPEED = {
    "hash": [("HSET", ["HSET", "h:__rand_int__", "f2", "other"]),
             ("HGET", ["HGET", "h:__rand_int__", "f3"]),
             ("HGETALL", ["HGETALL", "h:__rand_int__"])],
    "zset": [("ZADD", ["ZADD", "z:__rand_int__", "2.5", "m1"]),
             ("ZSCORE", ["ZSCORE", "z:__rand_int__", "m3"]),
             ("ZRANGE", ["ZRANGE", "z:__rand_int__", "0", "-1", "WITHSCORES"])],
    "list": [("LSET", ["LSET", "l:__rand_int__", "2", "item:x"]),
             ("LINDEX", ["LINDEX", "l:__rand_int__", "3"]),
             ("LRANGE", ["LRANGE", "l:__rand_int__", "0", "-1"])],
    "intset": [("SADD", ["SADD", "i:__rand_int__", "2000"]),
               ("SISMEMBER", ["SISMEMBER", "i:__rand_int__", "3000"]),
               ("SMEMBERS", ["SMEMBERS", "i:__rand_int__"])],
    "set": [("SADD", ["SADD", "s:__rand_int__", "m:x"]),
            ("SISMEMBER", ["SISMEMBER", "s:__rand_int__", "m:3"])],
}


def load(port, kind, keys, workdir):
    path = os.path.join(workdir, "load-%s.resp" % kind)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            for i in range(keys):
                f.write(value_cmd(kind, i))
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                       stdout=subprocess.DEVNULL, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--types", default="hash,zset,list,intset,set")
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    kinds = a.types.split(",")
    for kind in kinds:
        servers = []
        for name, binary in (("redis", a.redis), ("picket", a.picket)):
            d = tempfile.mkdtemp(dir=work)
            port, proc = start(binary, [], d)
            servers.append((name, port, proc))
        try:
            base = {name: (info_field(port, "memory", "used_memory"), rss_of(proc.pid))
                    for name, port, proc in servers}
            for _, port, _ in servers:
                load(port, kind, a.keys, work)
            if not a.no_memory:
                mem = {}
                for name, port, proc in servers:
                    n = int(cli(port, "DBSIZE").strip() or 0)
                    enc = cli(port, "OBJECT", "ENCODING", value_cmd(kind, 0).split(b"\r\n")[4].decode()).strip()
                    used = info_field(port, "memory", "used_memory")
                    mem[name] = (used, rss_of(proc.pid), n, enc)
                r, p = mem["redis"], mem["picket"]
                print("== %s: %d keys (encoding redis %s, picket %s)" % (kind, p[2], r[3], p[3]))
                print("   used_memory  redis %8.1f MB  picket %8.1f MB  ratio %.2fx   per key %.0f / %.0f B"
                      % (r[0] / 1e6, p[0] / 1e6, p[0] / r[0],
                         (r[0] - base["redis"][0]) / a.keys, (p[0] - base["picket"][0]) / a.keys))
                print("   rss          redis %8.1f MB  picket %8.1f MB  ratio %.2fx"
                      % (r[1] / 1e6, p[1] / 1e6, p[1] / r[1]))
                sys.stdout.flush()
            if not a.no_speed:
                for pipeline in (1, 16):
                    for label, cmd in SPEED[kind]:
                        samples = {name: [] for name, _, _ in servers}
                        for run in range(a.runs):
                            order = servers if run % 2 == 0 else servers[::-1]
                            for name, port, _ in order:
                                samples[name].append(bench(port, cmd, a.requests, pipeline, a.keys))
                        rm = statistics.median(samples["redis"])
                        pm = statistics.median(samples["picket"])
                        print("   %-10s P%-3d redis %10.0f  picket %10.0f  ratio %.2fx"
                              % (label, pipeline, rm, pm, pm / rm if rm else 0))
                        sys.stdout.flush()
        finally:
            for _, _, proc in servers:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
