"""Shared by the examples: connect to mnemosyned (MNEMO_HOST / MNEMO_PORT,
default 127.0.0.1:6363, mnemosyned's default) and turn ES.* replies into Python values."""
import json
import os

import redis


def connect(**kw):
    """A redis-py client for the server named by MNEMO_HOST / MNEMO_PORT."""
    kw.setdefault("decode_responses", True)
    kw.setdefault("socket_timeout", 10)
    return redis.Redis(host=os.environ.get("MNEMO_HOST", "127.0.0.1"),
                       port=int(os.environ.get("MNEMO_PORT", "6363")), **kw)


def event(flat):
    """One event from ES.READ / ES.READALL: redis-py 4 speaks RESP2, where an
    event is a flat [field, value, ...] array (stream version position id
    type data meta timestamp). data and meta are JSON decoded when they are
    JSON."""
    e = dict(zip(flat[::2], flat[1::2]))
    for k in ("data", "meta"):
        if e.get(k) is not None:
            try:
                e[k] = json.loads(e[k])
            except ValueError:
                pass
    return e


def es_read(r, stream, *opts):
    return [event(f) for f in r.execute_command("ES.READ", stream, *opts)]


def es_append(r, stream, expected, *events):
    """events: (type, data) or (type, data, event_id) or (type, data, event_id, meta);
    data and meta are dumped as JSON. Returns [last version, position]."""
    args = ["ES.APPEND", stream, expected]
    for e in events:
        type_, data = e[0], e[1]
        eid = e[2] if len(e) > 2 and e[2] else "*"
        args += ["EVENT", eid, type_, json.dumps(data)]
        if len(e) > 3 and e[3] is not None:
            args += ["META", json.dumps(e[3])]
    return r.execute_command(*args)
