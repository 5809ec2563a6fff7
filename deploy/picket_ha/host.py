"""What this host says about processes (is a pid running, its command line) and ports
(is one free, who holds it)."""
import os
import socket

from .resp import info


def proc_state(pid):
    """'alive', 'gone', or 'zombie' (exited, not yet reaped: it no longer runs)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return "zombie" if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X") else "alive"
    except OSError:
        pass
    try:
        os.kill(pid, 0)
        return "alive" if not os.path.isdir("/proc/self") else "gone"
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "alive"


def cmdline(pid):
    try:
        return open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
    except OSError:
        return None


def port_holder(p):
    """Best effort: who listens on 127.0.0.1:p (pid and command, and what it answers)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for r in rows:
            c = r.split()
            if len(c) > 9 and c[3] == "0A" and int(c[1].rsplit(":", 1)[1], 16) == p:
                inodes.add("socket:[%s]" % c[9])
    who = []
    if inodes and os.path.isdir("/proc"):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                fds = os.listdir("/proc/%s/fd" % d)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink("/proc/%s/fd/%s" % (d, fd)) in inodes:
                        argv = cmdline(int(d)) or []
                        who.append("pid %s (%s)" % (d, b" ".join(argv).decode("utf-8", "replace").strip()))
                        break
                except OSError:
                    continue
    inf = info(p, "server")
    if inf:
        who.append("its INFO says " + " ".join("%s:%s" % (k, inf[k]) for k in (
            "redis_version", "picket_version", "redis_mode", "process_id", "run_id", "config_file") if inf.get(k)))
    return "; ".join(who) if who else "a process this user cannot see"


def port_free(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
