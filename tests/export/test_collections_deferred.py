"""A scrape keeps the garbage collector out of its read and render, and puts it back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import anyio
import pytest

from mvx_metrics import Counter, MetricsRuntime
from mvx_metrics.export import render_prometheus
from mvx_metrics.export._collections import collections_deferred
from mvx_metrics.export.otlp import metrics_data
from mvx_metrics.export.scrape import scrape_response

from .._support import TIMEOUT, Saved


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_collection_is_off_inside_and_back_on_after(collector_enabled: None) -> None:
    with collections_deferred():
        assert not gc.isenabled()
        with collections_deferred():  # nested
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_exception_still_turns_it_back_on(collector_enabled: None) -> None:
    with pytest.raises(RuntimeError), collections_deferred():
        raise RuntimeError("render failed")
    assert gc.isenabled()


def test_it_stays_off_until_the_last_concurrent_block_ends(collector_enabled: None) -> None:
    first_in = threading.Event()
    second_done = threading.Event()
    seen: list[bool] = []

    def second() -> None:
        first_in.wait(TIMEOUT)
        with collections_deferred():
            pass
        seen.append(gc.isenabled())  # the first block is still open
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with collections_deferred():
        first_in.set()
        assert second_done.wait(TIMEOUT)
    thread.join(TIMEOUT)
    assert seen == [False]
    assert gc.isenabled()


def test_an_application_that_disabled_the_collector_keeps_it_disabled() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collections_deferred():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


class Watching(Counter):
    """Notes whether the collector was on each time its snapshot is taken."""

    seen: ClassVar[list[bool]] = []

    def snapshot(self) -> dict[str, object]:
        self.seen.append(gc.isenabled())
        return super().snapshot()


def _read(export: str, recorder: Any) -> str:
    """The recorder's exposition through ``export``, as text (OTLP: its metric names)."""
    if export == "scrape_response":

        async def scrape() -> bytes:
            return (await scrape_response(recorder, "text/plain", timeout=TIMEOUT)).body

        return anyio.run(scrape).decode()
    if export == "render_prometheus":
        return render_prometheus(recorder)
    data = metrics_data(recorder)
    return " ".join(
        m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    )


@pytest.mark.parametrize("export", ["scrape_response", "render_prometheus", "metrics_data"])
def test_a_scrape_or_export_runs_with_collection_off_and_leaves_it_on(
    collector_enabled: None, export: str
) -> None:
    """``render_prometheus`` and OTLP's ``metrics_data`` are scrapes too (an application's
    own handler calls them): 10,000 recorders took a fifth longer with collections."""
    seen = Watching.seen
    with MetricsRuntime(namespace="deferred", operation_timeout=TIMEOUT) as runtime:
        recorder = runtime.create_recorder("read")
        recorder.register_metric(Watching("saves", event=Saved))
        recorder.register_event(event=Saved())
        recorder.flush(timeout=TIMEOUT)
        seen.clear()
        text = _read(export, recorder)
    expected = "saves" if export == "metrics_data" else "saves_total 1.0"
    assert expected in text
    assert seen == [False]
    assert gc.isenabled()
