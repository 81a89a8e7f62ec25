"""What every built-in metric shares: argument checks, series lookup, the snapshot frame."""

from __future__ import annotations

import copy
import math
import sys
from abc import abstractmethod
from collections.abc import Callable, Hashable, Iterable, Mapping
from operator import attrgetter
from typing import Any, ClassVar, NoReturn, TypeVar, cast

from .._steps import SERIES_PER_STEP, Steps, run_to_end
from .._validation import check_id, check_positive_int
from ..events import MetricEvent
from ._exemplars import ExemplarReader
from ._fragment import Fragment
from ._series import DEFAULT_MAX_SERIES, OVERFLOW_LABEL_VALUE, SeriesTable
from ._values import MAX_SHARED, LabelReader, ValueReader, as_number
from .base import Metric

__all__ = [
    "MAX_FLOAT",
    "BuiltinMetric",
    "Captured",
    "NumberSeries",
    "can_reset",
    "check_event_types",
    "copy_values",
    "known_event_types",
    "number_rows",
    "reset_metric",
    "series_lookup",
]

#: Ints beyond this magnitude are treated as infinite: they do not fit in a float.
MAX_FLOAT = sys.float_info.max

S = TypeVar("S")


def check_event_types(event: object) -> tuple[type[MetricEvent], ...]:
    """One MetricEvent subclass or a non-empty tuple of them, as a tuple without repeats."""
    classes = event if isinstance(event, tuple) else (event,)
    shared = _kept_event_types(classes)
    if shared is not None:
        return shared
    if not classes:
        raise ValueError("argument 'event' must name at least one MetricEvent class")
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, MetricEvent)):
            raise TypeError(
                f"argument 'event' must be a MetricEvent subclass or a tuple of them, got {cls!r}"
            )
    unique = tuple(dict.fromkeys(classes))
    # One tuple per distinct set of classes (bounded): the metrics of 10,000 recorders
    # built from the same definitions hold one, not 10,000 objects for the collector.
    shared = _EVENT_TYPES.get(unique)
    if shared is None:
        shared = unique
        if len(_EVENT_TYPES) < MAX_SHARED:
            _EVENT_TYPES[unique] = unique
    return shared


_EVENT_TYPES: dict[tuple[type[MetricEvent], ...], tuple[type[MetricEvent], ...]] = {}


def known_event_types(types: object) -> bool:
    """True for a tuple :func:`check_event_types` returned and kept: checked already (a
    recorder's ``register_metric`` need not check a built-in metric's again)."""
    kept = _kept_event_types(types)
    return kept is not None and kept is types


def _kept_event_types(types: object) -> tuple[type[MetricEvent], ...] | None:
    """The kept tuple equal to ``types``, or None; a tuple is kept only once checked."""
    try:
        return _EVENT_TYPES.get(cast("tuple[type[MetricEvent], ...]", types))
    except Exception:  # unhashable, or a hostile hash: checked as anything new is
        return None


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"argument {name!r} must be a str, got {type(value).__name__}")
    return value


