#!/usr/bin/env python3
"""Jepsen-style test of acknowledged writes on real processes (issue #16).

    sudo deploy/jepsen.py --runs 20 --impl picket --safety strict --expect-no-loss
    sudo deploy/jepsen.py --runs 20 --impl picket --safety classic
    sudo deploy/jepsen.py --runs 20 --impl redis            # Redis 7.0 from PATH, same configs

Each run starts three nodes with deploy/netns.sh (three network namespaces on a bridge, a
server and a sentinel in each; min-replicas-to-write 1 in every mode, plus
failover-safety strict with --safety strict), then for --duration seconds (25) a few
Sentinel-aware writer threads on the host ask a sentinel for the master
(SENTINEL get-master-addr-by-name), connect, check ROLE is master and SET unique keys
with a short socket timeout, asking the sentinels again every second (--reresolve). Every
write is recorded as ok (+OK), failed (an error reply) or unknown (timeout, connection
error), with its time and server. Meanwhile a
nemesis applies ONE fault, rotating through them by run number:

  a  the master cut from both other nodes (servers and sentinels), not from the host's
     clients, for 10 s (blackhole routes inside the namespaces), then healed
  b  the master and one replica cut from the third node for 10 s; on odd passes through
     the rotation only one direction (the third node's routes stay, asymmetric)
  c  the master's server stopped with SIGSTOP for 8 s, then SIGCONT (a GC pause)
  d  the master's server killed with SIGKILL, restarted after 8 s with its config
  e  300 ms netem delay on the master's interface plus a flapping partition of the
     master (cut / healed every 1.5 s for 10 s); where the kernel lacks sch_netem, a
     slow link instead (tbf at 128 kbit/s with a 300 ms queue: delays up to 300 ms)

After the fault heals and the writers stop, the harness waits (bounded) until all
sentinels name one master, it is a master and both other servers replicate from it,
then reads every acknowledged key back from that final master (and from every server,
for the report). It measures, per run and in total:

  lost           acknowledged (+OK) but absent on the final master
  acked / failed / unknown
  unavailability the longest time without any successful write
  failover       whether the final master differs from the first one
  split brain    the most servers acknowledging writes at the same time (each server's
                 acknowledgements merged into intervals with gaps < 1 s), and for how long

Exit codes: 0 done, 1 --expect-no-loss and a write was lost, 2 this machine cannot run it
(not root, no `ip netns`), 3 a deployment did not come up. Needs only python3's stdlib;
the nodes get their own namespaces, bridge and /24 (--prefix, --subnet), so it does not
touch a deploy/netns.sh started with the defaults. A run that loses writes or does not
settle keeps its nodes' logs and configs under --keep.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETNS = os.path.join(ROOT, "deploy", "netns.sh")
MASTER = "mymaster"
SERVER_PORT = 6379
SENTINEL_PORT = 26379
FAULTS = "abcde"


# --------------------------------------------------------------------------- RESP client
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from picket_ha.resp import Conn  # noqa: E402


def ask(host, port, *args, timeout=1.0):
    """One command on a new connection: the reply, or None when there is none."""
    try:
        c = Conn(port, timeout, host=host)
        try:
            return c.cmd(*args)
        finally:
            c.close()
    except (OSError, ConnectionError, ValueError):
        return None


def info(host, port, section):
    r = ask(host, port, "INFO", section)
    if not isinstance(r, str):
        return {}
    return dict(l.split(":", 1) for l in r.split("\r\n") if ":" in l and not l.startswith("#"))


# --------------------------------------------------------------------------- deployment
class Deployment:
    def __init__(self, args, run):
        self.args = args
        self.subnet = args.subnet
        self.state = tempfile.mkdtemp(prefix="picket-jepsen-%s-" % args.prefix)
        self.env = dict(
            os.environ,
            PICKET_NETNS_PREFIX=args.prefix,
            PICKET_NETNS_BRIDGE=args.prefix + "br0",
            PICKET_NETNS_SUBNET=args.subnet,
            PICKET_NETNS_DIR=os.path.join(self.state, "netns"),
            PICKET_NETNS_IMPL=args.impl,
            PICKET_NETNS_SAFETY=args.safety,
            PICKET_NETNS_MIN_REPLICAS="1",
            PICKET_NETNS_DOWN_AFTER=str(args.down_after),
            PICKET_NETNS_CONFIGS="ip",
        )
        if args.bin_dir:
            self.env["PICKET_BIN_DIR"] = args.bin_dir
        self.log = open(os.path.join(self.state, "netns.log"), "a")
        self.cuts = set()  # (namespace node, blocked node)
        self.stopped = set()  # pids we SIGSTOPped
        self.delayed = set()  # nodes with a netem qdisc

    def ip(self, i):
        return "%s.%d" % (self.subnet, i)

    def ns(self, i):
        return "%s%d" % (self.args.prefix, i)

    def netns(self, *cmd, check=True):
        r = subprocess.run([NETNS, *cmd], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        if check and r.returncode != 0:
            raise DeployError("deploy/netns.sh %s failed (exit %d): see %s" % (" ".join(cmd), r.returncode, self.log.name))
        return r.returncode

    def sh(self, *cmd, quiet=False):
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 and not quiet:
            print("jepsen.py: warning: %s: %s" % (" ".join(cmd), r.stderr.strip()), file=sys.stderr, flush=True)
        return r.returncode

    def cut(self, frm, to):
        """Packets from node `frm` to node `to` are dropped (a blackhole route in frm's namespace)."""
        if (frm, to) not in self.cuts:
            self.sh("ip", "-n", self.ns(frm), "route", "add", "blackhole", self.ip(to) + "/32")
            self.cuts.add((frm, to))

    def heal(self):
        for frm, to in sorted(self.cuts):
            self.sh("ip", "-n", self.ns(frm), "route", "del", "blackhole", self.ip(to) + "/32", quiet=True)
        self.cuts.clear()

    def delay(self, i, ms):
        """netem delay on node i's interface; kernels without sch_netem get a slow link
        instead (tbf at 128 kbit/s queueing up to `ms` of packets, dropping beyond).
        Returns what it did."""
        tc = ["tc", "-n", self.ns(i), "qdisc", "add", "dev", "eth0", "root"]
        self.delayed.add(i)
        if self.sh(*tc, "netem", "delay", "%dms" % ms, quiet=True) == 0:
            return "netem delay %dms" % ms
        if self.sh(*tc, "tbf", "rate", "128kbit", "burst", "1600", "latency", "%dms" % ms) == 0:
            return "no netem here: tbf rate 128kbit latency %dms (queueing delay up to %d ms)" % (ms, ms)
        return "no delay: neither netem nor tbf qdiscs work here"

    def undelay(self):
        for i in sorted(self.delayed):
            self.sh("tc", "-n", self.ns(i), "qdisc", "del", "dev", "eth0", "root", quiet=True)
        self.delayed.clear()

    def server_pid(self, i):
        with open(os.path.join(self.state, "netns", "node%d" % i, "server.pid")) as f:
            return int(f.read().strip())

    def stop(self, pid):
        os.kill(pid, signal.SIGSTOP)
        self.stopped.add(pid)

    def cont(self):
        for pid in sorted(self.stopped):
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        self.stopped.clear()

    def master_seen(self):
        """{sentinel node: master address or None}."""
        seen = {}
        for i in (1, 2, 3):
            r = ask(self.ip(i), SENTINEL_PORT, "SENTINEL", "get-master-addr-by-name", MASTER, timeout=0.5)
            seen[i] = r[0] if isinstance(r, list) and len(r) == 2 and r[0] else None
        return seen

    def node_of(self, addr):
        try:
            return int(addr.rsplit(".", 1)[1])
        except (AttributeError, ValueError, IndexError):
            return None

    def keep(self, dest):
        """Copy the nodes' configs and logs (not their data) to dest."""
        src = os.path.join(self.state, "netns")
        os.makedirs(dest, exist_ok=True)
        for d in sorted(os.listdir(src)) if os.path.isdir(src) else []:
            if not d.startswith("node"):
                continue
            os.makedirs(os.path.join(dest, d), exist_ok=True)
            for f in os.listdir(os.path.join(src, d)):
                if f.endswith((".conf", ".log", ".out")):
                    shutil.copy(os.path.join(src, d, f), os.path.join(dest, d, f))
        shutil.copy(self.log.name, os.path.join(dest, "netns.log"))

    def teardown(self):
        # A second Ctrl-C must not leave namespaces or stopped processes behind.
        old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._teardown()
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)

    def _teardown(self):
        self.cont()
        self.undelay()
        self.heal()
        self.netns("down", check=False)
        self.log.close()
        shutil.rmtree(self.state, ignore_errors=True)


