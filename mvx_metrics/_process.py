"""Who this process is, for exporters: when mvx_metrics started counting, an id, and
its ``/proc`` files.

Imported with the package, so that :data:`STARTED_NS` is earlier than any metric: every
cumulative value was counted after it, which is what OpenTelemetry's cumulative start time
says (the Collector's Prometheus receiver uses the process start the same way).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

__all__ = ["STARTED_NS", "instance_id", "read_proc_file", "started_ns"]

#: Unix time (ns) at which this process imported mvx_metrics.
STARTED_NS = time.time_ns()


@dataclass(frozen=True, slots=True)
class _Identity:
    pid: int
    instance_id: str
    started_ns: int


_identity = _Identity(os.getpid(), str(uuid.uuid4()), STARTED_NS)


def instance_id() -> str:
    """A random id of this process (OpenTelemetry's ``service.instance.id``): the same for
    the life of the process, a new one in a forked child."""
    return _current().instance_id


def started_ns() -> int:
    """:data:`STARTED_NS`; in a forked child, the time of the fork."""
    return _current().started_ns


def read_proc_file(path: str) -> str | None:
    """The text of a ``/proc`` file (Latin-1: a process's name may be any bytes), None if
    it cannot be read.

    Read as bytes and decoded by ``bytes.decode``, whose Latin-1 needs no codec lookup:
    ``open(path, encoding=...)`` looks its codec up, which imports ``encodings.<name>``
    the first time. Background threads (the publisher's) read these files, and a fork
    (gunicorn's master forking workers) while one of them is in that import leaves the
    child with the module's import lock held by a thread it does not have: the child's
    first read of the same file then waits forever."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except OSError:
        return None


def _current() -> _Identity:
    global _identity
    identity = _identity
    if identity.pid != os.getpid():  # a fork that register_at_fork did not see
        identity = _identity = _Identity(os.getpid(), str(uuid.uuid4()), time.time_ns())
    return identity


def _after_fork_in_child() -> None:
    global _identity
    _identity = _Identity(os.getpid(), str(uuid.uuid4()), time.time_ns())


os.register_at_fork(after_in_child=_after_fork_in_child)
