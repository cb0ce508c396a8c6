"""
A minimal RESP2/RESP3 client over a raw socket, for what redis-py 4.x
cannot show: RESP3 types (maps, pushes, nulls, verbatim), exact error
lines, inline commands, malformed input and connection closes.

    c = RawClient(host, port)
    c.call("HELLO", "3")     -> parsed reply (Error instances for -ERR)
    c.send(b"raw bytes"); c.read_reply()
    c.read_all(timeout)      -> every byte until close or timeout
"""
import socket


class Error(Exception):
    """An error reply; str(e) is the line without '-'."""

    def __eq__(self, other):
        return isinstance(other, Error) and str(self) == str(other)

    __hash__ = Exception.__hash__


class Push(list):
    """A RESP3 push ('>')."""


class Verbatim(str):
    """A RESP3 verbatim string; .fmt is 'txt' or 'mkd'."""


class Closed(Exception):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.send(encode(*args))
        return self.read_reply()

    def _fill(self):
        d = self.sock.recv(1 << 16)
        if not d:
            raise Closed()
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Error(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._bytes(n).decode(errors="surrogateescape")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        if t == b">":
            return Push(self.read_reply() for _ in range(int(rest)))
        if t == b"~":
            return set(_hashable(self.read_reply()) for _ in range(int(rest)))
        if t == b"%":
            n = int(rest)
            m = {}
            for _ in range(n):
                k = self.read_reply()
                m[_hashable(k)] = self.read_reply()
            return m
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t == b"=":
            data = self._bytes(int(rest)).decode()
            v = Verbatim(data[4:])
            v.fmt = data[:3]
            return v
        raise ValueError("bad reply type %r" % line)

    def read_all(self, timeout=1.0):
        """Everything until the server closes (appends b'<CLOSED>') or timeout."""
        self.sock.settimeout(timeout)
        out = self.buf
        self.buf = b""
        try:
            while True:
                d = self.sock.recv(1 << 16)
                if not d:
                    return out + b"<CLOSED>"
                out += d
        except socket.timeout:
            return out

    def is_closed(self, timeout=2.0):
        return self.read_all(timeout).endswith(b"<CLOSED>")


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(v.items()))
    return v
