"""The process's own metrics, with prometheus_client's standard names and meanings.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`.

Read at scrape time, never kept: a runtime's exposition ends with them unless the
runtime was made with ``process_metrics=False``.

- ``process_cpu_seconds_total``: user and system CPU time of every thread;
- ``process_resident_memory_bytes``, ``process_virtual_memory_bytes``;
- ``process_open_fds``, ``process_max_fds``;
- ``process_start_time_seconds``: when the process started, in seconds since the epoch;
- ``python_gc_objects_collected_total``, ``python_gc_objects_uncollectable_total``,
  ``python_gc_collections_total``, each by ``generation``;
- ``python_info``: 1, labelled with the implementation and version;
- ``mvx_runtime_loop_lag_seconds``: how late the runtime's loop ran its last probe timer
  (see ``runtime/loop_thread.py``): the time an event or a read waits for the loop
  beyond its own work.

The memory, descriptor and start-time figures come from ``/proc`` (Linux), as
prometheus_client's do; where it does not exist they are left out, and CPU time comes
from ``resource``.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import time

from .._process import read_proc_file
from ..snapshots import MetricFamily, Sample

__all__ = ["PROCESS_FAMILY_NAMES", "process_families"]

#: Every family :func:`process_families` may give, in its order.
PROCESS_FAMILY_NAMES = (
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "python_gc_objects_collected",
    "python_gc_objects_uncollectable",
    "python_gc_collections",
    "python_info",
    "mvx_runtime_loop_lag_seconds",
)

_PAGE_SIZE = resource.getpagesize()
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_families(loop_lag: float | None = None) -> list[MetricFamily]:
    """The process's metrics now; ``loop_lag`` (seconds) adds the runtime loop's lag."""
    families = [_cpu()]
    families += _memory()
    families += _fds()
    families += _start_time()
    families += _gc()
    families.append(_python_info())
    if loop_lag is not None:
        families.append(
            _gauge(
                "mvx_runtime_loop_lag_seconds",
                "How late the runtime's loop ran its latest probe timer.",
                loop_lag,
            )
        )
    return families


def _cpu() -> MetricFamily:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return MetricFamily(
        "process_cpu_seconds",
        "counter",
        "Total user and system CPU time spent in seconds.",
        "",
        (Sample("", (), usage.ru_utime + usage.ru_stime),),
    )


def _memory() -> list[MetricFamily]:
    statm = read_proc_file("/proc/self/statm")
    if statm is None:
        return []
    size, resident = (int(field) for field in statm.split()[:2])
    return [
        _gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            resident * _PAGE_SIZE,
        ),
        _gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", size * _PAGE_SIZE),
    ]


def _fds() -> list[MetricFamily]:
    try:
        open_fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        return []
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    families = [_gauge("process_open_fds", "Number of open file descriptors.", open_fds)]
    if soft != resource.RLIM_INFINITY:
        families.append(_gauge("process_max_fds", "Maximum number of open file descriptors.", soft))
    return families


def _start_time() -> list[MetricFamily]:
    stat, uptime = read_proc_file("/proc/self/stat"), read_proc_file("/proc/uptime")
    if stat is None or uptime is None:
        return []
    # Field 22 (starttime, in clock ticks since boot) counts from after the command,
    # which may hold spaces and parentheses: split after the last ")".
    started_ticks = int(stat.rpartition(")")[2].split()[19])
    boot = time.time() - float(uptime.split()[0])
    return [
        _gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            boot + started_ticks / _TICKS,
        )
    ]


def _gc() -> list[MetricFamily]:
    stats = gc.get_stats()

    def by_generation(key: str) -> tuple[Sample, ...]:
        return tuple(
            Sample("", (("generation", str(i)),), float(gen[key])) for i, gen in enumerate(stats)
        )

    return [
        MetricFamily(
            "python_gc_objects_collected",
            "counter",
            "Objects collected during gc.",
            "",
            by_generation("collected"),
        ),
        MetricFamily(
            "python_gc_objects_uncollectable",
            "counter",
            "Uncollectable objects found during GC.",
            "",
            by_generation("uncollectable"),
        ),
        MetricFamily(
            "python_gc_collections",
            "counter",
            "Number of times this generation was collected.",
            "",
            by_generation("collections"),
        ),
    ]


def _python_info() -> MetricFamily:
    major, minor, patch = platform.python_version_tuple()
    labels = (
        ("implementation", platform.python_implementation()),
        ("major", major),
        ("minor", minor),
        ("patchlevel", patch),
        ("version", platform.python_version()),
    )
    return MetricFamily(
        "python_info", "gauge", "Python platform information.", "", (Sample("", labels, 1.0),)
    )


def _gauge(name: str, description: str, value: float) -> MetricFamily:
    return MetricFamily(name, "gauge", description, "", (Sample("", (), float(value)),))
