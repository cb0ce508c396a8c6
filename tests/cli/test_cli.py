"""
test_cli.py — the `mnemo` command-line tool, end to end.

Every test runs the real build/mnemo binary in a subprocess on a fresh store
directory (pytest's tmp_path) and checks its stdout, stderr and exit code:
0 ok, 1 check found damage, 2 usage error, 3 wrong expected version,
4 other runtime errors.

Run with Debian's interpreter (the one with python3-pytest):
    /usr/bin/python3 -m pytest -q tests/cli
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# MNEMO_BIN runs the suite against another build (an installed mnemo, an ASan build)
MNEMO = Path(os.environ.get("MNEMO_BIN", ROOT / "build" / "mnemo"))

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
COMMANDS = ["append", "read", "read-all", "info", "check", "reindex"]


@pytest.fixture(scope="session", autouse=True)
def binary():
    assert MNEMO.exists(), f"{MNEMO} is not built (make build/mnemo)"


def mnemo(*args, d=None, env=None, cwd=None):
    """Runs mnemo (with --dir d first when d is given); returns the
    CompletedProcess with text stdout/stderr."""
    argv = [str(MNEMO)]
    if d is not None:
        argv += ["--dir", str(d)]
    argv += [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def ok(*args, d=None, **kw):
    """Runs mnemo and asserts exit 0; returns stdout."""
    p = mnemo(*args, d=d, **kw)
    assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return p.stdout


def append(d, stream, type_, data, *opts):
    return json.loads(ok("append", stream, type_, data, *opts, d=d))


def lines(out):
    return [json.loads(line) for line in out.splitlines()]


def read(d, stream, *opts):
    return lines(ok("read", stream, *opts, d=d))


def read_all(d, *opts):
    return lines(ok("read-all", *opts, d=d))


def versions(events):
    return [e["version"] for e in events]


# ---------------------------------------------------------------- append/read

def test_append_read_roundtrip(tmp_path):
    r = append(tmp_path, "account-1", "Opened", '{"owner":"ann"}')
    assert r["stream"] == "account-1" and r["version"] == 0
    assert isinstance(r["position"], int)
    assert "idempotent" not in r
    r2 = append(tmp_path, "account-1", "Deposited", '{"amount":10}')
    assert r2["version"] == 1 and r2["position"] > r["position"]

    evs = read(tmp_path, "account-1")
    assert len(evs) == 2
    e = evs[0]
    assert list(e.keys()) == ["stream", "version", "position", "id", "type", "data",
                              "meta", "timestamp"]
    assert e["stream"] == "account-1" and e["version"] == 0
    assert e["position"] == r["position"]
    assert UUID_RE.match(e["id"])
    assert e["type"] == "Opened"
    assert e["data"] == {"owner": "ann"}
    assert e["meta"] is None
    assert TS_RE.match(e["timestamp"])
    assert evs[1]["data"] == {"amount": 10} and evs[1]["position"] == r2["position"]
    assert evs[0]["id"] != evs[1]["id"]


def test_data_json_embedded_else_string(tmp_path):
    cases = [
        ('{"a": [1, 2.5, true, null]}', {"a": [1, 2.5, True, None]}),
        ("[1, 2]", [1, 2]),
        ('"quoted"', "quoted"),
        ("42", 42),
        ("-5", -5),            # a negative number is a positional, not an option
        ("hello world", "hello world"),
        ("{not json", "{not json"),
        ("", ""),
        ("caf\u00e9 \u2603", "caf\u00e9 \u2603"),
    ]
    for data, _ in cases:
        append(tmp_path, "s", "T", data)
    got = [e["data"] for e in read(tmp_path, "s")]
    assert got == [want for _, want in cases]


def test_pretty_json_data_prints_on_one_line(tmp_path):
    append(tmp_path, "s", "T", '{\n  "a": 1,\n  "b": "x y\\n"\n}')
    out = ok("read", "s", d=tmp_path)
    assert out.count("\n") == 1
    assert json.loads(out)["data"] == {"a": 1, "b": "x y\n"}


def test_data_starting_with_dashes_after_double_dash(tmp_path):
    append(tmp_path, "s", "T", "--", "--not-an-option")
    assert read(tmp_path, "s")[0]["data"] == "--not-an-option"


def test_meta(tmp_path):
    append(tmp_path, "s", "T", "{}", "--meta", '{"correlation_id":"c-1","causation_id":"x"}')
    append(tmp_path, "s", "T", "{}", "--meta={\"k\": [1]}")
    evs = read(tmp_path, "s")
    assert evs[0]["meta"] == {"correlation_id": "c-1", "causation_id": "x"}
    assert evs[1]["meta"] == {"k": [1]}


@pytest.mark.parametrize("meta", ["[1]", "nope", '"str"', "", "{", "42", '{"a":1} x'])
def test_bad_meta_is_usage_error_and_writes_nothing(tmp_path, meta):
    p = mnemo("append", "s", "T", "{}", "--meta", meta, d=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "meta" in p.stderr and p.stdout == ""
    p = mnemo("read", "s", d=tmp_path)
    assert p.returncode == 4


# ------------------------------------------------------------ expected version

def test_expect_none_on_new_stream(tmp_path):
    assert append(tmp_path, "s", "T", "1", "--expect", "none")["version"] == 0


def test_expect_none_on_existing_fails(tmp_path):
    append(tmp_path, "s", "T", "1")
    p = mnemo("append", "s", "T", "2", "--expect", "none", d=tmp_path)
    assert p.returncode == 3
    assert "wrong expected version" in p.stderr
    assert p.stdout == ""
    assert versions(read(tmp_path, "s")) == [0]


def test_expect_exact(tmp_path):
    for i in range(3):
        assert append(tmp_path, "s", "T", str(i), "--expect", str(i - 1) if i else "none")[
            "version"] == i
    assert append(tmp_path, "s", "T", "x", "--expect", "2")["version"] == 3


def test_expect_wrong_exits_3_and_writes_nothing(tmp_path):
    for i in range(6):
        append(tmp_path, "s", "T", str(i))
    before = ok("read-all", d=tmp_path)
    p = mnemo("append", "s", "T", "late", "--expect", "3", d=tmp_path)
    assert p.returncode == 3
    assert p.stdout == ""
    assert p.stderr.startswith("mnemo: wrong expected version")
    assert "3" in p.stderr and "5" in p.stderr
    assert ok("read-all", d=tmp_path) == before


def test_expect_exists(tmp_path):
    p = mnemo("append", "s", "T", "1", "--expect", "exists", d=tmp_path)
    assert p.returncode == 3, p.stderr
    assert mnemo("read", "s", d=tmp_path).returncode == 4
    append(tmp_path, "s", "T", "1")
    assert append(tmp_path, "s", "T", "2", "--expect", "exists")["version"] == 1
    assert append(tmp_path, "s", "T", "3", "--expect", "any")["version"] == 2


@pytest.mark.parametrize("bad", ["-1", "-2", "abc", "1x", " 1", "+1", "0x10", "1.0", "",
                                 "99999999999999999999", "9223372036854775808", "None"])
def test_expect_bad_value_is_usage_error(tmp_path, bad):
    p = mnemo("append", "s", "T", "1", "--expect", bad, d=tmp_path)
    assert p.returncode == 2, (bad, p.stderr)
    assert "--expect" in p.stderr


# ------------------------------------------------------------------ event ids

def test_id_makes_retries_idempotent(tmp_path):
    uid = "0190f5a2-3b4c-7d5e-8f60-718293a4b5c6"
    first = append(tmp_path, "s", "T", '{"n":1}', "--id", uid)
    again = append(tmp_path, "s", "T", '{"n":1}', "--id", uid)
    assert "idempotent" not in first
    assert again.pop("idempotent") is True
    assert again == first
    evs = read(tmp_path, "s")
    assert len(evs) == 1 and evs[0]["id"] == uid
    # upper case is the same id, printed lower case
    third = append(tmp_path, "s", "T", '{"n":1}', "--id", uid.upper())
    assert third["idempotent"] is True and third["version"] == first["version"]
    assert len(read(tmp_path, "s")) == 1


@pytest.mark.parametrize("bad", ["nope", "", "0190f5a2-3b4c-7d5e-8f60-718293a4b5c",
                                 "0190f5a23b4c7d5e8f60718293a4b5c6",
                                 "0190f5a2-3b4c-7d5e-8f60-718293a4b5c6x",
                                 "g190f5a2-3b4c-7d5e-8f60-718293a4b5c6",
                                 "00000000-0000-0000-0000-000000000000"])
def test_bad_uuid_is_usage_error(tmp_path, bad):
    p = mnemo("append", "s", "T", "1", "--id", bad, d=tmp_path)
    assert p.returncode == 2, (bad, p.stderr)
    assert "--id" in p.stderr
    assert mnemo("read", "s", d=tmp_path).returncode == 4


# ----------------------------------------------------------------------- read

@pytest.fixture
def five(tmp_path):
    for i in range(5):
        append(tmp_path, "s", "T", json.dumps({"i": i}))
    append(tmp_path, "other", "T", "{}")
    return tmp_path


def test_read_from_count_backward(five):
    d = five
    assert versions(read(d, "s")) == [0, 1, 2, 3, 4]
    assert versions(read(d, "s", "--from", "2")) == [2, 3, 4]
    assert versions(read(d, "s", "--count", "2")) == [0, 1]
    assert versions(read(d, "s", "--from", "1", "--count", "2")) == [1, 2]
    assert versions(read(d, "s", "--from=3", "--count=1")) == [3]
    assert versions(read(d, "s", "--backward")) == [4, 3, 2, 1, 0]
    assert versions(read(d, "s", "--backward", "--from", "2")) == [2, 1, 0]
    assert versions(read(d, "s", "--backward", "--count", "2")) == [4, 3]
    assert versions(read(d, "s", "--count", "0")) == []
    assert versions(read(d, "s", "--count", "100")) == [0, 1, 2, 3, 4]
    assert versions(read(d, "s", "--from", "10")) == []
    assert [e["data"]["i"] for e in read(d, "s")] == [0, 1, 2, 3, 4]
    # options before the stream name, and global --dir after the command
    assert versions(lines(ok("read", "--count", "1", "s", "--dir", str(d)))) == [0]


@pytest.mark.parametrize("opt", [["--from", "-1"], ["--from", "x"], ["--count", "-1"],
                                 ["--count", "1.5"], ["--count", "2e3"], ["--from", ""],
                                 ["--from", "99999999999999999999"], ["--count"],
                                 ["--bogus"], ["--backward=1"], ["-x"]])
def test_read_bad_options_are_usage_errors(five, opt):
    p = mnemo("read", "s", *opt, d=five)
    assert p.returncode == 2, (opt, p.stdout, p.stderr)
    assert p.stdout == ""


def test_read_missing_stream(tmp_path):
    append(tmp_path, "s", "T", "1")
    p = mnemo("read", "nope", d=tmp_path)
    assert p.returncode == 4
    assert "no such stream" in p.stderr
    assert p.stdout == ""


def test_read_missing_dir_creates_nothing(tmp_path):
    d = tmp_path / "absent"
    p = mnemo("read", "s", d=d)
    assert p.returncode == 4, p.stderr
    assert not d.exists()


# ------------------------------------------------------------------- read-all

def test_read_all_order_across_streams(tmp_path):
    order = [("a", 0), ("b", 0), ("a", 1), ("c", 0), ("b", 1), ("a", 2)]
    positions = []
    for s, _ in order:
        positions.append(append(tmp_path, s, "T", json.dumps({"s": s}))["position"])
    assert positions == sorted(positions) and len(set(positions)) == len(positions)

    evs = read_all(tmp_path)
    assert [(e["stream"], e["version"]) for e in evs] == order
    assert [e["position"] for e in evs] == positions

    assert [e["position"] for e in read_all(tmp_path, "--from", positions[2])] == positions[2:]
    # --from between two positions starts at the next event
    assert [e["position"] for e in read_all(tmp_path, "--from", positions[2] + 1)] == \
        positions[3:]
    assert [e["position"] for e in read_all(tmp_path, "--count", "2")] == positions[:2]
    assert [e["position"] for e in read_all(tmp_path, "--from", positions[1], "--count", "3")] \
        == positions[1:4]
    assert read_all(tmp_path, "--from", positions[-1] + 1) == []
    assert read_all(tmp_path, "--from", "0") == evs


def test_read_all_bad_options(tmp_path):
    append(tmp_path, "a", "T", "1")
    for opt in (["--from", "-1"], ["--count", "x"], ["extra"], ["--backward"]):
        assert mnemo("read-all", *opt, d=tmp_path).returncode == 2, opt


def test_read_all_past_the_end(tmp_path):
    append(tmp_path, "a", "T", "1")
    last = read_all(tmp_path)[-1]["position"]
    assert read_all(tmp_path, "--from", last + 1) == []


# ----------------------------------------------------------------------- info

def test_info_store_and_stream(tmp_path):
    for i in range(3):
        append(tmp_path, "a", "T", str(i))
    append(tmp_path, "b", "T", "x")
    info = json.loads(ok("info", d=tmp_path))
    for k in ("first_position", "end_position", "durable_position", "streams", "events",
              "segments", "log_bytes", "read_only", "fsync_policy"):
        assert k in info, k
    assert info["streams"] == 2 and info["events"] == 4
    assert info["segments"] >= 1 and info["log_bytes"] > 0
    assert info["end_position"] > read_all(tmp_path)[-1]["position"]

    a = json.loads(ok("info", "a", d=tmp_path))
    assert a["stream"] == "a"
    assert a["version"] == 2 and a["length"] == 3 and a["first_version"] == 0
    assert a["deleted"] is False
    assert a["entries_added"] == 3 and a["groups"] == 0 and a["max_deleted_id"] == "0-0"
    evs = read(tmp_path, "a")
    assert a["first_position"] == evs[0]["position"]
    assert a["last_position"] == evs[-1]["position"]
    assert TS_RE.match(a["created"])
    assert re.match(r"^\d+-\d+$", a["first_id"]) and re.match(r"^\d+-\d+$", a["last_id"])


def test_info_missing_stream(tmp_path):
    append(tmp_path, "a", "T", "1")
    p = mnemo("info", "nope", d=tmp_path)
    assert p.returncode == 4 and "no such stream" in p.stderr


# ---------------------------------------------------------------------- check

def segments(d):
    return sorted((Path(d) / "log").glob("*.seg"))


def test_check_intact(tmp_path):
    for i in range(20):
        append(tmp_path, f"s{i % 3}", "T", json.dumps({"i": i}), "--meta", '{"m":1}')
    p = mnemo("check", d=tmp_path)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "intact" in p.stdout


def test_check_finds_flipped_byte(tmp_path):
    for i in range(50):
        append(tmp_path, "s", "T", json.dumps({"i": i, "pad": "x" * 20}), "--fsync", "never")
    positions = [e["position"] for e in read_all(tmp_path)]
    seg = segments(tmp_path)[0]
    assert seg.stat().st_size > 1000
    raw = bytearray(seg.read_bytes())
    raw[100] ^= 0xFF
    seg.write_bytes(bytes(raw))

    p = mnemo("check", d=tmp_path)
    assert p.returncode == 1, (p.stdout, p.stderr)
    m = re.search(r"position (\d+)", p.stdout + p.stderr)
    assert m, (p.stdout, p.stderr)
    bad = int(m.group(1))
    # the damage is reported at the start of the record holding byte 100
    # (the first segment's base is 0, so file offsets are positions)
    assert bad in positions and bad <= 100, (bad, positions[:5])
    assert [q for q in positions if q <= 100][-1] == bad


def test_check_missing_dir(tmp_path):
    p = mnemo("check", d=tmp_path / "absent")
    assert p.returncode == 4


# -------------------------------------------------------------------- reindex

def snapshot(d, streams):
    return (ok("read-all", d=d), {s: ok("read", s, d=d) for s in streams},
            {s: ok("info", s, d=d) for s in streams})


def test_reindex_keeps_reads_identical(tmp_path):
    streams = ["a", "b", "c"]
    for i in range(30):
        append(tmp_path, streams[i % 3], "T", json.dumps({"i": i}), "--fsync", "never")
    before = snapshot(tmp_path, streams)
    p = mnemo("reindex", d=tmp_path)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout.startswith("reindex:") and p.stdout.count("\n") == 1
    assert "\r" not in p.stderr  # not a tty: no progress bar
    assert snapshot(tmp_path, streams) == before
    # and the store still takes appends at the right version
    assert append(tmp_path, "a", "T", "{}", "--expect", "9")["version"] == 10


def test_reindex_after_losing_the_index(tmp_path):
    import shutil
    streams = ["a", "b"]
    for i in range(10):
        append(tmp_path, streams[i % 2], "T", json.dumps({"i": i}))
    before = snapshot(tmp_path, streams)
    index = tmp_path / "index"
    if index.exists():
        shutil.rmtree(index)
    ok("reindex", d=tmp_path)
    assert snapshot(tmp_path, streams) == before


# ----------------------------------------------------------- usage and global

@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_every_command(tmp_path, cmd, flag):
    p = mnemo(cmd, flag, d=tmp_path / "absent")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"usage: mnemo {cmd}")
    assert not (tmp_path / "absent").exists()
    assert ok("help", cmd) == p.stdout


def test_global_help_and_version():
    for args in (["--help"], ["-h"], ["help"]):
        out = ok(*args)
        assert out.startswith("usage: mnemo")
        for cmd in COMMANDS:
            assert cmd in out
    assert "0.1.0" in ok("--version")


@pytest.mark.parametrize("args", [["bogus"], [], ["--bogus", "info"], ["help", "bogus"],
                                  ["append", "s"], ["append", "s", "T", "d", "extra"],
                                  ["info", "a", "b"], ["check", "x"], ["--dir"],
                                  ["--fsync", "sometimes", "info"],
                                  ["--fsync", "interval:0", "info"],
                                  ["--fsync", "interval:x", "info"],
                                  ["--fsync=interval:", "info"]])
def test_usage_errors_exit_2(tmp_path, args):
    p = mnemo(*args, cwd=tmp_path)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert p.stderr.startswith("mnemo:") or p.stderr.startswith("usage:")
    assert p.stdout == ""
    assert not (tmp_path / "data").exists()


def test_fsync_policies(tmp_path):
    append(tmp_path, "s", "T", "1", "--fsync", "always")
    append(tmp_path, "s", "T", "2", "--fsync", "never")
    append(tmp_path, "s", "T", "3", "--fsync", "interval:5")
    assert versions(lines(ok("--fsync", "never", "--dir", str(tmp_path), "read", "s"))) == \
        [0, 1, 2]


def test_dir_from_env_and_default(tmp_path):
    env = dict(os.environ, MNEMO_DIR=str(tmp_path / "env"))
    ok("append", "s", "T", "1", env=env, cwd=tmp_path)
    assert (tmp_path / "env").is_dir()
    assert len(lines(ok("read", "s", env=env))) == 1

    env.pop("MNEMO_DIR")
    ok("append", "t", "T", "1", env=env, cwd=tmp_path)
    assert (tmp_path / "data").is_dir()
    assert len(lines(ok("read", "t", env=env, cwd=tmp_path))) == 1
    # --dir wins over $MNEMO_DIR
    env["MNEMO_DIR"] = str(tmp_path / "env")
    assert len(lines(ok("--dir", str(tmp_path / "data"), "read", "t", env=env))) == 1


def test_stream_and_type_limits(tmp_path):
    assert mnemo("append", "", "T", "1", d=tmp_path).returncode == 2
    assert mnemo("append", "s", "", "1", d=tmp_path).returncode == 2
    assert mnemo("append", "x" * 401, "T", "1", d=tmp_path).returncode == 2
    assert append(tmp_path, "x" * 400, "T", "1")["version"] == 0


def test_odd_stream_names_roundtrip(tmp_path):
    names = ["with space", 'quote"and\\slash', "caf\u00e9", "weird:name.with/slash"]
    for n in names:
        assert append(tmp_path, n, "T", "{}")["stream"] == n
    assert [e["stream"] for e in read_all(tmp_path)] == names
    for n in names:
        assert read(tmp_path, n)[0]["stream"] == n


def test_reindex_progress_bar_on_a_tty(tmp_path):
    import pty
    for i in range(20):
        append(tmp_path, "s", "T", json.dumps({"i": i}), "--fsync", "never")
    master, slave = pty.openpty()
    try:
        p = subprocess.run([str(MNEMO), "--dir", str(tmp_path), "reindex"],
                           stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120)
    finally:
        os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert p.returncode == 0, err
    err = err.decode()
    assert "100%" in err and "MB" in err, err
    assert p.stdout.startswith("reindex:")


def test_index_changed_at_rest_refused_read_only_rebuilt_read_write(tmp_path):
    # Each mnemo run closes the store cleanly, which seals index/data.mdb.
    for k in range(20):
        append(tmp_path, "acct-%d" % (k % 3), "Deposited", '{"n":%d}' % k)
    before = read_all(tmp_path)
    mdb = tmp_path / "index" / "data.mdb"
    b = bytearray(mdb.read_bytes())
    b[len(b) // 2] ^= 0x10
    mdb.write_bytes(bytes(b))
    # a read-only open cannot rebuild: it refuses and says how to recover
    p = mnemo("read-all", d=tmp_path)
    assert p.returncode != 0 and p.stdout == ""
    assert "changed since the store was closed" in p.stderr, p.stderr
    assert "open the store read-write once to rebuild it" in p.stderr, p.stderr
    # a read-write open rebuilds the index from the log; nothing is lost
    append(tmp_path, "acct-0", "Deposited", '{"n":20}')
    after = read_all(tmp_path)
    assert after[:-1] == before and after[-1]["data"] == {"n": 20}


def test_check_reports_the_index_seal(tmp_path):
    for i in range(10):
        append(tmp_path, "s", "T", json.dumps({"i": i}))
    p = mnemo("check", d=tmp_path)
    assert p.returncode == 0 and "index sealed by a clean close and unchanged" in p.stdout, p.stdout
    mdb = tmp_path / "index" / "data.mdb"
    b = bytearray(mdb.read_bytes())
    b[4096 + 100] ^= 0x01
    mdb.write_bytes(bytes(b))
    p = mnemo("check", d=tmp_path)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "verified: intact" in p.stdout  # the log
    assert "changed since the store was closed" in p.stdout and "rebuilds it" in p.stdout, p.stdout
    # as after a crash: no seal, nothing to verify the index against
    (tmp_path / "index" / "seal").unlink()
    p = mnemo("check", d=tmp_path)
    assert p.returncode == 0 and "index not sealed" in p.stdout, p.stdout
