"""Sagas (issue 6): SAGA.DEFINE / START / STATUS / LIST / ABORT against the
real server, with the test playing the participants through redis-py — it
reads the command streams and replies with ES.APPEND carrying the saga id as
correlation_id and the command's event id as causation_id, as a service
would.

Covered: the happy path; a failure at each step (compensations in reverse
order); timeouts with retries (a new command id per attempt) and a reply to
an earlier attempt; duplicate, late and foreign replies ignored; ABORT; a
compensation that cannot be delivered ends `failed`; kill -9 mid-saga (state,
timers and command ids survive; nothing is sent twice); 1,000 concurrent
sagas; bad Lua and bad definitions answered with clear errors; --sagas DIR;
data/on_ok functions.
"""
import json
import os
import signal
import threading
import time

import pytest
import redis

ORDER = """
return {
  trigger = { stream = "$et-OrderPlaced" },
  id = function(e) return e.data.order_id end,
  steps = {
    { name = "reserve", send = { stream = "inventory-commands", type = "ReserveStock" },
      ok = "StockReserved", fail = "StockUnavailable",
      compensate = { stream = "inventory-commands", type = "ReleaseStock" },
      timeout_ms = %(timeout)d, retries = %(retries)d },
    { name = "charge", send = { stream = "payment-commands", type = "ChargePayment" },
      ok = "PaymentProcessed", fail = "PaymentDeclined",
      compensate = { stream = "payment-commands", type = "RefundPayment" } },
    { name = "ship", send = { stream = "shipping-commands", type = "ShipOrder" },
      ok = "OrderShipped", fail = "ShippingFailed" },
  },
}
"""

STEPS = [  # (command stream, command type, ok, fail, compensation type)
    ("inventory-commands", "ReserveStock", "StockReserved", "StockUnavailable", "ReleaseStock"),
    ("payment-commands", "ChargePayment", "PaymentProcessed", "PaymentDeclined", "RefundPayment"),
    ("shipping-commands", "ShipOrder", "OrderShipped", "ShippingFailed", None),
]


def order_def(timeout=60000, retries=0):
    return ORDER % {"timeout": timeout, "retries": retries}


