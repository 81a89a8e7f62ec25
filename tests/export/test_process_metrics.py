"""The process's metrics, with prometheus_client's names and meanings (issue 12, item 3):
in a runtime's expositions by default, left out on request and for a lone recorder."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import anyio
import pytest
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR
from prometheus_client.parser import text_string_to_metric_families as parse_text

from mvx_metrics import Counter, MetricsRuntime
from mvx_metrics.export import render_prometheus
from mvx_metrics.export.scrape import scrape_response
from mvx_metrics.exposition.process import PROCESS_FAMILY_NAMES, process_families
from mvx_metrics.testing.exposition import assert_exposition_valid, is_self_metric

from .._support import TIMEOUT, Saved, loop_held, require_tool, wait_until

PROCESS_ONLY = [name for name in PROCESS_FAMILY_NAMES if name != "mvx_runtime_loop_lag_seconds"]


@pytest.fixture
def default_runtime() -> Iterator[MetricsRuntime]:
    """A runtime with the defaults: process metrics on."""
    runtime = MetricsRuntime(namespace="process", operation_timeout=TIMEOUT)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.shutdown(timeout=TIMEOUT)


def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in parse_text(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def prometheus_client_samples() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        for family in collector.collect():
            for sample in family.samples:
                labels = tuple(sorted(sample.labels.items()))
                out.setdefault(sample.name, {})[labels] = sample.value
    return out


def test_a_runtime_exposes_what_prometheus_client_s_default_collectors_do(
    default_runtime: MetricsRuntime,
) -> None:
    recorder = default_runtime.create_recorder("app")
    recorder.register_metric(Counter("saves", event=Saved))
    recorder.register_event(event=Saved())
    ours = samples(render_prometheus(default_runtime))
    theirs = prometheus_client_samples()
    # The same sample names and label sets as prometheus_client's default registry.
    for name, series in theirs.items():
        assert name in ours, name
        assert set(ours[name]) == set(series), name

    # And the same meanings, read a moment apart.
    def one(name: str, source: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> float:
        return source[name][()]

    assert (
        abs(one("process_cpu_seconds_total", ours) - one("process_cpu_seconds_total", theirs)) < 1
    )
    assert (
        abs(one("process_start_time_seconds", ours) - one("process_start_time_seconds", theirs)) < 1
    )
    ours_rss, theirs_rss = (
        one("process_resident_memory_bytes", ours),
        one("process_resident_memory_bytes", theirs),
    )
    assert 0.5 < ours_rss / theirs_rss < 2
    assert one("process_open_fds", ours) > 0
    assert one("process_max_fds", ours) == one("process_max_fds", theirs)
    assert ours["python_info"] == theirs["python_info"]
    assert "mvx_runtime_loop_lag_seconds" in ours
    # No recorder label on the process's samples: they are the process's, not a recorder's.
    assert ours["saves_total"] == {(("recorder", "app"),): 1.0}
    assert all(labels == () for labels in ours["process_cpu_seconds_total"])


def test_the_exposition_with_them_is_valid_for_prometheus_client_and_promtool(
    default_runtime: MetricsRuntime,
) -> None:
    text = render_prometheus(default_runtime, openmetrics=False)
    assert_exposition_valid(text, require_help=True)
    promtool = require_tool("promtool", "prometheus")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def test_a_scrape_of_a_runtime_has_them_and_a_recorder_s_does_not(
    default_runtime: MetricsRuntime,
) -> None:
    recorder = default_runtime.create_recorder("app")

    async def scrape(source: object) -> str:
        response = await scrape_response(source, "text/plain", timeout=TIMEOUT)  # type: ignore[arg-type]
        return response.body.decode()

    assert "process_cpu_seconds_total" in anyio.run(scrape, default_runtime)
    assert "process_cpu_seconds_total" not in anyio.run(scrape, recorder)
    assert "process_cpu_seconds_total" not in render_prometheus(recorder)


def test_a_runtime_can_leave_them_out() -> None:
    with MetricsRuntime(namespace="quiet", process_metrics=False) as runtime:
        assert not runtime.process_metrics
        text = render_prometheus(runtime)
    assert not any(name in text for name in PROCESS_ONLY)
    with pytest.raises(TypeError, match="process_metrics"):
        MetricsRuntime(process_metrics="no")  # type: ignore[arg-type]


def test_the_loop_lag_shows_a_loop_held_past_its_probe(default_runtime: MetricsRuntime) -> None:
    assert default_runtime.loop_lag is not None and default_runtime.loop_lag >= 0
    with loop_held(default_runtime):
        time.sleep(1.5)  # the probe (one a second) comes due while the loop is held
    wait_until(lambda: (default_runtime.loop_lag or 0) >= 0.4)
    text = render_prometheus(default_runtime)
    [lag] = [line for line in text.splitlines() if line.startswith("mvx_runtime_loop_lag_seconds ")]
    assert float(lag.split()[1]) >= 0.0


def test_golden_comparisons_leave_the_process_families_out() -> None:
    assert all(is_self_metric(name) for name in PROCESS_FAMILY_NAMES)
    assert not is_self_metric("saves")


def test_without_proc_only_cpu_gc_and_python_info_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mvx_metrics.exposition import process

    monkeypatch.setattr(process, "read_proc_file", lambda path: None)
    monkeypatch.setattr(os, "listdir", lambda path: (_ for _ in ()).throw(OSError("no /proc")))
    names = [family.name for family in process_families()]
    assert names == [
        "process_cpu_seconds",
        "python_gc_objects_collected",
        "python_gc_objects_uncollectable",
        "python_gc_collections",
        "python_info",
    ]