class BuiltinMetric(Metric, SeriesTable[S]):
    """Base of the built-in metrics: a name, routed event classes, a value, labels, series.

    Subclasses write ``handle_event`` out in full, because it is the per-event cost:
    validate the value first, then find the series with
    ``self._single or self._series_for(event)`` (``_single`` caches the only series of a
    metric without labels), then change the state. Nothing changes before the value is
    known to be good, so a rejected event leaves the metric as it was.
    """

    #: The ``kind`` written in snapshots.
    kind: ClassVar[str]
    #: False only for kinds that can work without a value (a Counter counts events).
    value_required: ClassVar[bool] = True
    #: Label names this kind uses itself in exposition (``le``, ``quantile``).
    reserved_labels: ClassVar[tuple[str, ...]] = ()
    #: Whether the kind keeps exemplars (``exemplar=``; see ``_exemplars.py``).
    takes_exemplars: ClassVar[bool] = False
    #: Where exemplars come from, or None (see ``_exemplars.py``); set per instance only
    #: when given, so that metrics without exemplars do not carry the field.
    _exemplar: ExemplarReader | None = None

    def __init__(
        self,
        name: str,
        *,
        event: type[MetricEvent] | tuple[type[MetricEvent], ...],
        value: str | Callable[[Any], object] | None = None,
        labels: tuple[str, ...] | Callable[[Any], Mapping[str, object]] = (),
        description: str = "",
        unit: str = "",
        max_series: int = DEFAULT_MAX_SERIES,
        exemplar: str | Callable[[Any], Mapping[str, object] | None] | None = None,
    ) -> None:
        if exemplar is not None and not self.takes_exemplars:
            raise TypeError(f"{type(self).__name__} takes no exemplar (Counter and Histogram do)")
        if exemplar is not None:  # else the class's None: one field fewer per metric
            self._exemplar = ExemplarReader(exemplar)
        if value is None and self.value_required:
            raise TypeError("argument 'value' is required: an attribute name or a callable")
        self._name = check_id(name, "name")
        if not self._name:
            raise ValueError("argument 'name' must not be blank")
        self.event_types: tuple[type[MetricEvent], ...] | None = check_event_types(event)
        reader = None if value is None else ValueReader(self._name, value)
        #: The value getter itself, called straight from handle_event.
        self._get: Callable[[Any], object] | None = None if reader is None else reader.get
        # The reader is rebuilt from these for error reports (`_value`) rather than kept:
        # one object fewer per metric for the garbage collector to traverse.
        self._value_spec: str | Callable[[Any], object] | None = (
            None if reader is None else reader.attribute or reader.get
        )
        self._labels = LabelReader.for_metric(self._name, labels, self.reserved_labels)
        self._description = _check_text(description, "description")
        self._unit = _check_text(unit, "unit")
        max_series = check_positive_int(max_series, "max_series", DEFAULT_MAX_SERIES)
        self._init_series(max_series)
        #: The only series of a metric without labels, else None. Kept here alone, not
        #: also in ``_series``, which stays empty (a dict the garbage collector does not
        #: track): a runtime may hold thousands of idle label-less metrics.
        self._single: S | None = None
        if self._labels.arity == 0:
            # Created up front, as prometheus_client does, so that a metric without labels
            # is exported (at zero) before its first event.
            self._single = self._new_state()

    def _reset_state(self) -> None:
        """Forget every series, as if no event had been applied (for
        :meth:`mvx_metrics.testing.CapturingRecorder.reset`; never on a live recorder,
        whose batch plans hold series). In place: the lookup closure keeps the table."""
        self._clear_series()
        if self._exemplar is not None:
            self._exemplar.dropped = 0
        if self._single is not None:
            self._single = self._new_state()

    def _series_for(self, event: MetricEvent) -> S:
        """Find (or admit) the series of an event; valid values only (admit counts overflow).

        The first call builds the lookup closure (``series_lookup``) and sets it on the
        instance, where later calls find it before this method. Not built up front: a
        runtime may hold thousands of idle metrics, and a closure's cells are objects
        that the garbage collector traverses at every full collection.
        """
        lookup = series_lookup(self._labels, self)
        setattr(self, "_series_for", lookup)  # noqa: B010 (an instance attribute over a method)
        return lookup(event)

    @property
    def metric_name(self) -> str:
        """The name given at construction (stripped)."""
        return self._name

    @property
    def description(self) -> str:
        """The human description given at construction."""
        return self._description

    @property
    def unit(self) -> str:
        """The unit given at construction ("" when none)."""
        return self._unit

    @property
    def label_names(self) -> tuple[str, ...]:
        """The label attribute names; empty without labels or with a label callable."""
        return self._labels.names

    @property
    def max_series(self) -> int:
        """How many label sets get their own series before the overflow series is used."""
        return self._max_series

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"

    # --- per kind -----------------------------------------------------------------------

    @abstractmethod
    def _new_state(self) -> S:
        """A fresh per-series state."""

    @abstractmethod
    def _state_snapshot(self, state: S) -> dict[str, Any]:
        """The JSON-friendly fields of one series (besides ``labels``)."""

    def _extra_snapshot(self) -> dict[str, Any]:
        """Metric-level snapshot fields besides the common ones."""
        return {}

    def _rows(self, labels: list[dict[str, str]], states: Iterable[Any]) -> list[dict[str, Any]]:
        """The snapshot's series from copied states (see :meth:`_copy_states`), ``labels``
        first: the kinds of one number per series build theirs with :func:`number_rows`."""
        state_snapshot = self._state_snapshot
        return [
            {"labels": names, **state_snapshot(state)}
            for names, state in zip(labels, states, strict=True)
        ]

    # --- batch application -----------------------------------------------------------------

    def fragment(self) -> Fragment | None:
        """This metric's part of a recorder's generated batch function (``_fragment``),
        or None: the recorder calls ``handle_event`` per event."""
        return None

    def _fragment(
        self,
        kind: type[BuiltinMetric[Any]],
        check: str,
        apply: tuple[str, ...],
        *,
        run: tuple[str, ...] = (),
        init: tuple[str, ...] = (),
        finish: tuple[str, ...] = (),
        bindings: dict[str, object] | None = None,
        add_values: Callable[[Any, list[Any]], None] | None = None,
    ) -> Fragment | None:
        """A fragment for ``kind``'s ``handle_event``, unless a subclass overrides it or the
        value or labels come from a callable (which must be called once per event)."""
        if type(self).handle_event is not kind.handle_event or self._labels.fn is not None:
            return None
        if self._exemplar is not None:  # read per event, with the event's own time
            return None
        spec = self._value_spec
        if spec is not None and not isinstance(spec, str):
            return None
        return Fragment(
            value=spec,
            labels=self._labels.names,
            check=check,
            apply=apply,
            run=run,
            init=init,
            finish=finish,
            bindings=bindings or {},
            add_values=add_values,
        )

    @property
    def _value(self) -> ValueReader | None:
        """Where the value comes from, for error reports and generated code."""
        spec = self._value_spec
        return None if spec is None else ValueReader(self._name, spec)

    def _series_key_getter(self) -> Callable[[Hashable], S | None]:
        """The admitted series by key (``dict.get`` of the table), for generated code."""
        return self._own_series().get

    # --- values -------------------------------------------------------------------------

    def _value_missing(self, event: MetricEvent, exc: AttributeError) -> NoReturn:
        assert self._value is not None
        self._value.failed(event, exc)

    def _number(
        self, event: MetricEvent, raw: object, *, negative: bool, infinite: bool
    ) -> int | float:
        """The slow path of the value check: convert, or raise the reason-coded error."""
        assert self._value is not None
        number = as_number(raw)
        if isinstance(number, int) and not -MAX_FLOAT <= number <= MAX_FLOAT:
            # Beyond float range: every consumer (sums, exporters) would overflow on it.
            number = math.inf if number > 0 else -math.inf
        reason: str | None = None
        if number is None:
            reason = "not_a_number"
        elif math.isnan(number):
            reason = "nan_value"
        elif not negative and number < 0:
            reason = "negative_increment"
        elif not infinite and math.isinf(number):
            reason = "infinite_value"
        if reason is not None:
            raise self._value.rejected(event, reason, raw)
        assert number is not None
        return number

    # --- snapshot -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A new JSON-serialisable dict: name, kind, description, unit, series, overflow.

        ``series`` lists one ``{"labels": {...}, ...}`` per label set, in order of first
        appearance, then the overflow series (every label ``"__overflow__"``) if any event
        reached it; ``overflow_events`` counts those events.
        """
        return self.capture().snapshot()

    def capture(self) -> Captured:
        """This metric's series as they are now, in a copy no later event changes, from
        which :meth:`Captured.snapshot` builds what :meth:`snapshot` returns.

        A copy of keys and numbers is a fraction of the snapshot's cost: a reader holds
        the recorder (its guard, or its loop) only for this, and builds the dicts after."""
        extra = self._extra_snapshot()
        if self._exemplar is not None:
            extra["exemplars_dropped"] = self._exemplar.dropped
        overflow = self._overflow
        single = self._single
        return Captured(
            self,
            [()] if single is not None else list(self._series),
            self._copy_states((single,) if single is not None else self._series.values()),
            None if overflow is None else self._copy_states((overflow,))[0],
            self._overflow_events,
            extra,
        )

    def _copy_states(self, states: Iterable[S]) -> list[Any]:
        """Copies of ``states`` that later events leave alone, what :meth:`_rows` reads:
        each kind copies as little as it can (the number kinds, a list of numbers)."""
        return [self._copy_state(state) for state in states]

    def _copy_state(self, state: S) -> S:
        """A copy of one series' state (deep unless the kind knows better)."""
        return copy.deepcopy(state)