def wait_for(fn, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s (last: %r)" % (what, v))
        time.sleep(0.01)


def commands(r, stream, saga_id=None):
    """The command events of a stream (as a participant sees them)."""
    out = []
    for entry_id, f in r.xrange(stream):
        meta = json.loads(f["meta"]) if "meta" in f else {}
        if saga_id is not None and meta.get("correlation_id") != saga_id:
            continue
        out.append({"entry": entry_id, "id": f["id"], "type": f["type"],
                    "data": json.loads(f["data"]), "meta": meta})
    return out


def reply(r, cmd, type_, data="{}", stream=None):
    meta = {"correlation_id": cmd["meta"]["correlation_id"], "causation_id": cmd["id"]}
    return r.execute_command("ES.APPEND", stream or "replies-" + cmd["meta"]["correlation_id"],
                             "ANY", "EVENT", "*", type_, data, "META", json.dumps(meta))


def status(r, saga_id, name=None):
    args = ["SAGA.STATUS", saga_id] + (["NAME", name] if name else [])
    raw = r.execute_command(*args)
    if raw is None:
        return None
    st = dict(zip(raw[0::2], raw[1::2]))
    st["history"] = [dict(zip(h[0::2], h[1::2])) for h in st["history"]]
    return st


def state_of(r, saga_id):
    st = status(r, saga_id)
    return st and st["state"]


def place_order(r, order_id, **data):
    body = dict(order_id=order_id, **data)
    r.execute_command("ES.APPEND", "order-" + order_id, "ANY", "EVENT", "*", "OrderPlaced",
                      json.dumps(body))


def wait_command(r, step, saga_id, n=1):
    stream = STEPS[step][0]
    return wait_for(lambda: (lambda c: c if len(c) >= n else None)(
        [c for c in commands(r, stream, saga_id) if c["type"] == STEPS[step][1]]),
        what="%d command(s) of step %d of %s" % (n, step, saga_id))[-1]


def history_types(r, saga_id):
    return [h["type"] for h in status(r, saga_id)["history"]]


def define(r, name="order", src=None):
    return r.execute_command("SAGA.DEFINE", name, src or order_def())


# ------------------------------------------------------------------ basics

def test_happy_path(r):
    assert define(r) == 1
    assert define(r) == 0  # unchanged
    place_order(r, "o-1", amount=10)
    trigger = r.execute_command("ES.READ", "order-o-1")[0]
    trigger_id = trigger[trigger.index("id") + 1]
    cause = trigger_id
    for step in range(3):
        cmd = wait_command(r, step, "o-1")
        assert cmd["meta"]["correlation_id"] == "o-1"
        assert cmd["meta"]["causation_id"] == cause
        assert cmd["data"] == {"order_id": "o-1", "amount": 10}
        assert status(r, "o-1")["step"] == ["reserve", "charge", "ship"][step]
        reply(r, cmd, STEPS[step][2])
        reply_ev = r.execute_command("ES.READ", "replies-o-1")[-1]
        cause = reply_ev[reply_ev.index("id") + 1]
    wait_for(lambda: state_of(r, "o-1") == "completed", what="completed")
    assert history_types(r, "o-1") == [
        "SagaStarted", "StepSent", "StepSucceeded", "StepSent", "StepSucceeded", "StepSent",
        "StepSucceeded", "SagaCompleted"]
    st = status(r, "o-1")
    assert st["name"] == "order" and st["stream"] == "saga-order-o-1"
    assert st["completed-steps"] == 3 and st["reason"] is None
    assert r.execute_command("SAGA.LIST") == [["order", "o-1", "completed", "ship"]]
    info = r.info("sagas")
    assert info["sagas_defined"] == 1 and info["sagas_completed"] == 1
    assert info["sagas_running"] == 0
    # no compensation was sent
    assert [c["type"] for c in commands(r, "inventory-commands")] == ["ReserveStock"]
    # TRACE: command -> reply -> next command -> ... one chain
    trace = r.execute_command("TRACE", "o-1")
    depths = [e[e.index("depth") + 1] for e in trace]
    types = [e[e.index("type") + 1] for e in trace]
    assert types == ["ReserveStock", "StockReserved", "ChargePayment", "PaymentProcessed",
                     "ShipOrder", "OrderShipped"]
    assert depths == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_failure_at_each_step(r, failing):
    define(r)
    sid = "f-%d" % failing
    place_order(r, sid)
    for step in range(failing):
        reply(r, wait_command(r, step, sid), STEPS[step][2])
    cmd = wait_command(r, failing, sid)
    reply(r, cmd, STEPS[failing][3])
    wait_for(lambda: state_of(r, sid) == "compensated", what="compensated")
    # compensations of the completed steps, newest first
    sent = []
    for stream in ("inventory-commands", "payment-commands"):
        for c in commands(r, stream, sid):
            if c["type"] in ("ReleaseStock", "RefundPayment"):
                sent.append((r.execute_command("XLEN", "$all"), c))
    comp = [c for c in r.execute_command("ES.READALL", "COUNT", 0, "TYPE", "ReleaseStock",
                                         "RefundPayment")]
    comp_types = [e[e.index("type") + 1] for e in comp
                  if json.loads(e[e.index("meta") + 1])["correlation_id"] == sid]
    expected = [STEPS[k][4] for k in reversed(range(failing)) if STEPS[k][4]]
    assert comp_types == expected
    st = status(r, sid)
    assert st["reason"] == "step '%s' failed: %s" % (["reserve", "charge", "ship"][failing],
                                                     STEPS[failing][3])
    assert st["completed-steps"] == failing
    # every compensation is caused by the failure reply
    fail_ev = r.execute_command("ES.READ", "replies-" + sid)[-1]
    fail_id = fail_ev[fail_ev.index("id") + 1]
    for e in comp:
        meta = json.loads(e[e.index("meta") + 1])
        if meta["correlation_id"] == sid:
            assert meta["causation_id"] == fail_id


def test_timeout_retries_then_compensates(r):
    define(r, src=order_def(timeout=300, retries=2))
    r.execute_command("SAGA.START", "order", "t-1", '{"order_id":"t-1"}')
    t0 = time.time()
    cmds = wait_command(r, 0, "t-1", n=3)  # the first send and two resends
    got = [c for c in commands(r, "inventory-commands", "t-1") if c["type"] == "ReserveStock"]
    assert len({c["id"] for c in got}) == 3  # a new id per attempt
    wait_for(lambda: state_of(r, "t-1") == "compensated", what="compensated")
    assert time.time() - t0 >= 0.85  # three timeouts of 300 ms
    types = history_types(r, "t-1")
    assert types.count("StepTimedOut") == 3 and types[-1] == "SagaCompensated"
    assert status(r, "t-1")["reason"] == "step 'reserve' timed out"
    # the timed-out step never completed: nothing to compensate
    assert [c["type"] for c in commands(r, "inventory-commands", "t-1")] == ["ReserveStock"] * 3
    # a reply that comes after the saga gave up changes nothing
    reply(r, cmds, "StockReserved")
    time.sleep(0.2)
    assert state_of(r, "t-1") == "compensated"
    assert history_types(r, "t-1") == types


def test_timeout_of_a_later_step_compensates_the_earlier(r):
    src = order_def().replace('ok = "PaymentProcessed"', 'ok = "PaymentProcessed", timeout_ms = 200')
    define(r, src=src)
    r.execute_command("SAGA.START", "order", "t-2", '{"order_id":"t-2"}')
    reply(r, wait_command(r, 0, "t-2"), "StockReserved")
    wait_command(r, 1, "t-2")
    wait_for(lambda: state_of(r, "t-2") == "compensated", what="compensated")
    assert [c["type"] for c in commands(r, "inventory-commands", "t-2")] == [
        "ReserveStock", "ReleaseStock"]


def test_reply_to_an_earlier_attempt_counts(r):
    define(r, src=order_def(timeout=400, retries=3))
    r.execute_command("SAGA.START", "order", "t-3", '{"order_id":"t-3"}')
    first = wait_command(r, 0, "t-3", n=1)
    wait_command(r, 0, "t-3", n=2)  # resent after the first timeout
    reply(r, first, "StockReserved")  # the service answers the first send late
    wait_command(r, 1, "t-3")
    assert state_of(r, "t-3") == "running"
    assert status(r, "t-3")["step"] == "charge"


def test_duplicate_late_and_foreign_replies_are_ignored(r):
    define(r)
    place_order(r, "d-1")
    cmd = wait_command(r, 0, "d-1")
    # foreign: right type, wrong causation / wrong correlation / no meta
    r.execute_command("ES.APPEND", "x", "ANY", "EVENT", "*", "StockReserved", "{}", "META",
                      json.dumps({"correlation_id": "d-1", "causation_id": "0190a1b2-0000-7000-8000-000000000001"}))
    r.execute_command("ES.APPEND", "x", "ANY", "EVENT", "*", "StockReserved", "{}", "META",
                      json.dumps({"correlation_id": "other", "causation_id": cmd["id"]}))
    r.execute_command("ES.APPEND", "x", "ANY", "EVENT", "*", "StockReserved", "{}")
    # the wrong type for this step (a later step's ok) with the right ids
    reply(r, cmd, "PaymentProcessed")
    time.sleep(0.2)
    assert status(r, "d-1")["step"] == "reserve" and state_of(r, "d-1") == "running"
    # the real reply, twice, then a late fail
    reply(r, cmd, "StockReserved")
    reply(r, cmd, "StockReserved")
    reply(r, cmd, "StockUnavailable")
    charge = wait_command(r, 1, "d-1")
    time.sleep(0.3)
    assert len([c for c in commands(r, "payment-commands", "d-1")]) == 1
    assert state_of(r, "d-1") == "running"
    assert history_types(r, "d-1").count("StepSucceeded") == 1
    reply(r, charge, "PaymentProcessed")
    reply(r, wait_command(r, 2, "d-1"), "OrderShipped")
    wait_for(lambda: state_of(r, "d-1") == "completed")
    # late replies after the end change nothing
    reply(r, charge, "PaymentDeclined")
    reply(r, cmd, "StockReserved")
    time.sleep(0.2)
    assert state_of(r, "d-1") == "completed"
    assert history_types(r, "d-1")[-1] == "SagaCompleted"


def test_one_instance_per_id(r):
    define(r)
    place_order(r, "u-1", n=1)
    wait_command(r, 0, "u-1")
    place_order(r, "u-1", n=2)  # a second trigger with the same id
    assert r.execute_command("SAGA.START", "order", "u-1", "{}") == 0
    assert r.execute_command("SAGA.START", "order", "u-2", '{"order_id":"u-2"}') == 1
    assert r.execute_command("SAGA.START", "order", "u-2", '{"order_id":"u-2"}') == 0
    wait_command(r, 0, "u-2")
    time.sleep(0.2)
    assert len(commands(r, "inventory-commands", "u-1")) == 1
    assert commands(r, "inventory-commands", "u-1")[0]["data"] == {"order_id": "u-1", "n": 1}
    assert sorted(x[1] for x in r.execute_command("SAGA.LIST")) == ["u-1", "u-2"]


def test_events_before_the_definition_start_nothing(r):
    place_order(r, "old-1")
    define(r)
    place_order(r, "new-1")
    wait_command(r, 0, "new-1")
    time.sleep(0.2)
    assert status(r, "old-1") is None
    assert [x[1] for x in r.execute_command("SAGA.LIST")] == ["new-1"]


def test_abort_compensates(r):
    define(r)
    place_order(r, "a-1")
    reply(r, wait_command(r, 0, "a-1"), "StockReserved")
    wait_command(r, 1, "a-1")
    assert r.execute_command("SAGA.ABORT", "a-1") == 1
    wait_for(lambda: state_of(r, "a-1") == "compensated")
    assert status(r, "a-1")["reason"] == "aborted by SAGA.ABORT"
    assert [c["type"] for c in commands(r, "inventory-commands", "a-1")] == [
        "ReserveStock", "ReleaseStock"]
    with pytest.raises(redis.ResponseError, match="NOTRUNNING saga order 'a-1' is compensated"):
        r.execute_command("SAGA.ABORT", "a-1")
    with pytest.raises(redis.ResponseError, match="NOSAGA no saga with id 'nope'"):
        r.execute_command("SAGA.ABORT", "nope")
    # a reply to the aborted step changes nothing
    reply(r, wait_command(r, 1, "a-1"), "PaymentProcessed")
    time.sleep(0.2)
    assert state_of(r, "a-1") == "compensated"


def test_undeliverable_compensation_ends_failed(r):
    src = order_def().replace('compensate = { stream = "inventory-commands", type = "ReleaseStock" }',
                              'compensate = { stream = "release-commands", type = "ReleaseStock" }')
    define(r, src=src)
    r.execute_command("ES.APPEND", "release-commands", "ANY", "EVENT", "*", "Init", "{}")
    r.execute_command("ES.DELETE", "release-commands")  # tombstoned: nothing can be sent there
    place_order(r, "x-1")
    reply(r, wait_command(r, 0, "x-1"), "StockReserved")
    reply(r, wait_command(r, 1, "x-1"), "PaymentDeclined")
    wait_for(lambda: state_of(r, "x-1") == "failed", what="failed")
    st = status(r, "x-1")
    assert st["reason"] == "1 compensation(s) could not be delivered"
    assert [h["type"] for h in st["history"]][-2:] == ["CompensationFailed", "SagaFailed"]
    assert "release-commands" in st["history"][-2]["data"]
    assert r.info("sagas")["sagas_failed"] == 1
    assert r.execute_command("SAGA.LIST", "STATE", "failed") == [["order", "x-1", "failed", "charge"]]
    assert r.execute_command("SAGA.LIST", "STATE", "completed") == []


def test_data_and_on_ok_functions(r):
    src = """
    return {
      trigger = { stream = "payments" },
      id = function(e) return e.data.ref end,
      steps = {
        { name = "charge", send = { stream = "pay-cmds", type = "Charge" },
          data = function(saga) return { amount = saga.data.amount * 100, saga = saga.id } end,
          ok = "Charged", on_ok = function(saga, e) saga.data.receipt = e.data.receipt end },
        { name = "notify", send = { stream = "mail-cmds", type = "Mail",
            data = function(saga) return "receipt " .. saga.data.receipt end },
          ok = "Mailed" },
      },
    }"""
    assert r.execute_command("SAGA.DEFINE", "pay", src) == 1
    r.xadd("payments", {"ref": "p-1", "amount": "5"})  # an XADD entry as the trigger
    cmd = wait_for(lambda: commands(r, "pay-cmds"))[0]
    assert cmd["data"] == {"amount": 500, "saga": "p-1"} or cmd["data"] == {"amount": 500.0, "saga": "p-1"}
    reply(r, cmd, "Charged", '{"receipt":"R-9"}')
    mail = wait_for(lambda: r.xrange("mail-cmds"))
    assert mail[0][1]["data"] == "receipt R-9"
    st = status(r, "p-1")
    assert json.loads(st["data"]) == {"ref": "p-1", "amount": "5", "receipt": "R-9"}


def test_saga_id_with_a_number_and_a_trigger_error(r):
    src = """
    return {
      trigger = { stream = "$ce-cart" },
      id = function(e) if e.type == "Bad" then error("no id here") end
                       if e.type == "Skip" then return nil end
                       return e.data.n end,
      steps = { { name = "s", send = { stream = "c", type = "C" }, ok = "Ok" } },
    }"""
    r.execute_command("SAGA.DEFINE", "cart", src)
    for t, d in (("Bad", "{}"), ("Skip", "{}"), ("Go", '{"n":42}')):
        r.execute_command("ES.APPEND", "cart-1", "ANY", "EVENT", "*", t, d)
    wait_for(lambda: r.execute_command("SAGA.LIST"))
    assert r.execute_command("SAGA.LIST") == [["cart", "42", "running", "s"]]
    assert r.info("sagas")["saga_trigger_errors"] == 1


# ------------------------------------------------------------- bad input

@pytest.mark.parametrize("src,msg", [
    ("return {", "ERR saga definition: [string \"order\"]:1: unexpected symbol near <eof>"
     .replace('[string "order"]', "order")),
    ("return 42", "ERR saga definition: the definition must return a table {trigger, id, steps}"),
    ("error('boom')", "ERR saga definition: order:1: boom"),
    ("while true do end", "ERR saga definition: instruction budget exceeded"),
    ("return { trigger = { stream = 'x' }, id = function(e) end }",
     "ERR saga definition: steps must be a non-empty array of steps"),
    ("return { trigger = { stream = 'x' }, id = 'oops', steps = {} }",
     "ERR saga definition: id must be a function(e) returning the saga id"),
    ("return { trigger = { stream = '$xyz' }, id = function(e) end, steps = {} }",
     "ERR saga definition: trigger.stream '$xyz' is no stream"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {}, extra = 1 }",
     "ERR saga definition: the definition has an unknown key 'extra'"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'O', timout_ms = 5 } } }",
     "ERR saga definition: steps[1] has an unknown key 'timout_ms'"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = '$all', type = 'T' }, ok = 'O' } } }",
     "ERR saga definition: steps[1].send.stream: names starting with '$' are read-only"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'O', fail = 'O' } } }",
     "ERR saga definition: steps[1]: ok and fail must be different types"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'O', retries = 2 } } }",
     "ERR saga definition: steps[1]: retries need a timeout_ms"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'O' },"
     " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'P' } } }",
     "ERR saga definition: steps[2].name 'a' is used twice"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = 's' }, ok = 'O' } } }",
     "ERR saga definition: steps[1].send.type must be a string"),
    ("return { trigger = { stream = 'x' }, id = function(e) end, steps = {"
     " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'O', timeout_ms = -1 } } }",
     "ERR saga definition: steps[1].timeout_ms must be an integer"),
    ("os.execute('true')", "ERR saga definition: order:1: attempt to index a nil value (global 'os')"),
])
def test_bad_definitions(r, src, msg):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command("SAGA.DEFINE", "order", src)
    # redis-py drops the "ERR " code word of an error
    assert ("ERR " + str(ei.value)).startswith(msg), str(ei.value)
    assert r.execute_command("SAGA.LIST") == []
    assert r.info("sagas")["sagas_defined"] == 0
    assert r.execute_command("XLEN", "saga-definitions") == 0  # nothing stored


