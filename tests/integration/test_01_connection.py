"""Connection commands: PING ECHO HELLO AUTH SELECT CLIENT QUIT RESET."""
import re

import pytest
import redis

from respclient import Error, Verbatim


def test_ping_echo(r, raw):
    assert r.ping() is True
    assert raw.call("PING") == "PONG"
    assert raw.call("PING", "hello") == "hello"
    assert r.echo("héllo wörld") == "héllo wörld"
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'ping' command"):
        r.execute_command("PING", "a", "b")


def test_ping_echo_binary(server):
    c = server.client(decode_responses=False)
    payload = bytes(range(256)) * 4
    assert c.echo(payload) == payload


def test_hello_2_and_3(raw):
    m = raw.call("HELLO")
    assert m[0::2] == ["server", "version", "proto", "id", "mode", "role", "modules"]
    d = dict(zip(m[0::2], m[1::2]))
    assert d["server"] == "mnemosyne" and d["proto"] == 2 and d["mode"] == "standalone"
    assert d["role"] == "master" and d["modules"] == []
    assert d["version"].startswith("7.")
    m3 = raw.call("HELLO", "3")
    assert isinstance(m3, dict)
    assert m3["proto"] == 3 and m3["id"] == d["id"]
    # RESP3 types now
    assert raw.call("CLIENT", "GETNAME") is None  # '_' null
    info = raw.call("CLIENT", "INFO")
    assert isinstance(info, Verbatim) and info.fmt == "txt" and "resp=3" in info


def test_hello_switch_back_to_2(raw):
    raw.call("HELLO", "3")
    m = raw.call("HELLO", "2")
    assert isinstance(m, list)  # the reply itself is already RESP2
    assert raw.call("CLIENT", "GETNAME") is None


def test_hello_errors(raw):
    assert raw.call("HELLO", "4") == Error("NOPROTO unsupported protocol version")
    assert raw.call("HELLO", "1") == Error("NOPROTO unsupported protocol version")
    assert raw.call("HELLO", "x") == Error("ERR Protocol version is not an integer or out of range")
    assert raw.call("HELLO", "3", "foo") == Error("ERR Syntax error in HELLO option 'foo'")
    assert raw.call("HELLO", "3", "AUTH", "default") == Error("ERR Syntax error in HELLO option 'AUTH'")


def test_hello_setname(raw):
    raw.call("HELLO", "3", "SETNAME", "myconn")
    assert raw.call("CLIENT", "GETNAME") == "myconn"


def test_select(r):
    assert r.execute_command("SELECT", 0) in (True, "OK")
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.execute_command("SELECT", 1)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SELECT", "x")


def test_auth_without_password(raw):
    assert raw.call("AUTH", "x") == Error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert raw.call("AUTH", "default", "anything") == "OK"
    assert raw.call("AUTH", "bob", "x") == Error(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert raw.call("AUTH", "a", "b", "c") == Error("ERR syntax error")


@pytest.mark.server_args("--fsync", "never", "--requirepass", "s3cret")
def test_requirepass(server):
    raw = server.raw()
    assert raw.call("PING") == Error("NOAUTH Authentication required.")
    assert raw.call("ECHO", "x") == Error("NOAUTH Authentication required.")
    # unknown commands and arity errors come first, as in Redis
    assert raw.call("NOSUCH") == Error("ERR unknown command 'NOSUCH', with args beginning with: ")
    assert raw.call("HELLO", "3") == Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
        "protocol version at the same time")
    assert raw.call("AUTH", "wrong") == Error("WRONGPASS invalid username-password pair or user is disabled.")
    assert raw.call("AUTH", "s3cret") == "OK"
    assert raw.call("PING") == "PONG"
    raw.close()
    # HELLO with AUTH
    raw = server.raw()
    assert raw.call("HELLO", "3", "AUTH", "default", "bad") == Error(
        "WRONGPASS invalid username-password pair or user is disabled.")
    m = raw.call("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n1")
    assert m["proto"] == 3
    assert raw.call("CLIENT", "GETNAME") == "n1"
    raw.close()
    # redis-py with a password
    assert server.client(password="s3cret").ping()
    with pytest.raises((redis.AuthenticationError, redis.ResponseError), match="WRONGPASS|invalid"):
        server.client(password="nope").ping()
    # QUIT works before AUTH
    raw = server.raw()
    assert raw.call("QUIT") == "OK"
    assert raw.is_closed()