class Captured:
    """One built-in metric's series at one moment (see :meth:`BuiltinMetric.capture`),
    with what turns them into the metric's snapshot dict, anywhere, in one go or in
    steps (see :mod:`mvx_metrics._steps`). Only the metric's settings are read from it
    then, and those never change."""

    __slots__ = ("_extra", "_keys", "_metric", "_overflow", "_overflow_events", "_states")

    def __init__(
        self,
        metric: BuiltinMetric[Any],
        keys: list[Hashable],
        states: list[Any],
        overflow: Any,
        overflow_events: int,
        extra: dict[str, Any],
    ) -> None:
        self._metric = metric
        self._keys = keys
        self._states = states
        self._overflow = overflow
        self._overflow_events = overflow_events
        self._extra = extra

    def snapshot(self) -> dict[str, Any]:
        """The metric's snapshot as of the capture (see :meth:`BuiltinMetric.snapshot`)."""
        return run_to_end(self.snapshot_steps())

    def snapshot_steps(self) -> Steps[dict[str, Any]]:
        """:meth:`snapshot`, pausing every :data:`~mvx_metrics._steps.SERIES_PER_STEP`
        series."""
        metric, keys, states = self._metric, self._keys, self._states
        labels_list = metric._labels.labels_list
        series: list[dict[str, Any]] = []
        for start in range(0, len(keys), SERIES_PER_STEP):
            if start:
                yield
            end = start + SERIES_PER_STEP
            series += metric._rows(labels_list(keys[start:end]), states[start:end])
        if self._overflow is not None:
            labels = metric._labels.overflow_labels(keys, OVERFLOW_LABEL_VALUE)
            series += metric._rows([labels], [self._overflow])
        return {
            "name": metric._name,
            "kind": metric.kind,
            "description": metric._description,
            "unit": metric._unit,
            **self._extra,
            "series": series,
            "overflow_events": self._overflow_events,
        }