def test_bad_commands(r):
    define(r)
    with pytest.raises(redis.ResponseError, match="saga name must be 1..64 characters"):
        r.execute_command("SAGA.DEFINE", "or-der", order_def())
    with pytest.raises(redis.ResponseError, match="NOSAGA no saga named 'nope' is defined"):
        r.execute_command("SAGA.START", "nope", "1", "{}")
    with pytest.raises(redis.ResponseError, match="the saga data must be JSON"):
        r.execute_command("SAGA.START", "order", "1", "{not json")
    with pytest.raises(redis.ResponseError, match="saga id may not hold quotes"):
        r.execute_command("SAGA.START", "order", 'a"b', "{}")
    with pytest.raises(redis.ResponseError, match="saga id must be 1..200 bytes"):
        r.execute_command("SAGA.START", "order", "", "{}")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("SAGA.START", "order", "1")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SAGA.STATUS", "1", "FOO", "bar")
    with pytest.raises(redis.ResponseError, match="STATE must be running"):
        r.execute_command("SAGA.LIST", "STATE", "sleeping")
    assert r.execute_command("SAGA.STATUS", "nope") is None
    assert r.execute_command("SAGA.LIST") == []
    assert r.info("sagas")["sagas_started"] == 0


def test_same_id_in_two_sagas(r):
    define(r)
    define(r, "other")
    r.execute_command("SAGA.START", "order", "s-1", "{}")
    r.execute_command("SAGA.START", "other", "s-1", "{}")
    with pytest.raises(redis.ResponseError, match="2 sagas have the id 's-1'"):
        r.execute_command("SAGA.STATUS", "s-1")
    assert status(r, "s-1", "other")["name"] == "other"
    assert r.execute_command("SAGA.ABORT", "s-1", "NAME", "other") == 1
    wait_for(lambda: status(r, "s-1", "other")["state"] == "compensated")
    assert status(r, "s-1", "order")["state"] == "running"


