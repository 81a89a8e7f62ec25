"""Each process's own metrics in the shared directory: their JSON form, files without
them, runtimes that leave them out, and the labelling by process (in one process; the
forked and served cases are in test_process_metrics.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mvx_metrics import MetricsRuntime
from mvx_metrics._process import instance_id
from mvx_metrics.export import render_prometheus
from mvx_metrics.exposition.process import process_families
from mvx_metrics.multiprocess import MultiprocessDirectory
from mvx_metrics.multiprocess.per_process import (
    PROCESS_KEY,
    families_from_json,
    families_to_json,
    label_per_process,
)
from mvx_metrics.snapshots import MetricFamily, Sample

HITS = {
    "hits": {
        "name": "hits",
        "kind": "counter",
        "description": "",
        "unit": "",
        "series": [{"labels": {}, "value": 1}],
        "overflow_events": 0,
    }
}


def the_file(directory: Path) -> dict[str, Any]:
    [path] = directory.glob("mvx-*.json")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_the_json_form_gives_back_the_families_it_was_made_of() -> None:
    families = process_families(loop_lag=0.25)
    data = json.loads(json.dumps(families_to_json(families)))
    assert families_from_json(data) == families
    assert data[0] == {
        "name": "process_cpu_seconds",
        "kind": "counter",
        "description": "Total user and system CPU time spent in seconds.",
        "unit": "",
        "samples": [{"labels": {}, "value": families[0].samples[0].value}],
    }


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x"},
        [{"name": "x", "kind": "histogram", "samples": []}],
        [{"name": "x", "kind": "gauge", "samples": [{"labels": {"a": 1}, "value": 1.0}]}],
        [{"name": "x", "kind": "gauge", "samples": [{"labels": {}, "value": "1"}]}],
        [{"name": 3, "kind": "gauge", "samples": []}],
    ],
)
def test_a_section_not_in_the_json_form_is_refused(data: object) -> None:
    with pytest.raises(ValueError):
        families_from_json(data)


def test_a_family_the_json_form_cannot_carry_is_refused() -> None:
    summary = MetricFamily("x", "distribution", "", "", ())
    with pytest.raises(ValueError, match="plain counter or gauge"):
        families_to_json([summary])


def test_samples_get_the_instance_label_and_a_kind_conflict_is_counted() -> None:
    gauge = MetricFamily("open", "gauge", "Open.", "", (Sample("", (("instance", "x"),), 3.0),))
    counter = MetricFamily("open", "counter", "Open.", "", (Sample("", (), 1.0),))
    info = MetricFamily("info", "gauge", "", "", (Sample("", (("v", "1"),), 1.0),))
    families, conflicts = label_per_process([("a", [gauge, info]), ("b", [counter, info])])
    assert conflicts == 1
    assert [f.name for f in families] == ["open", "info"]
    assert families[0].samples == (Sample("", (("instance", "a"),), 3.0),)
    assert families[1].samples == (
        Sample("", (("v", "1"), ("instance", "a")), 1.0),
        Sample("", (("v", "1"), ("instance", "b")), 1.0),
    )


def test_a_runtime_publishes_them_unless_made_with_process_metrics_false(tmp_path: Path) -> None:
    on, off = tmp_path / "on", tmp_path / "off"
    with MetricsRuntime(multiprocess_dir=on, publish_interval=float("inf")) as runtime:
        assert runtime.publish()
        names = [family["name"] for family in the_file(on)[PROCESS_KEY]]
        assert names[0] == "process_cpu_seconds" and "mvx_runtime_loop_lag_seconds" in names
    # The exit publication has none: an exited process's are never shown.
    assert the_file(on)["exited"] and PROCESS_KEY not in the_file(on)

    with MetricsRuntime(
        multiprocess_dir=off, publish_interval=float("inf"), process_metrics=False
    ) as runtime:
        runtime.create_recorder("web")
        text = render_prometheus(runtime)
        assert PROCESS_KEY not in the_file(off)
    assert "mvx_recorder_events_accepted_total" in text
    assert not any(name in text for name in ("process_", "python_", "loop_lag"))


def test_a_file_without_them_still_merges(tmp_path: Path) -> None:
    # A file as written before processes published their families, by a live process.
    older = {
        "format": 1,
        "instance": "older",
        "pid": os.getppid(),
        "written_ns": 1,
        "exited": False,
        "recorders": {"web": {"metrics": HITS, "stats": {}}},
    }
    (tmp_path / "mvx-older.json").write_text(json.dumps(older))
    directory = MultiprocessDirectory(tmp_path)
    directory.publish({"web": HITS}, {}, process=process_families())
    group = directory.read_group()
    assert group.recorders[0][1]["hits"]["series"] == [{"labels": {}, "value": 2}]
    # Only this process's families, labelled with its instance; the older file has none.
    assert {dict(s.labels)["instance"] for f in group.process for s in f.samples} == {instance_id()}
    assert directory.problems == 0


def test_an_unreadable_section_is_counted_and_the_rest_is_served(tmp_path: Path) -> None:
    directory = MultiprocessDirectory(tmp_path)
    path = directory.publish({"web": HITS}, {}, process=process_families())
    document = json.loads(path.read_text())
    document[PROCESS_KEY] = [{"name": "torn"}]
    path.write_text(json.dumps(document))
    group = directory.read_group()
    assert group.process == [] and directory.problems == 1
    assert group.recorders[0][1]["hits"]["series"] == [{"labels": {}, "value": 1}]
