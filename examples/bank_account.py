#!/usr/bin/python3
"""Event sourcing in three events: a bank account.

    AccountCreated {owner: Alice} -> MoneyDeposited {amount: 100}
                                  -> MoneyWithdrawn {amount: 30}

Each command appends with the version it decided on (optimistic
concurrency): a writer that decided on stale state gets -WRONGVERSION and
must re-read. The balance is not stored anywhere: it is the fold of the
stream's events.

    MNEMO_PORT=6390 /usr/bin/python3 examples/bank_account.py
"""
import uuid

import redis

from _common import connect, es_append, es_read


def apply(state, e):
    """The fold step: the account state after one more event."""
    if e["type"] == "AccountCreated":
        return {"owner": e["data"]["owner"], "balance": 0}
    if e["type"] == "MoneyDeposited":
        return dict(state, balance=state["balance"] + e["data"]["amount"])
    if e["type"] == "MoneyWithdrawn":
        return dict(state, balance=state["balance"] - e["data"]["amount"])
    return state


def load(r, stream):
    """(state, version): the folded events and the version to expect next."""
    state, version = None, "NOSTREAM"
    for e in es_read(r, stream):
        state, version = apply(state, e), e["version"]
    return state, version


def main():
    r = connect()
    account = "account-%s" % uuid.uuid4().hex[:12]  # category "account"

    # NOSTREAM: opening the same account twice is refused
    es_append(r, account, "NOSTREAM", ("AccountCreated", {"owner": "Alice"}))
    # each later command appends at the version it read
    _, version = load(r, account)
    es_append(r, account, version, ("MoneyDeposited", {"amount": 100}))
    state, version = load(r, account)
    assert state["balance"] >= 30
    last_version, position = es_append(r, account, version, ("MoneyWithdrawn", {"amount": 30}))

    # a second teller who also read version `version` loses the race
    try:
        es_append(r, account, version, ("MoneyWithdrawn", {"amount": 30}))
        raise AssertionError("a stale expected version was accepted")
    except redis.ResponseError as e:
        conflict = str(e)  # "WRONGVERSION expected 1, stream is at 2"

    state, version = load(r, account)
    print("%s: owner %s, balance %d (version %d, position %d)"
          % (account, state["owner"], state["balance"], version, position))
    print("stale append:", conflict)
    r.close()
    return {"stream": account, "owner": state["owner"], "balance": state["balance"],
            "version": version, "conflict": conflict}


if __name__ == "__main__":
    main()
