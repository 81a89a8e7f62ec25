"""After ``os.fork()`` the child has a copy of the runtime but not its thread.

By default the runtime comes back to life in the child: a new loop thread, the same
recorders and metrics with fresh state, the parent's pending copies discarded and
counted. With ``restart_after_fork=False``, calls that need the thread fail at once with
a clear error (not at their timeout), reads that need no hop still work, and
``shutdown()`` (also the one run at exit) closes without waiting. Each case runs in a
fresh interpreter: forking the threaded test process itself could deadlock the child on
a lock held by another thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

# Timeouts far above the test's: a call that waited for the missing thread would end in
# a MetricsRuntimeTimeoutError or MetricsRecorderTimeoutError, which the test rejects.
SCRIPT = r"""
import json, os, sys
from dataclasses import dataclass
from mvx_metrics import MetricEvent, MetricsError, MetricsRuntime
from mvx_metrics.metrics import Counter

@dataclass(frozen=True, slots=True)
class Ping(MetricEvent):
    pass

runtime = MetricsRuntime(
    namespace="fork", operation_timeout=600, shutdown_timeout=600, restart_after_fork=False
)
runtime.start()
recorder = runtime.create_recorder("r", recorder_timeout=600)
recorder.register_metric(Counter("pings", event=Ping))
recorder.register_event(event=Ping())
recorder.flush()
read_fd, write_fd = os.pipe()
pid = os.fork()
if pid == 0:
    results = {}

    def attempt(name, fn):
        try:
            fn()
            results[name] = ["ok", None]
        except MetricsError as exc:
            results[name] = [type(exc).__name__, exc.reason]

    attempt("idle read", recorder.get_metric_snapshots)
    attempt("create_recorder", lambda: runtime.create_recorder("child"))
    recorder.register_event(event=Ping())
    attempt("read behind an event", recorder.get_metric_snapshots)
    attempt("flush", recorder.flush)
    attempt("runtime read", runtime.get_metric_snapshots)

    def outcome(name, handle):
        result = handle.wait()  # the recorder's 600 s timeout: it must not be reached
        results[name] = ["ok", None] if result.success else [
            type(result.error).__name__, result.error.reason
        ]

    outcome("start().wait()", recorder.start())
    outcome("stop().wait()", recorder.stop())
    attempt("stop_recorder", lambda: runtime.stop_recorder("r"))
    attempt("shutdown", runtime.shutdown)
    results["state"] = str(runtime.state)
    os.write(write_fd, json.dumps(results).encode())
    os._exit(0)
os.close(write_fd)
os.waitpid(pid, 0)
child = json.loads(os.read(read_fd, 65536))
recorder.register_event(event=Ping())
parent = runtime.get_metric_snapshots()["r"]["pings"]["series"][0]["value"]
runtime.shutdown()
print(json.dumps({"child": child, "parent_pings": parent}))
"""


def test_without_restart_a_forked_child_fails_fast_and_closes_without_waiting() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    child = report["child"]
    assert child["idle read"] == ["ok", None]  # served in place: no thread needed
    assert child["create_recorder"] == ["MetricsRuntimeInvalidStateError", "forked"]
    assert child["read behind an event"] == ["MetricsRecorderLoopUnavailableError", "forked"]
    assert child["flush"] == ["MetricsRecorderLoopUnavailableError", "forked"]
    assert child["runtime read"] == ["MetricsRuntimeInvalidStateError", "forked"]
    assert child["start().wait()"] == ["MetricsRecorderLoopUnavailableError", "forked"]
    assert child["stop().wait()"] == ["MetricsRecorderLoopUnavailableError", "forked"]
    assert child["stop_recorder"] == ["MetricsRuntimeInvalidStateError", "forked"]
    assert child["shutdown"] == ["ok", None]
    assert child["state"] == "CLOSED"
    assert "were not processed (1 pending)" in done.stderr  # the child's loss is reported
    assert report["parent_pings"] == 2  # the parent never sees the child's event


RESTART_SCRIPT = r"""
import json, os, threading
from dataclasses import dataclass
from mvx_metrics import MetricEvent, MetricsRuntime
from mvx_metrics._process import instance_id
from mvx_metrics.hops.waiting import spawn_on_owner
from mvx_metrics.metrics import Counter, Histogram
from mvx_metrics.metrics.base import Metric
from mvx_metrics.testing import value

@dataclass(frozen=True, slots=True)
class Ping(MetricEvent):
    seconds: float = 0.5

class Seen(Metric):
    # A user-written metric with a reset(): the child starts it from zero too.
    metric_name = "seen"
    def __init__(self):
        self.count = 0
    def handle_event(self, event):
        self.count += 1
        return True
    def snapshot(self):
        return {"count": self.count}
    def reset(self):
        self.count = 0

runtime = MetricsRuntime(namespace="fork", operation_timeout=60, shutdown_timeout=60)
runtime.start()
recorder = runtime.create_recorder("r", recorder_timeout=60)
recorder.register_metric(Counter("pings", event=Ping))
recorder.register_metric(Histogram("seconds", event=Ping, value="seconds", buckets=(1.0,)))
recorder.register_metric(Seen())
for _ in range(2):
    recorder.register_event(event=Ping())
recorder.flush()

# Three events pending at the fork: the loop is held, so none is processed before it.
release = threading.Event()
held = threading.Event()
async def hold():
    held.set()
    release.wait(60)
