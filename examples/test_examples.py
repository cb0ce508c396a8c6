"""Runs every example against a freshly started build/mnemosyned (the
integration suite's ServerProc, tests/integration/conftest.py) and checks
what each main() returns.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider examples
"""
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "tests", "integration")
sys.path.insert(0, HERE)          # the examples and _common
sys.path.insert(0, INTEGRATION)   # respclient, imported by the conftest

_spec = importlib.util.spec_from_file_location("mnemo_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)

import bank_account  # noqa: E402
import idempotent_retry  # noqa: E402
import projection_balances  # noqa: E402
import pubsub_fanout  # noqa: E402
import work_queue  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "order"))
import choreography  # noqa: E402
import orchestration  # noqa: E402


@pytest.fixture
def mnemo(tmp_path, monkeypatch):
    """A server on a free port with a fresh --dir; MNEMO_HOST/PORT point at it."""
    srv = _harness.ServerProc(tmp_path / "data").start()
    monkeypatch.setenv("MNEMO_HOST", srv.host)
    monkeypatch.setenv("MNEMO_PORT", str(srv.port))
    yield srv
    rc = srv.stop()
    assert rc == 0, "server exit code %s; log:\n%s" % (rc, srv.read_log())


def test_bank_account(mnemo):
    res = bank_account.main()
    assert res["owner"] == "Alice"
    assert res["balance"] == 70
    assert res["version"] == 2
    assert res["conflict"] == "WRONGVERSION expected 1, stream is at 2"
    # run twice against the same server: fresh stream names, same result
    assert bank_account.main()["balance"] == 70


def test_pubsub_fanout(mnemo):
    res = pubsub_fanout.main()
    for group in pubsub_fanout.GROUPS:
        got = res["received"][group]
        assert [e["type"] for e in got] == ["OrderPlaced"]
        assert got[0]["data"] == {"order": res["order"], "total": 42.5}
        assert res["pending"][group] == 0
    assert res["received"]["billing"][0]["event_id"] == res["received"]["shipping"][0]["event_id"]


def test_work_queue(mnemo):
    res = work_queue.main()
    good = [n for n in range(work_queue.JOBS) if n != work_queue.POISON]
    assert res["policy"] == {"visibility": work_queue.VISIBILITY_MS,
                             "maxdeliver": work_queue.MAX_DELIVERIES, "deadletter": res["dlq"]}
    # every good job once, none twice; the poison one once more after the replay
    assert res["processed"] == sorted(good + [work_queue.POISON])
    assert len(res["dead_letters"]) == 1
    dl = res["dead_letters"][0]
    assert dl["job"] == str(work_queue.POISON)
    assert dl["dlq-source"] == res["jobs"] and dl["dlq-group"] == work_queue.GROUP
    assert int(dl["dlq-deliveries"]) == work_queue.MAX_DELIVERIES
    assert dl["dlq-consumer"] in work_queue.WORKERS
    assert dl["dlq-reason"] == "maxdeliver"
    assert res["pending_before_replay"] == 0  # the poison job left the pending list
    assert res["replayed"] == 1 and res["dlq_after_replay"] == 0
    assert res["pending"] == 0
    failures = [e for e in res["log"] if e[1] == "failed"]
    assert [d for _, _, _, d in failures] == list(range(1, work_queue.MAX_DELIVERIES + 1))


def test_idempotent_retry(mnemo):
    res = idempotent_retry.main()
    assert res["retry"] == res["again"]
    assert len(res["events"]) == 1
    assert res["events"][0]["version"] == 0
    assert res["events"][0]["position"] == res["retry"][1]
    assert res["events"][0]["data"] == {"amount": 25}


def test_idempotent_retry_across_restart(mnemo):
    res = idempotent_retry.main()
    mnemo.restart()
    from _common import connect, es_append
    r = connect()
    e = res["events"][0]
    again = es_append(r, res["stream"], "NOSTREAM", ("PaymentCaptured", {"amount": 25}, e["id"]))
    assert again == res["retry"]
    assert len(r.execute_command("ES.READ", res["stream"])) == 1
    r.close()


def test_projection_balances(mnemo):
    res = projection_balances.main()
    assert (res["name"], res["balance"]) == ("Alice", 70)
    assert res["status"]["state"] == "running"
    assert res["status"]["position"] > res["position"]  # read-your-writes held
    # again on the same server: the projection is kept, a new account adds up
    again = projection_balances.main()
    assert again["balance"] == 70 and again["account"] != res["account"]


def test_order_saga(mnemo):
    res = orchestration.main()
    ok, declined = res["ok"], res["declined"]
    assert ok["state"] == "completed"
    assert ok["history"] == ["SagaStarted", "StepSent", "StepSucceeded", "StepSent",
                             "StepSucceeded", "StepSent", "StepSucceeded", "SagaCompleted"]
    assert ok["data"]["payment_id"] == "pay-" + ok["id"]  # recorded by on_ok
    assert [t for _, t in ok["trace"]] == ["ReserveStock", "StockReserved", "ChargePayment",
                                           "PaymentProcessed", "ShipOrder", "OrderShipped"]
    assert declined["state"] == "compensated"
    assert declined["history"][-4:] == ["StepSent", "StepFailed", "CompensationSent",
                                        "SagaCompensated"]
    # the release is caused by the decline; the inventory service answered it
    assert declined["trace"] == [(0, "ReserveStock"), (1, "StockReserved"), (2, "ChargePayment"),
                                 (3, "PaymentDeclined"), (4, "ReleaseStock"),
                                 (5, "StockReleased")]


def test_order_saga_restart_keeps_state(mnemo):
    res = orchestration.main()
    mnemo.restart()
    from _common import connect
    r = connect()
    for key, state in (("ok", "completed"), ("declined", "compensated")):
        assert orchestration.saga_status(r, res[key]["id"])["state"] == state
    r.close()


def test_order_choreography(mnemo):
    res = choreography.main()
    assert [(d, t) for d, t, _ in res["ok"]["trace"]] == [
        (0, "OrderPlaced"), (1, "StockReserved"), (2, "PaymentProcessed"), (3, "OrderShipped")]
    assert [(d, t) for d, t, _ in res["declined"]["trace"]] == [
        (0, "OrderPlaced"), (1, "StockReserved"), (2, "PaymentDeclined"), (3, "StockReleased")]
    oid = res["ok"]["id"]
    assert [s for _, _, s in res["ok"]["trace"]] == [
        "order-" + oid, "inventory-" + oid, "payment-" + oid, "shipping-" + oid]
