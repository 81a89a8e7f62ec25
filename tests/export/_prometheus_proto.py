"""An independent decoder of the Prometheus protobuf exposition, for the tests.

The message classes are made by the protobuf runtime from a descriptor of
prometheus/client_model's ``metrics.proto`` (the fields the exposition uses; ``Timestamp`` stands in
for ``google.protobuf.Timestamp``, which has the same fields), written out here: what we encode by hand is decoded by Google's implementation.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal.decoder import _DecodeVarint32  # type: ignore[attr-defined]

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED

# message -> [(field name, number, type, label, message type name or None)]
_MESSAGES: dict[str, list[tuple[str, int, int, int, str | None]]] = {
    "LabelPair": [
        ("name", 1, _F.TYPE_STRING, _OPTIONAL, None),
        ("value", 2, _F.TYPE_STRING, _OPTIONAL, None),
    ],
    "Timestamp": [
        ("seconds", 1, _F.TYPE_INT64, _OPTIONAL, None),
        ("nanos", 2, _F.TYPE_INT32, _OPTIONAL, None),
    ],
    "Exemplar": [
        ("label", 1, _F.TYPE_MESSAGE, _REPEATED, "LabelPair"),
        ("value", 2, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("timestamp", 3, _F.TYPE_MESSAGE, _OPTIONAL, "Timestamp"),
    ],
    "Gauge": [("value", 1, _F.TYPE_DOUBLE, _OPTIONAL, None)],
    "Counter": [
        ("value", 1, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("exemplar", 2, _F.TYPE_MESSAGE, _OPTIONAL, "Exemplar"),
    ],
    "Quantile": [
        ("quantile", 1, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("value", 2, _F.TYPE_DOUBLE, _OPTIONAL, None),
    ],
    "Summary": [
        ("sample_count", 1, _F.TYPE_UINT64, _OPTIONAL, None),
        ("sample_sum", 2, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("quantile", 3, _F.TYPE_MESSAGE, _REPEATED, "Quantile"),
    ],
    "Bucket": [
        ("cumulative_count", 1, _F.TYPE_UINT64, _OPTIONAL, None),
        ("upper_bound", 2, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("exemplar", 3, _F.TYPE_MESSAGE, _OPTIONAL, "Exemplar"),
    ],
    "BucketSpan": [
        ("offset", 1, _F.TYPE_SINT32, _OPTIONAL, None),
        ("length", 2, _F.TYPE_UINT32, _OPTIONAL, None),
    ],
    "Histogram": [
        ("sample_count", 1, _F.TYPE_UINT64, _OPTIONAL, None),
        ("sample_sum", 2, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("bucket", 3, _F.TYPE_MESSAGE, _REPEATED, "Bucket"),
        ("schema", 5, _F.TYPE_SINT32, _OPTIONAL, None),
        ("zero_threshold", 6, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("zero_count", 7, _F.TYPE_UINT64, _OPTIONAL, None),
        ("negative_span", 9, _F.TYPE_MESSAGE, _REPEATED, "BucketSpan"),
        ("negative_delta", 10, _F.TYPE_SINT64, _REPEATED, None),
        ("positive_span", 12, _F.TYPE_MESSAGE, _REPEATED, "BucketSpan"),
        ("positive_delta", 13, _F.TYPE_SINT64, _REPEATED, None),
    ],
    "Metric": [
        ("label", 1, _F.TYPE_MESSAGE, _REPEATED, "LabelPair"),
        ("gauge", 2, _F.TYPE_MESSAGE, _OPTIONAL, "Gauge"),
        ("counter", 3, _F.TYPE_MESSAGE, _OPTIONAL, "Counter"),
        ("summary", 4, _F.TYPE_MESSAGE, _OPTIONAL, "Summary"),
        ("histogram", 7, _F.TYPE_MESSAGE, _OPTIONAL, "Histogram"),
    ],
    "MetricFamily": [
        ("name", 1, _F.TYPE_STRING, _OPTIONAL, None),
        ("help", 2, _F.TYPE_STRING, _OPTIONAL, None),
        ("type", 3, _F.TYPE_INT32, _OPTIONAL, None),  # the MetricType enum, as its number
        ("metric", 4, _F.TYPE_MESSAGE, _REPEATED, "Metric"),
    ],
}

COUNTER, GAUGE, SUMMARY, HISTOGRAM = 0, 1, 2, 4


def _classes() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(
        name="mvx_tests/prometheus_metrics.proto", package="io.prometheus.client", syntax="proto2"
    )
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for field_name, number, type_, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=type_, label=label)
            if type_name is not None:
                field.type_name = f".io.prometheus.client.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"io.prometheus.client.{name}")
        )
        for name in _MESSAGES
    }


_CLASSES = _classes()


def parse_delimited(body: bytes) -> list[Any]:
    """Every length-delimited ``MetricFamily`` of an exposition, decoded."""
    families = []
    position = 0
    while position < len(body):
        size, position = _DecodeVarint32(body, position)
        family = _CLASSES["MetricFamily"]()
        family.ParseFromString(body[position : position + size])
        families.append(family)
        position += size
    return families


def labels_of(metric: Any) -> dict[str, str]:
    return {pair.name: pair.value for pair in metric.label}


def native_buckets(spans: Any, deltas: Any) -> list[tuple[int, int]]:
    """Spans and deltas back to ``(index, count)`` pairs, as Prometheus reads them."""
    pairs = []
    index = 0
    count = 0
    deltas = list(deltas)
    for span in spans:
        index += span.offset
        for _ in range(span.length):
            count += deltas.pop(0)
            pairs.append((index, count))
            index += 1
    assert not deltas
    return pairs
