#!/usr/bin/python3
"""Fan-out: one stream, two consumer groups, each gets every event.

An OrderPlaced event appended once with ES.APPEND is delivered to the
`billing` group and to the `shipping` group; within a group, consumers
would share the work (see work_queue.py). Both read the event through the
X* view: fields id, type, data (and meta when present).

    MNEMO_PORT=6390 /usr/bin/python3 examples/pubsub_fanout.py
"""
import json
import uuid

from _common import connect, es_append

GROUPS = ("billing", "shipping")


def main():
    r = connect()
    orders = "orders-%s" % uuid.uuid4().hex[:12]
    for g in GROUPS:
        # "$": only events appended from now on; MKSTREAM: the stream may not exist yet
        r.xgroup_create(orders, g, id="$", mkstream=True)

    order_id = uuid.uuid4().hex[:8]
    es_append(r, orders, "ANY", ("OrderPlaced", {"order": order_id, "total": 42.5}))

    received = {}
    for g in GROUPS:
        reply = r.xreadgroup(g, "%s-1" % g, {orders: ">"}, count=10, block=2000)
        received[g] = []
        for _stream, entries in reply:
            for entry_id, fields in entries:
                received[g].append({"type": fields["type"], "data": json.loads(fields["data"]),
                                    "event_id": fields["id"]})
                r.xack(orders, g, entry_id)
        print("%s received %s" % (g, received[g]))
    pending = {g: r.xpending(orders, g)["pending"] for g in GROUPS}
    r.close()
    return {"stream": orders, "order": order_id, "received": received, "pending": pending}


if __name__ == "__main__":
    main()
