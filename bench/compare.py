#!/usr/bin/env python3
"""Side-by-side benchmark of picket-server and Redis 7.0 in the same run.

Throughput: redis-benchmark (SET, GET, INCR, MSET, PING; 50 clients; pipeline 1 and 16)
against both servers, alternating runs so machine noise hits both alike; the median of
--runs repetitions is reported, with the ratio picket/redis (target >= 1.0).
Memory: DEBUG POPULATE 1000000 on both, then used_memory and RSS, and the ratio (--keys 0
leaves it out).

--tls benchmarks the servers' TLS ports instead (`redis-benchmark --tls --cert --key
--cacert`), both configured alike with a throwaway CA from tools/gen-test-certs.sh and
client certificates required (Redis's default tls-auth-clients yes).

Usage: bench/run.sh [--requests N] [--runs R] [--keys K] [--baseline PATH] [--tls]

--baseline runs a second picket-server binary (an earlier build) in the same alternation, so
that a change's effect is read as two ratios against the same Redis runs.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(port, proc):
    for _ in range(500):
        if proc.poll() is not None:
            sys.exit("server on port %d exited early" % port)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit("server on port %d did not start" % port)


def start(binary, extra, workdir, certs=None):
    """Start a server; (the port to benchmark, process). With `certs`, a TLS port too,
    which is the one returned."""
    port = free_port()
    args = [binary, "--port", str(port), "--save", "", "--appendonly", "no",
            "--enable-debug-command", "yes", "--dir", workdir] + extra
    tls_port = None
    if certs:
        tls_port = free_port()
        args += ["--tls-port", str(tls_port),
                 "--tls-cert-file", os.path.join(certs, "redis.crt"),
                 "--tls-key-file", os.path.join(certs, "redis.key"),
                 "--tls-ca-cert-file", os.path.join(certs, "ca.crt")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, proc)
    if tls_port:
        wait_ready(tls_port, proc)
        return tls_port, proc
    return port, proc


# Set by main() with --tls: the redis-benchmark / redis-cli arguments of a TLS client.
TLS_CLIENT = []


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port)] + TLS_CLIENT + list(args),
                         capture_output=True, text=True)
    return out.stdout


def info_field(port, section, field):
    for line in cli(port, "INFO", section).splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    return 0


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def bench(port, tests, requests, pipeline):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port)] + TLS_CLIENT +
        ["-c", "50", "-n", str(requests), "-P", str(pipeline),
         "-t", tests, "-r", "100000", "--csv"],
        capture_output=True, text=True)
    rps = {}
    for line in out.stdout.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) >= 2 and parts[0] != "test":
            try:
                rps[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return rps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picket", default=os.path.join(ROOT, "target", "release", "picket-server"))
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--tests", default="ping,set,get,incr,mset")
    ap.add_argument("--picket-args", default="")
    ap.add_argument("--pipelines", default="1,16", help="pipeline depths to run, comma-separated")
    ap.add_argument("--baseline", default=None,
                    help="an earlier picket-server binary, benchmarked in the same alternation")
    ap.add_argument("--tls", action="store_true",
                    help="benchmark the TLS ports (redis-benchmark --tls)")
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    certs = None
    if a.tls:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(ROOT, "tools", "gen-test-certs.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL)
        TLS_CLIENT.extend(["--tls", "--cert", os.path.join(certs, "client.crt"),
                           "--key", os.path.join(certs, "client.key"),
                           "--cacert", os.path.join(certs, "ca.crt")])
    rport, rproc = start(a.redis, [], work, certs)
    pport, pproc = start(a.picket, a.picket_args.split(), work, certs)
    servers = [("redis", rport), ("picket", pport)]
    procs = [rproc, pproc]
    if a.baseline:
        bwork = tempfile.mkdtemp()
        bport, bproc = start(a.baseline, a.picket_args.split(), bwork, certs)
        servers.append(("baseline", bport))
        procs.append(bproc)
    print(", ".join("%s port %d" % s for s in servers))
    try:
        print("\n== Throughput%s (requests/s, 50 clients, median of %d runs) ==" % (
            " over TLS" if a.tls else "", a.runs))
        if a.baseline:
            print("%-14s %4s %12s %12s %8s %12s %8s" % ("test", "P", "redis", "picket", "ratio", "baseline", "ratio"))
        else:
            print("%-14s %4s %12s %12s %8s" % ("test", "P", "redis", "picket", "ratio"))
        for pipeline in [int(p) for p in a.pipelines.split(",")]:
            samples = {name: {} for name, _ in servers}
            for run in range(a.runs):
                # Each repetition starts with the next server: the order of the runs biases
                # them (the later ones measured faster here), so every server takes every place.
                k = run % len(servers)
                for name, port in servers[k:] + servers[:k]:
                    for test, v in bench(port, a.tests, a.requests, pipeline).items():
                        samples[name].setdefault(test, []).append(v)
            for test in samples["redis"]:
                r = statistics.median(samples["redis"][test])
                p = statistics.median(samples["picket"].get(test, [0]))
                line = "%-14s %4d %12.0f %12.0f %8.2f" % (test, pipeline, r, p, p / r if r else 0)
                if a.baseline:
                    b = statistics.median(samples["baseline"].get(test, [0]))
                    line += " %12.0f %8.2f" % (b, b / r if r else 0)
                print(line)
            sys.stdout.flush()

        if a.keys <= 0:
            return
        print("\n== Memory for %d keys (DEBUG POPULATE) ==" % a.keys)
        print("%-8s %14s %14s %14s" % ("server", "used_memory", "RSS", "bytes/key"))
        res = {}
        for name, port, proc in (("redis", rport, rproc), ("picket", pport, pproc)):
            cli(port, "FLUSHALL")
            base = info_field(port, "memory", "used_memory")
            cli(port, "DEBUG", "POPULATE", str(a.keys))
            time.sleep(0.5)
            used = info_field(port, "memory", "used_memory")
            rss = rss_of(proc.pid)
            res[name] = (used, rss)
            print("%-8s %14d %14d %14.1f" % (name, used, rss, (used - base) / a.keys))
        print("ratio picket/redis: used_memory %.2f, RSS %.2f" % (
            res["picket"][0] / res["redis"][0], res["picket"][1] / res["redis"][1]))
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
