"""One view of a process group's metrics: each process publishes, any one of them merges.

A runtime made with ``MetricsRuntime(multiprocess_dir=DIR)`` publishes its recorders'
snapshots and stats to one file in ``DIR`` per process life (:mod:`.directory`), off the hot
path: every ``publish_interval`` seconds, before each scrape it serves, and at exit. Its
expositions (``serve_http()``, the ASGI app, ``render_prometheus``) then show the merge
of every file (:mod:`.merging`): the group's metrics, as one process would show them.
``python -m mvx_metrics serve --multiprocess-dir DIR`` serves the same from outside.
"""

from ..metrics.gauge import GAUGE_MULTIPROCESS_MODES as GAUGE_MULTIPROCESS_MODES
from .directory import MultiprocessDirectory as MultiprocessDirectory
from .merging import merge_snapshots as merge_snapshots

__all__ = ["GAUGE_MULTIPROCESS_MODES", "MultiprocessDirectory", "merge_snapshots"]
