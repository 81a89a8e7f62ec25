"""Process metrics in multiprocess mode, with real processes: every live process's own
(CPU, memory, descriptors, GC, loop lag), labelled with its instance as a per_process
gauge is, never summed; an exited or killed worker's gone; the serve command shows the
workers' and none of its own; the exposition stays valid for prometheus_client and
promtool."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families as parse_text

from mvx_metrics.exposition.process import PROCESS_FAMILY_NAMES
from mvx_metrics.testing.exposition import assert_exposition_valid

from .._support import TIMEOUT, require_tool, run_fresh
from ._servers import scrape_text, serve_command

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

ROOT = Path(__file__).resolve().parents[2]

#: The sample names of the process families (counters get ``_total``).
PROCESS_SAMPLES = {
    name + "_total" if name.startswith("process_cpu") or name.startswith("python_gc") else name
    for name in PROCESS_FAMILY_NAMES
}

# Two forked workers publish, each with a descriptor limit of its own (500 + i), which
# its process_max_fds shows; the reader renders with both live, after one exits cleanly
# and after the other is killed. Pipes order every step: no sleeps.
WORKERS = r"""
import json, os, resource, signal, sys
from dataclasses import dataclass
from mvx_metrics import Gauge, MetricEvent, MetricsRuntime
from mvx_metrics._process import instance_id
from mvx_metrics.export import render_prometheus

@dataclass(slots=True)
class Load(MetricEvent):
    value: float

runtime = MetricsRuntime(
    namespace="mp", multiprocess_dir=sys.argv[1], publish_interval=float("inf")
)
runtime.start()
web = runtime.create_recorder("web")
web.register_metric(Gauge("load", event=Load, value="value", description="Load."))

def read_all(fd):
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()

workers = []  # (pid, instance, the pipe that tells it to exit)
for i in range(2):
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        for _, _, fd in workers:  # a sibling's pipe: its EOF is the reader's to give
            os.close(fd)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (500 + i, hard))
        web.register_event(event=Load(float(i)))
        runtime.publish()
        os.write(ready_w, instance_id().encode())
        os.close(ready_w)
        if os.read(go_r, 1) == b"x":  # exit cleanly; EOF (the reader died): just go
            runtime.shutdown()
        os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    workers.append((pid, read_all(ready_r), go_w))

web.register_event(event=Load(9.0))
texts = {"live": render_prometheus(runtime), "openmetrics": render_prometheus(runtime, openmetrics=True)}
(first, _, go_first), (second, _, _) = workers
os.write(go_first, b"x")
os.waitpid(first, 0)
texts["one_exited"] = render_prometheus(runtime)
os.kill(second, signal.SIGKILL)
os.waitpid(second, 0)
texts["one_killed"] = render_prometheus(runtime)
runtime.shutdown()
print(json.dumps({"me": instance_id(), "workers": [w[1] for w in workers], "texts": texts}))
"""

Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


def samples(text: str) -> Series:
    out: Series = {}
    for family in parse_text(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def by_instance(series: Series, name: str) -> dict[str, float]:
    """``{instance: value}`` of a family with one series per process; fails on a repeat
    or a sample without the label."""
    out: dict[str, float] = {}
    for labels, value in series[name].items():
        instance = dict(labels)["instance"]
        assert instance not in out, (name, instance)
        out[instance] = value
    return out


def check_promtool(text: str) -> None:
    promtool = require_tool("promtool", "prometheus")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


@dataclass(frozen=True)
class Report:
    """What the WORKERS program printed."""

    me: str  # the reader's instance
    workers: list[str]  # theirs, in fork order
    texts: dict[str, str]  # its expositions, by moment


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return Report(**run_fresh(WORKERS, str(tmp_path_factory.mktemp("metrics"))))


def test_each_live_process_shows_its_own_labelled_with_its_instance(report: Report) -> None:
    me, workers = report.me, report.workers
    assert len(set(workers)) == 2 and me not in workers
    live = samples(report.texts["live"])
    everyone = {me, *workers}
    for name in PROCESS_SAMPLES:
        # One series per process (per generation for GC), every one labelled: the
        # serving process's own among them, not again unlabelled.
        per_process = {dict(labels)["instance"] for labels in live[name]}
        assert per_process == everyone, name
    assert set(by_instance(live, "process_cpu_seconds_total")) == everyone
    assert len(live["python_gc_collections_total"]) == 3 * len(live["python_info"]) == 9
    # Each process's values are its own: the descriptor limit each worker set.
    max_fds = by_instance(live, "process_max_fds")
    assert (max_fds[workers[0]], max_fds[workers[1]]) == (500.0, 501.0)
    assert max_fds[me] not in (500.0, 501.0)
    # The label is a per_process gauge's: one name and one value for "which process".
    assert {dict(labels)["instance"] for labels in live["load"]} == everyone


def test_an_exited_or_killed_worker_s_process_metrics_are_gone(report: Report) -> None:
    me, (first, second) = report.me, report.workers
    one_exited = samples(report.texts["one_exited"])
    assert set(by_instance(one_exited, "process_cpu_seconds_total")) == {me, second}
    assert set(by_instance(one_exited, "process_resident_memory_bytes")) == {me, second}
    assert set(by_instance(one_exited, "load")) == {me, second}
    one_killed = samples(report.texts["one_killed"])
    for name in PROCESS_SAMPLES:
        assert {dict(labels)["instance"] for labels in one_killed[name]} == {me}, name
    assert first not in report.texts["one_killed"] and second not in report.texts["one_killed"]


def test_the_merged_exposition_is_valid_for_prometheus_client_and_promtool(
    report: Report,
) -> None:
    assert_exposition_valid(report.texts["openmetrics"], openmetrics=True, require_help=True)
    for key in ("live", "one_exited", "one_killed"):
        assert_exposition_valid(report.texts[key], require_help=True)
        check_promtool(report.texts[key])


# A worker with a runtime of its own: publishes, says its instance, waits to be told.
WORKER = r"""
import sys
from mvx_metrics import MetricsRuntime
from mvx_metrics._process import instance_id

