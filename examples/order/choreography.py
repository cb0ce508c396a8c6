#!/usr/bin/python3
"""The same order flow as choreography: no orchestrator. Each service
(services.py, three processes) follows the event types it reacts to on the
$et-<type> virtual streams and appends its own events, carrying the order id
as correlation_id and the id of the event it reacted to as causation_id:

    OrderPlaced -> StockReserved -> PaymentProcessed -> OrderShipped
    OrderPlaced -> StockReserved -> PaymentDeclined  -> StockReleased

TRACE <order id> then shows each flow as its causation tree.

    MNEMO_PORT=6390 /usr/bin/python3 examples/order/choreography.py
"""
import json
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from _common import connect  # noqa: E402
from _procs import start_services, stop_services, wait_for  # noqa: E402


def trace(r, oid):
    return [(e[e.index("depth") + 1], e[e.index("type") + 1], e[e.index("stream") + 1])
            for e in r.execute_command("TRACE", oid)]


def main():
    r = connect()
    start = int(r.info("persistence")["mn_end_position"])
    procs = start_services("choreography", start)
    run = uuid.uuid4().hex[:8]
    orders = {"ok": ("chor-%s-1" % run, 30), "declined": ("chor-%s-2" % run, 500)}
    last = {"ok": "OrderShipped", "declined": "StockReleased"}
    try:
        for oid, amount in orders.values():
            r.execute_command("ES.APPEND", "order-" + oid, "NOSTREAM", "EVENT", "*",
                              "OrderPlaced", json.dumps({"order_id": oid, "sku": "A1", "qty": 2,
                                                         "amount": amount}),
                              "META", json.dumps({"correlation_id": oid}))
        wait_for(lambda: all(any(t == last[k] for _, t, _ in trace(r, oid))
                             for k, (oid, _) in orders.items()))
    finally:
        stop_services(procs)
    result = {}
    for key, (oid, _) in orders.items():
        result[key] = {"id": oid, "trace": trace(r, oid)}
        print("%-9s TRACE %s" % (key, oid))
        for depth, type_, stream in result[key]["trace"]:
            print("    " + "  " * depth + "%s (%s)" % (type_, stream))
    r.close()
    return result


if __name__ == "__main__":
    main()