# ------------------------------------------------------------ durability

def kill9(server):
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    server.log.close()


def test_kill9_mid_saga_resumes(server):
    r = server.client()
    define(r, src=order_def(timeout=1500, retries=0))
    # a: waiting for its charge reply; b: waiting (with a running timer) for reserve;
    # c: completed; d: compensated
    for sid in ("a", "b", "c", "d"):
        place_order(r, sid)
    reply(r, wait_command(r, 0, "a"), "StockReserved")
    charge_a = wait_command(r, 1, "a")
    for sid in ("c", "d"):
        reply(r, wait_command(r, 0, sid), "StockReserved")
    reply(r, wait_command(r, 1, "c"), "PaymentProcessed")
    reply(r, wait_command(r, 2, "c"), "OrderShipped")
    reply(r, wait_command(r, 1, "d"), "PaymentDeclined")
    wait_for(lambda: state_of(r, "c") == "completed" and state_of(r, "d") == "compensated")
    before = {sid: status(r, sid) for sid in "abcd"}
    cmds_before = {s: commands(r, s) for s in ("inventory-commands", "payment-commands",
                                               "shipping-commands")}
    r.close()
    t_kill = time.time()
    kill9(server)
    server.start()
    r = server.client()
    for sid in "abcd":
        st = status(r, sid)
        assert st["history"] == before[sid]["history"]
    # nothing was sent again
    for s, before_list in cmds_before.items():
        assert [c["id"] for c in commands(r, s)][:len(before_list)] == [c["id"] for c in before_list]
    # b's reserve timer runs on: it times out about 1.5 s after it was sent
    wait_for(lambda: state_of(r, "b") == "compensated", timeout=5, what="b timed out")
    assert "StepTimedOut" in history_types(r, "b")
    # a still waits for the reply to the command sent before the crash
    assert state_of(r, "a") == "running"
    reply(r, charge_a, "PaymentProcessed")
    reply(r, wait_command(r, 2, "a"), "OrderShipped")
    wait_for(lambda: state_of(r, "a") == "completed")
    assert r.info("sagas")["sagas_completed"] == 2
    # every step was sent exactly once per attempt
    for s in ("inventory-commands", "payment-commands", "shipping-commands"):
        ids = [c["id"] for c in commands(r, s)]
        assert len(ids) == len(set(ids))
    assert time.time() - t_kill < 10
    r.close()


