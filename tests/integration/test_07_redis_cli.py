"""redis-cli smoke tests (Debian redis-tools)."""
import shutil
import subprocess

import pytest

CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"

pytestmark = pytest.mark.skipif(not shutil.which("redis-cli"), reason="redis-cli not installed")


def cli(server, *args, stdin=None):
    p = subprocess.run([CLI, "-p", str(server.port)] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_cli_ping(server):
    assert cli(server, "ping").strip() == "PONG"


def test_cli_info_server(server):
    out = cli(server, "info", "server")
    assert "# Server" in out
    assert "redis_version:" in out and "tcp_port:%d" % server.port in out


def test_cli_errors_and_resp3(server):
    assert "unknown command 'nosuch'" in cli(server, "nosuch")
    out = cli(server, "-3", "hello", "3")
    assert "mnemosyne" in out
    assert cli(server, "dbsize").strip() == "0"


def test_cli_pipe_mode(server):
    out = cli(server, "--pipe", stdin="PING\r\nECHO hi\r\n")
    assert "errors: 0, replies: 2" in out


def test_cli_command_docs(server):
    out = cli(server, "command", "docs", "ping")
    assert "summary" in out


@pytest.mark.server_args("--fsync", "never", "--requirepass", "pw")
def test_cli_auth(server):
    assert cli(server, "--no-auth-warning", "-a", "pw", "ping").strip() == "PONG"
    assert "NOAUTH" in cli(server, "ping")
