"""Metrics: the ``Metric`` base class and the built-in metrics configured from event fields.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
One module per kind (:mod:`.counter`, :mod:`.gauge`, :mod:`.histogram`,
:mod:`.distribution`) over :mod:`.base` (the ``Metric`` ABC); the underscored modules
are what the kinds share (value reading, the series table, the sketch, exemplars, and
the fragments the recorder compiles into its batch functions).
"""

from ._series import DEFAULT_MAX_SERIES as DEFAULT_MAX_SERIES
from ._series import OVERFLOW_LABEL_VALUE as OVERFLOW_LABEL_VALUE
from ._sketch import QuantileSketch as QuantileSketch
from .base import Metric as Metric
from .counter import Counter as Counter
from .counter import UpDownCounter as UpDownCounter
from .distribution import Distribution as Distribution
from .gauge import Gauge as Gauge
from .histogram import DEFAULT_BUCKETS as DEFAULT_BUCKETS
from .histogram import Histogram as Histogram

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_MAX_SERIES",
    "OVERFLOW_LABEL_VALUE",
    "Counter",
    "Distribution",
    "Gauge",
    "Histogram",
    "Metric",
    "QuantileSketch",
    "UpDownCounter",
]
