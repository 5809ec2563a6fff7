"""Helpers shared by the bench scripts: a tiny RESP client, starting a server, filling it
with mixed keys."""
import os
import socket
import subprocess
import sys
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




class LatencyProbe:
    """A client that sends SET in a loop and records every round trip, on a thread.
    `start()` waits 0.3 s to warm up; `stop()` returns the round trips (seconds) since
    then."""

    def __init__(self, port):
        import threading
        self.port = port
        self.lat = []
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run)

    def _run(self):
        pc = Conn(self.port)
        i = 0
        while not self.stop_ev.is_set():
            t0 = time.perf_counter()
            pc.cmd("SET", "probe:%d" % (i % 1000), "x")
            self.lat.append(time.perf_counter() - t0)
            i += 1

    def start(self):
        self.th.start()
        time.sleep(0.3)
        self.base = len(self.lat)
        return self

    def stop(self):
        self.stop_ev.set()
        self.th.join()
        return self.lat[self.base:]
