"""The Prometheus protobuf exposition format, with native histograms for distributions.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`.

What a scraper gets when it asks for
``application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
encoding=delimited`` (Prometheus does when started with
``--enable-feature=native-histograms``): a stream of ``io.prometheus.client.MetricFamily``
messages (``metrics.proto`` of prometheus/client_model), each preceded by its length as
a varint. The messages are encoded here, by hand: the format is a few fields of a few
messages, and no protobuf runtime is then needed.

Kinds map as in the text formats, families are grouped, checked and left out the same
way (:func:`.prometheus_text.group_families`), with one difference: a ``Distribution``
becomes a **native histogram** (type ``HISTOGRAM`` with ``schema``, zero bucket and
spans), since its sketch's buckets are the native histogram's own base-2 layout
(``schema`` is the sketch's ``scale``; finer than 8, the largest Prometheus takes, it is
merged down to 8). Its quantiles are then computed by Prometheus
(``histogram_quantile(0.99, rate(name[5m]))``), across series and over time, which a
summary's quantiles cannot be. A distribution snapshot without buckets (a user's metric
of that kind) stays a summary.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._steps import SERIES_PER_STEP, Steps, run_to_end
from ..metrics._sketch import downscale
from ..recorder.stats import RecorderStats
from ..snapshots import Exemplar, MetricFamily, NativeHistogram, iter_family_steps
from .negotiation import PROTOBUF_CONTENT_TYPE
from .problems import ExpositionProblems, valid_text
from .prometheus_text import (
    Block,
    LeftOut,
    Read,
    group_family_steps,
    origins,
    runtime_read,
    sanitize_label_name,
    series_labels,
    stats_of,
    where,
)

__all__ = [
    "MAX_SCHEMA",
    "PROTOBUF_CONTENT_TYPE",
    "ZERO_THRESHOLD",
    "render_protobuf_read",
    "render_protobuf_read_steps",
    "render_protobuf_runtime_snapshots",
    "render_protobuf_snapshots",
]

#: The finest native-histogram schema Prometheus accepts.
MAX_SCHEMA = 8
#: The zero bucket's width, as client_golang's default (2**-128): a native histogram whose
#: zero threshold and counts are all zero would pass for a classic one. Our sketch counts
#: only exact zeros there; it keeps tinier magnitudes in their own buckets.
ZERO_THRESHOLD = 2.0**-128

# io.prometheus.client.MetricType
_TYPES = {"counter": 0, "gauge": 1, "summary": 2, "histogram": 4}


def render_protobuf_snapshots(
    snapshots: Mapping[str, Mapping[str, Any]],
    *,
    stats: RecorderStats | None = None,
    problems: ExpositionProblems | None = None,
) -> bytes:
    """The delimited protobuf exposition of ``{metric_name: snapshot}``, then ``stats``."""
    return render_protobuf_read([(None, snapshots, stats)], problems=problems)


def render_protobuf_runtime_snapshots(
    snapshots: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    stats: Mapping[str, RecorderStats] | None = None,
    problems: ExpositionProblems | None = None,
) -> bytes:
    """The delimited protobuf exposition of ``{recorder_id: {metric_name: snapshot}}``,
    a ``recorder`` label on every series, then ``stats`` for those recorders."""
    return render_protobuf_read(runtime_read(snapshots, stats), problems=problems)


def render_protobuf_read(
    read: Read,
    *,
    problems: ExpositionProblems | None = None,
    process: Iterable[MetricFamily] = (),
) -> bytes:
    """The delimited protobuf exposition of one read of a recorder or a runtime (see
    :func:`.prometheus_text.render_read`)."""
    return run_to_end(render_protobuf_read_steps(read, problems=problems, process=process))


def render_protobuf_read_steps(
    read: Read,
    *,
    problems: ExpositionProblems | None = None,
    process: Iterable[MetricFamily] = (),
) -> Steps[bytes]:
    """:func:`render_protobuf_read`, pausing between slices of series (see
    :mod:`mvx_metrics._steps`)."""
    read = list(read)
    problems = ExpositionProblems() if problems is None else problems
    blocks = yield from group_family_steps(
        [(rid, iter_family_steps(snapshots)) for rid, snapshots, _ in read],
        stats=stats_of(read, process),
        problems=problems,
        entries=_metrics,
    )
    out = bytearray()
    for block in blocks:
        family = _family_message(block, problems)
        out += _varint(len(family))
        out += family
    return bytes(out)


def _family_message(block: Block, problems: ExpositionProblems) -> bytes:
    # Every series of a block agrees on native or not: a block is one metric's kind.
    native = block.kind == "distribution" and all(native for native, _ in block.lines)
    kind = "histogram" if native else _prometheus_kind(block.kind)
    name = block.name + "_total" if kind == "counter" else block.name
    description = valid_text(block.description, f"the description of {origins(block)}", problems)
    message = _string(1, name) + _string(2, description) + _uint(3, _TYPES[kind])
    for _, metric in block.lines:
        message += _bytes(4, metric)
    return message


def _prometheus_kind(kind: str) -> str:
    return {"updown_counter": "gauge", "distribution": "summary"}.get(kind, kind)


# --- one family's series ---------------------------------------------------------------------


def _metrics(
    name: str, family: MetricFamily, recorder: str | None, problems: ExpositionProblems
) -> Steps[list[tuple[bool, bytes]]]:
    """``(native, Metric message)`` per series of ``family``; a repeated series is left out."""
    out: list[tuple[bool, bytes]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for index, (labels, message, native) in enumerate(_series(family), 1):
        if not index % SERIES_PER_STEP:
            yield
        pairs = _label_pairs(family, labels, recorder, problems)
        if pairs in seen:
            problems.note(
                "duplicate_series",
                f"{where(recorder, family.name)} repeats series {dict(pairs)!r}",
            )
            continue
        seen.add(pairs)
        encoded = b"".join(_bytes(1, _string(1, k) + _string(2, v)) for k, v in pairs)
        out.append((native, encoded + message))
    return out


def _series(family: MetricFamily) -> Iterable[tuple[tuple[tuple[str, str], ...], bytes, bool]]:
    """``(labels, the Metric's value field, native)`` per series."""
    if family.kind == "distribution" and family.histograms:
        for histogram in family.histograms:
            yield histogram.labels, _bytes(7, _native_histogram(histogram)), True
        return
    if family.kind in ("histogram", "distribution"):
        yield from _grouped(family)
        return
    field = 3 if family.kind == "counter" else 2  # Metric.counter / Metric.gauge
    for sample in family.samples:
        value = _double(1, sample.value)
        if sample.exemplar is not None:  # Counter.exemplar
            value += _bytes(2, _exemplar(sample.exemplar))
        yield sample.labels, _bytes(field, value), False


def _grouped(family: MetricFamily) -> Iterable[tuple[tuple[tuple[str, str], ...], bytes, bool]]:
    """Classic histograms and summaries: the samples of one series, in one message."""
    extra_label = "le" if family.kind == "histogram" else "quantile"
    parts: list[bytes] = []
    count = 0.0
    total = 0.0
    for sample in family.samples:
        if sample.suffix == "_count":
            count = sample.value
        elif sample.suffix == "_sum":
            total = sample.value
            # _sum ends a series (see snapshots.py): its labels are the series' own.
            yield sample.labels, _grouped_message(family.kind, count, total, parts), False
            parts = []
        else:
            bound = float(dict(sample.labels)[extra_label])
            if family.kind == "histogram":  # Bucket{cumulative_count, upper_bound, exemplar}
                bucket = _uint(1, int(sample.value)) + _double(2, bound)
                if sample.exemplar is not None:
                    bucket += _bytes(3, _exemplar(sample.exemplar))
                parts.append(_bytes(3, bucket))
            else:  # Quantile{quantile, value}
                parts.append(_bytes(3, _double(1, bound) + _double(2, sample.value)))


def _grouped_message(kind: str, count: float, total: float, parts: list[bytes]) -> bytes:
    body = _uint(1, int(count)) + _double(2, total) + b"".join(parts)
    return _bytes(7 if kind == "histogram" else 4, body)


def _native_histogram(histogram: NativeHistogram) -> bytes:
    schema = histogram.schema
    positive, negative = list(histogram.positive), list(histogram.negative)
    if schema > MAX_SCHEMA:
        by = schema - MAX_SCHEMA
        positive, negative, schema = downscale(positive, by), downscale(negative, by), MAX_SCHEMA
    body = (
        _uint(1, histogram.count)
        + _double(2, histogram.sum)
        + _sint(5, schema)
        + _double(6, ZERO_THRESHOLD)
        + _uint(7, histogram.zero_count)
    )
    for spans_field, deltas_field, pairs in ((9, 10, negative), (12, 13, positive)):
        spans, deltas = _spans_and_deltas(pairs)
        for offset, length in spans:  # BucketSpan{offset (sint32), length (uint32)}
            body += _bytes(spans_field, _sint(1, offset) + _uint(2, length))
        if deltas:
            body += _bytes(deltas_field, b"".join(_zigzag_varint(d) for d in deltas))
    return body


def _exemplar(exemplar: Exemplar) -> bytes:
    """Exemplar{label, value, timestamp (google.protobuf.Timestamp{seconds, nanos})}."""
    labels = b"".join(
        _bytes(1, _string(1, sanitize_label_name(k)) + _string(2, v)) for k, v in exemplar.labels
    )
    seconds = int(exemplar.timestamp // 1)
    nanos = round((exemplar.timestamp - seconds) * 1e9)
    timestamp = _uint(1, seconds) + _uint(2, min(nanos, 999_999_999))
    return labels + _double(2, exemplar.value) + _bytes(3, timestamp)


def _spans_and_deltas(
    pairs: Sequence[tuple[int, int]],
) -> tuple[list[tuple[int, int]], list[int]]:
    """Sparse ``(index, count)`` pairs as Prometheus spans and count deltas: a span's
    offset is the gap since the previous span's end (the first one's, the first index),
    and each count is sent as its difference from the previous bucket's."""
    spans: list[tuple[int, int]] = []
    deltas: list[int] = []
    previous_count = 0
    next_index: int | None = None
    for index, count in pairs:
        if next_index is not None and index == next_index:
            offset, length = spans[-1]
            spans[-1] = (offset, length + 1)
        else:
            spans.append((index if next_index is None else index - next_index, 1))
        deltas.append(count - previous_count)
        previous_count = count
        next_index = index + 1
    return spans, deltas


def _label_pairs(
    family: MetricFamily,
    labels: tuple[tuple[str, str], ...],
    recorder: str | None,
    problems: ExpositionProblems,
) -> tuple[tuple[str, str], ...]:
    try:
        named = sorted(series_labels(labels, recorder).items())
    except ValueError as exc:
        raise LeftOut(
            "label_clash",
            f"{where(recorder, family.name)} has labels {[k for k, _ in labels]}: {exc}",
        ) from None
    return tuple(
        (
            key,
            valid_text(
                value, f"a value of label {key!r} of {where(recorder, family.name)}", problems
            ),
        )
        for key, value in named
    )


# --- protobuf wire format ----------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag_varint(value: int) -> bytes:
    return _varint((value << 1) ^ (value >> 63) if value < 0 else value << 1)


def _uint(field: int, value: int) -> bytes:
    # uint64 wraps past 2**64: a count that large cannot be exact; send the largest.
    return _varint(field << 3) + _varint(min(max(value, 0), 2**64 - 1))


def _sint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _zigzag_varint(value)


def _double(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value)


def _bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _string(field: int, value: str) -> bytes:
    return _bytes(field, value.encode("utf-8"))
