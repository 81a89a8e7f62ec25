"""Pure functions from metric families (or snapshots) to Prometheus exposition text.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`.

Two formats: the Prometheus text format 0.0.4 and OpenMetrics 1.0 (terminated by
``# EOF``). The output is byte-identical to prometheus_client's ``generate_latest`` (and
``openmetrics.exposition.generate_latest``) for the same data. The rules:

- Types: ``counter`` is a counter, ``gauge`` and ``updown_counter`` are gauges (a total
  that can go down is not a Prometheus counter), ``histogram`` is a histogram and
  ``distribution`` a summary (``quantile`` samples, then ``_count`` and ``_sum``).
- Names: invalid characters become ``_`` (metric names keep ``[a-zA-Z0-9_:]``, label
  names ``[a-zA-Z0-9_]``, and a label name never starts with the reserved ``__``) and a
  name starting with a digit gets a ``_`` prefix, so
  ``http.requests`` is exposed as ``http_requests`` and ``5xx`` as ``_5xx``. Keeping the
  digit (where prometheus_client would replace it) keeps ``5xx`` and ``4xx`` apart.
- A unit is appended as a ``_<unit>`` suffix unless the name already ends with it, in both
  formats (as prometheus_client does, so a series keeps its name whichever format a
  scraper negotiates); OpenMetrics also gets a ``# UNIT`` line.
- Counters: a trailing ``_total`` is dropped from the name, then the sample is
  ``<name>_total``. The 0.0.4 ``HELP``/``TYPE`` lines name ``<name>_total``; OpenMetrics
  ones name ``<name>``.
- Escaping: ``HELP`` text escapes backslash and newline (and, in OpenMetrics, the double
  quote); label values escape backslash, double quote and newline. Values are written as
  Go writes floats (``2.0``, ``1e+06``, ``NaN``, ``+Inf``, ``-Inf``). Labels are sorted
  by name, so the order is stable whatever order the series were labelled in.
- The overflow series is rendered as any other series, its labels all ``"__overflow__"``.
  ``overflow_events`` is not exported: the overflow series itself is the signal to alert
  on (its ``_count`` counts the events for histograms and distributions), and an extra
  family per metric would add names the user never registered, which could clash with
  theirs.
- Snapshots without a built-in ``kind`` (user-written metrics) are skipped. The 0.0.4 text
  says how many in a last comment line, which scrapers ignore, for a human reading
  ``/metrics`` to find out why a metric is missing; OpenMetrics allows no free comments,
  so there they are skipped silently.
- Recorder stats (``get_stats()``, see :mod:`mvx_metrics.exposition.recorder_stats`) are
  written after the metrics when given. A stats family that would clash with a metric's
  names is left out, with a warning: the metric wins.
- Runtime snapshots: each recorder's samples get a ``recorder="<recorder_id>"`` label, and
  a family present in several recorders is written once (one ``HELP``/``TYPE`` block,
  where it first appears), with the samples of every recorder in the runtime's order; its
  ``HELP`` and unit come from the first recorder that sets them.

What cannot be exposed faithfully is left out, never raised, so that one bad metric does
not take the exposition down for every other (see :mod:`.problems`, which counts and
logs each case and exports the counts): one name with two kinds in two recorders, two
metrics exposed under one name (``a.b`` and ``a_b``) or whose sample names clash
(counter ``x`` and gauge ``x_total``; the family that comes first stays), label names
equal after sanitising, and an unknown kind. Text that is not valid UTF-8 (a lone
surrogate) is replaced with U+FFFD.

Histogram and distribution samples are written as they are: values below zero give a
negative ``_sum`` (and quantiles), which Prometheus ingests but OpenMetrics 1.0 forbids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..metrics._format import go_float
from ..recorder.stats import RecorderStats
from ..snapshots import KINDS, Exemplar, MetricFamily, Sample, iter_families
from .problems import ExpositionProblems, valid_text
from .recorder_stats import stats_families

__all__ = [
    "EXPORTED_RECORDER_LABEL",
    "RECORDER_LABEL",
    "escape_help",
    "escape_label_value",
    "exposed_name",
    "exposed_sample_names",
    "format_value",
    "render_families",
    "render_families_by_recorder",
    "render_read",
    "render_runtime_snapshots",
    "render_snapshots",
    "sanitize_label_name",
    "sanitize_metric_name",
    "sanitize_unit",
    "series_labels",
]

logger = logging.getLogger("mvx_metrics.export")

#: The label naming the recorder of each sample when a runtime's snapshots are rendered.
RECORDER_LABEL = "recorder"
#: A metric's own label called ``recorder`` is renamed to this under a runtime, as
#: Prometheus itself renames a scraped label that clashes with a target label: neither is lost.
EXPORTED_RECORDER_LABEL = "exported_recorder"

#: The Prometheus type each built-in kind is exposed as.
PROMETHEUS_TYPES = {
    "counter": "counter",
    "updown_counter": "gauge",
    "gauge": "gauge",
    "histogram": "histogram",
    "distribution": "summary",
}

#: Sample names each type may use (``_created`` included, as the OpenMetrics parser and
#: prometheus_client's registry reserve it), to refuse families that would clash.
RESERVED_SUFFIXES = {
    "counter": ("", "_total", "_created"),
    "gauge": ("",),
    "histogram": ("", "_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}

_INVALID_METRIC_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_metric_name(name: str) -> str:
    """``name`` as a valid Prometheus metric name: invalid characters become ``_``, and a
    leading digit gets a ``_`` prefix."""
    return _prefix_digit(_INVALID_METRIC_CHARS.sub("_", name))


def sanitize_label_name(name: str) -> str:
    """``name`` as a valid Prometheus label name: invalid characters (``:`` included)
    become ``_``, a leading digit gets a ``_`` prefix, and a leading ``__`` (reserved
    for Prometheus' own labels) becomes ``_``."""
    name = _prefix_digit(_INVALID_LABEL_CHARS.sub("_", name))
    return "_" + name.lstrip("_") if name.startswith("__") else name


def _prefix_digit(name: str) -> str:
    # "" would make a line without a name: give it the smallest valid one instead.
    return "_" + name if not name or name[0].isdigit() else name


def escape_help(text: str, *, openmetrics: bool = False) -> str:
    """``HELP`` text escaped: backslash and newline, plus the double quote in OpenMetrics
    (whose HELP is an escaped string, unlike 0.0.4's)."""
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r"\"") if openmetrics else text