with MetricsRuntime(multiprocess_dir=sys.argv[1], publish_interval=float("inf")) as runtime:
    runtime.create_recorder("web")
    assert runtime.publish()
    print(instance_id(), flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_the_serve_command_shows_the_workers_and_none_of_its_own(tmp_path: Path) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        instance = worker.stdout.readline().strip()  # published by now
        with serve_command(tmp_path) as (host, port):
            body = scrape_text(host, port)
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(TIMEOUT)
    assert worker.returncode == 0
    series = samples(body)
    for name in PROCESS_SAMPLES:  # the serve command's own process adds none
        assert {dict(labels)["instance"] for labels in series[name]} == {instance}, name
    assert 'mvx_recorder_events_accepted_total{recorder="web"} 0.0' in body
    check_promtool(body)


#: A fresh interpreter: what a publication (on another thread, as the publisher's) and a
#: scrape that checks another process is alive import, once the runtime has started.
FIRST_PUBLICATION = """
import json, os, sys, threading
from mvx_metrics import MetricsRuntime
from mvx_metrics.export import render_prometheus
from mvx_metrics.multiprocess.directory import _start_ticks

runtime = MetricsRuntime(
    namespace="first", multiprocess_dir=sys.argv[1], publish_interval=float("inf")
)
runtime.start()
runtime.create_recorder("r")
before = set(sys.modules)
published = []
publisher = threading.Thread(target=lambda: published.append(runtime.publish(timeout=30)))
publisher.start()
publisher.join(30)
ticks = _start_ticks(os.getppid())
text = render_prometheus(runtime)
runtime.shutdown()
print(json.dumps({
    "published": published,
    "ticks": ticks,
    "resident": "process_resident_memory_bytes" in text,
    "imported": sorted(set(sys.modules) - before),
}))
"""


def test_a_publication_imports_nothing_a_forked_child_could_wait_on(tmp_path: Path) -> None:
    # gunicorn's master (--preload) forks workers while the publisher thread publishes. A
    # module that thread was importing at the fork stays locked in the child forever (its
    # import lock's holder is not there), and the child's next import of it hangs: reading
    # /proc through open(encoding="ascii") imported encodings.ascii on first use.
    report = run_fresh(FIRST_PUBLICATION, str(tmp_path))
    assert report["published"] == [True]
    assert isinstance(report["ticks"], int)  # the parent's start was read
    assert report["resident"]  # and this process's /proc files
    assert report["imported"] == []
