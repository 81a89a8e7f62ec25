"""mvx_metrics.testing.exposition: golden comparisons and lint, by an independent parser."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Counter, Histogram, MetricEvent
from mvx_metrics.export import render_snapshots
from mvx_metrics.testing import CapturingRecorder
from mvx_metrics.testing.exposition import (
    assert_exposition_equal,
    assert_exposition_valid,
    lint_exposition,
)
from mvx_metrics.testing.strategies import events, label_values

GOLDEN = """\
# HELP saves_total Saves.
# TYPE saves_total counter
saves_total{outcome="ok"} 2.0
saves_total{outcome="failed"} 1.0
"""


@dataclass(slots=True)
class Saved(MetricEvent):
    outcome: str
    seconds: float = 0.1


def _text(outcomes: list[str]) -> str:
    recorder = CapturingRecorder.with_metrics(
        [
            Counter("saves", event=Saved, labels=("outcome",), description="Saves."),
            Histogram("save_seconds", event=Saved, value="seconds", buckets=(0.1, 1.0)),
        ]
    )
    for outcome in outcomes:
        recorder.register_event(event=Saved(outcome))
    return render_snapshots(recorder.get_metric_snapshots())


def test_golden_text_compares_in_any_order() -> None:
    text = _text(["failed", "ok", "ok"])  # series in another order than the golden text
    only_saves = "".join(line for line in text.splitlines(True) if "saves_total" in line)
    assert_exposition_equal(only_saves, GOLDEN)
    with pytest.raises(AssertionError, match=r"lacks sample.*'failed'.*\n.*extra sample"):
        assert_exposition_equal(only_saves.replace('"failed"} 1.0', '"failed"} 3.0'), GOLDEN)
    with pytest.raises(AssertionError, match="missing family 'saves'"):
        assert_exposition_equal("", GOLDEN)


def test_what_we_render_passes_the_lint() -> None:
    text = _text(["ok", "failed"])
    assert lint_exposition(text) == []
    assert_exposition_valid(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("saves_total 1\n", "no TYPE line"),
        ("# TYPE saves counter\nsaves_total 1\n", "no HELP text"),
        (
            "# HELP h h\n# TYPE h histogram\n"
            'h_bucket{le="1.0"} 5\nh_bucket{le="+Inf"} 3\nh_count 3\nh_sum 1\n',
            "go down",
        ),
        ('# HELP h h\n# TYPE h histogram\nh_bucket{le="1.0"} 1\nh_count 1\nh_sum 1\n', "+Inf"),
        (
            '# HELP h h\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\nh_sum 1\n',
            "!= _count",
        ),
        ('# HELP g g\n# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n', "appears twice"),
        ("not an exposition {\n", "refuses"),
    ],
)
def test_the_lint_names_each_problem(text: str, problem: str) -> None:
    problems = lint_exposition(text, require_help=True)
    assert any(problem in p for p in problems), problems
    with pytest.raises(AssertionError, match="exposition problems"):
        assert_exposition_valid(text, require_help=True)


@settings(max_examples=100)
@given(st.lists(events(Saved, outcome=label_values().filter(lambda t: t != "__overflow__"))))
def test_any_labels_render_valid_text(saves: list[Saved]) -> None:
    recorder = CapturingRecorder.with_metrics(
        [Counter("saves", event=Saved, labels=("outcome",), description="Saves.")]
    )
    for save in saves:
        recorder.register_event(event=save)
    assert_exposition_valid(render_snapshots(recorder.get_metric_snapshots()))
