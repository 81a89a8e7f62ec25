"""Accept header -> exposition format, as prometheus_client's ``choose_encoder`` decides.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`.

OpenMetrics is served when the header lists ``application/openmetrics-text`` without a
version or with a 1.x version (we write 1.0.0); anything else gets the text format 0.0.4,
which every Prometheus scraper accepts, so no request is refused. Like prometheus_client,
the first acceptable OpenMetrics entry wins wherever it stands in the header, and a
``version=0.0.1`` entry (the pre-1.0 draft) is passed over. Unlike it, an entry with
``q=0`` (which means "not acceptable") is passed over too, and media types and parameter
names are compared case-insensitively, as HTTP defines them.

The delimited protobuf format (``application/vnd.google.protobuf`` with
``proto=io.prometheus.client.MetricFamily`` and ``encoding=delimited``), which Prometheus
asks for first when its native histograms are enabled, is served when listed with a weight
at least that of the OpenMetrics entry: it carries distributions as native histograms.
"""

from __future__ import annotations

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "PROTOBUF_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "choose_format",
]

#: Content type of the Prometheus text format 0.0.4.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Content type of OpenMetrics 1.0.
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

#: Content type of the delimited protobuf format (see ``prometheus_protobuf``).
PROTOBUF_CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

_OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"
_PROTOBUF_MEDIA_TYPE = "application/vnd.google.protobuf"
_PROTOBUF_PROTO = "io.prometheus.client.MetricFamily"


def choose_format(accept_header: str | None) -> tuple[str, str]:
    """``("protobuf" | "openmetrics" | "text", content_type)`` for an Accept header."""
    openmetrics: float | None = None
    protobuf: float | None = None
    for entry in (accept_header or "").split(","):
        media_type, _, rest = entry.partition(";")
        media_type = media_type.strip().lower()
        if media_type not in (_OPENMETRICS_MEDIA_TYPE, _PROTOBUF_MEDIA_TYPE):
            continue
        params = _parameters(rest)
        weight = _weight(params.get("q"))
        if weight <= 0.0:
            continue
        if media_type == _PROTOBUF_MEDIA_TYPE:
            if (
                params.get("proto") == _PROTOBUF_PROTO
                and params.get("encoding", "").lower() == "delimited"
            ):
                protobuf = max(weight, protobuf or 0.0)
            continue
        version = params.get("version", "")
        if openmetrics is None and (not version or version.split(".")[0] == "1"):
            openmetrics = weight
    if protobuf is not None and (openmetrics is None or protobuf >= openmetrics):
        return "protobuf", PROTOBUF_CONTENT_TYPE
    if openmetrics is not None:
        return "openmetrics", OPENMETRICS_CONTENT_TYPE
    return "text", TEXT_CONTENT_TYPE


def _parameters(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def _weight(quality: str | None) -> float:
    if quality is None:
        return 1.0
    try:
        weight = float(quality)
    except ValueError:  # a malformed weight is ignored rather than refusing the type
        return 1.0
    return weight if weight == weight else 1.0  # NaN: ignored as well
