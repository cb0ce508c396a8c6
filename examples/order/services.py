#!/usr/bin/python3
"""The order flow's three services — inventory, payment, shipping — as
plain redis-py clients, each run as its own process:

    services.py orchestrated <inventory|payment|shipping>
        A consumer group on <role>-commands (the saga's command stream):
        each command is handled and answered with an event of the reply
        type, appended to <role>-events with the saga id as correlation_id
        and the command's event id as causation_id, then XACKed.

    services.py choreography <inventory|payment|shipping> <position>
        No orchestrator: the service follows the event types it reacts to
        ($et-<type> virtual streams, XREAD BLOCK, from <position> on) and
        appends its own events;
        each carries the correlation_id of what caused it and causation_id =
        that event's id, so TRACE <order id> shows the whole flow as a tree.

Rules of the example: stock for at most 10 items per order; payments above
100 are declined. Reply ids are derived from the id of the event handled
(uuid5), so a redelivered command or a restarted service writes nothing
twice (ES.APPEND is idempotent by event id).
"""
import json
import os
import sys
import uuid

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from _common import connect  # noqa: E402

NS = uuid.UUID("6f1c1e2a-0000-4000-8000-00000000a11e")
MAX_QTY = 10
MAX_AMOUNT = 100


def reply_id(cause_id, type_):
    return str(uuid.uuid5(NS, cause_id + "/" + type_))


def append(r, stream, type_, data, correlation_id, cause_id):
    meta = {"correlation_id": correlation_id, "causation_id": cause_id}
    r.execute_command("ES.APPEND", stream, "ANY", "EVENT", reply_id(cause_id, type_), type_,
                      json.dumps(data), "META", json.dumps(meta))


# ---- what each service decides: (reply type, reply data) or None ----

def inventory(type_, data):
    if type_ in ("ReserveStock", "OrderPlaced"):
        if int(data.get("qty", 1)) > MAX_QTY:
            return "StockUnavailable", {"order_id": data["order_id"], "sku": data.get("sku")}
        return "StockReserved", {"order_id": data["order_id"], "sku": data.get("sku"),
                                 "qty": data.get("qty", 1), "amount": data.get("amount")}
    if type_ in ("ReleaseStock", "PaymentDeclined"):
        return "StockReleased", {"order_id": data["order_id"]}
    return None


def payment(type_, data):
    if type_ in ("ChargePayment", "StockReserved"):
        if float(data.get("amount", 0)) > MAX_AMOUNT:
            return "PaymentDeclined", {"order_id": data["order_id"], "reason": "limit"}
        return "PaymentProcessed", {"order_id": data["order_id"],
                                    "payment_id": "pay-" + data["order_id"],
                                    "amount": data.get("amount")}
    if type_ == "RefundPayment":
        return "PaymentRefunded", {"order_id": data["order_id"]}
    return None


def shipping(type_, data):
    if type_ in ("ShipOrder", "PaymentProcessed"):
        return "OrderShipped", {"order_id": data["order_id"], "carrier": "ups"}
    return None


ROLES = {"inventory": inventory, "payment": payment, "shipping": shipping}
# choreography: which event types each service reacts to
REACTS_TO = {"inventory": ["OrderPlaced", "PaymentDeclined"],
             "payment": ["StockReserved"],
             "shipping": ["PaymentProcessed"]}


def orchestrated(role):
    r = connect(socket_timeout=None)
    stream, group, decide = role + "-commands", role, ROLES[role]
    try:
        r.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise
    while True:
        got = r.xreadgroup(group, role + "-1", {stream: ">"}, count=100, block=1000)
        for _, entries in got or []:
            for entry_id, f in entries:
                meta = json.loads(f.get("meta", "{}"))
                out = decide(f["type"], json.loads(f["data"]))
                if out and "correlation_id" in meta:
                    append(r, role + "-events", out[0], out[1], meta["correlation_id"], f["id"])
                r.xack(stream, group, entry_id)


def choreography(role, start):
    r = connect(socket_timeout=None)
    decide = ROLES[role]
    # XREAD gives what comes after an id; the next event lands at `start`
    cursors = {"$et-" + t: "%d-0" % max(start - 1, 0) for t in REACTS_TO[role]}
    while True:
        got = r.xread(cursors, count=100, block=1000)
        for vstream, entries in got or []:
            for entry_id, f in entries:
                cursors[vstream] = entry_id
                meta = json.loads(f.get("meta") or "{}")
                if "correlation_id" not in meta:
                    continue
                out = decide(f["type"], json.loads(f["data"]))
                if out:
                    append(r, "%s-%s" % (role, meta["correlation_id"]), out[0], out[1],
                           meta["correlation_id"], f["id"])


if __name__ == "__main__":
    mode, role = sys.argv[1], sys.argv[2]
    try:
        if mode == "orchestrated":
            orchestrated(role)
        else:
            choreography(role, int(sys.argv[3]))
    except KeyboardInterrupt:
        pass
