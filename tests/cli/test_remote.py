"""
test_remote.py — `mnemo` in remote mode: build/mnemo -p PORT against a real
build/mnemosyned started on a free port with a fresh --dir (the integration
suite's ServerProc), for each command: append, read (ordinary and virtual
streams), tail (with -f, ended by SIGINT or a closed pipe), trace, dlq; the
default tables and --json (JSON Lines); AUTH; and every kind of failure
(no server, wrong password, bad arguments, error replies), which must give a
message on stderr and a non-zero exit code.

Run with Debian's interpreter: /usr/bin/python3 -m pytest -q tests/cli
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from conftest import ServerProc, free_port  # noqa: E402  (the server fixture's class)

MNEMO = Path(os.environ.get("MNEMO_BIN", ROOT / "build" / "mnemo"))
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
EVENT_KEYS = ["stream", "version", "position", "id", "type", "data", "meta", "timestamp"]


def start_server(tmp_path, *args):
    srv = ServerProc(tmp_path / "data", args=args)
    srv.start()
    return srv


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path)
    yield srv
    assert srv.stop() == 0, srv.read_log()


@pytest.fixture
def r(server):
    c = redis.Redis(host=server.host, port=server.port, decode_responses=True)
    yield c
    c.close()


def clean_env(**extra):
    """The environment without the MNEMO_* variables (they select the mode)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env.update(extra)
    return env


def run(server, *args, env=None, port=None):
    argv = [str(MNEMO), "-p", str(port or server.port)] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env=env if env is not None else clean_env())


def ok(server, *args, **kw):
    p = run(server, *args, **kw)
    assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    assert p.stderr == "", p.stderr
    return p.stdout


def jl(out):
    return [json.loads(line) for line in out.splitlines()]


def table(out):
    """A table's rows as lists of cells (split on runs of 2+ spaces)."""
    lines = out.splitlines()
    return [re.split(r"\s{2,}", line.rstrip()) for line in lines]


def append(server, stream, type_, data, *opts):
    return json.loads(ok(server, "append", stream, type_, data, "--json", *opts))


# ---------------------------------------------------------------- append / read

def test_append_prints_version_and_position(server):
    out = ok(server, "append", "acc-1", "Opened", '{"owner":"ann"}')
    assert re.fullmatch(r"appended to acc-1: version 0, position \d+\n", out), out
    r2 = append(server, "acc-1", "Deposited", '{"amount":10}')
    assert r2["stream"] == "acc-1" and r2["version"] == 1 and r2["position"] > 0
    assert list(r2) == ["stream", "version", "position"]


def test_read_json_lines_have_stable_fields(server, r):
    append(server, "acc-1", "Opened", '{"owner":"ann"}', "--meta", '{"correlation_id":"c1"}')
    r.xadd("acc-1", {"type": "Deposited", "amount": "10"})
    evs = jl(ok(server, "read", "acc-1", "--json"))
    assert [list(e) for e in evs] == [EVENT_KEYS, EVENT_KEYS]
    assert [e["version"] for e in evs] == [0, 1]
    assert evs[0]["data"] == {"owner": "ann"}            # JSON, not a string
    assert evs[0]["meta"] == {"correlation_id": "c1"}
    assert evs[1]["meta"] is None
    assert evs[1]["type"] == "Deposited"
    assert evs[1]["data"] == {"type": "Deposited", "amount": "10"}   # the XADD fields
    for e in evs:
        assert UUID_RE.match(e["id"]) and TS_RE.match(e["timestamp"])
    assert evs[0]["position"] < evs[1]["position"]
    # --json before the command works too
    assert jl(ok(server, "--json", "read", "acc-1")) == evs