class DeployError(Exception):
    pass


# --------------------------------------------------------------------------- clients
class Writer(threading.Thread):
    def __init__(self, dep, wid, tag, t0, stop, args):
        super().__init__(daemon=True)
        self.dep, self.wid, self.tag, self.t0, self.stop_ev, self.args = dep, wid, tag, t0, stop, args
        self.ops = []  # (start s, end s, key, server, "ok" | "fail" | "unknown", detail)

    def resolve(self):
        for k in range(3):
            i = (self.wid + k) % 3 + 1
            r = ask(self.dep.ip(i), SENTINEL_PORT, "SENTINEL", "get-master-addr-by-name", MASTER, timeout=0.5)
            if isinstance(r, list) and len(r) == 2 and r[0]:
                return r[0], int(r[1])
        return None

    def run(self):
        conn, server, seq, since = None, None, 0, 0.0
        now = lambda: time.monotonic() - self.t0
        while not self.stop_ev.is_set():
            if conn is not None and now() - since > self.args.reresolve:
                # Ask the sentinels again now and then, as a client reconnecting would: a
                # client that never reconnects never sees a new master while the old one
                # still answers.
                conn.close()
                conn = None
            if conn is None:
                addr = self.resolve()
                if addr is None:
                    time.sleep(0.05)
                    continue
                try:
                    conn = Conn(addr[1], self.args.timeout, host=addr[0])
                    role = conn.cmd("ROLE")
                except (OSError, ConnectionError, ValueError):
                    role = None
                if not (isinstance(role, list) and role and role[0] == "master"):
                    if conn:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
                    continue
                server = addr[0]
                since = now()
            key = "%s-w%d-%d" % (self.tag, self.wid, seq)
            seq += 1
            start = now()
            try:
                r = conn.cmd("SET", key, key)
            except (OSError, ConnectionError, ValueError) as e:
                self.ops.append((start, now(), key, server, "unknown", type(e).__name__))
                conn.close()
                conn = None
                continue
            if r == "OK":
                self.ops.append((start, now(), key, server, "ok", ""))
                time.sleep(self.args.pause)
            else:
                self.ops.append((start, now(), key, server, "fail", str(r).split(" ")[0]))
                conn.close()
                conn = None
                time.sleep(0.05)
        if conn:
            conn.close()


