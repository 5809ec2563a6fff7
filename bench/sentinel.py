#!/usr/bin/env python3
"""Failover speed of picket-sentinel beside Redis 7.0's Sentinel, in the same run.

Each run starts a fresh deployment: three picket-servers (a master and two replicas) and
three sentinels of one kind (picket-sentinel or `redis-server --sentinel`) monitoring them
with `down-after-milliseconds 1000` and quorum 2. Once every sentinel knows both replicas
and the two other sentinels, the master gets SIGKILL and the sentinels' events (PSUBSCRIBE
on each) time:

- kill -> +odown: the first sentinel to see the master objectively down;
- kill -> +switch-master: the first sentinel announcing the new master;
- kill -> all switched: the last of the three sentinels to announce it.

Runs alternate between the two kinds so that both see the same machine noise.

Usage: bench/sentinel.py [--picket-server target/release/picket-server]
                         [--picket-sentinel target/release/picket-sentinel]
                         [--redis redis-server] [--runs 5] [--down-after 1000]
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Conn, free_port, start, ROOT  # noqa: E402


def wait_until(what, secs, f):
    deadline = time.monotonic() + secs
    while True:
        try:
            if f():
                return
        except (OSError, RuntimeError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def info_field(port, section, field):
    for line in Conn(port).cmd("INFO", section).split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return ""


def fields(flat):
    return dict(zip(flat[0::2], flat[1::2]))


def start_sentinel(kind, binaries, port, master, down_after, workdir):
    conf = os.path.join(workdir, "sentinel.conf")
    with open(conf, "w") as f:
        f.write("port %d\nbind 127.0.0.1\ndir %s\n" % (port, workdir))
        f.write("sentinel monitor mymaster 127.0.0.1 %d 2\n" % master)
        f.write("sentinel down-after-milliseconds mymaster %d\n" % down_after)
        f.write("sentinel failover-timeout mymaster 10000\n")
    if kind == "redis":
        args = [binaries["redis"], conf, "--sentinel"]
    else:
        args = [binaries["picket-sentinel"], conf]
    log = open(os.path.join(workdir, "log"), "w")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    wait_until("sentinel port %d" % port, 10, lambda: socket.create_connection(("127.0.0.1", port), timeout=0.2).close() or True)
    return p


class Events:
    """The first time each event kind was seen, per sentinel (monotonic seconds)."""

    def __init__(self, ports):
        self.lock = threading.Lock()
        self.seen = {}  # (port, kind) -> time
        self.conns = []
        for port in ports:
            c = Conn(port)
            c.cmd("PSUBSCRIBE", "*")
            self.conns.append(c)
            threading.Thread(target=self.reader, args=(port, c), daemon=True).start()

    def reader(self, port, c):
        while True:
            try:
                m = c.read()
            except Exception:
                return
            if not isinstance(m, list) or len(m) != 4:
                return
            now = time.monotonic()
            with self.lock:
                self.seen.setdefault((port, m[2]), now)

    def first(self, kind):
        with self.lock:
            ts = [t for (p, k), t in self.seen.items() if k == kind]
        return min(ts) if ts else None

    def count(self, kind):
        with self.lock:
            return sum(1 for (p, k) in self.seen if k == kind)

    def last(self, kind):
        with self.lock:
            ts = [t for (p, k), t in self.seen.items() if k == kind]
        return max(ts) if ts else None

    def close(self):
        for c in self.conns:
            try:
                c.s.close()
            except OSError:
                pass


def run_once(kind, binaries, down_after):
    procs, dirs = [], []
    try:
        ports = [free_port() for _ in range(3)]
        for i, port in enumerate(ports):
            d = tempfile.mkdtemp()
            dirs.append(d)
            extra = ["--repl-diskless-sync-delay", "0"]
            if i > 0:
                extra += ["--replicaof", "127.0.0.1", str(ports[0])]
            procs.append(start(binaries["picket-server"], port, d, extra))
        for port in ports[1:]:
            wait_until("replica link", 20, lambda: info_field(port, "replication", "master_link_status") == "up")
        sports = [free_port() for _ in range(3)]
        for sp in sports:
            d = tempfile.mkdtemp()
            dirs.append(d)
            procs.append(start_sentinel(kind, binaries, sp, ports[0], down_after, d))
        for sp in sports:
            wait_until("discovery", 30, lambda: (lambda m: m.get("num-slaves") == "2" and m.get("num-other-sentinels") == "2")(
                fields(Conn(sp).cmd("SENTINEL", "MASTER", "mymaster"))))
        ev = Events(sports)
        # A random phase against the sentinels' ping and hello schedules.
        time.sleep(0.5 + (time.monotonic_ns() % 1000) / 1000.0)
        t0 = time.monotonic()
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].wait()
        wait_until("+switch-master on every sentinel", 60, lambda: ev.count("+switch-master") >= 3)
        res = {
            "odown_ms": (ev.first("+odown") - t0) * 1000,
            "switch_ms": (ev.first("+switch-master") - t0) * 1000,
            "all_ms": (ev.last("+switch-master") - t0) * 1000,
        }
        ev.close()
        return res
    finally:
        for p in procs:
            try:
                p.kill()
                p.wait()
            except OSError:
                pass
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--picket-server", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--picket-sentinel", default=os.path.join(ROOT, "target", "release", "picket-sentinel"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--down-after", type=int, default=1000)
    a = ap.parse_args()
    binaries = {"picket-server": a.picket_server, "picket-sentinel": a.picket_sentinel, "redis": a.redis}
    for name, path in binaries.items():
        if shutil.which(path) is None:
            sys.exit("bench: %s not found at %s" % (name, path))
    kinds = ("redis", "picket")
    res = {k: [] for k in kinds}
    for i in range(a.runs):
        for kind in kinds:
            r = run_once(kind, binaries, a.down_after)
            res[kind].append(r)
            print("run %d %-6s odown %7.1f ms  first switch %7.1f ms  all switched %7.1f ms"
                  % (i + 1, kind, r["odown_ms"], r["switch_ms"], r["all_ms"]), flush=True)
    print("\n== Sentinel failover of 3 picket-servers, SIGKILL of the master, "
          "down-after-milliseconds %d, %d runs each ==" % (a.down_after, a.runs))
    print("%-28s %26s %26s %8s" % ("", "redis-sentinel min/med/max", "picket-sentinel min/med/max", "ratio"))
    for label, k in (("kill -> +odown (ms)", "odown_ms"),
                     ("kill -> +switch-master (ms)", "switch_ms"),
                     ("kill -> all switched (ms)", "all_ms")):
        cells = []
        meds = []
        for kind in kinds:
            v = [r[k] for r in res[kind]]
            med = statistics.median(v)
            meds.append(med)
            cells.append("%7.0f /%7.0f /%7.0f" % (min(v), med, max(v)))
        print("%-28s %26s %26s %8.2f" % (label, cells[0], cells[1], meds[1] / meds[0] if meds[0] else 0))
    print("(ratio = picket median / redis median; lower is faster)")


if __name__ == "__main__":
    main()