def test_read_table_is_aligned(server):
    append(server, "acc-1", "Opened", '{"owner":"ann"}')
    append(server, "acc-1", "DepositMade", '{"amount":10}')
    out = ok(server, "read", "acc-1")
    lines = out.splitlines()
    assert lines[0].split() == ["STREAM", "VERSION", "POSITION", "TIME", "(UTC)", "TYPE", "DATA"]
    rows = table(out)[1:]
    assert [row[0] for row in rows] == ["acc-1", "acc-1"]
    assert [row[1] for row in rows] == ["0", "1"]
    assert [row[4] for row in rows] == ["Opened", "DepositMade"]
    assert rows[1][5] == '{"amount":10}'
    # aligned: every column starts at the same offset on every line
    for col in ("VERSION", "TYPE", "DATA"):
        at = lines[0].index(col)
        assert all(line[at - 2:at] == "  " and line[at] != " " for line in lines[1:]), out


def test_read_from_count_backward(server):
    for i in range(5):
        append(server, "s", "E", json.dumps({"i": i}))
    v = lambda *a: [e["version"] for e in jl(ok(server, "read", "s", "--json", *a))]
    assert v() == [0, 1, 2, 3, 4]
    assert v("--from", "2") == [2, 3, 4]
    assert v("--from", "1", "--count", "2") == [1, 2]
    assert v("--backward") == [4, 3, 2, 1, 0]
    assert v("--backward", "--from", "3", "--count", "2") == [3, 2]
    assert v("--from", "9") == []
    assert v("--count", "0") == []


def test_read_pages_through_a_long_stream(server, r):
    pipe = r.pipeline(transaction=False)
    for i in range(2500):
        pipe.xadd("long", {"i": str(i)})
    pipe.execute()
    evs = jl(ok(server, "read", "long", "--json"))
    assert [e["version"] for e in evs] == list(range(2500))
    back = jl(ok(server, "read", "long", "--json", "--backward", "--count", "1500"))
    assert [e["version"] for e in back] == list(range(2499, 999, -1))


def test_read_missing_and_deleted_stream(server, r):
    p = run(server, "read", "nosuch")
    assert p.returncode == 4 and p.stdout == ""
    assert "no such stream: nosuch" in p.stderr
    append(server, "gone", "E", "{}")
    r.execute_command("ES.DELETE", "gone")
    p = run(server, "read", "gone")
    assert p.returncode == 4 and "DELETED" in p.stderr and p.stdout == ""


def test_read_virtual_streams(server, r):
    a = append(server, "order-1", "OrderPlaced", '{"sku":"A"}')
    b = append(server, "account-1", "Opened", "{}")
    r.xadd("order-2", {"sku": "B"})
    c = append(server, "order-1", "OrderShipped", "{}")
    pos = lambda *args: [e["position"] for e in jl(ok(server, "read", *args, "--json"))]
    all_ = pos("$all")
    assert len(all_) == 4 and all_ == sorted(all_)
    assert all_[0] == a["position"] and all_[1] == b["position"] and all_[3] == c["position"]
    evs = jl(ok(server, "read", "$ce-order", "--json"))
    assert [(e["stream"], e["type"]) for e in evs] == [
        ("order-1", "OrderPlaced"), ("order-2", "entry"), ("order-1", "OrderShipped")]
    assert [e["stream"] for e in jl(ok(server, "read", "$et-Opened", "--json"))] == ["account-1"]
    assert [e["stream"] for e in jl(ok(server, "read", "$et-entry", "--json"))] == ["order-2"]
    # by position: --from is inclusive, --count limits, --backward reverses
    assert pos("$all", "--from", str(b["position"])) == all_[1:]
    assert pos("$all", "--from", str(b["position"]), "--count", "2") == all_[1:3]
    assert pos("$all", "--backward") == all_[::-1]
    assert pos("$all", "--backward", "--count", "2") == all_[:1:-1]
    assert pos("$ce-order", "--backward", "--from", str(all_[2])) == [all_[2], all_[0]]
    assert pos("$ce-nothing") == [] and pos("$et-Nothing", "--backward") == []
    # read-all is read $all
    assert [e["position"] for e in jl(ok(server, "read-all", "--json"))] == all_


