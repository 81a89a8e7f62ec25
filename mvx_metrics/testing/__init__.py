"""Testing code that emits metrics: a capturing recorder, and exact reads and assertions.

- :class:`CapturingRecorder`: a ``MetricsRecorderProto`` for unit tests, with no loop and
  no thread, that keeps every event and applies it to the registered metrics at once;
- :func:`value`, :func:`series`, :func:`assert_value`: one series' value out of
  snapshots (a recorder's or a runtime's), with errors that list what exists;
- :func:`diff` and :func:`capture`: what changed between two snapshots, or in a block.

See the docs page "Testing code that emits metrics".
"""

from .capturing import CapturingRecorder as CapturingRecorder
from .reading import Capture as Capture
from .reading import MetricNotFoundError as MetricNotFoundError
from .reading import SeriesNotFoundError as SeriesNotFoundError
from .reading import assert_value as assert_value
from .reading import capture as capture
from .reading import diff as diff
from .reading import series as series
from .reading import value as value

__all__ = [
    "Capture",
    "CapturingRecorder",
    "MetricNotFoundError",
    "SeriesNotFoundError",
    "assert_value",
    "capture",
    "diff",
    "series",
    "value",
]
