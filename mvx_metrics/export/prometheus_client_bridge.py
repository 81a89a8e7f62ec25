"""A ``prometheus_client`` collector that yields metric families from snapshots.

``MvxCollector(source)`` plugs a recorder or a runtime into an existing
``prometheus_client`` registry, so its metrics are served by whatever already serves that
registry (``start_http_server``, ``make_wsgi_app``, ``generate_latest``). Each
``collect()`` takes one snapshot, with the blocking ``get_metric_snapshots(timeout=...)``:
``prometheus_client`` calls ``collect()`` from its scrape thread, never from a recorder's
loop, so blocking there is safe and gives read-your-writes scrapes.

Mapping (from the typed view of :func:`mvx_metrics.families_from_snapshots`):

- ``counter`` -> ``CounterMetricFamily`` (samples ``<name>_total``);
- ``updown_counter``, ``gauge`` -> ``GaugeMetricFamily``;
- ``histogram`` -> ``HistogramMetricFamily`` (``_bucket``/``_count``/``_sum``);
- ``distribution`` -> ``SummaryMetricFamily`` (``quantile`` samples, ``_count``, ``_sum``).

``prometheus_client`` is an optional dependency (extra ``prometheus``): it is imported when
a collector is built, never when :mod:`mvx_metrics` is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exposition.prometheus_text import (
    PROMETHEUS_TYPES,
    RESERVED_SUFFIXES,
    exposed_name,
    sanitize_unit,
    series_labels,
)
from ..snapshots import MetricFamily
from ._source import Source, check_source, read_source

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

__all__ = ["MvxCollector", "register_with_prometheus_client"]

logger = logging.getLogger("mvx_metrics.export")


def require_prometheus_client() -> None:
    """Raise a clear ImportError naming the extra when prometheus_client is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the prometheus_client bridge needs the 'prometheus-client' package: "
            "install it with `pip install 'mvx-metrics[prometheus]'`"
        ) from exc


@dataclass(slots=True)
class _Block:
    """One family being built, merged across recorders."""

    metric: Metric
    #: The recorders whose metric went in (None: a recorder source): a second metric of the
    #: same recorder under the same name would repeat its series.
    recorders: set[str | None] = field(default_factory=set)