def test_virtual_backward_over_many_windows(server, r):
    """Backwards on a virtual stream reads windows of the log from the end;
    a sparse category far back must still be found, in order."""
    append(server, "rare-1", "R", '{"n":0}')
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.xadd("noise", {"pad": "x" * 100})
    pipe.execute()
    append(server, "rare-2", "R", '{"n":1}')
    evs = jl(ok(server, "read", "$ce-rare", "--backward", "--json"))
    assert [e["stream"] for e in evs] == ["rare-2", "rare-1"]
    evs = jl(ok(server, "tail", "$ce-rare", "-n", "5", "--json"))
    assert [e["stream"] for e in evs] == ["rare-1", "rare-2"]


def test_append_expected_versions(server):
    assert append(server, "s", "E", "{}", "--expected", "NOSTREAM")["version"] == 0
    p = run(server, "append", "s", "E", "{}", "--expected", "NOSTREAM")
    assert p.returncode == 3 and "WRONGVERSION" in p.stderr and p.stdout == ""
    assert append(server, "s", "E", "{}", "--expected", "0")["version"] == 1
    p = run(server, "append", "s", "E", "{}", "--expected", "0")
    assert p.returncode == 3 and "stream is at 1" in p.stderr
    assert append(server, "s", "E", "{}", "--expected", "EXISTS")["version"] == 2
    assert append(server, "s", "E", "{}", "--expected", "ANY")["version"] == 3
    p = run(server, "append", "t", "E", "{}", "--expected", "EXISTS")
    assert p.returncode == 3
    # nothing was written by the refused appends
    assert len(jl(ok(server, "read", "s", "--json"))) == 4
    assert run(server, "read", "t").returncode == 4


def test_append_id_retry_is_idempotent_and_meta(server):
    uid = "0190a1b2-0000-7000-8000-000000000001"
    first = append(server, "s", "E", '{"a":1}', "--id", uid, "--meta", '{"k":"v"}')
    append(server, "s", "F", "{}")
    again = append(server, "s", "E", '{"a":1}', "--id", uid, "--meta", '{"k":"v"}')
    assert again == first
    evs = jl(ok(server, "read", "s", "--json"))
    assert len(evs) == 2 and evs[0]["id"] == uid and evs[0]["meta"] == {"k": "v"}


def test_data_that_is_not_json(server):
    append(server, "s", "Note", "plain text")
    append(server, "s", "Note", "line1\nline2\x1b[31m")
    evs = jl(ok(server, "read", "s", "--json"))
    assert evs[0]["data"] == "plain text"
    assert evs[1]["data"] == "line1\nline2\x1b[31m"
    out = ok(server, "read", "s")
    # one line per event, and no raw escape reaches the terminal
    assert len(out.splitlines()) == 3 and "\x1b" not in out
    assert '"line1\\nline2\\u001b[31m"' in out


def test_long_data_is_abbreviated_in_tables_only(server):
    data = json.dumps({"text": "x" * 500})
    append(server, "s", "Big", data)
    row = table(ok(server, "read", "s"))[1]
    assert row[5].endswith("…") and len(row[5]) == 60
    assert jl(ok(server, "read", "s", "--json"))[0]["data"] == {"text": "x" * 500}


# ---------------------------------------------------------------- tail

def test_tail_prints_the_last_events(server):
    for i in range(15):
        append(server, "s", "E", json.dumps({"i": i}))
    assert [e["version"] for e in jl(ok(server, "tail", "s", "--json"))] == list(range(5, 15))
    assert [e["version"] for e in jl(ok(server, "tail", "s", "-n", "3", "--json"))] == [12, 13, 14]
    assert [e["version"] for e in jl(ok(server, "tail", "s", "--count", "30", "--json"))] \
        == list(range(15))
    assert jl(ok(server, "tail", "s", "-n", "0", "--json")) == []
    assert [e["version"] for e in jl(ok(server, "tail", "s", "--from", "13", "--json"))] \
        == [13, 14]
    rows = table(ok(server, "tail", "s", "-n", "2"))
    assert rows[0][0] == "STREAM" and [row[1] for row in rows[1:]] == ["13", "14"]
    evs = jl(ok(server, "tail", "$all", "-n", "2", "--json"))
    assert [e["version"] for e in evs] == [13, 14]
    p = run(server, "tail", "nosuch")
    assert p.returncode == 4 and "no such stream" in p.stderr


