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

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._steps import SERIES_PER_STEP, Steps, run_to_end
from ..metrics._format import go_float
from ..recorder.stats import RecorderStats
from ..snapshots import KINDS, Exemplar, MetricFamily, Sample, iter_family_steps
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
    "render_read_parts",
    "render_read_steps",
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


@functools.lru_cache(maxsize=1024)
def exposed_sample_names(kind: str, name: str, unit: str = "") -> frozenset[str]:
    """Every sample name a metric of this kind, name and unit may expose (``_total``,
    ``_bucket``, ...): two metrics sharing one cannot both be exposed faithfully.

    Cached: every recorder of a runtime usually registers the same few metrics, and this
    was a third of ``register_metric``'s time."""
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
    return run_to_end(
        render_read_steps(read, openmetrics=openmetrics, problems=problems, process=process)
    )


def render_read_steps(
    read: Read,
    *,
    openmetrics: bool = False,
    problems: ExpositionProblems | None = None,
    process: Iterable[MetricFamily] = (),
) -> Steps[str]:
    """:func:`render_read`, pausing between slices of series (see
    :mod:`mvx_metrics._steps`)."""
    parts = yield from render_read_parts(
        read, openmetrics=openmetrics, problems=problems, process=process
    )
    return "".join(parts)


def render_read_parts(
    read: Read,
    *,
    openmetrics: bool = False,
    problems: ExpositionProblems | None = None,
    process: Iterable[MetricFamily] = (),
) -> Steps[list[str]]:
    """:func:`render_read_steps`'s text in parts, a block at a time, that together make
    the exposition: what a scrape drives on its serving loop, and encodes and compresses
    part by part (joining a megabyte would be one more millisecond-long step)."""
    read = list(read)
    return _render_parts(
        [(rid, iter_family_steps(snapshots)) for rid, snapshots, _ in read],
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
    #: The recorder ids merged in: a set, since a runtime may hold thousands of
    #: recorders, each checked against the others (a scan of ``origins`` made that
    #: quadratic: 10 s for 10,000 recorders).
    recorders: set[str | None] = field(default_factory=set)


#: Makes a family's entries (``_sample_lines`` for text), pausing now and then: called
#: with the exposed name, the family, its recorder id and the problems; raises
#: ``LeftOut`` to leave it out.
Entries = Callable[[str, MetricFamily, str | None, ExpositionProblems], Steps[list[Any]]]

#: A source's families; ``None`` marks a pause (see :func:`.snapshots.iter_family_steps`).
FamilySteps = Iterable[MetricFamily | None]


def group_families(
    sources: Iterable[tuple[str | None, FamilySteps]],
    *,
    stats: Iterable[tuple[str | None, FamilySteps]] = (),
    problems: ExpositionProblems,
    entries: Entries,
) -> list[Block]:
    """The blocks of an exposition, in order: the families of every source, then the
    stats, then the exposition's own problems family. A family that cannot be exposed
    faithfully is left out whole and counted in ``problems``; the rest is served."""
    return run_to_end(group_family_steps(sources, stats=stats, problems=problems, entries=entries))


def group_family_steps(
    sources: Iterable[tuple[str | None, FamilySteps]],
    *,
    stats: Iterable[tuple[str | None, FamilySteps]] = (),
    problems: ExpositionProblems,
    entries: Entries,
) -> Steps[list[Block]]:
    """:func:`group_families`, pausing where the families and entries do."""
    blocks: dict[str, Block] = {}
    # Every sample name a block may use -> that block's name: clashes are refused before
    # they reach a scraper, which would otherwise keep one series and drop the other.
    taken: dict[str, str] = {}
    for recorder, families in (*sources, *stats):
        for family in families:
            if family is None:
                yield
                continue
            try:
                yield from _add_family(blocks, taken, recorder, family, problems, entries)
            except LeftOut as exc:  # counted and logged; the rest is served
                problems.note(exc.reason, str(exc))
    for family in problems.families():
        try:
            yield from _add_family(blocks, taken, None, family, problems, entries)
        except LeftOut:  # a user's metric took the name: it wins
            pass
    return list(blocks.values())


def _render(
    sources: Iterable[tuple[str | None, FamilySteps]],
    *,
    openmetrics: bool,
    skipped: int,
    problems: ExpositionProblems | None,
) -> str:
    parts = run_to_end(
        _render_parts(sources, openmetrics=openmetrics, skipped=skipped, problems=problems)
    )
    return "".join(parts)


def _render_parts(
    sources: Iterable[tuple[str | None, FamilySteps]],
    *,
    openmetrics: bool,
    skipped: int,
    stats: Iterable[tuple[str | None, FamilySteps]] = (),
    problems: ExpositionProblems | None,
) -> Steps[list[str]]:
    problems = ExpositionProblems() if problems is None else problems
    entries = _openmetrics_sample_lines if openmetrics else _sample_lines
    blocks = yield from group_family_steps(sources, stats=stats, problems=problems, entries=entries)
    out: list[str] = []
    for block in blocks:
        # A block at a time, a pause between two; its lines freed here, not all at the end.
        out.append("".join([*_header(block, problems, openmetrics=openmetrics), *block.lines]))
        block.lines.clear()
        yield
    if openmetrics:
        out.append("# EOF\n")
    elif skipped:
        plural = "" if skipped == 1 else "s"
        out.append(f"# mvx_metrics: skipped {skipped} snapshot{plural} without a built-in kind\n")
    return out


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
) -> Steps[None]:
    """Add ``family`` to the blocks, whole or not at all (``LeftOut``)."""
    if family.kind not in PROMETHEUS_TYPES:
        raise LeftOut(
            "unknown_kind", f"{where(recorder, family.name)} has an unknown kind {family.kind!r}"
        )
    name = exposed_name(family)
    lines = yield from entries(name, family, recorder, problems)
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
    elif recorder is None or recorder in block.recorders:
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
    block.recorders.add(recorder)
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
) -> Steps[list[str]]:
    """The family's sample lines; a series whose labels repeat another's is left out (a
    scraper would keep one of them, or refuse the whole exposition). OpenMetrics lines
    carry their exemplar, if any."""
    lines: list[str] = []
    seen: set[str] = set()
    series_text = _SeriesTexts(name, family, recorder, problems).text
    # Values repeat (counts of 1, empty buckets): each is formatted once per family.
    formatted: dict[float, str] = {}
    for index, sample in enumerate(family.samples, 1):
        if not index % SERIES_PER_STEP:
            yield
        series = series_text(sample)
        if series in seen:
            problems.note(
                "duplicate_series", f"{where(recorder, family.name)} repeats series {series!r}"
            )
            continue
        seen.add(series)
        value = formatted.get(sample.value)
        if value is None:
            value = formatted[sample.value] = format_value(sample.value)
        if openmetrics and sample.exemplar is not None:
            tail = _exemplar_text(sample.exemplar, recorder, family, problems)
            lines.append(f"{series} {value}{tail}\n")
        else:
            lines.append(f"{series} {value}\n")
    return lines


