"""Reading a metric's value and labels from an event: an attribute name or a callable."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from numbers import Integral, Real
from typing import Any, NoReturn

from ..errors import MetricValueError
from ..events import MetricEvent

__all__ = [
    "LabelReader",
    "ValueReader",
    "as_number",
    "reject",
]

# Prometheus label names; names starting with "__" are reserved for Prometheus itself.
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def reject(
    metric: str, event: object, reason: str, attribute: str, message: str
) -> MetricValueError:
    """The error a metric raises for an event it cannot use (the recorder counts it)."""
    event_type = type(event).__qualname__
    return MetricValueError(
        f"metric {metric!r} rejected event {event_type}: {message}",
        reason=reason,
        details={"metric": metric, "event_type": event_type, "attribute": attribute},
    )


def as_number(raw: object) -> int | float | None:
    """``raw`` as an int or float, or None when it is not a real number.

    The slow path behind the metrics' ``type(x) is int/float`` fast path: accepts other
    ``numbers.Real`` types (Fraction, numpy scalars, ...) and refuses bools,
    which are ints to Python but almost always a wrong field in a metric.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, Integral):
        return int(raw)
    if isinstance(raw, Real):
        return float(raw)
    return None


def _callable_name(fn: Callable[..., object]) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else repr(fn)


_REASON_TEXT = {
    "not_a_number": "which is not a real number",
    "nan_value": "and this metric refuses NaN",
    "infinite_value": "and this metric needs finite values",
    "negative_increment": "and a Counter only goes up (use an UpDownCounter)",
}


class ValueReader:
    """Where one metric reads its value: ``get(event)`` is an ``attrgetter`` or the callable.

    ``get`` is called directly by ``handle_event`` (no wrapper call on the hot path);
    :meth:`failed` turns the ``AttributeError`` of a missing attribute into a
    :class:`MetricValueError`, and lets a callable's own errors through untouched.
    """

    __slots__ = ("attribute", "get", "metric", "name", "source")

    def __init__(self, metric: str, spec: object, argument: str = "value") -> None:
        self.metric = metric
        if isinstance(spec, str):
            if not spec or not all(part.isidentifier() for part in spec.split(".")):
                raise ValueError(
                    f"argument {argument!r} must be an attribute name (dots allowed) or a "
                    f"callable, got {spec!r}"
                )
            self.attribute: str | None = spec
            self.get: Callable[[Any], object] = shared_attrgetter(spec)
            #: What ``details["attribute"]`` names: the attribute, or the callable's name.
            self.name = spec
            self.source = f"attribute {spec!r}"
        elif callable(spec):
            self.attribute = None
            self.get = spec
            self.name = _callable_name(spec)
            self.source = f"callable {self.name}"
        else:
            raise TypeError(
                f"argument {argument!r} must be an attribute name or a callable, "
                f"got {type(spec).__name__}"
            )

    def failed(self, event: MetricEvent, exc: AttributeError) -> NoReturn:
        """Re-raise an ``AttributeError`` from :attr:`get`, naming the metric when ours."""
        if self.attribute is None:
            raise exc
        raise reject(
            self.metric,
            event,
            "unknown_attribute",
            self.attribute,
            f"it has no attribute {self.attribute!r}",
        ) from exc

    def rejected(self, event: MetricEvent, reason: str, raw: object) -> MetricValueError:
        """The error for a value the metric refuses (``reason`` is a stable code)."""
        try:
            text = repr(raw)
        except Exception:  # a user __repr__, or an int past sys.set_int_max_str_digits
            text = f"<{type(raw).__name__} object>"
        if len(text) > 80:
            text = text[:77] + "..."
        return reject(
            self.metric,
            event,
            reason,
            self.name,
            f"{self.source} gave {text}, {_REASON_TEXT[reason]}",
        )


#: How many attribute getters and label readers are kept for sharing at most.
MAX_SHARED = 4096

_GETTERS: dict[tuple[str, ...], Callable[[Any], Any]] = {}
_READERS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], LabelReader] = {}


def shared_attrgetter(*names: str) -> Callable[[Any], Any]:
    """``operator.attrgetter(*names)``, one object per distinct names (bounded): getters
    hold no state, and every metric reading the same attribute can share one."""
    getter = _GETTERS.get(names)
    if getter is None:
        getter = operator.attrgetter(*names)
        if len(_GETTERS) < MAX_SHARED:
            _GETTERS[names] = getter
    return getter