class Follower:
    """mnemo tail -f in the background, its stdout read line by line."""

    def __init__(self, server, *args, env=None):
        argv = [str(MNEMO), "-p", str(server.port), "tail", "-f"] + [str(a) for a in args]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env if env is not None else clean_env())
        self.buf = b""

    def lines(self, n, timeout=10.0):
        """Waits for n complete lines of output; returns them."""
        deadline = time.time() + timeout
        fd = self.p.stdout.fileno()
        while self.buf.count(b"\n") < n and time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.buf += chunk
        return self.buf.decode().splitlines()[:n]

    def stop(self, sig=signal.SIGINT):
        self.p.send_signal(sig)
        rc = self.p.wait(timeout=10)
        err = self.p.stderr.read().decode()
        self.p.stdout.close()
        self.p.stderr.close()
        return rc, err


def test_tail_follow_prints_new_events_and_ends_on_sigint(server, r):
    append(server, "s", "Old", "{}")
    f = Follower(server, "s", "--json")
    first = f.lines(1)
    assert [json.loads(x)["type"] for x in first] == ["Old"]   # the last 10 first, like tail -f
    append(server, "s", "New", '{"n":1}')
    r.xadd("s", {"type": "ByXadd", "k": "v"})
    evs = [json.loads(x) for x in f.lines(3)]
    assert [(e["version"], e["type"]) for e in evs] == [(0, "Old"), (1, "New"), (2, "ByXadd")]
    assert evs[1]["data"] == {"n": 1}
    rc, err = f.stop()
    assert rc == 0 and err == ""


def test_tail_follow_a_stream_that_does_not_exist_yet(server):
    f = Follower(server, "later", "--json")
    time.sleep(0.3)
    append(server, "later", "Born", "{}")
    assert [json.loads(x)["type"] for x in f.lines(1)] == ["Born"]
    assert f.stop(signal.SIGTERM) == (0, "")


def test_tail_follow_virtual_streams_table(server, r):
    f = Follower(server, "$ce-order", "-n", "0")
    g = Follower(server, "$all", "--json")
    time.sleep(0.5)   # -n 0: only what comes after the follower started
    append(server, "account-1", "Opened", "{}")
    append(server, "order-7", "OrderPlaced", '{"sku":"A1"}')
    r.xadd("order-8", {"sku": "B2"})
    lines = f.lines(3)
    assert lines[0].split()[:3] == ["STREAM", "VERSION", "POSITION"]
    assert [table("\n".join(lines))[i][0] for i in (1, 2)] == ["order-7", "order-8"]
    assert [json.loads(x)["stream"] for x in g.lines(3)] == ["account-1", "order-7", "order-8"]
    assert f.stop()[0] == 0 and g.stop()[0] == 0


def test_tail_follow_ends_cleanly_when_the_reader_goes_away(server):
    f = Follower(server, "s", "--json")
    time.sleep(0.3)
    f.p.stdout.close()          # like `| head` exiting
    append(server, "s", "E", "{}")
    append(server, "s", "E", "{}")
    assert f.p.wait(timeout=10) == 0
    assert f.p.stderr.read() == b""
    f.p.stderr.close()


def test_tail_follow_reports_a_server_that_goes_away(tmp_path):
    srv = start_server(tmp_path)
    f = Follower(srv, "s")
    time.sleep(0.3)
    assert srv.stop() == 0
    rc = f.p.wait(timeout=10)
    err = f.p.stderr.read().decode()
    f.p.stdout.close()
    f.p.stderr.close()
    assert rc == 4 and "connection" in err


# ---------------------------------------------------------------- trace

