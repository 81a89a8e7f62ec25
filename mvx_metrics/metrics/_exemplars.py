"""Exemplars: one recent event per series (or bucket) that a trace can be found from.

A ``Counter`` or ``Histogram`` built with ``exemplar=`` keeps, per series (a histogram:
per bucket), the latest event that carried one: its labels (a trace id, say), the value
it added or observed, and when. Exporters show it where the format has room: OpenMetrics
text (``# {trace_id="..."} 0.25 1700000000.5``), the protobuf exposition, OTLP.

``exemplar`` is an attribute name (the label is named after its last part, the value is
the attribute as ``str``; an event whose attribute is missing, None or "" has none) or a
callable taking the event and returning a mapping of labels, or None for no exemplar.

OpenMetrics allows at most 128 UTF-8 characters across an exemplar's label names and
values: a longer one is not kept, and is counted in the snapshot's
``exemplars_dropped``, as is one whose callable raised. Neither fails the event, whose
value is applied as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..events import MetricEvent
from ..snapshots import Exemplar
from ._series import NumberCell
from ._values import shared_attrgetter

__all__ = ["MAX_EXEMPLAR_CHARS", "ExemplarCell", "ExemplarReader"]

#: OpenMetrics' bound on an exemplar's label names and values, together.
MAX_EXEMPLAR_CHARS = 128


class ExemplarCell(NumberCell):
    """A counter series that also keeps its latest exemplar."""

    __slots__ = ("exemplar",)

    def __init__(self) -> None:
        super().__init__()
        self.exemplar: Exemplar | None = None


class ExemplarReader:
    """Reads an event's exemplar for one metric; counts those it could not keep."""

    __slots__ = ("_attribute", "_fn", "_label", "dropped")

    def __init__(self, spec: object) -> None:
        self._fn: Callable[[Any], Mapping[str, object] | None] | None = None
        self._attribute: Callable[[Any], object] | None = None
        self._label = ""
        if isinstance(spec, str):
            if not spec or not all(part.isidentifier() for part in spec.split(".")):
                raise ValueError(
                    f"argument 'exemplar' must be an attribute name (dots allowed) or a "
                    f"callable, got {spec!r}"
                )
            self._attribute = shared_attrgetter(spec)
            self._label = spec.rsplit(".", 1)[-1]
        elif callable(spec):
            self._fn = spec
        else:
            raise TypeError(
                f"argument 'exemplar' must be an attribute name or a callable, "
                f"got {type(spec).__name__}"
            )
        #: Exemplars not kept: past the OpenMetrics bound, or their callable raised.
        self.dropped = 0

    def read(self, event: MetricEvent, value: float) -> Exemplar | None:
        """The event's exemplar, or None (it has none, or it could not be kept)."""
        try:
            labels = self._labels(event)
        except Exception:  # the user's callable, or a property raising: only its exemplar
            self.dropped += 1
            return None
        if not labels:
            return None
        if sum(len(k) + len(v) for k, v in labels) > MAX_EXEMPLAR_CHARS:
            self.dropped += 1
            return None
        return Exemplar(labels, float(value), time.time())

    def _labels(self, event: MetricEvent) -> tuple[tuple[str, str], ...]:
        if self._attribute is not None:
            try:
                raw = self._attribute(event)
            except AttributeError:
                return ()
            if raw is None or raw == "":
                return ()
            return ((self._label, str(raw)),)
        assert self._fn is not None
        mapping = self._fn(event)
        if not mapping:
            return ()
        return tuple((str(k), str(v)) for k, v in mapping.items())
