"""A recorder's tables (routes, plans, metric errors, refusals, processing delays) are
one shared empty table until their first entry, and each gets its own at that entry,
leaving the shared one and every other recorder's alone."""

from __future__ import annotations

import copy
import pickle

import pytest

from mvx_metrics import Counter, MetricsRuntime, OverflowPolicy
from mvx_metrics._tables import EMPTY, own
from mvx_metrics.recorder import AsyncioMetricsRecorder

from .._support import TIMEOUT, FailingEveryNth, Saved, loop_held

TABLES = ("table", "plans", "metric_errors", "_dropped", "_delay_counts")


def tables(recorder: AsyncioMetricsRecorder) -> dict[str, object]:
    core = recorder._handoff
    return {name: getattr(core, name) for name in TABLES}


def test_the_shared_empty_table_refuses_every_write() -> None:
    writes = [
        lambda: EMPTY.__setitem__("k", 1),
        lambda: EMPTY.setdefault("k", 1),
        lambda: EMPTY.update(k=1),
        lambda: EMPTY.__ior__({"k": 1}),
        lambda: EMPTY.pop("k"),
        lambda: EMPTY.popitem(),
        lambda: EMPTY.clear(),
        lambda: EMPTY.__delitem__("k"),
    ]
    for write in writes:
        with pytest.raises(TypeError, match="read-only"):
            write()
    assert EMPTY == {} and EMPTY.get("k") is None and type(EMPTY.copy()) is dict


def test_own_gives_a_new_table_for_the_shared_one_and_keeps_any_other() -> None:
    mine = {"k": 1}
    assert own(mine) is mine
    fresh = own(EMPTY)
    assert fresh == {} and fresh is not EMPTY and type(fresh) is dict


def test_an_idle_recorder_holds_only_the_shared_table(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("idle")
    recorder.register_metric(Counter("saves", event=Saved, labels=("outcome",)))
    recorder.flush(timeout=TIMEOUT)
    assert all(table is EMPTY for table in tables(recorder).values()), tables(recorder)


def test_each_first_entry_gets_the_recorder_its_own_table(runtime: MetricsRuntime) -> None:
    busy = runtime.create_recorder(
        "busy", queue_max_size=1, queue_overflow_policy=OverflowPolicy.DROP
    )
    quiet = runtime.create_recorder("quiet")
    busy.register_metric(FailingEveryNth(n=1))
    with loop_held(runtime):  # the first event waits in the one slot; the second is refused
        busy.register_event(event=Saved())
        busy.register_event(event=Saved())
    busy.flush(timeout=TIMEOUT)
    stats = busy.get_stats()
    assert dict(stats.dropped) == {"overflow_dropped": 1}
    assert dict(stats.metric_errors) == {"flaky": 1}
    assert stats.processing_delay.count >= 1
    owned = tables(busy)
    assert all(table is not EMPTY and table for table in owned.values()), owned
    assert EMPTY == {}  # the shared table is still empty, and so is the quiet recorder's
    assert all(table is EMPTY for table in tables(quiet).values())
    assert dict(quiet.get_stats().dropped) == {} and dict(quiet.get_stats().metric_errors) == {}


def test_a_copy_of_the_shared_table_is_the_shared_table() -> None:
    # A copied metric (a test's deepcopy, a pickled one) must still hold the table own()
    # recognises, not a read-only stranger that refuses its first series.
    assert copy.copy(EMPTY) is EMPTY
    assert copy.deepcopy({"t": EMPTY})["t"] is EMPTY
    assert pickle.loads(pickle.dumps(EMPTY)) is EMPTY


def test_a_labelled_metric_s_series_table_is_its_own_from_its_first_event(
    runtime: MetricsRuntime,
) -> None:
    recorders = [runtime.create_recorder(f"series-{i}") for i in range(2)]
    counters = [Counter("saves", event=Saved, labels=("outcome",)) for _ in recorders]
    for recorder, counter in zip(recorders, counters, strict=True):
        recorder.register_metric(counter)
    assert [c._series for c in counters] == [EMPTY, EMPTY]
    recorders[0].register_event(event=Saved(outcome="ok"))
    twin = copy.deepcopy(counters[1])  # still the shared table: it works as the original
    recorders[0].flush(timeout=TIMEOUT)
    assert counters[0]._series is not EMPTY and counters[1]._series is EMPTY and EMPTY == {}
    assert recorders[0].get_metric_snapshots()["saves"]["series"] == [
        {"labels": {"outcome": "ok"}, "value": 1}
    ]
    assert twin._series is EMPTY