def test_reply_while_the_server_was_down_is_seen(server):
    """A reply appended by the store's own CLI path is not possible while the
    server runs; instead: kill -9 right after the reply is acknowledged, so
    the saga thread may not have seen it yet."""
    r = server.client()
    define(r)
    place_order(r, "k-1")
    cmd = wait_command(r, 0, "k-1")
    reply(r, cmd, "StockReserved")
    kill9(server)
    server.start()
    r = server.client()
    wait_command(r, 1, "k-1")
    wait_for(lambda: status(r, "k-1")["step"] == "charge")
    assert len(commands(r, "payment-commands", "k-1")) == 1
    r.close()


def test_definitions_survive_restart_and_sagas_dir(server, tmp_path):
    d = tmp_path / "sagas"
    d.mkdir()
    (d / "order.lua").write_text(order_def())
    server.restart(["--sagas", str(d)])
    r = server.client()
    assert r.info("sagas")["sagas_defined"] == 1
    assert r.execute_command("SAGA.DEFINE", "order", order_def()) == 0  # same source
    assert r.execute_command("CONFIG", "GET", "sagas") == ["sagas", str(d)]
    r.execute_command("SAGA.DEFINE", "extra", order_def())
    place_order(r, "r-1")
    wait_command(r, 0, "r-1")
    r.close()
    server.restart([])  # no --sagas: both definitions are in the store
    r = server.client()
    assert r.info("sagas")["sagas_defined"] == 2
    assert [x[1] for x in r.execute_command("SAGA.LIST")] == ["r-1", "r-1"]
    r.close()