# --------------------------------------------------------------------------- nemesis
def others(m):
    return [i for i in (1, 2, 3) if i != m]


def isolate(dep, m):
    for o in others(m):
        dep.cut(m, o)
        dep.cut(o, m)


def nemesis(dep, fault, rng, variant, t0, events, args):
    """Applies the fault around the middle of the run; returns the master it hit."""
    ev = lambda what: events.append((round(time.monotonic() - t0, 3), what))
    time.sleep(args.warmup + rng.uniform(0, 1))
    seen = dep.master_seen()
    votes = [a for a in seen.values() if a]
    addr = max(set(votes), key=votes.count) if votes else None
    m = dep.node_of(addr)
    if m is None:
        ev("no master known to the sentinels: no fault")
        return None
    if fault == "a":
        isolate(dep, m)
        ev("cut master node %d from nodes %s (both directions)" % (m, others(m)))
        time.sleep(10)
        dep.heal()
        ev("healed")
    elif fault == "b":
        r = rng.choice(others(m))
        t = [i for i in others(m) if i != r][0]
        for i in (m, r):
            dep.cut(i, t)
            if variant == "sym":
                dep.cut(t, i)
        ev("cut master node %d and replica node %d from node %d (%s)" % (
            m, r, t, "both directions" if variant == "sym" else "only %d,%d -> %d" % (m, r, t)))
        time.sleep(10)
        dep.heal()
        ev("healed")
    elif fault == "c":
        pid = dep.server_pid(m)
        dep.stop(pid)
        ev("SIGSTOP master server node %d (pid %d)" % (m, pid))
        time.sleep(8)
        dep.cont()
        ev("SIGCONT")
    elif fault == "d":
        pid = dep.server_pid(m)
        os.kill(pid, signal.SIGKILL)
        ev("SIGKILL master server node %d (pid %d)" % (m, pid))
        time.sleep(8)
        dep.netns("start", "server", str(m))
        ev("restarted server node %d" % m)
    elif fault == "e":
        how = dep.delay(m, 300)
        ev("node %d eth0: %s" % (m, how))
        end = time.monotonic() + 10
        while time.monotonic() < end:
            isolate(dep, m)
            ev("flap: cut node %d" % m)
            time.sleep(1.5)
            dep.heal()
            ev("flap: healed")
            time.sleep(1.5)
        dep.undelay()
        ev("delay removed")
    return m


