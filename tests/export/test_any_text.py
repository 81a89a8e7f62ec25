"""Whatever text reaches a metric, the exposition stays valid UTF-8 that prometheus_client's
parsers accept in both formats, and one bad family never takes the others down (issue 9,
items 2 and 9)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from mvx_metrics import Counter, Gauge, Metric, MetricsRuntime
from mvx_metrics.export import ExpositionProblems, render_runtime_snapshots, render_snapshots

from .._support import require_tool
from ._support import Reading, Request


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool", "prometheus")


#: Any code point, lone surrogates included: what str() of a user's object may give.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=12)
KINDS = ["counter", "gauge", "updown_counter", "histogram", "distribution"]


def series(kind: str, labels: dict[str, str]) -> dict[str, Any]:
    if kind == "histogram":
        return {"labels": labels, "buckets": {"1.0": 1, "+Inf": 2}, "count": 2, "sum": 1.5}
    if kind == "distribution":
        return {"labels": labels, "quantiles": {"0.5": 1.0}, "count": 2, "sum": 1.5}
    return {"labels": labels, "value": 1.0}


@st.composite
def snapshots(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(KINDS))
        name = draw(ANY_TEXT)
        label_names = draw(st.lists(ANY_TEXT, max_size=3))
        rows = draw(
            st.lists(
                st.lists(ANY_TEXT, min_size=len(label_names), max_size=len(label_names)), max_size=3
            )
        )
        out[f"{len(out)}:{name}"] = {
            "kind": kind,
            "name": name,
            "description": draw(ANY_TEXT),
            "unit": draw(ANY_TEXT),
            "series": [series(kind, dict(zip(label_names, row, strict=True))) for row in rows],
            "overflow_events": 0,
        }
    return out


def check_parses(text: str, *, openmetrics: bool) -> int:
    text.encode("utf-8")  # strict: a lone surrogate would raise here
    parse = parse_openmetrics if openmetrics else parse_text
    return len(list(parse(text)))


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots=snapshots())
def test_any_text_renders_an_exposition_both_parsers_accept(
    snapshots: dict[str, dict[str, Any]], openmetrics: bool
) -> None:
    check_parses(render_snapshots(snapshots, openmetrics=openmetrics), openmetrics=openmetrics)
    runtime_text = render_runtime_snapshots(
        {"a": snapshots, "b": snapshots}, openmetrics=openmetrics
    )
    check_parses(runtime_text, openmetrics=openmetrics)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots=snapshots())
def test_any_text_renders_an_exposition_promtool_parses(
    snapshots: dict[str, dict[str, Any]], promtool: str
) -> None:
    text = render_runtime_snapshots({"a": snapshots, "b": snapshots})
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=30,
        check=False,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    # Exit 3 is promtool's lint (help text, suffixes: names chosen by hypothesis); 1 with
    # "parsing error" would be an exposition Prometheus cannot read.
    assert done.returncode in (0, 3) and "parsing error" not in output, output


def test_a_lone_surrogate_is_replaced_and_counted() -> None:
    problems = ExpositionProblems()
    snapshot = {
        "kind": "gauge",
        "name": "temp",
        "description": "bad \udc80 help",
        "unit": "",
        "series": [{"labels": {"room": "a\udc80b"}, "value": 1.0}],
    }
    text = render_snapshots({"temp": snapshot}, problems=problems)
    assert 'room="a\ufffdb"' in text and "bad \ufffd help" in text
    assert problems.counts() == {"text_replaced": 2}
    assert 'mvx_exposition_problems_total{problem="text_replaced"}' in text
    check_parses(text, openmetrics=False)


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics"])
def test_a_clashing_family_is_left_out_and_the_rest_is_served(openmetrics: bool) -> None:
    problems = ExpositionProblems()
    gauge = {"kind": "gauge", "name": "a_b", "series": [{"labels": {}, "value": 1.0}]}
    clash = {"kind": "gauge", "name": "a.b", "series": [{"labels": {}, "value": 2.0}]}
    other = {"kind": "counter", "name": "jobs", "series": [{"labels": {}, "value": 3.0}]}
    snapshots = {"x": gauge, "y": clash, "z": other}
    for _ in range(2):  # counted per exposition written
        text = render_snapshots(snapshots, openmetrics=openmetrics, problems=problems)
    families = {f.name: f for f in (parse_openmetrics if openmetrics else parse_text)(text)}
    assert families["a_b"].samples[0].value == 1.0  # the first one stays
    assert "jobs" in families
    assert problems.counts() == {"name_clash": 2}
    problems = families["mvx_exposition_problems"]
    assert "name_clash" in {s.labels["problem"] for s in problems.samples}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Counter("a_b", event=Request), Counter("a.b", event=Request)),
        (Counter("jobs", event=Request), Gauge("jobs_total", event=Reading, value="celsius")),
        (
            Gauge("size", event=Reading, value="celsius", unit="bytes"),
            Gauge("size_bytes", event=Reading, value="celsius"),
        ),
    ],
    ids=["sanitised", "suffix", "unit"],
)
def test_metrics_of_one_recorder_that_would_clash_are_refused_at_registration(
    runtime: MetricsRuntime, first: Metric, second: Metric
) -> None:
    recorder = runtime.create_recorder("clashing")
    recorder.register_metric(first)
    with pytest.raises(ValueError, match="would be exposed under the sample name"):
        recorder.register_metric(second)
    assert [m.metric_name for m in recorder.iter_metrics()] == [first.metric_name]
