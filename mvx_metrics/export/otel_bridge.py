"""Observable OpenTelemetry instruments on a ``MeterProvider``, fed by snapshots.

:func:`register_with_opentelemetry` makes the metrics of a recorder or a runtime part of
an OpenTelemetry ``MeterProvider``: whatever the provider's readers do with them (OTLP to
a collector, Prometheus, the console) then happens to our metrics too.

Mapping, one observable instrument per exported name (all cumulative, as our snapshots are):

======================  ====================================================================
our kind                instruments
======================  ====================================================================
``counter``             ``<name>``: ObservableCounter (monotonic)
``updown_counter``      ``<name>``: ObservableUpDownCounter
``gauge``               ``<name>``: ObservableGauge
``histogram``           ``<name>_bucket``: ObservableCounter, attribute ``le`` (cumulative
                        counts, as Prometheus); ``<name>_count``: ObservableCounter;
                        ``<name>_sum``: ObservableUpDownCounter
``distribution``        ``<name>``: ObservableGauge, attribute ``quantile``;
                        ``<name>_count``: ObservableCounter; ``<name>_sum``:
                        ObservableUpDownCounter
======================  ====================================================================

Why not OTel histograms: OpenTelemetry has no asynchronous histogram, and a synchronous
one only takes individual values, which a snapshot no longer has (replaying the bucket
counts into it each cycle would count them again). So histograms and distributions are
exported as the Prometheus model exposes them: cumulative counters of the bucket counts,
the count and the sum, and the quantiles as a gauge (quantiles cannot be aggregated
across series or time, which is what a gauge says). ``_sum`` is an up-down counter because
values may be negative, which makes the sum go down.

One snapshot per collection: the SDK calls every instrument's callback once per collection
(per reader). The first callback of a collection takes the snapshot and computes the
observations of every instrument; the others are served from it. A collection is told
from the next by *who has been served*: a callback whose instrument was already served
from the current snapshot starts a new one. Callbacks carry no collection id, and a time
window alone would either share one snapshot between two quick collections or split a
slow one; the served set does neither. A short window (:data:`CYCLE_WINDOW_S`) only
bounds how long a snapshot can wait for instruments a broken collection never called.

Metrics registered later: each snapshot shows every metric, so each collection finds the
new ones. Their instruments cannot be created during the collection (the SDK holds a
lock there that creating an instrument also takes: it would deadlock), so a helper thread
creates them as soon as that collection ends, and they are reported from the following
collection. :meth:`OpenTelemetryBridge.refresh` does it at once, so that the very next
collection has them.

``opentelemetry-api`` is an optional dependency (extra ``otel``): it is imported when a
bridge is registered, never when :mod:`mvx_metrics` is.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING

from ..exposition.prometheus_text import series_labels
from ..recorder.recorder import DEFAULT_TIMEOUT
from ..snapshots import MetricFamily
from ._source import Source, check_source, read_source

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

__all__ = ["CYCLE_WINDOW_S", "OpenTelemetryBridge", "register_with_opentelemetry"]

logger = logging.getLogger("mvx_metrics.export")

#: Seconds a snapshot keeps serving the instruments not yet served from it. The callbacks
#: of one collection run within moments of each other, so this only matters when a
#: collection stopped halfway (an SDK timeout): its snapshot must not be served to the next
#: collection. Too short a window costs an extra snapshot in a slow collection, no more.
CYCLE_WINDOW_S = 1.0

#: The name of the Meter the instruments live on (its version is the package's).
METER_NAME = "mvx_metrics"

# The OpenTelemetry API's own rules; the SDK refuses other names and units.
_OTEL_NAME = re.compile(r"[a-zA-Z][-_./a-zA-Z0-9]{0,254}")
_OTEL_INVALID_CHARS = re.compile(r"[^-_./a-zA-Z0-9]")
_OTEL_UNIT = re.compile(r"[\x00-\x7F]{0,63}")

#: Per kind: (sample suffix in the families view == instrument name suffix, instrument kind,
#: whether the instrument carries the metric's unit: counts of values have no unit).
_PARTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "counter": (("", "counter", True),),
    "updown_counter": (("", "updown_counter", True),),
    "gauge": (("", "gauge", True),),
    "histogram": (
        ("_bucket", "counter", False),
        ("_count", "counter", False),
        ("_sum", "updown_counter", True),
    ),
    "distribution": (
        ("", "gauge", True),
        ("_count", "counter", False),
        ("_sum", "updown_counter", True),
    ),
}


def require_opentelemetry() -> None:
    """Raise a clear ImportError naming the extra when the OpenTelemetry API is missing."""
    try:
        import opentelemetry.metrics  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the OpenTelemetry bridge needs the 'opentelemetry-api' package (and "
            "'opentelemetry-sdk' to export): install them with "
            "`pip install 'mvx-metrics[otel]'`"
        ) from exc


def otel_instrument_name(name: str) -> str:
    """``name`` made valid as an instrument name: other characters than
    ``[-_./a-zA-Z0-9]`` become ``_``, and a name not starting with a letter gets ``mvx_``
    in front (OpenTelemetry names must start with a letter)."""
    name = _OTEL_INVALID_CHARS.sub("_", name)
    return name if name[:1].isalpha() else f"mvx_{name}"


@dataclass(frozen=True, slots=True)
class _Spec:
    """One instrument to create, claimed by the first metric exported under its name."""

    name: str
    #: "counter", "updown_counter" or "gauge" (the observable instrument's kind).
    kind: str
    unit: str
    description: str
    #: The metric it came from, for messages.
    metric: str

    @property
    def key(self) -> str:
        # OpenTelemetry instrument names are case-insensitive.
        return self.name.lower()


@dataclass(slots=True)
class _Cycle:
    """One snapshot and the collection it serves."""

    #: Keys that had an instrument when the snapshot was taken: a newer instrument starts a
    #: new snapshot rather than be served one taken without regard to it.
    expected: frozenset[str]
    #: When the snapshot was taken (time.monotonic()).
    taken_at: float
    #: Instrument key -> its observations; empty when the snapshot failed.
    observations: dict[str, list[Observation]] = field(default_factory=dict)
    #: Keys whose callback has run on this snapshot: a second call starts a new one.
    served: set[str] = field(default_factory=set)


class OpenTelemetryBridge:
    """Observable instruments on a ``Meter``, reporting the metrics of ``source``.

    Made by :func:`register_with_opentelemetry`. Thread-safe. :meth:`close` (or leaving a
    ``with`` block) stops the reporting: the OpenTelemetry API cannot remove instruments,
    so they stay registered with the provider but report no data points from then on.
    """

    def __init__(
        self,
        source: Source,
        meter: Meter,
        *,
        timeout: float | None = None,
        include_stats: bool = True,
    ) -> None:
        self._source: Source | None = check_source(source)
        self._meter = meter
        self._timeout = timeout
        self._include_stats = include_stats
        # Guards everything below. Never held while calling the Meter: the SDK calls our
        # callbacks (which take it) while holding its own lock, and creating an instrument
        # takes that SDK lock; holding ours there would invert the order and deadlock.
        self._lock = threading.Lock()
        self._closed = False
        self._cycle: _Cycle | None = None
        #: Every exported name claimed so far (key -> spec), with an instrument or pending.
        self._specs: dict[str, _Spec] = {}
        self._pending: list[_Spec] = []
        #: Keys with an instrument, and those instruments (kept alive with the bridge).
        self._live: set[str] = set()
        self._instruments: list[object] = []
        self._names: list[str] = []
        self._creator: threading.Thread | None = None
        self._clashes_logged: set[str] = set()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._names)} instruments"
        return f"<OpenTelemetryBridge {state} source={self._source!r}>"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def instrument_names(self) -> tuple[str, ...]:
        """The names of the instruments created so far, in creation order."""
        with self._lock:
            return tuple(self._names)

    def close(self) -> None:
        """Stop reporting (idempotent). Drops the reference to the source."""
        with self._lock:
            self._closed = True
            self._source = None
            self._cycle = None
            self._pending.clear()

    def __enter__(self) -> OpenTelemetryBridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def refresh(self, *, timeout: float | None = None) -> int:
        """Create the instruments of metrics (and recorders) added since the last
        collection, now, so the next collection reports them; return how many were made.

        Takes one snapshot (waiting at most ``timeout`` seconds; None: the bridge's
        timeout). Without it, a collection finds them and they are reported from the one
        after. Do not call it from an instrument callback.
        """
        with self._lock:
            source = self._source
        if source is None:
            return 0
        read = read_source(
            source,
            self._timeout if timeout is None else timeout,
            include_stats=self._include_stats,
        )
        with self._lock:
            if self._closed:
                return 0
            self._observations(read)  # claims the new names, queues their instruments
        created = self._create_pending()
        # The helper thread may hold specs taken before ours: wait for it too, so that
        # every instrument known now exists when this returns.
        wait = timeout if timeout is not None else self._timeout
        self.wait_for_instruments(DEFAULT_TIMEOUT if wait is None else wait)
        return created

    def wait_for_instruments(self, timeout: float | None = None) -> bool:
        """Wait until the instruments that collections asked for exist; False if
        ``timeout`` seconds passed first. The helper thread creating them waits for the
        collection that found them to end."""
        with self._lock:
            creator = self._creator
        if creator is None or creator is threading.current_thread():
            return True
        creator.join(timeout)
        return not creator.is_alive()

    # --- collection ------------------------------------------------------------------

    def _observe(self, key: str, options: CallbackOptions) -> list[Observation]:
        """The callback of instrument ``key``: its observations from this cycle's snapshot."""
        with self._lock:
            if self._closed:
                return []
            cycle = self._cycle
            if (
                cycle is None
                or key in cycle.served
                or key not in cycle.expected
                or time.monotonic() - cycle.taken_at > CYCLE_WINDOW_S
            ):
                cycle = self._new_cycle(key, options)
            cycle.served.add(key)
            return cycle.observations.get(key, [])

    def _new_cycle(self, key: str, options: CallbackOptions) -> _Cycle:
        # Stored before the snapshot is taken: if it fails, the error propagates once (the
        # SDK logs it) and the other instruments of this collection find an empty cycle,
        # instead of each waiting for a snapshot of its own that would fail the same way.
        cycle = self._cycle = _Cycle(frozenset(self._live), time.monotonic(), served={key})
        assert self._source is not None  # the callers check _closed
        # Within the SDK's remaining collection time, and ours if we have one.
        timeout = max(options.timeout_millis / 1000.0, 0.001)
        if self._timeout is not None:
            timeout = min(timeout, self._timeout)
        read = read_source(self._source, timeout, include_stats=self._include_stats)
        cycle.observations = self._observations(read)
        cycle.taken_at = time.monotonic()
        if self._pending:
            self._start_creator()
        return cycle

    def _observations(
        self, read: list[tuple[str | None, list[MetricFamily]]]
    ) -> dict[str, list[Observation]]:
        """Every instrument's observations in one snapshot; claims new names (caller holds
        the lock)."""
        from opentelemetry.metrics import Observation

        observations: dict[str, list[Observation]] = {}
        for recorder_id, families in read:
            for family in families:
                base = otel_instrument_name(family.name)
                unit = family.unit if _OTEL_UNIT.fullmatch(family.unit) else ""
                for suffix, kind, has_unit in _PARTS[family.kind]:
                    spec = _Spec(
                        name=base + suffix,
                        kind=kind,
                        unit=unit if has_unit else "",
                        description=family.description,
                        metric=family.name,
                    )
                    if not self._claim(spec):
                        continue
                    out = observations.setdefault(spec.key, [])
                    for sample in family.samples:
                        # The SDK drops non-finite values with a warning per value: an empty
                        # distribution's NaN quantiles and infinite gauges are not reported.
                        if sample.suffix == suffix and math.isfinite(sample.value):
                            labels = series_labels(sample.labels, recorder_id)
                            out.append(Observation(sample.value, labels))
        return observations

    def _claim(self, spec: _Spec) -> bool:
        """True when ``spec``'s instrument exists or is queued; False on a name clash."""
        known = self._specs.get(spec.key)
        if known is not None:
            if known.kind == spec.kind:
                return True
            self._log_once(
                spec.key,
                "OpenTelemetry bridge: %r from metric %r is already a %s from metric %r; "
                "it is not reported",
                spec.name,
                spec.metric,
                known.kind,
                known.metric,
            )
            return False
        if not _OTEL_NAME.fullmatch(spec.name):  # only too long names remain invalid
            self._log_once(spec.key, "OpenTelemetry bridge: %r is too long", spec.name)
            return False
        self._specs[spec.key] = spec
        self._pending.append(spec)
        return True

    def _log_once(self, key: str, message: str, *args: object) -> None:
        # The same clash is found by every collection: say it once.
        if key not in self._clashes_logged:
            self._clashes_logged.add(key)
            logger.warning(message, *args)

    # --- instrument creation (never under self._lock) -----------------------------------

    def _start_creator(self) -> None:
        """Create the pending instruments on a helper thread (caller holds the lock)."""
        if self._creator is not None or self._closed:
            return
        thread = threading.Thread(
            target=self._create_pending, name="mvx-otel-instruments", daemon=True
        )
        self._creator = thread
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: nothing will collect any more
            self._creator = None

    def _create_pending(self) -> int:
        """Create every pending instrument; runs on the helper thread or in refresh()."""
        me = threading.current_thread()
        created = 0
        while True:
            with self._lock:
                specs, self._pending = self._pending, []
                if not specs or self._closed:
                    if self._creator is me:
                        self._creator = None  # under the lock: no new spec is left behind
                    return created
            for spec in specs:
                # Blocks while a collection holds the SDK's lock, which is why this is
                # not done in the callback that found the spec.
                instrument = self._create(spec)
                if instrument is None:
                    continue
                with self._lock:
                    self._instruments.append(instrument)
                    self._live.add(spec.key)
                    self._names.append(spec.name)
                created += 1

    def _create(self, spec: _Spec) -> object | None:
        callback: Callable[[CallbackOptions], Iterable[Observation]] = partial(
            self._observe, spec.key
        )
        meter = self._meter
        factory = {
            "counter": meter.create_observable_counter,
            "updown_counter": meter.create_observable_up_down_counter,
            "gauge": meter.create_observable_gauge,
        }[spec.kind]
        try:
            return factory(
                spec.name, callbacks=[callback], unit=spec.unit, description=spec.description
            )
        except Exception:
            # A Meter implementation refused it; the others must still be created.
            logger.exception("OpenTelemetry bridge: cannot create instrument %r", spec.name)
            return None