def test_trace_shows_the_causation_tree(server):
    ids = {n: "0190a1b2-0000-7000-8000-0000000000a%d" % n for n in range(1, 5)}
    meta = lambda cause=None: json.dumps(
        {"correlation_id": "checkout-42", **({"causation_id": ids[cause]} if cause else {})})
    append(server, "order-42", "OrderPlaced", "{}", "--id", ids[1], "--meta", meta())
    append(server, "payment-42", "PaymentRequested", "{}", "--id", ids[2], "--meta", meta(1))
    append(server, "stock-42", "StockReserved", "{}", "--id", ids[3], "--meta", meta(1))
    append(server, "payment-42", "PaymentCaptured", "{}", "--id", ids[4], "--meta", meta(2))
    append(server, "other", "Unrelated", "{}")

    evs = jl(ok(server, "trace", "checkout-42", "--json"))
    assert [(e["type"], e["depth"]) for e in evs] == [
        ("OrderPlaced", 0), ("PaymentRequested", 1), ("PaymentCaptured", 2),
        ("StockReserved", 1)]
    assert evs[0]["causation_id"] is None and evs[2]["causation_id"] == ids[2]
    assert list(evs[0])[:8] == EVENT_KEYS and evs[1]["meta"]["causation_id"] == ids[1]

    out = ok(server, "trace", "checkout-42").splitlines()
    assert out[0].split() == ["EVENT", "STREAM", "VERSION", "POSITION", "ID"]
    assert out[1].startswith("OrderPlaced ")
    assert out[2].startswith("└─ PaymentRequested ")
    assert out[3].startswith("   └─ PaymentCaptured ")
    assert out[4].startswith("└─ StockReserved ")
    assert out[3].split()[-1] == ids[4]
    at = out[0].index("STREAM")
    assert all(line[at:].startswith(s) for line, s in
               zip(out[1:], ["order-42", "payment-42", "payment-42", "stock-42"]))

    p = run(server, "trace", "nosuch-flow")
    assert p.returncode == 4 and p.stdout == "" and "no event has correlation_id" in p.stderr


# ---------------------------------------------------------------- dlq

def dead_letter(r, dlq, source, sid, group, n, consumer, reason, **fields):
    return r.xadd(dlq, {"dlq-source": source, "dlq-id": sid, "dlq-group": group,
                        "dlq-deliveries": str(n), "dlq-consumer": consumer,
                        "dlq-reason": reason, **fields})


def test_dlq_lists_dead_letters(server, r):
    d1 = dead_letter(r, "jobs.dlq", "jobs", "1-0", "workers", 3, "w1", "maxdeliver",
                     task="resize", image="a.png")
    d2 = dead_letter(r, "jobs.dlq", "jobs", "7-0", "workers", 5, "w2", "maxdeliver",
                     payload="x" * 200)
    d3 = r.xadd("jobs.dlq", {"note": "added by hand"})   # no envelope: still listed

    evs = jl(ok(server, "dlq", "jobs.dlq", "--json"))
    assert [e["id"] for e in evs] == [d1, d2, d3]
    assert evs[0] == {"stream": "jobs.dlq", "id": d1, "source": "jobs", "source_id": "1-0",
                      "group": "workers", "deliveries": 3, "consumer": "w1",
                      "reason": "maxdeliver", "fields": {"task": "resize", "image": "a.png"}}
    assert evs[1]["fields"] == {"payload": "x" * 200}
    assert evs[2]["source"] is None and evs[2]["deliveries"] is None
    assert evs[2]["fields"] == {"note": "added by hand"}

    rows = table(ok(server, "dlq", "jobs.dlq"))
    assert rows[0] == ["ID", "SOURCE", "SOURCE-ID", "GROUP", "DELIVERIES", "CONSUMER", "REASON",
                       "FIELDS"]
    assert rows[1] == [d1, "jobs", "1-0", "workers", "3", "w1", "maxdeliver",
                       '{"task":"resize","image":"a.png"}']
    assert rows[2][7].endswith("…") and len(rows[2][7]) == 50
    assert rows[3][:2] == [d3, "-"]

    assert [e["id"] for e in jl(ok(server, "dlq", "jobs.dlq", "--count", "2", "--json"))] \
        == [d1, d2]