def test_bad_sagas_dir_refuses_to_start(tmp_path):
    import conftest
    d = tmp_path / "sagas"
    d.mkdir()
    (d / "broken.lua").write_text("return {")
    srv = conftest.ServerProc(tmp_path / "data", ["--sagas", str(d)])
    with pytest.raises(RuntimeError, match="broken.lua"):
        srv.start()


# ------------------------------------------------------------ concurrency

N_CONCURRENT = 1000


def participants(host, port, stop, decline_every=10):
    """Three services, one thread each: a consumer group on its command
    stream, replying through a pipeline; every decline_every-th payment is
    declined."""
    def service(stream, ok, fail, decline):
        c = redis.Redis(host=host, port=port, decode_responses=True)
        try:
            c.xgroup_create(stream, "svc", id="0", mkstream=True)
        except redis.ResponseError:
            pass
        while not stop.is_set():
            got = c.xreadgroup("svc", "w", {stream: ">"}, count=500, block=100)
            for _, entries in got or []:
                p = c.pipeline(transaction=False)
                for entry_id, f in entries:
                    meta = json.loads(f["meta"])
                    data = json.loads(f["data"])
                    if f["type"] in ("ReleaseStock", "RefundPayment"):
                        p.xack(stream, "svc", entry_id)
                        continue
                    t = fail if decline and data["n"] % decline_every == 0 else ok
                    p.execute_command("ES.APPEND", "svc-" + stream, "ANY", "EVENT", "*", t, "{}",
                                      "META", json.dumps({"correlation_id": meta["correlation_id"],
                                                          "causation_id": f["id"]}))
                    p.xack(stream, "svc", entry_id)
                p.execute()
        c.close()
    threads = [threading.Thread(target=service, args=(s[0], s[2], s[3], s[0] == "payment-commands"))
               for s in STEPS]
    for t in threads:
        t.start()
    return threads