@pytest.mark.server_args("--fsync", "never", "--requirepass", "pw")
def test_unauthenticated_limits(server):
    raw = server.raw()
    raw.send(b"*20\r\n")
    assert raw.read_all(2) == b"-ERR Protocol error: unauthenticated multibulk length\r\n<CLOSED>"
    raw = server.raw()
    raw.send(b"*2\r\n$4\r\nECHO\r\n$100000\r\n")
    assert raw.read_all(2) == b"-ERR Protocol error: unauthenticated bulk length\r\n<CLOSED>"


def test_client_id_name(r, server):
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    assert r.client_getname() is None
    assert r.client_setname("worker-1") is True
    assert r.client_getname() == "worker-1"
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces, newlines or special characters."):
        r.client_setname("a b")
    r.execute_command("CLIENT", "SETNAME", "")
    assert r.client_getname() is None
    other = server.client()
    assert other.client_id() > cid


def test_client_info_list(r, server):
    r.client_setname("me")
    info = r.client_info()
    assert info["name"] == "me" and int(info["id"]) == r.client_id()
    assert info["cmd"] == "client|info" and str(info["resp"]) == "2" and str(info["db"]) == "0"
    other = server.client()
    other.client_setname("other")
    names = {c["name"] for c in r.client_list()}
    assert {"me", "other"} <= names
    line = r.execute_command("CLIENT", "LIST", "ID", str(r.client_id()))
    assert line.count("\n") == 1 and "name=me" in line
    assert r.execute_command("CLIENT", "LIST", "TYPE", "pubsub") == ""
    with pytest.raises(redis.ResponseError, match=re.escape("unknown subcommand 'FOO'. Try CLIENT HELP.")):
        r.execute_command("CLIENT", "FOO")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'client' command"):
        r.execute_command("CLIENT")
    with pytest.raises(redis.ResponseError, match=re.escape("wrong number of arguments for 'client|setname' command")):
        r.execute_command("CLIENT", "SETNAME")
    assert len(r.execute_command("CLIENT", "HELP")) > 4


def test_client_setinfo(r):
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == "OK"
    assert r.execute_command("CLIENT", "SETINFO", "lib-ver", "5.0.1") == "OK"
    info = r.client_info()
    assert info["lib-name"] == "redis-py" and info["lib-ver"].strip() == "5.0.1"
    with pytest.raises(redis.ResponseError, match="Unrecognized option 'foo'"):
        r.execute_command("CLIENT", "SETINFO", "foo", "x")


def test_client_reply(raw):
    raw.send(b"CLIENT REPLY OFF\r\nPING\r\nECHO a\r\nCLIENT REPLY ON\r\nPING\r\n")
    assert raw.read_reply() == "OK"
    assert raw.read_reply() == "PONG"
    raw.send(b"CLIENT REPLY SKIP\r\nECHO skipped\r\nECHO shown\r\n")
    assert raw.read_reply() == "shown"
    assert raw.call("CLIENT", "REPLY", "MAYBE") == Error("ERR syntax error")


def test_client_kill(r, server):
    other = server.raw()
    oid = other.call("CLIENT", "ID")
    assert r.execute_command("CLIENT", "KILL", "ID", str(oid)) == 1
    assert other.is_closed()
    assert r.execute_command("CLIENT", "KILL", "ID", "999999") == 0


def test_quit(raw):
    raw.send(b"PING\r\nQUIT\r\nPING\r\n")
    assert raw.read_all(2) == b"+PONG\r\n+OK\r\n<CLOSED>"


def test_reset(raw):
    raw.call("HELLO", "3")
    raw.call("CLIENT", "SETNAME", "x")
    raw.call("SUBSCRIBE", "ch")
    raw.call("MULTI")
    assert raw.call("RESET") == "RESET"
    assert raw.call("CLIENT", "GETNAME") is None
    assert raw.call("PUBSUB", "NUMSUB", "ch") == ["ch", 0]
    assert raw.call("EXEC") == Error("ERR EXEC without MULTI")
    assert "resp=2" in raw.call("CLIENT", "INFO")


@pytest.mark.skipif(int(redis.__version__.split(".")[0]) < 5, reason="redis-py < 5 has no protocol=3")
def test_redis_py_resp3(server):
    c = server.client(protocol=3)
    assert c.ping()
    assert c.echo("x") == "x"
    assert c.client_getname() is None
    assert c.config_get("appendonly") == {"appendonly": "yes"}
