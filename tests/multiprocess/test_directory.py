"""Multiprocess mode end to end: forked workers publish, any process reads the merge,
exited and killed workers are folded into the archive, and files do not pile up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mvx_metrics.multiprocess import MultiprocessDirectory

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

SCRIPT = r"""
import json, os, signal, sys
from dataclasses import dataclass
from mvx_metrics import Counter, Distribution, Gauge, Histogram, MetricEvent, MetricsRuntime
from mvx_metrics.export import render_prometheus
from mvx_metrics.testing import value

@dataclass(slots=True)
class Req(MetricEvent):
    route: str
    seconds: float

directory, workers, killed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runtime = MetricsRuntime(namespace="mp", multiprocess_dir=directory, publish_interval=60)
runtime.start()
web = runtime.create_recorder("web")
web.register_metric(Counter("requests", event=Req, labels=("route",)))
web.register_metric(Histogram("seconds", event=Req, value="seconds", buckets=(0.1, 1.0)))
web.register_metric(Distribution("spread", event=Req, value="seconds"))
web.register_metric(Gauge("busy", event=Req, value="seconds", multiprocess_mode="live_sum"))

def work(n):
    for i in range(n):
        web.register_event(event=Req("/", (i + 1) / n))

for w in range(workers):  # workers that exit cleanly: their totals go to the archive
    pid = os.fork()
    if pid == 0:
        work(100)
        runtime.shutdown()
        os._exit(0)
    os.waitpid(pid, 0)
