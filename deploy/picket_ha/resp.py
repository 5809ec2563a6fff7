"""A small RESP client: enough for INFO, SENTINEL, PSUBSCRIBE and plain commands (used by
deploy/picket-ha on the loopback and by deploy/jepsen.py across namespaces)."""
import socket
import ssl

# The TLS context of every connection, when the deployment is TLS (set_tls).
TLS = {}


def set_tls(ca, cert, key):
    """Connect with TLS from now on: verify servers with the CA `ca`, present `cert`/`key`
    (read at the first connection, so the files may be made after this call)."""
    TLS["files"] = (ca, cert, key)
    TLS.pop("ctx", None)


def tls_context():
    """The TLS context of the connections, or None without TLS."""
    if "files" not in TLS:
        return None
    if "ctx" not in TLS:
        ca, cert, key = TLS["files"]
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        TLS["ctx"] = ctx
    return TLS["ctx"]


class Conn:
    def __init__(self, port, timeout=2.0, host="127.0.0.1"):
        self.s = socket.create_connection((host, port), timeout=timeout)
        ctx = tls_context()
        if ctx is not None:
            try:
                self.s = ctx.wrap_socket(self.s, server_hostname=host)
            except (OSError, ssl.SSLError):
                self.s.close()
                raise
        self.f = self.s.makefile("rb")

    def send(self, *args):
        b = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            b += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(b)

    def read(self):
        line = self.f.readline()
        if not line or not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            body = self.f.read(n + 2)
            if len(body) != n + 2:
                raise ConnectionError("connection closed")
            return body[:-2].decode("latin1")
        if t in (b"*", b"%", b">"):
            n = int(rest)
            n = n * 2 if t == b"%" else n
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError("unexpected reply %r" % line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def ask(port, *args):
    """One command on a new connection: the reply, or an exception saying why there is none."""
    try:
        c = Conn(port)
        try:
            return c.cmd(*args)
        finally:
            c.close()
    except (OSError, ConnectionError) as e:
        return e


def fields(text):
    if not isinstance(text, str):
        return None
    return dict(l.split(":", 1) for l in text.split("\r\n") if ":" in l and not l.startswith("#"))


def info(port, section="all"):
    return fields(ask(port, "INFO", section))


def why(reply):
    """What an exception or error reply says, for a message."""
    if isinstance(reply, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reply, socket.timeout):
        return "no reply within 2s"
    return str(reply) or type(reply).__name__


def pairs(reply):
    return dict(zip(reply[::2], reply[1::2])) if isinstance(reply, list) else None
