"""Starting and stopping the services of the order examples as processes."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start_services(mode, *extra):
    procs = []
    for role in ("inventory", "payment", "shipping"):
        procs.append(subprocess.Popen([sys.executable, os.path.join(HERE, "services.py"), mode,
                                       role] + [str(x) for x in extra]))
    return procs


def stop_services(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def wait_for(fn, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError("the order flow did not finish in %s s" % timeout)
