#!/usr/bin/python3
"""The order flow as a saga (orchestration): the server's saga runtime sends
ReserveStock, ChargePayment and ShipOrder to the services' command streams
and moves on when they answer; a declined payment makes it send ReleaseStock
and end `compensated`. The services (services.py) run as three separate
processes with consumer groups on their command streams.

    MNEMO_PORT=6390 /usr/bin/python3 examples/order/orchestration.py

Two orders are placed: one of 30 (completed) and one of 500, above the
payment limit (declined -> stock released -> compensated). The saga reacts
to every OrderPlaced event once it is defined (run the choreography example
on another server, or its orders start sagas too).
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


def saga_status(r, saga_id):
    raw = r.execute_command("SAGA.STATUS", saga_id)
    st = dict(zip(raw[0::2], raw[1::2]))
    st["history"] = [dict(zip(h[0::2], h[1::2]))["type"] for h in st["history"]]
    return st


def main():
    r = connect()
    with open(os.path.join(HERE, "order.lua")) as f:
        r.execute_command("SAGA.DEFINE", "order", f.read())
    procs = start_services("orchestrated")
    run = uuid.uuid4().hex[:8]
    orders = {"ok": ("ord-%s-1" % run, 30), "declined": ("ord-%s-2" % run, 500)}
    try:
        for oid, amount in orders.values():
            r.execute_command("ES.APPEND", "order-" + oid, "NOSTREAM", "EVENT", "*",
                              "OrderPlaced", json.dumps({"order_id": oid, "sku": "A1", "qty": 2,
                                                         "amount": amount}))
        final = ("completed", "compensated", "failed")
        wait_for(lambda: all(r.execute_command("SAGA.STATUS", oid) and
                             saga_status(r, oid)["state"] in final for oid, _ in orders.values()))
    finally:
        stop_services(procs)
    result = {}
    for key, (oid, _) in orders.items():
        st = saga_status(r, oid)
        trace = r.execute_command("TRACE", oid)
        result[key] = {
            "id": oid, "state": st["state"], "history": st["history"],
            "data": json.loads(st["data"]),
            "trace": [(e[e.index("depth") + 1], e[e.index("type") + 1]) for e in trace],
        }
        print("%-9s %s: %s" % (key, oid, st["state"]))
        for depth, type_ in result[key]["trace"]:
            print("    " + "  " * depth + type_)
    r.close()
    return result


if __name__ == "__main__":
    main()
