"""Checking exposition text: against a golden text, and for what scrapers require.

Both read the text with prometheus_client's parsers (needs ``prometheus-client``), an
implementation independent of ours, as Go's ``testutil`` reads with the Go parser:

- :func:`assert_exposition_equal`: the same families, types, help and samples, in any
  order of families and of series within a family (which the formats allow), leaving
  out the library's own families (:data:`SELF_METRIC_PREFIXES`) unless asked;
- :func:`lint_exposition` / :func:`assert_exposition_valid`: text the parser accepts,
  with a TYPE for every family (and HELP text if asked), valid names, no repeated series, and consistent
  histograms (cumulative buckets that never go down, a ``+Inf`` bucket equal to
  ``_count``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from ..exposition.process import PROCESS_FAMILY_NAMES

__all__ = [
    "SELF_METRIC_PREFIXES",
    "assert_exposition_equal",
    "assert_exposition_valid",
    "is_self_metric",
    "lint_exposition",
]

#: Where the families mvx_metrics adds about itself begin: a recorder's stats
#: (``mvx_recorder_events_dropped_total`` and the rest), exposition problems, OTLP
#: exports, the runtime's loop lag.
SELF_METRIC_PREFIXES = ("mvx_recorder_", "mvx_exposition_", "mvx_otel_", "mvx_runtime_")


def is_self_metric(name: str) -> bool:
    """True for a family mvx_metrics adds about itself or the process (see
    :data:`SELF_METRIC_PREFIXES` and :data:`~mvx_metrics.exposition.process.PROCESS_FAMILY_NAMES`)."""
    return name.startswith(SELF_METRIC_PREFIXES) or name in PROCESS_FAMILY_NAMES


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

Family = tuple[str, str, tuple[tuple[str, tuple[tuple[str, str], ...], float | str], ...]]


def assert_exposition_equal(
    actual: str, expected: str, *, openmetrics: bool = False, self_metrics: bool = False
) -> None:
    """Assert that two expositions say the same, whatever the order of families and of
    series; the failure lists what one has and the other lacks.

    The library's own families (a recorder's stats, exposition problems: see
    :func:`is_self_metric`) are left out of both sides unless ``self_metrics`` is True,
    so a golden text holds only the application's metrics."""
    got, want = _families(actual, openmetrics), _families(expected, openmetrics)
    if not self_metrics:
        got = {name: f for name, f in got.items() if not is_self_metric(name)}
        want = {name: f for name, f in want.items() if not is_self_metric(name)}
    if got == want:
        return
    lines = []
    for name in sorted(set(got) | set(want)):
        if got.get(name) == want.get(name):
            continue
        if name not in got:
            lines.append(f"- missing family {name!r}: {want[name]}")
        elif name not in want:
            lines.append(f"+ unexpected family {name!r}: {got[name]}")
        else:
            (gtype, ghelp, gsamples), (wtype, whelp, wsamples) = got[name], want[name]
            if (gtype, ghelp) != (wtype, whelp):
                lines.append(f"~ {name!r}: type/help {(gtype, ghelp)} != expected {(wtype, whelp)}")
            for sample in sorted(set(wsamples) - set(gsamples), key=repr):
                lines.append(f"- {name!r} lacks sample {sample}")
            for sample in sorted(set(gsamples) - set(wsamples), key=repr):
                lines.append(f"+ {name!r} has extra sample {sample}")
    raise AssertionError("expositions differ:\n" + "\n".join(lines))


def lint_exposition(
    text: str, *, openmetrics: bool = False, require_help: bool = False
) -> list[str]:
    """What is wrong with ``text`` for a scraper, one line each; empty when nothing is.

    ``require_help``: also flag families without HELP text, as Go's promlint does (a
    style rule: scrapers accept them, and a metric without a description is written with
    an empty HELP, as prometheus_client writes it)."""
    try:
        families = list(_parse(text, openmetrics))
    except ValueError as exc:
        return [f"the parser refuses the text: {exc}"]
    problems: list[str] = []
    for family in families:
        name = family.name
        if not _NAME.fullmatch(name):
            problems.append(f"{name!r}: not a valid metric name")
        if family.type == "unknown" and not openmetrics:
            problems.append(f"{name!r}: no TYPE line")
        if require_help and not family.documentation:
            problems.append(f"{name!r}: no HELP text")
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                problems.append(f"{name!r}: series {sample.name}{dict(key[1])} appears twice")
            seen.add(key)
            problems.extend(
                f"{name!r}: label name {label!r} is not valid"
                for label in sample.labels
                if not _LABEL.fullmatch(label) or label.startswith("__")
            )
        if family.type == "histogram":
            problems.extend(_histogram_problems(name, family.samples))
    return problems


def assert_exposition_valid(
    text: str, *, openmetrics: bool = False, require_help: bool = False
) -> None:
    """Assert that :func:`lint_exposition` finds nothing."""
    problems = lint_exposition(text, openmetrics=openmetrics, require_help=require_help)
    if problems:
        raise AssertionError("exposition problems:\n" + "\n".join(problems))


def _histogram_problems(name: str, samples: Iterable[Any]) -> list[str]:
    problems: list[str] = []
    by_series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for sample in samples:
        labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        series = by_series.setdefault(labels, {"buckets": [], "count": None})
        if sample.name.endswith("_bucket"):
            series["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_count"):
            series["count"] = sample.value
    for labels, series in by_series.items():
        buckets = sorted(series["buckets"])
        where = f"{name!r}{dict(labels)}"
        if not buckets or buckets[-1][0] != math.inf:
            problems.append(f"{where}: no +Inf bucket")
            continue
        counts = [count for _, count in buckets]
        if any(later < earlier for earlier, later in pairwise(counts)):
            problems.append(f"{where}: cumulative bucket counts go down: {counts}")
        if series["count"] is not None and counts[-1] != series["count"]:
            problems.append(f"{where}: +Inf bucket {counts[-1]} != _count {series['count']}")
    return problems


def _families(text: str, openmetrics: bool) -> dict[str, Family]:
    out: dict[str, Family] = {}
    for family in _parse(text, openmetrics):
        samples = tuple(
            sorted(
                (
                    (s.name, tuple(sorted(s.labels.items())), _comparable(s.value))
                    for s in family.samples
                ),
                key=repr,
            )
        )
        out[family.name] = (family.type, family.documentation, samples)
    return out


def _comparable(value: float) -> float | str:
    # NaN never equals itself: compare it as a marker both sides share.
    return "NaN" if value != value else float(value)


def _parse(text: str, openmetrics: bool) -> list[Any]:
    if openmetrics:
        from prometheus_client.openmetrics import parser as openmetrics_parser

        parse = openmetrics_parser.text_string_to_metric_families
        return list(parse(text))  # type: ignore[no-untyped-call]
    from prometheus_client import parser

    return list(parser.text_string_to_metric_families(text))