def test_dlq_pages_and_empty(server, r):
    pipe = r.pipeline(transaction=False)
    for i in range(1200):
        pipe.xadd("big.dlq", {"dlq-source": "q", "dlq-id": "%d-0" % i, "dlq-group": "g",
                              "dlq-deliveries": "1", "dlq-consumer": "c",
                              "dlq-reason": "maxdeliver", "i": str(i)})
    pipe.execute()
    evs = jl(ok(server, "dlq", "big.dlq", "--json"))
    assert [e["fields"]["i"] for e in evs] == [str(i) for i in range(1200)]
    p = run(server, "dlq", "empty.dlq")
    assert p.returncode == 0 and p.stdout == "" and "no dead letters" in p.stderr
    assert ok(server, "dlq", "empty.dlq", "--json") == ""


# ---------------------------------------------------------------- auth, errors

def test_auth(tmp_path):
    srv = start_server(tmp_path, "--requirepass", "s3cret")
    try:
        p = run(srv, "read", "s")
        assert p.returncode == 4 and "NOAUTH" in p.stderr and "-a PASSWORD" in p.stderr
        p = run(srv, "-a", "wrong", "read", "s")   # -a after -p: still before the command
        assert p.returncode == 4 and "WRONGPASS" in p.stderr and p.stdout == ""
        assert json.loads(ok(srv, "-a", "s3cret", "append", "s", "E", "{}", "--json"))["version"] == 0
        env = clean_env(MNEMO_AUTH="s3cret")
        assert len(jl(ok(srv, "read", "s", "--json", env=env))) == 1
    finally:
        assert srv.stop() == 0


