#!/usr/bin/env python3
"""Memory of a replica during a full sync, picket-server beside Redis 7.0 in the same run.

Each side is a master and an empty replica of the same implementation. The master gets a
dataset of incompressible 1 KB strings (~200 MB by default, so the RDB is about as big as
the data); the replica attaches with REPLICAOF. While it syncs, the replica's VmRSS is
sampled every 5 ms; once it is caught up, its used_memory and RSS are read. Printed: the
peak RSS during the sync over the dataset's size on the replica (used_memory after the
load), for each side, and picket's peak over Redis's.

Usage: bench/fullsync_mem.py [--picket target/release/picket-server] [--mb 200]
                             [--master-diskless yes|no]
                             [--diskless-load disabled|on-empty-db|swapdb]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Conn, free_port, start, ROOT  # noqa: E402


def info(c, section, field):
    for line in c.cmd("INFO", section).split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return ""


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fill(c, mb, value_size=1024):
    """Pipelined SETs of random (incompressible) values."""
    keys = mb * 1024 * 1024 // value_size
    batch = 0
    for i in range(keys):
        c.send("SET", "key:%08d" % i, os.urandom(value_size))
        batch += 1
        if batch == 1000:
            for _ in range(batch):
                c.read()
            batch = 0
    for _ in range(batch):
        c.read()
    return keys


def caught_up(mc, rc):
    return (info(rc, "replication", "master_link_status") == "up"
            and info(mc, "replication", "master_repl_offset") == info(rc, "replication", "slave_repl_offset"))


def measure(binary, mb, master_diskless, diskless_load):
    work_m, work_r = tempfile.mkdtemp(), tempfile.mkdtemp()
    pm, pr = free_port(), free_port()
    m = start(binary, pm, work_m, ["--repl-diskless-sync", master_diskless, "--repl-diskless-sync-delay", "0"])
    r = start(binary, pr, work_r, ["--repl-diskless-load", diskless_load])
    mc, rc = Conn(pm), Conn(pr)
    keys = fill(mc, mb)
    master_used = int(info(mc, "memory", "used_memory"))
    time.sleep(0.5)
    base = rss_kb(r.pid)
    peak = base
    t = time.time()
    rc.cmd("REPLICAOF", "127.0.0.1", pm)
    while True:
        peak = max(peak, rss_kb(r.pid))
        # INFO is cheap next to the sync; sample RSS more often than we ask.
        for _ in range(10):
            time.sleep(0.005)
            peak = max(peak, rss_kb(r.pid))
        if caught_up(mc, rc):
            break
    sync_s = time.time() - t
    time.sleep(0.2)
    after = rss_kb(r.pid)
    used = int(info(rc, "memory", "used_memory"))
    rdb = os.path.join(work_r, "dump.rdb")
    rdb_size = os.path.getsize(rdb) if os.path.exists(rdb) else 0
    for p in (m, r):
        p.terminate()
        p.wait()
    shutil.rmtree(work_m)
    shutil.rmtree(work_r)
    return {
        "keys": keys,
        "master_used_mb": master_used / 1048576,
        "rdb_mb": rdb_size / 1048576,
        "sync_s": sync_s,
        "base_rss_mb": base / 1024,
        "peak_rss_mb": peak / 1024,
        "rss_after_mb": after / 1024,
        "used_mb": used / 1048576,
        "peak_over_used": (peak * 1024) / used if used else 0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--mb", type=int, default=200, help="dataset size in MB of 1 KB values")
    ap.add_argument("--master-diskless", default="yes", choices=["yes", "no"],
                    help="repl-diskless-sync of the masters: $EOF: (yes) or $<len> (no) payloads")
    ap.add_argument("--diskless-load", default="disabled", choices=["disabled", "on-empty-db", "swapdb"],
                    help="repl-diskless-load of the replicas")
    a = ap.parse_args()
    res = {}
    for name, binary in (("picket", a.picket), ("redis", a.redis)):
        res[name] = measure(binary, a.mb, a.master_diskless, a.diskless_load)
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in res[name].items()}, flush=True)
    p, r = res["picket"], res["redis"]
    print("\n== Replica memory during a full sync, %d keys of 1 KB (master diskless: %s, replica load: %s) =="
          % (p["keys"], a.master_diskless, a.diskless_load))
    print("%-34s %12s %12s %8s" % ("", "redis", "picket", "ratio"))
    for label, k, fmt in (
        ("dataset on the replica (used_memory, MB)", "used_mb", "%.1f"),
        ("RDB received (dump.rdb, MB)", "rdb_mb", "%.1f"),
        ("RSS before the sync (MB)", "base_rss_mb", "%.1f"),
        ("peak RSS during the sync (MB)", "peak_rss_mb", "%.1f"),
        ("RSS after the sync (MB)", "rss_after_mb", "%.1f"),
        ("peak RSS / dataset", "peak_over_used", "%.3f"),
        ("full sync time (s)", "sync_s", "%.2f"),
    ):
        print("%-34s %12s %12s %8.2f" % (label, fmt % r[k], fmt % p[k], p[k] / r[k] if r[k] else 0))


main()