# --------------------------------------------------------------------------- checker
def settle(dep, limit):
    """Waits until every sentinel names one master that is a master with both others linked to it."""
    t = time.monotonic()
    last = None
    while time.monotonic() - t < limit:
        seen = dep.master_seen()
        addrs = set(seen.values())
        last = seen
        if len(addrs) == 1 and None not in addrs:
            m = dep.node_of(addrs.pop())
            ok = info(dep.ip(m), SERVER_PORT, "replication").get("role") == "master"
            for o in others(m):
                inf = info(dep.ip(o), SERVER_PORT, "replication")
                ok = ok and inf.get("role") == "slave" and inf.get("master_host") == dep.ip(m) \
                    and inf.get("master_link_status") == "up"
            if ok:
                return True, m, time.monotonic() - t
        time.sleep(0.3)
    votes = [a for a in (last or {}).values() if a]
    m = dep.node_of(max(set(votes), key=votes.count)) if votes else None
    return False, m, time.monotonic() - t


def read_keys(host, keys, limit=10.0):
    """{key: present} read with MGET from one server, or None when it does not answer."""
    deadline = time.monotonic() + limit
    while True:
        try:
            c = Conn(SERVER_PORT, 5.0, host=host)
            try:
                out = {}
                for k in range(0, len(keys), 500):
                    batch = keys[k:k + 500]
                    r = c.cmd("MGET", *batch)
                    if not isinstance(r, list):
                        raise ConnectionError(str(r))
                    for key, v in zip(batch, r):
                        out[key] = v == key
                return out
            finally:
                c.close()
        except (OSError, ConnectionError, ValueError):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.5)


def intervals(times, gap=1.0):
    out = []
    for t in sorted(times):
        if out and t - out[-1][1] < gap:
            out[-1][1] = t
        else:
            out.append([t, t])
    return out


def split_brain(acks):
    """(most servers acknowledging at once, seconds with two or more)."""
    pts = []
    for server, ts in acks.items():
        for a, b in intervals(ts):
            pts.append((a, 1))
            pts.append((b, -1))
    pts.sort(key=lambda p: (p[0], -p[1]))
    cur = best = 0
    both = 0.0
    prev = None
    for t, d in pts:
        if prev is not None and cur >= 2:
            both += t - prev
        cur += d
        best = max(best, cur)
        prev = t
    return best, both