def test_no_server(tmp_path):
    p = subprocess.run([str(MNEMO), "-p", str(free_port()), "read", "s"],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert p.returncode == 4 and p.stdout == ""
    assert "cannot talk to mnemosyned at 127.0.0.1:" in p.stderr
    p = subprocess.run([str(MNEMO), "-h", "no-such-host.invalid", "-p", "6363", "tail", "-f", "s"],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert p.returncode == 4 and "cannot talk to mnemosyned" in p.stderr


@pytest.mark.parametrize("args, message", [
    (["read"], "missing argument"),
    (["read", "s", "--count", "x"], "bad --count"),
    (["read", "s", "--from", "-1"], "bad --from"),
    (["read", "$nope"], "unknown virtual stream"),
    (["read", "$ce-"], "unknown virtual stream"),
    (["append", "s", "E"], "missing argument"),
    (["append", "s", "E", "{}", "--expected", "None"], "bad --expect"),
    (["append", "s", "E", "{}", "--id", "nope"], "bad --id"),
    (["append", "s", "E", "{}", "--meta", "[1]"], "--meta must be a JSON object"),
    (["append", "", "E", "{}"], "stream name"),
    (["tail", "s", "-n", "many"], "bad -n"),
    (["tail", "s", "-x"], "unknown option"),
    (["trace"], "missing argument"),
    (["dlq", "q", "--count", "-3"], "bad --count"),
    (["check"], "works on a store directory"),
    (["reindex"], "works on a store directory"),
    (["read", "s", "-p", "1"], "goes before the command"),
    (["read", "s", "--dir", "/tmp"], "exclude each other"),
    (["nosuch"], "unknown command"),
])
def test_bad_arguments_change_nothing(server, r, args, message):
    p = run(server, *args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert message in p.stderr and p.stdout == ""
    assert r.dbsize() == 0 and r.xlen("$all") == 0


def test_server_error_replies(server, r):
    p = run(server, "append", "$all", "E", "{}")
    assert p.returncode == 4 and "reserved for the virtual streams" in p.stderr
    p = run(server, "append", "x" * 401, "E", "{}")
    assert p.returncode == 2 and "stream name" in p.stderr
    assert r.dbsize() == 0


def test_mode_selection(tmp_path, server):
    # remote-only commands need a server
    p = subprocess.run([str(MNEMO), "--dir", str(tmp_path / "d"), "tail", "s"],
                       capture_output=True, text=True, env=clean_env())
    assert p.returncode == 2 and "talks to a server" in p.stderr
    p = subprocess.run([str(MNEMO), "-p", "0", "read", "s"], capture_output=True, text=True,
                       env=clean_env())
    assert p.returncode == 2 and "bad port" in p.stderr
    p = subprocess.run([str(MNEMO), "-p", "1", "--dir", "d", "read", "s"], capture_output=True,
                       text=True, env=clean_env())
    assert p.returncode == 2 and "exclude each other" in p.stderr
    # $MNEMO_PORT (and $MNEMO_HOST) select the server...
    env = clean_env(MNEMO_HOST="127.0.0.1", MNEMO_PORT=str(server.port))
    p = subprocess.run([str(MNEMO), "append", "s", "E", "{}", "--json"], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["version"] == 0
    # ...unless a directory is named: then it is the local store
    d = tmp_path / "local"
    p = subprocess.run([str(MNEMO), "--dir", str(d), "append", "s", "E", "{}"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["version"] == 0 and d.is_dir()
    assert len(jl(ok(server, "read", "s", "--json"))) == 1
    # local commands still accept --json (their output is JSON already)
    p = subprocess.run([str(MNEMO), "--dir", str(d), "read", "s", "--json"],
                       capture_output=True, text=True, env=clean_env())
    assert p.returncode == 0 and jl(p.stdout)[0]["type"] == "E"


def test_help_texts(server):
    out = ok(server, "read", "--help")
    assert out.startswith("usage: mnemo -h HOST -p PORT read STREAM") and "$ce-<category>" in out
    for cmd in ("append", "tail", "trace", "dlq", "read-all"):
        assert ok(server, cmd, "--help").startswith("usage: mnemo -h HOST -p PORT " + cmd)
    top = subprocess.run([str(MNEMO), "--help"], capture_output=True, text=True).stdout
    for word in ("-h, --host", "-p, --port", "-a, --auth", "MNEMO_AUTH", "--json", "tail", "dlq"):
        assert word in top
    # -h alone is still help
    assert subprocess.run([str(MNEMO), "-h"], capture_output=True, text=True).stdout == top


# ---------------------------------------------------------------- info

def test_info_store_and_stream(server, tmp_path):
    a = append(server, "acc-1", "Opened", "{}")
    b = append(server, "acc-1", "Deposited", "{}")
    store = json.loads(ok(server, "info", "--json"))
    assert store["streams"] == 1 and store["events"] == 2
    assert store["read_only"] is False and store["fsync_policy"] == "always"
    assert store["end_position"] > b["position"] >= store["first_position"]
    assert store["dir"] == server.dir
    s = json.loads(ok(server, "info", "acc-1", "--json"))
    assert s["stream"] == "acc-1" and s["version"] == 1 and s["length"] == 2
    assert s["first_position"] == a["position"] and s["last_position"] == b["position"]
    assert s["deleted"] is False and TS_RE.match(s["created"])
    # the local mode's names for the same values
    local = subprocess.run([str(MNEMO), "--dir", str(tmp_path / "l"), "append", "acc-1", "E", "{}"],
                           capture_output=True, text=True, env=clean_env())
    assert local.returncode == 0
    local = json.loads(subprocess.run([str(MNEMO), "--dir", str(tmp_path / "l"), "info", "acc-1"],
                                      capture_output=True, text=True, env=clean_env()).stdout)
    assert set(s) <= set(local)
    rows = table(ok(server, "info", "acc-1"))
    assert rows[0] == ["FIELD", "VALUE"] and ["version", "1"] in rows and ["deleted", "false"] in rows
    p = run(server, "info", "nosuch")
    assert p.returncode == 4 and "no such stream" in p.stderr and p.stdout == ""


# ---------------------------------------------------------------- a peer that is not mnemosyned

class FakeServer:
    """Answers PING with PONG and every other command with one fixed reply:
    mnemo must say the reply is unexpected, never crash or print garbage."""

    def __init__(self, reply):
        import socket
        import threading
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            with c:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    data += d
                    # a whole RESP array: "*N\r\n" then N "$len\r\nbytes\r\n"
                    n = int(data[1:data.index(b"\r\n")])
                    if data.count(b"\r\n") < 1 + 2 * n:
                        continue
                    c.sendall(b"+PONG\r\n" if b"PING" in data else self.reply)
                    data = b""

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("reply", [
    b"*2\r\n:1\r\n$3\r\nabc\r\n",                          # an array, not of events
    b"*1\r\n*2\r\n$6\r\nstream\r\n:5\r\n",                 # an event with a wrong type
    b"*1\r\n*4\r\n$6\r\nstream\r\n$1\r\ns\r\n$7\r\nversion\r\n$1\r\nx\r\n",
    b"$5\r\nhello\r\n",
    b":7\r\n",
    b"*1\r\n*1\r\n*3\r\n:1\r\n:2\r\n:3\r\n",               # nested nonsense
    b"-ERR boom\r\n",
])
@pytest.mark.parametrize("cmd", [["read", "s"], ["read", "$all", "--backward"], ["tail", "s"],
                                 ["tail", "-f", "$ce-x"], ["trace", "c"], ["dlq", "q"],
                                 ["info"], ["info", "s"], ["append", "s", "E", "{}"]])
def test_unexpected_replies_are_errors(reply, cmd):
    fake = FakeServer(reply)
    try:
        p = subprocess.run([str(MNEMO), "-p", str(fake.port)] + cmd, capture_output=True,
                           text=True, timeout=30, env=clean_env())
    finally:
        fake.close()
    assert p.returncode == 4, (cmd, p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("mnemo: ") and "Sanitizer" not in p.stderr
    assert p.stdout == "" or cmd[0] == "dlq"   # dlq may list entries before the bad one


# ---------------------------------------------------------------- saga

SAGA_LUA = (ROOT / "examples" / "order" / "order.lua").read_text()


def test_saga_list_and_status(server, r):
    """`mnemo saga list|status` show SAGA.LIST and SAGA.STATUS as tables and JSON."""
    assert r.execute_command("SAGA.DEFINE", "order", SAGA_LUA) == 1
    for oid in ("42", "43"):
        r.execute_command("SAGA.START", "order", oid,
                          json.dumps({"order_id": oid, "sku": "A1", "qty": 1, "amount": 5}))
    r.execute_command("SAGA.ABORT", "42")
    deadline = time.time() + 10
    while time.time() < deadline:
        if [row for row in r.execute_command("SAGA.LIST", "STATE", "compensated")]:
            break
        time.sleep(0.05)

    rows = table(ok(server, "saga", "list"))
    assert rows[0] == ["NAME", "ID", "STATE", "STEP"]
    assert sorted(rows[1:]) == [["order", "42", "compensated", "reserve"],
                                ["order", "43", "running", "reserve"]]
    assert jl(ok(server, "saga", "list", "--state", "compensated", "--json")) == [
        {"name": "order", "id": "42", "state": "compensated", "step": "reserve"}]

    st = json.loads(ok(server, "saga", "status", "42", "--json"))
    assert st["state"] == "compensated" and st["reason"] == "aborted by SAGA.ABORT"
    assert st["data"] == {"order_id": "42", "sku": "A1", "qty": 1, "amount": 5}
    assert [h["type"] for h in st["history"]] == ["SagaStarted", "StepSent", "SagaAborted",
                                                  "SagaCompensated"]
    assert isinstance(st["history"][0]["data"], dict)
    out = ok(server, "saga", "status", "42", "--name", "order")
    assert re.search(r"^state\s+compensated$", out, re.M)
    hist = [row for row in table(out) if row and row[0].isdigit()]
    assert [row[1] for row in hist] == ["SagaStarted", "StepSent", "SagaAborted",
                                        "SagaCompensated"]


def test_saga_errors(server):
    p = run(server, "saga", "status", "nosuch")
    assert p.returncode == 4 and "no saga with the id 'nosuch'" in p.stderr
    for args in (("saga",), ("saga", "bogus"), ("saga", "status"), ("saga", "list", "x"),
                 ("saga", "status", "1", "--state", "running")):
        p = run(server, *args)
        assert p.returncode == 2 and p.stdout == "", (args, p.stderr)
    p = run(server, "saga", "list", "--state", "sideways")
    assert p.returncode == 4 and "SAGA.LIST" in p.stderr
    p = run(server, "saga", "list")
    assert p.returncode == 0 and "no sagas" in p.stderr