def _openmetrics_sample_lines(
    name: str, family: MetricFamily, recorder: str | None, problems: ExpositionProblems
) -> Steps[list[str]]:
    return _sample_lines(name, family, recorder, problems, openmetrics=True)


class _SeriesTexts:
    """``name{labels}``, a sample line up to its value, for each sample of one family.

    What repeats from sample to sample is worked out once: for each set of label names,
    their exposed names in sorted order (the ``recorder`` label among them); and each
    ASCII label value, escaped. A family has thousands of samples, and a scrape waits for
    every one of them."""

    __slots__ = ("_escaped", "_family", "_layouts", "_name", "_problems", "_recorder", "_total")

    def __init__(
        self, name: str, family: MetricFamily, recorder: str | None, problems: ExpositionProblems
    ) -> None:
        self._name = name
        self._family = family
        self._recorder = recorder
        self._problems = problems
        self._total = family.kind == "counter"
        #: label names -> ((index in the sample's labels, or -1: the recorder), text
        #: before the value: ``name="``; the whole ``recorder="id"`` for the recorder).
        self._layouts: dict[tuple[str, ...], tuple[tuple[int, str], ...]] = {}
        self._escaped: dict[str, str] = {}

    def text(self, sample: Sample) -> str:
        labels = sample.labels
        names = tuple(map(_first, labels))
        layout = self._layouts.get(names)
        if layout is None:
            layout = self._layouts[names] = self._layout(sample)
        sample_name = self._name + ("_total" if self._total else sample.suffix)
        if not layout:
            return sample_name
        escaped = self._escaped
        parts = []
        for index, before in layout:
            if index < 0:
                parts.append(before)
                continue
            value = labels[index][1]
            text = escaped.get(value)
            if text is None:
                text = self._escape(value, labels[index][0])
            parts.append(f'{before}{text}"')
        return f"{sample_name}{{{','.join(parts)}}}"

    def _layout(self, sample: Sample) -> tuple[tuple[int, str], ...]:
        recorder, family = self._recorder, self._family
        try:
            # The exposed names, in order: the recorder's label first if any, then the
            # sample's own, sanitised and renamed (a clash once sanitised is refused).
            exposed = list(series_labels(sample.labels, recorder))
        except ValueError as exc:
            raise LeftOut(
                "label_clash",
                f"{where(recorder, family.name)} has labels {[k for k, _ in sample.labels]}: {exc}",
            ) from None
        own = exposed[1:] if recorder is not None else exposed
        order = [(name, index) for index, name in enumerate(own)]
        if recorder is not None:
            value = valid_text(
                recorder, _label_of(recorder, family, RECORDER_LABEL), self._problems
            )
            order.append((f'{RECORDER_LABEL}="{escape_label_value(value)}"', -1))
        order.sort(key=lambda item: RECORDER_LABEL if item[1] < 0 else item[0])
        return tuple((index, text if index < 0 else f'{text}="') for text, index in order)

    def _escape(self, value: str, label: str) -> str:
        if value.isascii():  # nothing to repair: the same text every time
            text = self._escaped[value] = escape_label_value(value)
            return text
        # Counted at each use, as a repair of this series.
        label_of = _label_of(self._recorder, self._family, label)
        return escape_label_value(valid_text(value, label_of, self._problems))


def _first(pair: tuple[str, str]) -> str:
    return pair[0]


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


#: Origins a message names before it says how many more there are.
ORIGINS_NAMED = 3


def origins(block: Block) -> str:
    """The families merged into ``block``, for a message: the first few, then a count."""
    named = " and ".join(where(rid, metric) for rid, metric in block.origins[:ORIGINS_NAMED])
    more = len(block.origins) - ORIGINS_NAMED
    return f"{named} and {more} more" if more > 0 else named