def one_run(args, run, seed):
    rng = random.Random(seed)
    faults = args.fault
    fault = faults[run % len(faults)]
    variant = "sym" if (run // len(faults)) % 2 == 0 else "asym"
    label = fault + ("-" + variant if fault == "b" else "")
    dep = Deployment(args, run)
    result = {"run": run, "seed": seed, "fault": label, "impl": args.impl, "safety": args.safety}
    try:
        dep.netns("up")
        first = dep.master_seen()
        t0 = time.monotonic()
        stop = threading.Event()
        tag = "r%ds%d" % (run, seed)
        writers = [Writer(dep, w, tag, t0, stop, args) for w in range(args.writers)]
        for w in writers:
            w.start()
        events = []
        hit = nemesis(dep, fault, rng, variant, t0, events, args)
        rest = args.duration - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
        stop.set()
        for w in writers:
            w.join(timeout=args.timeout + 2)
        end = time.monotonic() - t0
        settled, final, settle_s = settle(dep, args.settle)
        ops = [o for w in writers for o in w.ops]
        ok = [o for o in ops if o[4] == "ok"]
        acked_keys = [o[2] for o in ok]
        present = read_keys(dep.ip(final), acked_keys) if final else None
        per_server = {}
        for i in (1, 2, 3):
            per_server[dep.ip(i)] = read_keys(dep.ip(i), acked_keys, limit=2.0)
        lost = [o for o in ok if present is None or not present.get(o[2])]
        acks = {}
        for o in ok:
            acks.setdefault(o[3], []).append(o[1])
        times = sorted(o[1] for o in ok)
        edges = [0.0] + times + [end]
        unavail = max(b - a for a, b in zip(edges, edges[1:]))
        split_n, split_s = split_brain(acks)
        firstv = [a for a in first.values() if a]
        first_master = max(set(firstv), key=firstv.count) if firstv else None
        result.update({
            "master_hit": hit,
            "first_master": first_master,
            "final_master": dep.ip(final) if final else None,
            "settled": settled,
            "settle_s": round(settle_s, 2),
            "failover": bool(final and first_master and dep.ip(final) != first_master),
            "ops": len(ops),
            "acked": len(ok),
            "failed": sum(1 for o in ops if o[4] == "fail"),
            "unknown": sum(1 for o in ops if o[4] == "unknown"),
            "errors": count_by(o[5] for o in ops if o[4] != "ok"),
            "lost": len(lost) if present is not None else None,
            "acked_by_server": {s: len(v) for s, v in sorted(acks.items())},
            "lost_by_server": count_by(o[3] for o in lost),
            "present_on": {s: (sum(1 for k in acked_keys if p.get(k)) if p else None) for s, p in per_server.items()},
            "unavailability_s": round(unavail, 3),
            "split_servers": split_n,
            "split_s": round(split_s, 3),
            "events": events,
            "lost_sample": [
                {"key": o[2], "acked_by": o[3], "start": round(o[0], 3), "end": round(o[1], 3),
                 "on": [s for s, p in per_server.items() if p and p.get(o[2])]}
                for o in lost[:20]
            ],
        })
        if (result["lost"] or not settled or present is None or args.keep_all) and args.keep:
            dest = os.path.join(args.keep, "%s-%s-run%d-seed%d" % (args.impl, args.safety, run, seed))
            dep.keep(dest)
            with open(os.path.join(dest, "ops.json"), "w") as f:
                json.dump({"result": result, "ops": sorted(ops)}, f)
            result["kept"] = dest
        return result
    finally:
        dep.teardown()


def count_by(it):
    out = {}
    for x in it:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


def line(r):
    lost = "?" if r["lost"] is None else r["lost"]
    return ("run %2d seed %d fault %-6s acked %6d failed %5d unknown %4d LOST %s  unavail %5.2fs  failover %-3s "
            "split %d servers %.2fs  settle %.1fs%s" % (
                r["run"], r["seed"], r["fault"], r["acked"], r["failed"], r["unknown"], lost,
                r["unavailability_s"], "yes" if r["failover"] else "no", r["split_servers"], r["split_s"],
                r["settle_s"], "" if r["settled"] else " (NOT SETTLED)"))


def summary(args, results):
    total_lost = sum(r["lost"] or 0 for r in results)
    worst = max(results, key=lambda r: (r["lost"] or 0, r["split_s"]), default=None)
    s = {
        "mode": "%s %s" % (args.impl, args.safety),
        "runs": len(results),
        "acked": sum(r["acked"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "unknown": sum(r["unknown"] for r in results),
        "lost": total_lost,
        "runs_with_loss": sum(1 for r in results if r["lost"]),
        "unchecked_runs": sum(1 for r in results if r["lost"] is None),
        "unsettled_runs": sum(1 for r in results if not r["settled"]),
        "failovers": sum(1 for r in results if r["failover"]),
        "max_unavailability_s": max((r["unavailability_s"] for r in results), default=0),
        "mean_unavailability_s": round(sum(r["unavailability_s"] for r in results) / max(1, len(results)), 2),
        "runs_with_split_brain": sum(1 for r in results if r["split_servers"] > 1),
        "max_split_s": max((r["split_s"] for r in results), default=0),
        "worst": {"run": worst["run"], "fault": worst["fault"], "seed": worst["seed"], "lost": worst["lost"]}
        if worst else None,
        "by_fault": {},
    }
    for r in results:
        f = s["by_fault"].setdefault(r["fault"], {"runs": 0, "acked": 0, "lost": 0, "failovers": 0})
        f["runs"] += 1
        f["acked"] += r["acked"]
        f["lost"] += r["lost"] or 0
        f["failovers"] += 1 if r["failover"] else 0
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--impl", choices=("picket", "redis"), default="picket")
    p.add_argument("--safety", choices=("classic", "strict"), default="classic")
    p.add_argument("--seed", type=int, default=None, help="run k uses seed S+k (default: from the clock)")
    p.add_argument("--fault", default=",".join(FAULTS), help="faults to rotate through, e.g. a,c (default: a,b,c,d,e)")
    p.add_argument("--json", help="write every run and the summary here")
    p.add_argument("--expect-no-loss", action="store_true", help="exit 1 if an acknowledged write was lost")
    p.add_argument("--duration", type=float, default=25.0, help="seconds of writes per run")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of writes before the fault")
    p.add_argument("--settle", type=float, default=45.0, help="longest wait for the deployment to settle")
    p.add_argument("--writers", type=int, default=3)
    p.add_argument("--timeout", type=float, default=1.0, help="client socket timeout, seconds")
    p.add_argument("--pause", type=float, default=0.005, help="each writer's pause after an acknowledged write")
    p.add_argument("--reresolve", type=float, default=1.0,
                   help="seconds after which a writer asks the sentinels for the master again")
    p.add_argument("--down-after", type=int, default=1000, help="sentinel down-after-milliseconds")
    p.add_argument("--prefix", default="pjep", help="namespace prefix (bridge PREFIXbr0)")
    p.add_argument("--subnet", default="10.79.0", help="first three octets of the nodes' /24")
    p.add_argument("--bin-dir", help="PICKET_BIN_DIR for netns.sh")
    p.add_argument("--keep", default="/tmp/picket-jepsen", help="where runs with loss keep their logs")
    p.add_argument("--keep-all", action="store_true", help="keep every run's logs, not only those with loss")
    args = p.parse_args()

    faults = [f.strip() for f in args.fault.split(",") if f.strip()]
    if not faults or any(f not in FAULTS for f in faults):
        p.error("--fault takes letters among a,b,c,d,e")
    args.fault = faults
    if args.impl == "redis" and args.safety == "strict":
        p.error("Redis has no strict mode: --impl redis runs with --safety classic")
    if args.seed is None:
        args.seed = int(time.time()) % 100000

    if os.geteuid() != 0:
        print("jepsen.py: cannot run here: needs root for network namespaces (try: sudo %s)" % sys.argv[0], file=sys.stderr)
        return 2
    if shutil.which("ip") is None or subprocess.run(["ip", "netns", "list"], stdout=subprocess.DEVNULL,
                                                      stderr=subprocess.DEVNULL).returncode != 0:
        print("jepsen.py: cannot run here: 'ip netns' (iproute2) is not available", file=sys.stderr)
        return 2
    if "e" in faults and shutil.which("tc") is None:
        print("jepsen.py: cannot run here: fault e needs 'tc' (iproute2)", file=sys.stderr)
        return 2

    # SIGTERM ends the run like Ctrl-C: the finally blocks heal and tear down. SIGINT is
    # set explicitly, as a shell starting us in the background leaves it ignored.
    def on_term(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("# %s %s, %d runs, faults %s, seeds %d..%d, %d writers, %.0f s each" % (
        args.impl, args.safety, args.runs, ",".join(faults), args.seed, args.seed + args.runs - 1,
        args.writers, args.duration), flush=True)
    results = []
    code = 0
    try:
        for run in range(args.runs):
            r = one_run(args, run, args.seed + run)
            results.append(r)
            print(line(r), flush=True)
            if r["lost"]:
                for l in r["lost_sample"][:5]:
                    print("    lost %s acked by %s at %.3f-%.3fs, present on %s" % (
                        l["key"], l["acked_by"], l["start"], l["end"], l["on"] or "no server"), flush=True)
                print("    events %s" % r["events"], flush=True)
    except DeployError as e:
        print("jepsen.py: %s" % e, file=sys.stderr)
        code = 3
    except KeyboardInterrupt:
        print("jepsen.py: interrupted; cleaned up", file=sys.stderr)
        code = 130
    s = summary(args, results)
    print("# summary %s: runs %d, acked %d, failed %d, unknown %d, LOST %d (in %d runs), failovers %d, "
          "unavailability max %.2fs mean %.2fs, split brain in %d runs (max %.2fs), unsettled %d" % (
              s["mode"], s["runs"], s["acked"], s["failed"], s["unknown"], s["lost"], s["runs_with_loss"],
              s["failovers"], s["max_unavailability_s"], s["mean_unavailability_s"], s["runs_with_split_brain"],
              s["max_split_s"], s["unsettled_runs"]))
    if s["worst"]:
        print("# worst run %(run)d fault %(fault)s seed %(seed)d lost %(lost)s" % s["worst"])
    for f, v in sorted(s["by_fault"].items()):
        print("#   fault %-6s runs %d acked %d lost %d failovers %d" % (f, v["runs"], v["acked"], v["lost"], v["failovers"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "summary": s, "runs": results}, f, indent=1)
    if code:
        return code
    if args.expect_no_loss and (s["lost"] or s["unchecked_runs"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
