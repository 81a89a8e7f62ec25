"""mvx_metrics: metric events in, metrics out, on an event loop the app never blocks on.

Production code calls ``recorder.register_event(event=...)`` from any thread; the recorder
applies events to metrics on its owning event loop (a runtime-owned uvloop thread by
default, or the application's own asyncio or trio loop) and serves snapshots anywhere.

Migrating from mvx-common 0.3: change ``from mvx.common.metrics import ...`` to
``from mvx_metrics.compat import ...`` (see docs/migration.md).
"""

from . import _process  # noqa: F401 (its start time must precede every metric)
from .errors import MetricsError as MetricsError
from .errors import MetricsMetricError as MetricsMetricError
from .errors import MetricsRecorderCancelledError as MetricsRecorderCancelledError
from .errors import MetricsRecorderDeadlockError as MetricsRecorderDeadlockError
from .errors import MetricsRecorderError as MetricsRecorderError
from .errors import MetricsRecorderInvalidStateError as MetricsRecorderInvalidStateError
from .errors import MetricsRecorderLoopUnavailableError as MetricsRecorderLoopUnavailableError
from .errors import MetricsRecorderMetricFailedError as MetricsRecorderMetricFailedError
from .errors import (
    MetricsRecorderOnStartingHookFailedError as MetricsRecorderOnStartingHookFailedError,
)
from .errors import (
    MetricsRecorderOnStoppedHookFailedError as MetricsRecorderOnStoppedHookFailedError,
)
from .errors import MetricsRecorderOverflowError as MetricsRecorderOverflowError
from .errors import MetricsRecorderTimeoutError as MetricsRecorderTimeoutError
from .errors import MetricsRecorderUnexpectedError as MetricsRecorderUnexpectedError
from .errors import MetricsRuntimeDeadlockError as MetricsRuntimeDeadlockError
from .errors import MetricsRuntimeError as MetricsRuntimeError
from .errors import MetricsRuntimeInvalidStateError as MetricsRuntimeInvalidStateError
from .errors import (
    MetricsRuntimeRecorderAlreadyExistsError as MetricsRuntimeRecorderAlreadyExistsError,
)
from .errors import MetricsRuntimeRecorderError as MetricsRuntimeRecorderError
from .errors import MetricsRuntimeRecorderNotFoundError as MetricsRuntimeRecorderNotFoundError
from .errors import MetricsRuntimeRecorderStartupError as MetricsRuntimeRecorderStartupError
from .errors import MetricsRuntimeRecorderStopError as MetricsRuntimeRecorderStopError
from .errors import MetricsRuntimeShutdownError as MetricsRuntimeShutdownError
from .errors import MetricsRuntimeStartupError as MetricsRuntimeStartupError
from .errors import MetricsRuntimeTimeoutError as MetricsRuntimeTimeoutError
from .errors import MetricsRuntimeUnexpectedError as MetricsRuntimeUnexpectedError
from .errors import MetricValueError as MetricValueError
from .events import MetricEvent as MetricEvent
from .metrics import Counter as Counter
from .metrics import Distribution as Distribution
from .metrics import Gauge as Gauge
from .metrics import Histogram as Histogram
from .metrics import Metric as Metric
from .metrics import QuantileSketch as QuantileSketch
from .metrics import UpDownCounter as UpDownCounter
from .recorder import AsyncioMetricsRecorder as AsyncioMetricsRecorder
from .recorder import MetricErrorPolicy as MetricErrorPolicy
from .recorder import MetricsRecorder as MetricsRecorder
from .recorder import MetricsRecorderProto as MetricsRecorderProto
from .recorder import Operation as Operation
from .recorder import OpResult as OpResult
from .recorder import OverflowPolicy as OverflowPolicy
from .recorder import ProcessingDelay as ProcessingDelay
from .recorder import RecorderState as RecorderState
from .recorder import RecorderStats as RecorderStats
from .recorder import WaitHandle as WaitHandle
from .runtime import MetricsRuntime as MetricsRuntime
from .runtime import RuntimeState as RuntimeState
from .snapshots import MetricFamily as MetricFamily
from .snapshots import Sample as Sample
from .snapshots import families_from_snapshots as families_from_snapshots

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncioMetricsRecorder",
    "Counter",
    "Distribution",
    "Gauge",
    "Histogram",
    "Metric",
    "MetricErrorPolicy",
    "MetricEvent",
    "MetricFamily",
    "MetricValueError",
    "MetricsError",
    "MetricsMetricError",
    "MetricsRecorder",
    "MetricsRecorderCancelledError",
    "MetricsRecorderDeadlockError",
    "MetricsRecorderError",
    "MetricsRecorderInvalidStateError",
    "MetricsRecorderLoopUnavailableError",
    "MetricsRecorderMetricFailedError",
    "MetricsRecorderOnStartingHookFailedError",
    "MetricsRecorderOnStoppedHookFailedError",
    "MetricsRecorderOverflowError",
    "MetricsRecorderProto",
    "MetricsRecorderTimeoutError",
    "MetricsRecorderUnexpectedError",
    "MetricsRuntime",
    "MetricsRuntimeDeadlockError",
    "MetricsRuntimeError",
    "MetricsRuntimeInvalidStateError",
    "MetricsRuntimeRecorderAlreadyExistsError",
    "MetricsRuntimeRecorderError",
    "MetricsRuntimeRecorderNotFoundError",
    "MetricsRuntimeRecorderStartupError",
    "MetricsRuntimeRecorderStopError",
    "MetricsRuntimeShutdownError",
    "MetricsRuntimeStartupError",
    "MetricsRuntimeTimeoutError",
    "MetricsRuntimeUnexpectedError",
    "OpResult",
    "Operation",
    "OverflowPolicy",
    "ProcessingDelay",
    "QuantileSketch",
    "RecorderState",
    "RecorderStats",
    "RuntimeState",
    "Sample",
    "UpDownCounter",
    "WaitHandle",
    "families_from_snapshots",
]

# Public classes report the package as their home, as in tracebacks and docs.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("mvx_metrics."):
        _obj.__module__ = "mvx_metrics"
del _name, _obj