spawn_on_owner(runtime._loop_thread.hop, hold, name="hold")
assert held.wait(60)
for _ in range(3):
    recorder.register_event(event=Ping())
parent_id = instance_id()
read_fd, write_fd = os.pipe()
pid = os.fork()
if pid == 0:
    stats = recorder.get_stats()
    out = {"at_start": [stats.accepted, stats.pending, dict(stats.dropped)]}
    for _ in range(4):
        recorder.register_event(event=Ping())
    snapshots = runtime.get_metric_snapshots()["r"]
    stats = recorder.get_stats()
    out["pings"] = value(snapshots, "pings")
    out["seconds"] = value(snapshots, "seconds")
    out["seen"] = snapshots["seen"]["count"]
    out["stats"] = [stats.accepted, stats.processed, stats.pending, dict(stats.dropped)]
    out["state"] = str(recorder.state)
    out["new_identity"] = instance_id() != parent_id
    child = runtime.create_recorder("child-only")
    out["child_recorder"] = str(child.state)
    runtime.shutdown()
    out["runtime"] = str(runtime.state)
    os.write(write_fd, json.dumps(out).encode())
    os._exit(0)
os.close(write_fd)
release.set()
os.waitpid(pid, 0)
child = json.loads(os.read(read_fd, 65536))
recorder.flush()
parent = value(runtime.get_metric_snapshots(), "pings", recorder="r")
runtime.shutdown()
print(json.dumps({"child": child, "parent_pings": parent}))
"""


def test_a_runtime_comes_back_to_life_in_a_forked_child() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RESTART_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    child = report["child"]
    # The parent's three pending copies: discarded in the child, counted by reason.
    assert child["at_start"] == [0, 0, {"fork_discarded": 3}]
    # Fresh state: only the child's own four events, in every metric.
    assert (child["pings"], child["seconds"], child["seen"]) == (4, 4, 4)
    assert child["stats"] == [4, 4, 0, {"fork_discarded": 3}]
    assert child["state"] == "RUNNING"
    assert child["new_identity"]
    assert child["child_recorder"] == "RUNNING"
    assert child["runtime"] == "CLOSED"
    assert report["parent_pings"] == 5  # the parent processed its own, once
    assert "were not processed" not in done.stderr


POOL_SCRIPT = r"""
import json, multiprocessing, os
from dataclasses import dataclass
from mvx_metrics import MetricEvent, MetricsRuntime
from mvx_metrics.metrics import Counter
from mvx_metrics.testing import value

@dataclass(frozen=True, slots=True)
class Job(MetricEvent):
    pass

runtime = MetricsRuntime(namespace="pool", operation_timeout=60, shutdown_timeout=60)
runtime.start()
recorder = runtime.create_recorder("jobs")
recorder.register_metric(Counter("jobs", event=Job))

def work(n):
    for _ in range(n):
        recorder.register_event(event=Job())
    recorder.flush()
    return os.getpid(), value(runtime.get_metric_snapshots(), "jobs", recorder="jobs")

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(work, [10] * 6, chunksize=1)
    runtime.shutdown()
    print(json.dumps(results))
"""


def test_multiprocessing_fork_workers_record_with_the_parent_s_recorder(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    by_worker: dict[int, list[int]] = {}
    for pid, value in results:
        by_worker.setdefault(pid, []).append(value)
    # Each worker counts its own jobs from zero: 10, 20, ... in the order it ran them.
    for values in by_worker.values():
        assert values == [10 * (i + 1) for i in range(len(values))]
    assert sum(len(v) for v in by_worker.values()) == 6


LOCKS_HELD_SCRIPT = r"""
import gc, json, os, threading
from dataclasses import dataclass
from mvx_metrics import MetricEvent, MetricsRuntime
from mvx_metrics.export._collections import collections_deferred
from mvx_metrics.metrics import Counter
from mvx_metrics.testing import value

@dataclass(frozen=True, slots=True)
class Ping(MetricEvent):
    pass

runtime = MetricsRuntime(namespace="locks", operation_timeout=60, shutdown_timeout=60)
runtime.start()
recorder = runtime.create_recorder("r")
recorder.register_metric(Counter("pings", event=Ping))
recorder.flush()

# Another thread holds the recorder's hand-off lock and is in a scrape's block when the
# process forks: neither ends in the child.
held, release = threading.Event(), threading.Event()
def hold():
    with recorder._handoff.lock, collections_deferred():
        held.set()
        release.wait(60)
holder = threading.Thread(target=hold)
holder.start()
assert held.wait(60)
read_fd, write_fd = os.pipe()
pid = os.fork()
if pid == 0:
    recorder.register_event(event=Ping())
    out = {
        "pings": value(recorder.get_metric_snapshots(timeout=20), "pings"),
        "gc_enabled": gc.isenabled(),
    }
    with collections_deferred():  # not held here: a new lock
        out["off_inside"] = not gc.isenabled()
    out["on_after"] = gc.isenabled()
    runtime.shutdown(timeout=20)
    os.write(write_fd, json.dumps(out).encode())
    os._exit(0)
os.close(write_fd)
_, status = os.waitpid(pid, 0)
release.set()
holder.join(60)
print(os.read(read_fd, 65536).decode() or json.dumps({"status": status}))
runtime.shutdown()
"""


def test_a_child_forked_while_a_thread_held_locks_still_comes_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOCKS_HELD_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "pings": 1,
        "gc_enabled": True,
        "off_inside": True,
        "on_after": True,
    }