def test_many_concurrent_sagas(server):
    r = server.client()
    define(r)
    stop = threading.Event()
    threads = participants(server.host, server.port, stop)
    try:
        t0 = time.time()
        p = r.pipeline(transaction=False)
        for n in range(N_CONCURRENT):
            p.execute_command("ES.APPEND", "order-c%d" % n, "ANY", "EVENT", "*", "OrderPlaced",
                              json.dumps({"order_id": "c%d" % n, "n": n}))
        p.execute()
        declined = len([n for n in range(N_CONCURRENT) if n % 10 == 0])

        def done():
            i = r.info("sagas")
            return i["sagas_completed"] + i["sagas_compensated"] == N_CONCURRENT and i
        info = wait_for(done, timeout=60, what="all sagas done")
        elapsed = time.time() - t0
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert info["sagas_compensated"] == declined
    assert info["sagas_completed"] == N_CONCURRENT - declined
    assert info["sagas_running"] == info["sagas_compensating"] == info["sagas_failed"] == 0
    for sid, state in (("c0", "compensated"), ("c1", "completed"), ("c990", "compensated"),
                       ("c999", "completed")):
        assert state_of(r, sid) == state
    listed = r.execute_command("SAGA.LIST", "STATE", "compensated")
    assert sorted(x[1] for x in listed) == sorted("c%d" % n for n in range(0, N_CONCURRENT, 10))
    # each command went out once
    assert r.xlen("shipping-commands") == N_CONCURRENT - declined
    assert r.xlen("payment-commands") == N_CONCURRENT
    assert r.xlen("inventory-commands") == N_CONCURRENT + declined  # + ReleaseStock
    print("%d sagas in %.1f s" % (N_CONCURRENT, elapsed))
    r.close()


