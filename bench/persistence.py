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
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def send(self, *args):
        b = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            b += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(b)

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b"-", b":"):
            return rest.decode()
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode("latin1")
        if t == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()


def start(binary, port, workdir, extra):
    args = [binary, "--port", str(port), "--dir", workdir, "--save", "", "--enable-debug-command", "yes"] + extra
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.02)
    sys.exit("server did not start")


def wait_loaded(port, started):
    c = Conn(port)
    while True:
        info = c.cmd("INFO", "persistence")
        if "\r\nloading:0\r\n" in info:
            return time.time() - started
        time.sleep(0.01)


def fill(c, keys):
    strings = keys * 8 // 10
    c.cmd("DEBUG", "POPULATE", strings, "key", 20)
    per = (keys - strings) // 4
    batch = 0
    for i in range(per):
        c.send("RPUSH", "list:%d" % i, "a", "b", "c", i)
        c.send("HSET", "hash:%d" % i, "f1", "v1", "f2", i)
        c.send("SADD", "set:%d" % i, 1, 2, i)
        c.send("ZADD", "zset:%d" % i, 1, "a", 2.5, "b", i, "c")
        batch += 4
        if batch >= 4000:
            for _ in range(batch):
                c.read()
            batch = 0
    for _ in range(batch):
        c.read()


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
    # BGSAVE while a client keeps writing: the longest round trip.
    lat = []
    stop = threading.Event()

    def probe():
        pc = Conn(port)
        i = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            pc.cmd("SET", "probe:%d" % (i % 1000), "x")
            lat.append(time.perf_counter() - t0)
            i += 1

    th = threading.Thread(target=probe)
    th.start()
    time.sleep(0.3)
    base = len(lat)
    t = time.time()
    c.cmd("BGSAVE")
    while "rdb_bgsave_in_progress:1" in c.cmd("INFO", "persistence") or time.time() - t < 0.2:
        time.sleep(0.005)
    bgsave_s = time.time() - t
    stop.set()
    th.join()
    during = lat[base:]
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