class NumberSeries:
    """For the kinds whose series hold one number (``NumberCell.value``): a capture
    copies the values themselves, in C, and the rows are built in one comprehension.
    Put before :class:`BuiltinMetric` among the bases."""

    __slots__ = ()

    def _copy_states(self, states: Iterable[Any]) -> list[Any]:
        return list(map(copy_values, states))

    def _rows(self, labels: list[dict[str, str]], states: Iterable[Any]) -> list[dict[str, Any]]:
        return number_rows(labels, states)


def number_rows(labels: list[dict[str, str]], values: Iterable[Any]) -> list[dict[str, Any]]:
    """``{"labels": ..., "value": ...}`` rows of the number kinds, whose copied states are
    their values (see ``_copy_states``), in one comprehension, without a call per series."""
    return [{"labels": names, "value": value} for names, value in zip(labels, values, strict=True)]


#: A number kind's copy of its states: their values, read in C.
copy_values = attrgetter("value")


def can_reset(metric: Metric) -> bool:
    """True when :func:`reset_metric` can start ``metric`` from zero: a built-in metric,
    or a user-written one with a ``reset()`` method of its own."""
    return isinstance(metric, BuiltinMetric) or callable(getattr(metric, "reset", None))


def reset_metric(metric: Metric) -> bool:
    """Start ``metric`` from zero, as if no event had been applied: a built-in metric is
    cleared, a user-written one has its own ``reset()`` called if it has one. False when
    it cannot be (:func:`can_reset`; its state is kept). Only where no batch plan holds
    its series: a capturing recorder, or a forked child rebuilding its recorders."""
    if isinstance(metric, BuiltinMetric):
        metric._reset_state()
        return True
    if not can_reset(metric):
        return False
    metric.reset()  # type: ignore[attr-defined]
    return True


def series_lookup(labels: LabelReader, table: SeriesTable[S]) -> Callable[[MetricEvent], S]:
    """A function from an event to its series state, specialised for the label shape.

    A closure over locals rather than a method: it is on the per-event path of every
    labelled metric, and closure variables are cheaper to load than attributes of
    ``self`` (about 30 ns per event on CPython 3.11).
    """
    lookup = table._own_series().get
    admit = table._admit
    failed = labels.failed
    get = labels.get
    check_values = labels.check_new_values

    if labels.fn is not None:
        key_from_callable = labels.key_from_callable
        check_new_key = labels.check_new_key

        def from_callable(event: MetricEvent) -> S:
            key = key_from_callable(event)
            state = lookup(key)
            if state is None:
                check_new_key(event, key)
                check_values(event, key, OVERFLOW_LABEL_VALUE)
                state = admit(key)
            return state

        return from_callable

    if get is None:
        key_none: Hashable = ()

        def without_labels(event: MetricEvent) -> S:
            state = lookup(key_none)
            return admit(key_none) if state is None else state

        return without_labels

    if labels.arity == 1:

        def from_one_label(event: MetricEvent) -> S:
            try:
                raw = get(event)
            except AttributeError as exc:
                failed(event, exc)
            # type(), not __class__: an object may claim to be a str through __class__.
            key = raw if type(raw) is str else str(raw)
            state = lookup(key)
            if state is None:
                check_values(event, key, OVERFLOW_LABEL_VALUE)
                state = admit(key)
            return state

        return from_one_label

    def from_labels(event: MetricEvent) -> S:
        try:
            raw = get(event)
        except AttributeError as exc:
            failed(event, exc)
        key = tuple(map(str, raw))
        state = lookup(key)
        if state is None:
            check_values(event, key, OVERFLOW_LABEL_VALUE)
            state = admit(key)
        return state

    return from_labels