def register_with_opentelemetry(
    source: Source,
    meter_provider: MeterProvider | None = None,
    *,
    timeout: float | None = None,
    include_stats: bool = True,
) -> OpenTelemetryBridge:
    """Report the metrics of ``source`` (a recorder or a runtime) through ``meter_provider``.

    ``meter_provider`` defaults to the global one (``opentelemetry.metrics
    .get_meter_provider()``); the instruments live on its meter ``"mvx_metrics"``. Series
    labels become attributes; for a runtime, each observation also carries a ``recorder``
    attribute (a metric's own ``recorder`` label becomes ``exported_recorder``). Each
    collection takes one snapshot of ``source``, waiting at most ``timeout`` seconds and
    never beyond the SDK's collection deadline. This call takes one snapshot to create the
    instruments of the metrics that exist now: call it from a plain thread, not from a
    recorder's own loop. Each recorder's stats are reported too (``mvx_recorder_*``
    instruments) unless ``include_stats`` is False. Raises ImportError when the
    OpenTelemetry API is not installed.
    """
    require_opentelemetry()
    from opentelemetry import metrics

    from .. import __version__

    checked = check_source(source)
    provider = metrics.get_meter_provider() if meter_provider is None else meter_provider
    bridge = OpenTelemetryBridge(
        checked,
        provider.get_meter(METER_NAME, __version__),
        timeout=timeout,
        include_stats=include_stats,
    )
    try:
        bridge.refresh()
    except BaseException:
        bridge.close()
        raise
    return bridge
