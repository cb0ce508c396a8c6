"""
Integration fixtures: start the real build/mnemosyned on a free port with a
fresh --dir, talk to it through redis-py and a raw RESP socket, and stop it
with SIGTERM, checking that it exits 0 (a clean shutdown is part of every
test).

    server          a running server (ServerProc); options via
                    @pytest.mark.server_args("--requirepass", "pw", ...)
    r               redis.Redis(decode_responses=True) connected to it
    raw             a RawClient (respclient.py) connected to it, RESP2
    server.restart()   SIGTERM + start again on the same port and --dir

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration
"""
import os
import signal
import socket
import subprocess
import time

import pytest
import redis

from respclient import RawClient

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("MNEMOSYNED", os.path.join(ROOT, "build", "mnemosyned"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ServerProc:
    def __init__(self, dirpath, args=(), port=None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.dir = str(dirpath)
        self.args = list(args)
        self.proc = None
        self.logpath = os.path.join(self.dir + ".log")

    def start(self, timeout=5.0):
        assert os.path.exists(BINARY), "build/mnemosyned is not built (make build/mnemosyned)"
        self.log = open(self.logpath, "ab")
        cmd = [BINARY, "--port", str(self.port), "--dir", self.dir] + self.args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError("server did not accept connections within %ss:\n%s" % (timeout, self.read_log()))

    def read_log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        self.proc = None
        self.log.close()
        return rc

    def restart(self, extra_args=None):
        rc = self.stop()
        assert rc == 0, "exit code %s\n%s" % (rc, self.read_log())
        if extra_args is not None:
            self.args = list(extra_args)
        return self.start()

    def client(self, **kw):
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def raw(self, **kw):
        return RawClient(self.host, self.port, **kw)


def pytest_configure(config):
    config.addinivalue_line("markers", "server_args(*args): extra mnemosyned flags for the server fixture")


@pytest.fixture
def server(request, tmp_path):
    marker = request.node.get_closest_marker("server_args")
    # default: the server's defaults (fsync always); tests that write a lot
    # ask for @pytest.mark.server_args("--fsync", "never")
    args = list(marker.args) if marker else []
    srv = ServerProc(tmp_path / "data", args).start()
    yield srv
    rc = srv.stop()
    assert rc == 0, "server exit code %s; log:\n%s" % (rc, srv.read_log())


@pytest.fixture
def r(server):
    c = server.client()
    yield c
    c.close()


def wait_msg(p, timeout=5):
    """The next message of a redis-py PubSub, or AssertionError after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=0.2)
        if m:
            return m
    raise AssertionError("no message")


@pytest.fixture
def raw(server):
    c = server.raw()
    yield c
    c.close()
