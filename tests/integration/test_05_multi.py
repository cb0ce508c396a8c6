"""MULTI / EXEC / DISCARD, including deferred (durable) replies inside EXEC."""
import redis

from respclient import Error


def test_multi_exec(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("ECHO", "a") == "QUEUED"
    assert raw.call("PING") == "QUEUED"
    assert raw.call("DBSIZE") == "QUEUED"
    assert raw.call("EXEC") == ["a", "PONG", 0]
    assert raw.call("EXEC") == Error("ERR EXEC without MULTI")
    assert raw.call("DISCARD") == Error("ERR DISCARD without MULTI")


def test_multi_nested_and_discard(raw):
    raw.call("MULTI")
    assert raw.call("MULTI") == Error("ERR MULTI calls can not be nested")
    raw.call("ECHO", "x")
    assert raw.call("DISCARD") == "OK"
    assert raw.call("ECHO", "y") == "y"


def test_execabort_on_queueing_errors(raw):
    raw.call("MULTI")
    assert raw.call("NOSUCH") == Error("ERR unknown command 'NOSUCH', with args beginning with: ")
    assert raw.call("ECHO") == Error("ERR wrong number of arguments for 'echo' command")
    assert raw.call("ECHO", "fine") == "QUEUED"
    assert raw.call("EXEC") == Error("EXECABORT Transaction discarded because of previous errors.")
    assert raw.call("ECHO", "after") == "after"


def test_exec_arity_aborts(raw):
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC", "x") == Error(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
    assert raw.call("EXEC") == Error("ERR EXEC without MULTI")


def test_errors_inside_exec_do_not_abort(raw):
    raw.call("MULTI")
    raw.call("SELECT", "5")
    raw.call("ECHO", "ok")
    res = raw.call("EXEC")
    assert res == [Error("ERR DB index is out of range"), "ok"]


def test_deferred_replies_inside_exec(raw):
    # DEL runs on the background worker (durable): its reply is deferred,
    # and the EXEC array must still come out in order.
    raw.call("MULTI")
    raw.call("ECHO", "first")
    raw.call("DEL", "nope1", "nope2")
    raw.call("ECHO", "middle")
    raw.call("FLUSHALL")
    raw.call("ECHO", "last")
    assert raw.call("EXEC") == ["first", 0, "middle", "OK", "last"]
    assert raw.call("PING") == "PONG"


def test_redis_py_transaction_pipeline(r):
    p = r.pipeline(transaction=True)
    p.echo("a").echo("b").dbsize().exists("k")
    assert p.execute() == ["a", "b", 0, 0]


def test_multi_allowed_commands(raw):
    raw.call("MULTI")
    assert raw.call("SHUTDOWN") == Error("ERR Command not allowed inside a transaction")
    assert raw.call("EXEC") == Error("EXECABORT Transaction discarded because of previous errors.")


def test_quit_inside_multi(raw):
    raw.call("MULTI")
    raw.call("ECHO", "x")
    raw.send(b"QUIT\r\n")
    assert raw.read_all(2) == b"+OK\r\n<CLOSED>"


def test_exec_is_isolated_from_other_clients(server):
    """Redis: no request of another client is served in the middle of an EXEC.
    A transaction of two durable XADDs is seen by a concurrent reader with
    both entries or neither, never one — also by a blocked XREAD woken by it."""
    import threading
    writer = server.client()
    reader = server.client()
    blocked = server.client()
    stop = threading.Event()
    seen = []
    woken = []

    def read_lengths():
        while not stop.is_set():
            p = reader.pipeline(transaction=False)
            for _ in range(20):
                p.xlen("iso")
            seen.extend(p.execute())

    def block_reads():
        last = "0-0"
        while not stop.is_set():
            got = blocked.xread({"iso": last}, block=200)
            if got:
                entries = got[0][1]
                woken.append(len(entries))
                last = entries[-1][0]

    threads = [threading.Thread(target=read_lengths), threading.Thread(target=block_reads)]
    for t in threads:
        t.start()
    try:
        for i in range(150):
            p = writer.pipeline(transaction=True)
            p.xadd("iso", {"n": i, "half": 1})
            p.xadd("iso", {"n": i, "half": 2})
            p.execute()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert writer.xlen("iso") == 300
    assert seen and all(n % 2 == 0 for n in seen), sorted(set(n for n in seen if n % 2))
    assert woken and all(n % 2 == 0 for n in woken)
