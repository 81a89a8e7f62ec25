"""Publishing a runtime's snapshots to the shared directory, off the hot path.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.multiprocess`.

A daemon thread publishes every ``interval`` seconds; a scrape this process serves
publishes first, so that it shows this process as of now; the runtime's shutdown (and
so the exit hook) publishes a last time, marked exited, so that its totals are kept in
the archive. What a scrape shows of another process is at most ``interval`` old.

Given ``read_process`` (a runtime with ``process_metrics=True``), each publication but
the exit one also carries the process's own families as of then (see
:mod:`.per_process`); the exit one has none, since an exited process's are never shown.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..recorder.stats import RecorderStats
from ..snapshots import MetricFamily
from .directory import MultiprocessDirectory

__all__ = ["DEFAULT_PUBLISH_INTERVAL", "PUBLISH_WAIT_S", "Publisher"]

logger = logging.getLogger("mvx_metrics.multiprocess")

#: Seconds between two publications of a process's snapshots.
DEFAULT_PUBLISH_INTERVAL = 5.0
#: Longest a publication waits for the one in progress (another thread's) to end: past
#: it, it is skipped and counted, and a scrape goes on with the file as it is.
PUBLISH_WAIT_S = 10.0

Snapshots = Mapping[str, Mapping[str, Mapping[str, Any]]]
#: Reads the runtime's snapshots and stats, within a timeout (None: the runtime's own).
ReadNow = Callable[[float | None], tuple[Snapshots, Mapping[str, RecorderStats]]]
ReadProcess = Callable[[], Iterable[MetricFamily]]


class Publisher:
    """Publishes ``read_now()`` (and ``read_process()``, if given) to ``directory``
    periodically, on request and at the end."""

    def __init__(
        self,
        directory: MultiprocessDirectory,
        read_now: ReadNow,
        interval: float,
        read_process: ReadProcess | None = None,
    ):
        self.directory = directory
        self._read_now = read_now
        self._read_process = read_process
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one publication at a time
        self._thread: threading.Thread | None = None
        self.failures = 0

    def start(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()  # new in a forked child, as the thread
        self._thread = threading.Thread(target=self._run, name="mvx-metrics-publisher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = None if math.isinf(self._interval) else self._interval  # inf: never
        while not self._stop.wait(interval):
            self.publish()

    def publish(
        self, *, exited: bool = False, read_now: ReadNow | None = None, timeout: float | None = None
    ) -> bool:
        """Publish now; False (logged, counted) if reading or writing failed, or if the
        publication in progress did not end within :data:`PUBLISH_WAIT_S` (or
        ``timeout``, if shorter). ``timeout`` bounds the wait and the read together (a
        scrape's own timeout); None: PUBLISH_WAIT_S, then the runtime's timeout."""
        wait = PUBLISH_WAIT_S if timeout is None else min(PUBLISH_WAIT_S, max(timeout, 0.0))
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._lock.acquire(timeout=wait):
            self.failures += 1
            logger.warning(
                "publishing to %s skipped: the publication in progress took over %ss",
                self.directory.path,
                round(wait, 3),
            )
            return False
        try:
            left = None if deadline is None else max(0.001, deadline - time.monotonic())
            recorders, stats = (read_now or self._read_now)(left)
            process = None
            if self._read_process is not None and not exited:
                process = self._read_process()
            self.directory.publish(recorders, stats, exited=exited, process=process)
            return True
        except Exception:
            self.failures += 1
            logger.exception("publishing to %s failed", self.directory.path)
            return False
        finally:
            self._lock.release()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