class MvxCollector:
    """A ``prometheus_client`` custom collector serving the metrics of ``source``.

    ``source`` is a recorder or a :class:`~mvx_metrics.MetricsRuntime`; for a runtime,
    every sample carries a ``recorder`` label and the families of the same name are merged
    across recorders. Each :meth:`collect` takes one snapshot, waiting at most ``timeout``
    seconds (None: the source's own default); a failed snapshot fails the scrape (the
    error propagates to ``prometheus_client``) rather than serving partial data.

    Register it with ``registry.register(collector)`` or use
    :func:`register_with_prometheus_client`. Raises ImportError when prometheus_client is
    not installed.
    """

    def __init__(
        self, source: Source, *, timeout: float | None = None, include_stats: bool = True
    ) -> None:
        require_prometheus_client()
        self._source = check_source(source)
        self._timeout = timeout
        self._include_stats = include_stats
        # Problems already logged: they come back on every scrape.
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()

    @property
    def source(self) -> Source:
        """The recorder or runtime this collector reads."""
        return self._source

    def __repr__(self) -> str:
        return f"MvxCollector({self._source!r}, timeout={self._timeout!r})"

    def describe(self) -> list[Metric]:
        """Nothing: registering the collector must not take a snapshot.

        ``CollectorRegistry.register`` calls ``describe()`` to find name clashes; without
        this method it would call ``collect()`` (with ``auto_describe``) and block on the
        recorders. The price is that the registry cannot detect clashes with this
        collector's names.
        """
        return []

    def collect(self) -> list[Metric]:
        """One snapshot of the source, as ``prometheus_client`` metric families.

        Names follow :mod:`mvx_metrics.exposition.prometheus_text` (sanitised, ``_<unit>``
        suffix, counters' ``_total``), so a series has the same name here as on the
        package's own ``/metrics``. What that renderer refuses with ValueError (a name
        with two kinds, two metrics under one name, clashing sample or label names) is
        left out here with a warning instead: raising would fail the whole registry's
        scrape, the application's other metrics included.
        """
        from prometheus_client.metrics_core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            SummaryMetricFamily,
        )

        constructors: Mapping[str, Any] = {
            "counter": CounterMetricFamily,
            "gauge": GaugeMetricFamily,
            "histogram": HistogramMetricFamily,
            "summary": SummaryMetricFamily,
        }
        blocks: dict[str, _Block] = {}
        taken: dict[str, str] = {}  # sample name -> the family name that uses it
        read = read_source(self._source, self._timeout, include_stats=self._include_stats)
        for recorder_id, families in read:
            for family in families:
                name = exposed_name(family)
                typ = PROMETHEUS_TYPES[family.kind]
                where = _where(recorder_id, family.name)
                samples = _samples(name, family, recorder_id)
                if samples is None:
                    self._warn(f"{where} has label names that are equal once sanitised")
                    continue
                unit = sanitize_unit(family.unit)
                block = blocks.get(name)
                if block is None:
                    clash = next(
                        (name + s for s in RESERVED_SUFFIXES[typ] if name + s in taken), None
                    )
                    if clash is not None:
                        self._warn(f"{where} would expose {clash!r}, already taken")
                        continue
                    taken.update((name + s, name) for s in RESERVED_SUFFIXES[typ])
                    # The name already ends with the unit: no prometheus_client version
                    # appends it again (old ones raise on a missing suffix, new ones add it).
                    metric = constructors[typ](name, family.description, unit=unit)
                    block = blocks[name] = _Block(metric)
                elif block.metric.type != typ:
                    self._warn(
                        f"{where} is a {typ} exposed as {name!r}, already a {block.metric.type}"
                    )
                    continue
                elif recorder_id in block.recorders:
                    self._warn(f"{where} is exposed as {name!r}, as another metric")
                    continue
                # As the text renderer does: HELP and unit from the first recorder setting them.
                block.metric.documentation = block.metric.documentation or family.description
                block.metric.unit = block.metric.unit or unit
                block.recorders.add(recorder_id)
                for sample_name, labels, value in samples:
                    # add_sample, not add_metric: add_metric fixes one label-name list per
                    # family, but the series of a labels callable may differ in names, and
                    # summaries have no add_metric for quantiles.
                    block.metric.add_sample(sample_name, labels, value)
        return [block.metric for block in blocks.values()]

    def _warn(self, problem: str) -> None:
        # The same problem comes back on every scrape: log it once per collector.
        with self._warned_lock:
            if problem in self._warned:
                return
            self._warned.add(problem)
        logger.warning("prometheus_client bridge: %s; it is left out of the scrape", problem)


def _where(recorder_id: str | None, metric: str) -> str:
    return f"metric {metric!r}" + (
        f" of recorder {recorder_id!r}" if recorder_id is not None else ""
    )


def _samples(
    name: str, family: MetricFamily, recorder_id: str | None
) -> list[tuple[str, dict[str, str], float]] | None:
    """``(sample name, labels, value)`` for each sample; None if label names clash."""
    out: list[tuple[str, dict[str, str], float]] = []
    with_count_and_sum = True
    if family.kind == "histogram":
        first_bucket = next((s for s in family.samples if s.suffix == "_bucket"), None)
        # As HistogramMetricFamily does: with a negative bucket bound, `_sum` is no longer a
        # counter and OpenMetrics forbids it, and `_count` must go with it.
        if first_bucket is not None and float(dict(first_bucket.labels)["le"]) < 0:
            with_count_and_sum = False
    for sample in family.samples:
        if sample.suffix in ("_count", "_sum") and not with_count_and_sum:
            continue
        try:
            labels = series_labels(sample.labels, recorder_id)
        except ValueError:  # two label names equal once sanitised: left out, with the rest
            return None
        suffix = "_total" if family.kind == "counter" else sample.suffix
        out.append((name + suffix, labels, sample.value))
    return out


def register_with_prometheus_client(
    source: Source,
    registry: CollectorRegistry | None = None,
    *,
    timeout: float | None = None,
    include_stats: bool = True,
) -> MvxCollector:
    """Register an :class:`MvxCollector` for ``source`` with ``registry`` and return it.

    ``registry`` defaults to ``prometheus_client.REGISTRY`` (the one that
    ``start_http_server()`` and ``generate_latest()`` serve by default). Undo with
    ``registry.unregister(collector)``. Registration takes no snapshot.
    """
    collector = MvxCollector(source, timeout=timeout, include_stats=include_stats)
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    registry.register(collector)
    return collector