def escape_label_value(value: str) -> str:
    """A label value escaped for both formats: backslash, double quote and newline."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def format_value(value: float) -> str:
    """A sample value as prometheus_client writes it (Go float text: ``2.0``, ``+Inf``)."""
    return go_float(value)


def exposed_name(family: MetricFamily) -> str:
    """The family's name in the exposition: sanitised, without a counter's ``_total``,
    with the ``_<unit>`` suffix. Samples append their suffix (``_total`` for counters)."""
    name = sanitize_metric_name(family.name)
    if family.kind == "counter" and name.endswith("_total"):
        name = name[: -len("_total")]
    unit = _sanitize_unit(family.unit)
    if unit and not name.endswith("_" + unit):
        name = f"{name}_{unit}"
    return name


def exposed_sample_names(kind: str, name: str, unit: str = "") -> frozenset[str]:
    """Every sample name a metric of this kind, name and unit may expose (``_total``,
    ``_bucket``, ...): two metrics sharing one cannot both be exposed faithfully."""
    exposed = exposed_name(MetricFamily(name, kind, "", unit, ()))
    return frozenset(exposed + suffix for suffix in RESERVED_SUFFIXES[PROMETHEUS_TYPES[kind]])


def series_labels(labels: tuple[tuple[str, str], ...], recorder_id: str | None) -> dict[str, str]:
    """A sample's labels, names sanitised, with ``recorder="<recorder_id>"`` added when read
    from a runtime (a metric's own ``recorder`` label is then renamed ``exported_recorder``)."""
    out = {RECORDER_LABEL: recorder_id} if recorder_id is not None else {}
    for name, value in labels:
        name = sanitize_label_name(name)
        if recorder_id is not None and name == RECORDER_LABEL:
            name = EXPORTED_RECORDER_LABEL
        if name in out:
            raise ValueError(f"label {name!r} appears twice once sanitised")
        out[name] = value
    return out


def sanitize_unit(unit: str) -> str:
    """The unit as it appears in names and ``# UNIT`` lines (invalid characters -> '_')."""
    return _sanitize_unit(unit)


def _sanitize_unit(unit: str) -> str:
    # A suffix after "_": a leading digit is fine there, so no prefix.
    return _INVALID_METRIC_CHARS.sub("_", unit)


def render_families(
    families: Iterable[MetricFamily],
    *,
    openmetrics: bool = False,
    problems: ExpositionProblems | None = None,
) -> str:
    """Exposition text for ``families`` (one recorder's, say), in their order.

    ``problems`` counts what had to be repaired or left out (see :mod:`.problems`); by
    default, the problems of this exposition alone."""
    return _render([(None, families)], openmetrics=openmetrics, skipped=0, problems=problems)


def render_families_by_recorder(
    families_by_recorder: Mapping[str, Iterable[MetricFamily]],
    *,
    openmetrics: bool = False,
    problems: ExpositionProblems | None = None,
) -> str:
    """Exposition text for ``{recorder_id: families}``, each sample labelled with its
    recorder and each family name written once across recorders."""
    return _render(
        families_by_recorder.items(), openmetrics=openmetrics, skipped=0, problems=problems
    )


def render_snapshots(
    snapshots: Mapping[str, Mapping[str, Any]],
    *,
    openmetrics: bool = False,
    stats: RecorderStats | None = None,
    problems: ExpositionProblems | None = None,
) -> str:
    """Exposition text for ``{metric_name: snapshot}``, as ``recorder.get_metric_snapshots()``
    returns, then the recorder's ``stats`` if given; snapshots without a built-in kind are
    skipped."""
    return render_read([(None, snapshots, stats)], openmetrics=openmetrics, problems=problems)


def render_runtime_snapshots(
    snapshots: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    openmetrics: bool = False,
    stats: Mapping[str, RecorderStats] | None = None,
    problems: ExpositionProblems | None = None,
) -> str:
    """Exposition text for ``{recorder_id: {metric_name: snapshot}}``, as
    ``runtime.get_metric_snapshots()`` returns, with a ``recorder`` label on every sample;
    then ``stats`` (``runtime.get_stats()``) for the recorders in ``snapshots``, if given."""
    read = runtime_read(snapshots, stats)
    return render_read(read, openmetrics=openmetrics, problems=problems)


#: What :func:`mvx_metrics.export._source.read_snapshots` gives: per recorder, its id
#: (None for a lone recorder: no ``recorder`` label), its snapshots and its stats.
Read = Iterable[tuple[str | None, Mapping[str, Mapping[str, Any]], RecorderStats | None]]


def runtime_read(
    snapshots: Mapping[str, Mapping[str, Mapping[str, Any]]],
    stats: Mapping[str, RecorderStats] | None,
) -> Read:
    """A runtime's snapshots and stats (``get_metric_snapshots()``, ``get_stats()``) as
    one read: each recorder with its own stats, if any."""
    return [
        (rid, per_recorder, None if stats is None else stats.get(rid))
        for rid, per_recorder in snapshots.items()
    ]


def render_read(
    read: Read,
    *,
    openmetrics: bool = False,
    problems: ExpositionProblems | None = None,
    process: Iterable[MetricFamily] = (),
) -> str:
    """Exposition text for one read of a recorder or a runtime: each recorder's metrics
    (labelled with its id unless it is None), then the stats of those that have them,
    then ``process`` (the process's own families, no recorder label)."""
    read = list(read)
    return _render(
        [(rid, iter_families(snapshots)) for rid, snapshots, _ in read],
        openmetrics=openmetrics,
        skipped=sum(_count_skipped(snapshots) for _, snapshots, _ in read),
        stats=stats_of(read, process),
        problems=problems,
    )


def stats_of(
    read: list[tuple[str | None, Mapping[str, Mapping[str, Any]], RecorderStats | None]],
    process: Iterable[MetricFamily] = (),
) -> list[tuple[str | None, Iterable[MetricFamily]]]:
    """The families after a read's metrics: each recorder's stats, then ``process``."""
    stats: list[tuple[str | None, Iterable[MetricFamily]]] = [
        (rid, stats_families(recorder)) for rid, _, recorder in read if recorder is not None
    ]
    return [*stats, (None, process)]


def _count_skipped(snapshots: Mapping[str, Any]) -> int:
    # The same test families_from_snapshots applies when it skips a snapshot.
    return sum(
        1
        for snapshot in snapshots.values()
        if not isinstance(snapshot, Mapping) or snapshot.get("kind") not in KINDS
    )


@dataclass(slots=True)
class Block:
    """One HELP/TYPE block: a family, merged across recorders, with its entries (sample
    lines for text; encoded series for protobuf)."""

    name: str
    kind: str
    description: str
    unit: str
    #: ``(recorder_id, metric_name)`` of each family merged in, for error messages.
    origins: list[tuple[str | None, str]]
    lines: list[Any] = field(default_factory=list)


#: Makes a family's entries (``_sample_lines`` for text): called with the exposed name,
#: the family, its recorder id and the problems; raises ``LeftOut`` to leave it out.
Entries = Callable[[str, MetricFamily, str | None, ExpositionProblems], list[Any]]


def group_families(
    sources: Iterable[tuple[str | None, Iterable[MetricFamily]]],
    *,
    stats: Iterable[tuple[str | None, Iterable[MetricFamily]]] = (),
    problems: ExpositionProblems,
    entries: Entries,
) -> list[Block]:
    """The blocks of an exposition, in order: the families of every source, then the
    stats, then the exposition's own problems family. A family that cannot be exposed
    faithfully is left out whole and counted in ``problems``; the rest is served."""
    blocks: dict[str, Block] = {}
    # Every sample name a block may use -> that block's name: clashes are refused before
    # they reach a scraper, which would otherwise keep one series and drop the other.
    taken: dict[str, str] = {}
    for recorder, families in (*sources, *stats):
        for family in families:
            try:
                _add_family(blocks, taken, recorder, family, problems, entries)
            except LeftOut as exc:  # counted and logged; the rest is served
                problems.note(exc.reason, str(exc))
    for family in problems.families():
        try:
            _add_family(blocks, taken, None, family, problems, entries)
        except LeftOut:  # a user's metric took the name: it wins
            pass
    return list(blocks.values())


def _render(
    sources: Iterable[tuple[str | None, Iterable[MetricFamily]]],
    *,
    openmetrics: bool,
    skipped: int,
    stats: Iterable[tuple[str | None, Iterable[MetricFamily]]] = (),
    problems: ExpositionProblems | None,
) -> str:
    problems = ExpositionProblems() if problems is None else problems
    entries = _openmetrics_sample_lines if openmetrics else _sample_lines
    blocks = group_families(sources, stats=stats, problems=problems, entries=entries)
    out: list[str] = []
    for block in blocks:
        out.extend(_header(block, problems, openmetrics=openmetrics))
        out.extend(block.lines)
    if openmetrics:
        out.append("# EOF\n")
    elif skipped:
        plural = "" if skipped == 1 else "s"
        out.append(f"# mvx_metrics: skipped {skipped} snapshot{plural} without a built-in kind\n")
    return "".join(out)


class LeftOut(ValueError):
    """A family that cannot be exposed faithfully; ``reason`` is one of
    :data:`.problems.LEFT_OUT_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _add_family(
    blocks: dict[str, Block],
    taken: dict[str, str],
    recorder: str | None,
    family: MetricFamily,
    problems: ExpositionProblems,
    entries: Entries,
) -> None:
    """Add ``family`` to the blocks, whole or not at all (``LeftOut``)."""
    if family.kind not in PROMETHEUS_TYPES:
        raise LeftOut(
            "unknown_kind", f"{where(recorder, family.name)} has an unknown kind {family.kind!r}"
        )
    name = exposed_name(family)
    lines = entries(name, family, recorder, problems)
    block = blocks.get(name)
    if block is None:
        for suffix in RESERVED_SUFFIXES[PROMETHEUS_TYPES[family.kind]]:
            other = taken.get(name + suffix)
            if other is not None:
                raise LeftOut(
                    "name_clash",
                    f"{where(recorder, family.name)} and {origins(blocks[other])} "
                    f"both expose samples named {name + suffix!r}",
                )
        for suffix in RESERVED_SUFFIXES[PROMETHEUS_TYPES[family.kind]]:
            taken[name + suffix] = name
        block = blocks[name] = Block(name, family.kind, family.description, family.unit, [])
    elif recorder is None or any(rid == recorder for rid, _ in block.origins):
        raise LeftOut(
            "name_clash",
            f"{where(recorder, family.name)} and {origins(block)} are both exposed as {name!r}",
        )
    elif block.kind != family.kind:
        raise LeftOut(
            "name_clash",
            f"metric {name!r} is a {family.kind} in recorder {recorder!r} but a {block.kind} "
            f"in {origins(block)}",
        )
    block.description = block.description or family.description
    block.unit = block.unit or family.unit
    block.origins.append((recorder, family.name))
    block.lines.extend(lines)


def _header(block: Block, problems: ExpositionProblems, *, openmetrics: bool) -> list[str]:
    kind = PROMETHEUS_TYPES[block.kind]
    # 0.0.4 has no type-level name for a counter: its metadata names the sample.
    name = block.name + "_total" if kind == "counter" and not openmetrics else block.name
    description = valid_text(block.description, f"the description of {origins(block)}", problems)
    lines = [
        f"# HELP {name} {escape_help(description, openmetrics=openmetrics)}\n",
        f"# TYPE {name} {kind}\n",
    ]
    unit = _sanitize_unit(block.unit)
    if openmetrics and unit:
        lines.append(f"# UNIT {name} {unit}\n")
    return lines


def _sample_lines(
    name: str,
    family: MetricFamily,
    recorder: str | None,
    problems: ExpositionProblems,
    *,
    openmetrics: bool = False,
) -> list[str]:
    """The family's sample lines; a series whose labels repeat another's is left out (a
    scraper would keep one of them, or refuse the whole exposition). OpenMetrics lines
    carry their exemplar, if any."""
    lines: list[str] = []
    seen: set[str] = set()
    for sample in family.samples:
        series = _series_text(name, family, sample, recorder, problems)
        if series in seen:
            problems.note(
                "duplicate_series", f"{where(recorder, family.name)} repeats series {series!r}"
            )
            continue
        seen.add(series)
        tail = ""
        if openmetrics and sample.exemplar is not None:
            tail = _exemplar_text(sample.exemplar, recorder, family, problems)
        lines.append(f"{series} {format_value(sample.value)}{tail}\n")
    return lines


def _openmetrics_sample_lines(
    name: str, family: MetricFamily, recorder: str | None, problems: ExpositionProblems
) -> list[str]:
    return _sample_lines(name, family, recorder, problems, openmetrics=True)


def _series_text(
    name: str,
    family: MetricFamily,
    sample: Sample,
    recorder: str | None,
    problems: ExpositionProblems,
) -> str:
    """``name{labels}``: a sample line up to its value."""
    try:
        labels = sorted(series_labels(sample.labels, recorder).items())
    except ValueError as exc:
        raise LeftOut(
            "label_clash",
            f"{where(recorder, family.name)} has labels {[k for k, _ in sample.labels]}: {exc}",
        ) from None
    sample_name = name + ("_total" if family.kind == "counter" else sample.suffix)
    if not labels:
        return sample_name
    return f"{sample_name}{{{_label_text(labels, recorder, family, problems)}}}"


def _label_text(
    labels: Iterable[tuple[str, str]],
    recorder: str | None,
    family: MetricFamily,
    problems: ExpositionProblems,
) -> str:
    return ",".join(
        f'{key}="{escape_label_value(valid_text(val, _label_of(recorder, family, key), problems))}"'
        for key, val in labels
    )


def _exemplar_text(
    exemplar: Exemplar, recorder: str | None, family: MetricFamily, problems: ExpositionProblems
) -> str:
    """`` # {labels} value timestamp``, as OpenMetrics writes an exemplar."""
    labels = [(sanitize_label_name(key), value) for key, value in exemplar.labels]
    text = _label_text(labels, recorder, family, problems)
    return f" # {{{text}}} {format_value(exemplar.value)} {exemplar.timestamp:.3f}"


def _label_of(recorder: str | None, family: MetricFamily, label: str) -> str:
    return f"a value of label {label!r} of {where(recorder, family.name)}"


def where(recorder: str | None, metric: str) -> str:
    return f"metric {metric!r}" + (f" of recorder {recorder!r}" if recorder is not None else "")


def origins(block: Block) -> str:
    return " and ".join(where(rid, metric) for rid, metric in block.origins)