def test_deleted_saga_stream_leaves_the_instance_alone(r):
    define(r)
    place_order(r, "del-1")
    cmd = wait_command(r, 0, "del-1")
    assert r.delete("saga-order-del-1") == 1
    reply(r, cmd, "StockReserved")  # its next append finds the stream gone
    time.sleep(0.3)
    # no retry loop: nothing more was written, and the server still serves
    assert r.xlen("saga-order-del-1") == 0
    assert commands(r, "payment-commands", "del-1") == []
    assert status(r, "del-1") is None
    place_order(r, "del-2")
    wait_command(r, 0, "del-2")


@pytest.mark.server_args("--max-event-size", "2000")
def test_a_start_that_cannot_be_written_leaves_nothing(r):
    define(r)
    big = json.dumps({"order_id": "big", "pad": "x" * 3000})
    with pytest.raises(redis.ResponseError, match="too big|TOOBIG|larger"):
        r.execute_command("SAGA.START", "order", "big", big)
    assert status(r, "big") is None and r.execute_command("SAGA.LIST") == []
    assert r.info("sagas")["sagas_running"] == 0
    # the id is free: a start that fits works
    assert r.execute_command("SAGA.START", "order", "big", '{"order_id":"big"}') == 1
    wait_command(r, 0, "big")