class LabelReader:
    """Where one metric reads its labels, and how a series key maps back to label names.

    A series key is the cheapest hashable that identifies a label set: ``()`` without
    labels, the label value itself (a str) for one label, a tuple of strs for several,
    and a sorted tuple of ``(name, value)`` pairs for a callable. Label values are
    turned into text with ``str()``.
    """

    __slots__ = ("_reserved", "arity", "fn", "get", "metric", "names")

    def __init__(self, metric: str, spec: object, reserved: Iterable[str] = ()) -> None:
        self.metric = metric
        self.fn: Callable[[Any], Mapping[str, object]] | None = None
        self.names: tuple[str, ...] = ()
        self.get: Callable[[Any], Any] | None = None
        if isinstance(spec, str):
            raise TypeError(
                f"argument 'labels' must be a tuple of attribute names, got the str {spec!r} "
                f"(write labels=({spec!r},))"
            )
        if isinstance(spec, tuple | list):
            names = tuple(spec)
            for name in names:
                if not isinstance(name, str):
                    raise TypeError(
                        f"argument 'labels' must hold attribute names (str), got "
                        f"{type(name).__name__}"
                    )
                _check_label_name(name, reserved)
            if len(set(names)) != len(names):
                raise ValueError(f"argument 'labels' repeats a name: {names!r}")
            self.names = names
            self.arity = len(names)
            if names:
                self.get = shared_attrgetter(*names)
        elif callable(spec):
            self.fn = spec
            self.arity = -1
        else:
            raise TypeError(
                f"argument 'labels' must be a tuple of attribute names or a callable, "
                f"got {type(spec).__name__}"
            )
        # Checked per new series only when names come from a callable (attribute names were
        # checked above, once).
        # A tuple of str: the collector stops tracking it, where a frozenset stays tracked.
        self._reserved: tuple[str, ...] = tuple(reserved)

    @classmethod
    def for_metric(cls, metric: str, spec: object, reserved: Iterable[str] = ()) -> LabelReader:
        """The reader for ``spec``: a new one, or for no labels the one shared reader.

        A reader without labels never reads an event nor reports an error (the only
        uses of ``metric`` and ``reserved``), so every label-less metric can share one:
        a runtime may hold thousands of idle metrics, each one more object for the
        garbage collector to traverse.
        """
        if isinstance(spec, tuple | list) and not spec:
            return _NO_LABELS
        if not isinstance(spec, tuple) or not all(isinstance(name, str) for name in spec):
            return cls(metric, spec, reserved)
        # Readers of attribute names are immutable: metrics of the same name and labels
        # share one (10,000 recorders with the same definitions hold one reader, not
        # 10,000 objects for the collector). The cache is bounded; past it, new ones.
        key = (metric, spec, tuple(reserved))
        reader = _READERS.get(key)
        if reader is None:
            reader = cls(metric, spec, reserved)
            if len(_READERS) < MAX_SHARED:
                _READERS[key] = reader
        return reader

    def key_from_callable(self, event: MetricEvent) -> Hashable:
        """Compute the series key for a label callable (labels=callable only)."""
        assert self.fn is not None
        mapping = self.fn(event)
        try:
            items = mapping.items()
        except AttributeError:
            raise reject(
                self.metric,
                event,
                "bad_labels",
                _callable_name(self.fn),
                f"labels callable {_callable_name(self.fn)} returned {type(mapping).__name__}, "
                "not a mapping",
            ) from None
        return tuple(sorted([(str(k), str(v)) for k, v in items]))

    def check_new_key(self, event: MetricEvent, key: Hashable) -> None:
        """Validate the label names of a new callable-made series (once per series)."""
        if self.fn is None:
            return
        assert isinstance(key, tuple)
        for name, _ in key:
            try:
                _check_label_name(name, self._reserved)
            except ValueError as exc:
                raise reject(
                    self.metric,
                    event,
                    "bad_labels",
                    _callable_name(self.fn),
                    f"labels callable {_callable_name(self.fn)}: {exc}",
                ) from None

    def check_new_values(self, event: MetricEvent, key: Hashable, reserved_value: str) -> None:
        """Refuse a new series whose label values include ``reserved_value`` (once per new
        key): it would be indistinguishable from the overflow series in exports."""
        if self.fn is not None:
            assert isinstance(key, tuple)
            values: tuple[object, ...] = tuple(value for _, value in key)
        else:
            values = key if isinstance(key, tuple) else (key,)
        if reserved_value in values:
            raise reject(
                self.metric,
                event,
                "bad_labels",
                _callable_name(self.fn) if self.fn is not None else ",".join(self.names),
                f"label value {reserved_value!r} is reserved for the overflow series",
            )

    def failed(self, event: MetricEvent, exc: AttributeError) -> NoReturn:
        """Turn the ``AttributeError`` of a missing label attribute into a MetricValueError."""
        missing = next((n for n in self.names if not hasattr(event, n)), None)
        if missing is None:  # raised by a property of the event itself
            raise exc
        raise reject(
            self.metric,
            event,
            "unknown_attribute",
            missing,
            f"it has no attribute {missing!r} (a label)",
        ) from exc

    def labels_of(self, key: Hashable) -> dict[str, str]:
        """The ``{name: value}`` labels of a series key."""
        if self.fn is not None:
            assert isinstance(key, tuple)
            return dict(key)
        if self.arity == 1:
            assert isinstance(key, str)
            return {self.names[0]: key}
        assert isinstance(key, tuple)
        return dict(zip(self.names, key, strict=True))

    def labels_list(self, keys: Iterable[Hashable]) -> list[dict[str, str]]:
        """The ``{name: value}`` labels of each series key, in order: what
        :meth:`labels_of` gives one key at a time, in one comprehension (a scrape reads
        thousands of series while its loop waits)."""
        if self.fn is not None:
            return [dict(key) for key in keys]  # type: ignore[call-overload]
        if self.arity == 1:
            name = self.names[0]
            return [{name: key} for key in keys]  # type: ignore[dict-item]
        names = self.names
        return [dict(zip(names, key, strict=True)) for key in keys]  # type: ignore[call-overload]

    def overflow_labels(self, keys: Iterable[Hashable], value: str) -> dict[str, str]:
        """Labels of the overflow series: every label name, each set to ``value``.

        For a label callable the names are those of the admitted series, in sorted order.
        """
        if self.fn is None:
            return dict.fromkeys(self.names, value)
        names: set[str] = set()
        for key in keys:
            assert isinstance(key, tuple)
            names.update(name for name, _ in key)
        return dict.fromkeys(sorted(names), value)


def _check_label_name(name: str, reserved: Iterable[str]) -> None:
    if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
        raise ValueError(
            f"label name {name!r} is not a valid Prometheus label name "
            "([a-zA-Z_][a-zA-Z0-9_]*, not starting with '__')"
        )
    if name in reserved:
        raise ValueError(f"label name {name!r} is reserved by this metric kind")


#: The reader of every metric without labels (see LabelReader.for_metric).
_NO_LABELS = LabelReader("", ())
