#!/usr/bin/python3
"""Idempotent retry: an append whose reply was lost is retried safely.

The client picks the event id (a UUID) before the first attempt. The first
attempt is sent and its connection dropped before the reply is read (as if
the network failed); the retry with the same event id and the same expected
version answers the original [version, position] and writes nothing. The
stream holds the event once. This also holds across a server restart.

    MNEMO_PORT=6390 /usr/bin/python3 examples/idempotent_retry.py
"""
import json
import uuid

import redis

from _common import connect, es_append, es_read


def main():
    r = connect()
    stream = "payment-%s" % uuid.uuid4().hex[:12]
    event_id = str(uuid.uuid4())  # chosen once, reused by every retry
    event = ("PaymentCaptured", {"amount": 25}, event_id)

    # attempt 1: sent, but the reply never arrives (we drop the connection)
    conn = redis.Connection(host=r.connection_pool.connection_kwargs["host"],
                            port=r.connection_pool.connection_kwargs["port"])
    conn.send_command("ES.APPEND", stream, "NOSTREAM", "EVENT", event_id, event[0], json.dumps(event[1]))
    conn.disconnect()

    # attempt 2 and 3: the same append; whichever ran first wrote the event
    retry = es_append(r, stream, "NOSTREAM", event)
    again = es_append(r, stream, "NOSTREAM", event)

    events = es_read(r, stream)
    print("retry answered %s, again %s; the stream has %d event(s)" % (retry, again, len(events)))
    r.close()
    return {"stream": stream, "retry": retry, "again": again, "events": events}


if __name__ == "__main__":
    main()