for w in range(killed):  # workers killed after publishing, without an exit publication
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        work(10)
        runtime.publish()
        os.write(write_fd, b"x")
        signal.pause()
    os.read(read_fd, 1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
work(1)  # the reading process's own event
runtime.publish()  # as a scrape served here does first
snapshots = {rid: metrics for rid, metrics, _ in runtime.multiprocess_dir.read()}["web"]
stats = {rid: st for rid, _, st in runtime.multiprocess_dir.read()}["web"]
text = render_prometheus(runtime)
files = sorted(os.listdir(directory))
runtime.shutdown()
print(json.dumps({
    "requests": value(snapshots, "requests", route="/"),
    "seconds": value(snapshots, "seconds"),
    "spread": value(snapshots, "spread"),
    "p99": value(snapshots, "spread", field="quantiles")["0.99"],
    "busy": value(snapshots, "busy"),
    "accepted": stats.accepted,
    "processed": stats.processed,
    "text_has_total": 'requests_total{recorder="web",route="/"}' in text,
    "files": files,
}))
"""


def run(tmp_path: Path, workers: int, killed: int = 0) -> dict[str, object]:
    directory = tmp_path / "metrics"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(directory), str(workers), str(killed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workers_totals_are_merged_and_kept_after_they_exit(tmp_path: Path) -> None:
    report = run(tmp_path, workers=3, killed=2)
    total = 3 * 100 + 2 * 10 + 1
    assert report["requests"] == report["seconds"] == report["spread"] == total
    assert report["accepted"] == report["processed"] == total
    assert report["p99"] == pytest.approx(1.0, rel=0.01)
    assert report["busy"] == 1 / 1  # only the live reader's gauge: exited ones are gone
    assert report["text_has_total"]


def test_files_of_exited_processes_are_folded_so_reads_do_not_grow(tmp_path: Path) -> None:
    report = run(tmp_path, workers=20, killed=1)
    assert report["requests"] == 20 * 100 + 10 + 1
    files = [name for name in report["files"] if not name.startswith(".")]
    # The archive and the reader's own file: 21 workers left nothing else behind.
    assert len(files) == 2 and "archive.json" in files, files


def test_a_torn_or_foreign_file_is_skipped_and_counted(tmp_path: Path) -> None:
    directory = MultiprocessDirectory(tmp_path)
    (tmp_path / "mvx-torn.json").write_text('{"format": 1, "recorders"')
    (tmp_path / "mvx-other.json").write_text('{"format": 99}')
    assert directory.read() == []
    assert directory.problems == 2


def test_a_directory_path_must_be_a_path() -> None:
    with pytest.raises(TypeError, match="path"):
        MultiprocessDirectory(42)  # type: ignore[arg-type]


def test_the_serve_command_serves_the_merged_directory(tmp_path: Path) -> None:
    import time

    from .._support import TIMEOUT
    from ._servers import scrape_text, serve_command

    directory = MultiprocessDirectory(tmp_path)
    snapshots = {
        "hits": {
            "name": "hits",
            "kind": "counter",
            "description": "",
            "unit": "",
            "series": [{"labels": {}, "value": 7}],
            "overflow_events": 0,
        }
    }
    directory.publish({"web": snapshots}, {})
    with serve_command(tmp_path) as (host, port):
        deadline = time.monotonic() + TIMEOUT
        body = ""
        while 'hits_total{recorder="web"} 7.0' not in body:
            assert time.monotonic() < deadline, body
            body = scrape_text(host, port)


def _hits(directory: MultiprocessDirectory) -> float:
    [(_, snapshots, _)] = directory.read()
    [series] = snapshots["hits"]["series"]
    return float(series["value"])


def _publish_exited_in_child(directory: MultiprocessDirectory, hits: int) -> None:
    """A process life that published ``hits`` and exited (a new instance id: a fork)."""
    pid = os.fork()
    if pid == 0:
        try:
            snapshot = {
                "name": "hits",
                "kind": "counter",
                "description": "",
                "unit": "",
                "series": [{"labels": {}, "value": hits}],
                "overflow_events": 0,
            }
            directory.publish({"web": {"hits": snapshot}}, {}, exited=True)
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0


def test_a_reader_that_dies_mid_fold_does_not_get_the_files_counted_twice(
    tmp_path: Path,
) -> None:
    # Seen under gunicorn: a worker SIGKILLed while its scrape folded exited workers'
    # files, after the new archive was written and before the files were removed.
    directory = MultiprocessDirectory(tmp_path)
    _publish_exited_in_child(directory, 7)
    _publish_exited_in_child(directory, 5)
    exited = sorted(tmp_path.glob("mvx-*.json"))
    assert len(exited) == 2
    pid = os.fork()
    if pid == 0:  # a reader that dies at its first removal, as a SIGKILL would
        try:
            Path.unlink = lambda self, missing_ok=False: os._exit(3)
            directory.read()
        finally:
            os._exit(1)
    assert os.waitpid(pid, 0)[1] >> 8 == 3
    assert sorted(tmp_path.glob("mvx-*.json")) == exited  # left behind, and counted

    assert _hits(directory) == 12  # not 24
    assert list(tmp_path.glob("mvx-*.json")) == []
    _publish_exited_in_child(directory, 1)  # and folding goes on as before
    assert _hits(directory) == 13
    assert _hits(directory) == 13


def test_include_stats_false_leaves_the_merged_stats_out(tmp_path: Path) -> None:
    import anyio

    from mvx_metrics import Counter, MetricsRuntime
    from mvx_metrics.export import render_prometheus
    from mvx_metrics.export.scrape import scrape_response

    from .._support import TIMEOUT, Saved

    with MetricsRuntime(
        multiprocess_dir=tmp_path, publish_interval=float("inf"), process_metrics=False
    ) as runtime:
        recorder = runtime.create_recorder("web")
        recorder.register_metric(Counter("saves", event=Saved))
        recorder.register_event(event=Saved())
        recorder.flush(timeout=TIMEOUT)
        with_stats = render_prometheus(runtime)
        without = render_prometheus(runtime, include_stats=False)
        scraped = anyio.run(
            lambda: scrape_response(runtime, "text/plain", include_stats=False, timeout=TIMEOUT)
        )
    assert "mvx_recorder_events_accepted_total" in with_stats
    for text in (without, scraped.body.decode()):
        assert 'saves_total{recorder="web"} 1.0' in text
        assert "mvx_recorder_" not in text


def test_a_read_waits_for_another_process_s_lock_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from mvx_metrics import MetricsRuntimeTimeoutError
    from mvx_metrics.multiprocess import directory as directory_module

    monkeypatch.setattr(directory_module, "LOCK_WAIT_S", 0.05)
    directory = MultiprocessDirectory(tmp_path)
    # Another open file description: to flock, as good as another process.
    with open(tmp_path / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(MetricsRuntimeTimeoutError, match="held the directory's lock"):
            directory.read()
        fcntl.flock(held, fcntl.LOCK_UN)
    assert directory.read() == []  # let go of: read as usual


def test_a_publication_waits_for_the_one_in_progress_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from mvx_metrics.multiprocess import publisher as publisher_module
    from mvx_metrics.multiprocess.publisher import Publisher

    from .._support import TIMEOUT

    monkeypatch.setattr(publisher_module, "PUBLISH_WAIT_S", 0.05)
    reading, release = threading.Event(), threading.Event()

    def slow_read(timeout: float | None) -> tuple[dict[str, Any], dict[str, Any]]:
        reading.set()
        release.wait(TIMEOUT)
        return {}, {}

    publisher = Publisher(MultiprocessDirectory(tmp_path), slow_read, float("inf"))
    results: list[bool] = []
    first = threading.Thread(target=lambda: results.append(publisher.publish()))
    first.start()
    assert reading.wait(TIMEOUT)
    assert publisher.publish(read_now=lambda _: ({}, {})) is False  # skipped, not hung
    assert publisher.failures == 1
    release.set()
    first.join(TIMEOUT)
    assert results == [True]


def test_a_scrape_s_timeout_bounds_its_publication_and_its_read_of_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multiprocess mode: a read with a timeout waits no longer than it for the
    publication in progress and for another process's hold of the lock (each would
    otherwise wait its own bound, made a minute here)."""
    import fcntl
    import time

    from mvx_metrics import MetricsRuntime, MetricsRuntimeTimeoutError
    from mvx_metrics.export._source import read_exposition
    from mvx_metrics.multiprocess import directory as directory_module
    from mvx_metrics.multiprocess import publisher as publisher_module

    from .._support import TIMEOUT

    monkeypatch.setattr(directory_module, "LOCK_WAIT_S", 60.0)
    monkeypatch.setattr(publisher_module, "PUBLISH_WAIT_S", 60.0)
    with MetricsRuntime(
        namespace="bounded",
        multiprocess_dir=tmp_path,
        publish_interval=float("inf"),
        operation_timeout=TIMEOUT,
    ) as runtime:
        publisher = runtime._publisher
        assert publisher is not None
        with open(tmp_path / ".lock", "a+") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # another process's hold, as good as
            t0 = time.monotonic()
            with pytest.raises(MetricsRuntimeTimeoutError, match="held the directory's lock"):
                read_exposition(runtime, 0.2)
            assert time.monotonic() - t0 < 30.0  # not LOCK_WAIT_S
            fcntl.flock(held, fcntl.LOCK_UN)
        # A publication in progress (another thread's) and a scrape behind it.
        publisher._lock.acquire()
        try:
            failures = publisher.failures
            t0 = time.monotonic()
            assert runtime.publish(timeout=0.2) is False  # skipped, counted
            assert time.monotonic() - t0 < 30.0  # not PUBLISH_WAIT_S
            assert publisher.failures == failures + 1
        finally:
            publisher._lock.release()
        assert runtime.publish(timeout=TIMEOUT) is True
