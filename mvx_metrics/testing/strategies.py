"""Hypothesis strategies for code that emits metrics (needs ``hypothesis``).

- :func:`events`: instances of your event dataclasses, built from their field types,
  with overrides per field;
- :func:`label_values`: text a label may carry, hostile included (quotes, backslashes,
  newlines, NUL, non-ASCII, lone surrogates);
- :func:`metric_values`: what a metric's value attribute may hold, the edge cases
  included (NaN, ±inf, -0.0, huge ints, bools, non-numbers);
- :func:`bucket_layouts`: valid ``Histogram`` bounds;
- :func:`builtin_metrics`: configurations of the built-in metrics for an event class
  (kind, value field, labels, buckets, accuracy, bounds on series).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from typing import Any, TypeVar

from hypothesis import strategies as st

from ..events import MetricEvent
from ..metrics import Counter, Distribution, Gauge, Histogram, UpDownCounter
from ..metrics._builtin import BuiltinMetric

__all__ = ["bucket_layouts", "builtin_metrics", "events", "label_values", "metric_values"]

E = TypeVar("E", bound=MetricEvent)

#: Characters that exposition formats must escape or replace.
HOSTILE_CHARACTERS = '"\\\n\r\t\x00{}=,# \u00e9\u4e2d\U0001f600\ud800\udfff'


def label_values(*, max_size: int = 20) -> st.SearchStrategy[str]:
    """Label text, ordinary and hostile: quotes, backslashes, newlines, NUL, braces,
    non-ASCII, emoji and lone surrogates (which no UTF-8 encoder accepts), the empty
    string, and ``"__overflow__"`` (which built-in metrics refuse: it names their
    overflow series)."""
    hostile = st.text(alphabet=HOSTILE_CHARACTERS, max_size=max_size)
    return st.one_of(st.text(max_size=max_size), hostile, st.sampled_from(["", "__overflow__"]))


def metric_values(*, finite_only: bool = False) -> st.SearchStrategy[Any]:
    """Values a metric may be given: floats and ints of every size, and unless
    ``finite_only``, the edge cases it must refuse or handle (NaN, ±inf, -0.0, ints past
    the float range, bools, None, strings)."""
    finite = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(2**64), 2**64),
        st.just(-0.0),
        st.just(0),
    )
    if finite_only:
        return finite
    edges = st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -(10**400), True, False])
    return st.one_of(finite, edges, st.none(), st.text(max_size=5))


def bucket_layouts(*, max_size: int = 20) -> st.SearchStrategy[tuple[float, ...]]:
    """Valid ``Histogram(buckets=...)``: finite, strictly increasing, at least one."""
    bounds = st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        min_size=1,
        max_size=max_size,
        unique=True,
    )
    return bounds.map(lambda values: tuple(sorted(values)))


#: The built-in kinds :func:`builtin_metrics` draws from by default.
BUILTIN_KINDS: tuple[type[BuiltinMetric[Any]], ...] = (
    Counter,
    UpDownCounter,
    Gauge,
    Histogram,
    Distribution,
)


def builtin_metrics(
    event_type: type[MetricEvent],
    *,
    kinds: tuple[type[BuiltinMetric[Any]], ...] = BUILTIN_KINDS,
    name: str | st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[BuiltinMetric[Any]]:
    """Built-in metrics reading ``event_type``, in every valid configuration.

    The kind is one of ``kinds``; the value is one of the dataclass's ``int``/``float``
    fields (a ``Counter`` may also count events, with no value; a kind that needs a value
    is left out when there is none); labels are an ordered subset of its ``str`` fields;
    a ``Histogram`` draws :func:`bucket_layouts`, a ``Distribution`` its accuracy and
    quantiles; ``max_series`` is small at times, so the overflow series is exercised.
    ``name`` is a fixed name or a strategy (default: drawn names that do not clash with
    exposition suffixes). Each drawn metric is fresh: register it in one recorder only.
    """
    if not (isinstance(event_type, type) and dataclasses.is_dataclass(event_type)):
        raise TypeError(f"builtin_metrics() needs a dataclass event type, got {event_type!r}")
    hints = typing.get_type_hints(event_type)
    fields = [f.name for f in dataclasses.fields(event_type)]
    numbers = [f for f in fields if hints.get(f) in (int, float)]
    texts = [f for f in fields if hints.get(f) is str]
    usable = tuple(kind for kind in kinds if numbers or kind is Counter)
    if not usable:
        raise TypeError(
            f"{event_type.__name__} has no int or float field: of {[k.__name__ for k in kinds]}"
            " only Counter can read it"
        )
    names = (
        st.from_regex(r"m_[a-z][a-z0-9]{0,11}", fullmatch=True)
        if name is None
        else (name if isinstance(name, st.SearchStrategy) else st.just(name))
    )
    label_sets = st.lists(st.sampled_from(texts), unique=True).map(tuple) if texts else st.just(())
    common = {
        "name": names,
        "labels": label_sets,
        "description": st.one_of(st.just(""), label_values()),
        "unit": st.sampled_from(["", "seconds", "bytes"]),
        "max_series": st.one_of(st.just(2000), st.integers(1, 5)),
    }

    def build(kind: type[BuiltinMetric[Any]]) -> st.SearchStrategy[BuiltinMetric[Any]]:
        extra: dict[str, st.SearchStrategy[Any]] = {}
        if kind is Counter:
            extra["value"] = st.sampled_from([None, *numbers])
        else:
            extra["value"] = st.sampled_from(numbers)
        if kind is Histogram:
            extra["buckets"] = bucket_layouts()
        if kind is Distribution:
            extra["relative_accuracy"] = st.sampled_from([0.001, 0.01, 0.02, 0.05])
            extra["quantiles"] = st.lists(st.floats(0, 1), min_size=1, max_size=4, unique=True).map(
                tuple
            )
        return st.builds(kind, event=st.just(event_type), **common, **extra)

    return st.sampled_from(usable).flatmap(build)


def events(event_type: type[E], **overrides: Any) -> st.SearchStrategy[E]:
    """Instances of the dataclass ``event_type``, each field drawn from its type.

    ``str`` fields draw :func:`label_values`, ``float`` and ``int`` fields finite
    numbers, ``bool``, enums, ``Optional[...]``/``X | None``, ``Literal`` and nested
    dataclasses as their types say. A field of another type needs an override: a
    strategy, or a plain value to use as is (``events(Saved, outcome="ok")``).
    """
    if not (isinstance(event_type, type) and dataclasses.is_dataclass(event_type)):
        raise TypeError(f"events() needs a dataclass event type, got {event_type!r}")
    hints = typing.get_type_hints(event_type)
    fields = {f.name: f for f in dataclasses.fields(event_type) if f.init}
    unknown = set(overrides) - set(fields)
    if unknown:
        raise TypeError(f"{event_type.__name__} has no fields {sorted(unknown)}")
    drawn: dict[str, st.SearchStrategy[Any]] = {}
    for name in fields:
        if name in overrides:
            override = overrides[name]
            drawn[name] = override if isinstance(override, st.SearchStrategy) else st.just(override)
        else:
            drawn[name] = _for_type(hints.get(name, Any), f"{event_type.__name__}.{name}")
    return st.builds(event_type, **drawn)


def _for_type(hint: Any, where: str) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_for_type(arg, where) for arg in typing.get_args(hint)))
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(hint))
    if hint is type(None):
        return st.none()
    if hint is bool:
        return st.booleans()
    if hint is str:
        return label_values()
    if hint is int:
        return st.integers(-(2**63), 2**63)
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return events(hint) if issubclass(hint, MetricEvent) else st.builds(hint)
    raise TypeError(f"events(): no strategy for {where} of type {hint!r}; pass an override")
