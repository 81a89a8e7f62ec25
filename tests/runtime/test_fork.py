"""After ``os.fork()`` the child has a copy of the runtime but not its thread.

Calls that need that thread must fail at once with a clear error (not at their timeout),
reads that need no hop still work, and ``shutdown()`` (also the one run at exit) closes
without waiting. Each case runs in a fresh interpreter: forking the threaded test process
itself could deadlock the child on a lock held by another thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

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

runtime = MetricsRuntime(namespace="fork", operation_timeout=600, shutdown_timeout=600)
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


def test_a_forked_child_fails_fast_and_closes_without_waiting() -> None:
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
