#!/usr/bin/python3
"""CQRS in one screen: the command side appends events, the query side is a
projection (examples/projections/balances.lua) folding them into a SQLite
table, queried with SQL.

    AccountCreated {name: Alice} -> MoneyDeposited {amount: 100}
                                 -> MoneyWithdrawn {amount: 30}

Read-your-writes: ES.APPEND answers with the global position of the event;
PROJECTION.QUERY ... AFTER <position> waits (without blocking the server)
until the projection has applied it, so the balance read back is never
stale.

    MNEMO_PORT=6390 /usr/bin/python3 examples/projection_balances.py
"""
import os
import uuid

from _common import connect, es_append

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    r = connect()
    with open(os.path.join(HERE, "projections", "balances.lua")) as f:
        definition = f.read()
    # "created" the first time, "unchanged" when it is already there
    r.execute_command("PROJECTION.CREATE", "balances", definition)

    account = "account-%s" % uuid.uuid4().hex[:12]
    es_append(r, account, "NOSTREAM", ("AccountCreated", {"name": "Alice"}))
    es_append(r, account, 0, ("MoneyDeposited", {"amount": 100}))
    _, position = es_append(r, account, 1, ("MoneyWithdrawn", {"amount": 30}))

    rows = r.execute_command("PROJECTION.QUERY", "balances",
                             "SELECT name, balance FROM balances WHERE id = ?", account,
                             "AFTER", position, "TIMEOUT", 5000)
    name, balance = rows[0]
    status = r.execute_command("PROJECTION.STATUS", "balances")
    status = dict(zip(status[::2], status[1::2]))
    print("%s (%s): balance %d; projection at %d, %s" % (
        account, name, balance, status["position"], status["state"]))
    return {"account": account, "name": name, "balance": balance, "position": position,
            "status": status}


if __name__ == "__main__":
    main()
