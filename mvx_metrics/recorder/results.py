"""``OpResult`` and ``WaitHandle``: how start() and stop() report back.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..errors import (
    MetricsError,
    MetricsRecorderDeadlockError,
    MetricsRecorderTimeoutError,
    MetricsRecorderUnexpectedError,
)
from ..hops import OwnerHop
from ..hops.waiting import Completion, wait_async, wait_blocking

__all__ = ["OpResult", "Operation", "WaitHandle"]


class Operation(StrEnum):
    """The lifecycle operation a handle or result is about."""

    START = "START"
    STOP = "STOP"


@dataclass(frozen=True, slots=True)
class OpResult:
    """The outcome of a lifecycle operation: never raised, always returned."""

    op: Operation
    success: bool
    error: MetricsError | None = None

    @property
    def op_name(self) -> Operation:
        """Alias of ``op`` (the mvx-common 0.3 field name)."""
        return self.op


def _deadlock(what: str) -> MetricsRecorderDeadlockError:
    return MetricsRecorderDeadlockError(
        f"{what}: waiting on the recorder's own event-loop thread would deadlock; "
        "use 'await handle' there",
        details={"operation": what},
    )


def _timeout(what: str) -> MetricsRecorderTimeoutError:
    return MetricsRecorderTimeoutError(
        f"{what} did not complete in time", details={"operation": what}
    )


class WaitHandle:
    """A scheduled ``start()`` or ``stop()``.

    ``handle.wait(timeout)`` blocks a plain thread; ``await handle`` works from asyncio or
    trio code on any thread. Both return an :class:`OpResult`; a failed operation is
    reported in it, not raised. Only a wait that runs out of time raises
    ``MetricsRecorderTimeoutError``, and a blocking wait on the recorder's own loop thread
    raises ``MetricsRecorderDeadlockError``. Cancelling an ``await handle`` abandons the
    wait, never the operation.
    """

    __slots__ = ("_completion", "_default_timeout", "_owner", "op")

    def __init__(
        self,
        op: Operation,
        completion: Completion[None],
        *,
        owner: OwnerHop | None,
        default_timeout: float,
    ) -> None:
        self.op = op
        self._completion = completion
        self._owner = owner
        self._default_timeout = default_timeout

    def done(self) -> bool:
        """True once the operation has finished, successfully or not."""
        return self._completion.done()

    def wait(self, timeout: float | None = None) -> OpResult:
        """Block until the operation finishes, at most ``timeout`` seconds (default: the
        recorder's timeout). An operation that failed is an :class:`OpResult` with its
        error, not an exception.

        Raises:
            MetricsRecorderTimeoutError: it did not finish within ``timeout``.
            MetricsRecorderDeadlockError: called on the owning loop's thread, which the
                operation needs.
        """
        try:
            wait_blocking(
                self._completion,
                timeout=self._default_timeout if timeout is None else timeout,
                owner=self._owner,
                deadlock_error=_deadlock,
                timeout_error=_timeout,
                what=f"recorder {self.op.lower()}",
            )
        except (MetricsRecorderTimeoutError, MetricsRecorderDeadlockError):
            raise
        except Exception as exc:
            return self._failed(exc)
        return OpResult(self.op, True)

    async def wait_async(self, timeout: float | None = None) -> OpResult:
        """The awaitable form of :meth:`wait`; ``await handle`` calls this."""
        try:
            await wait_async(
                self._completion,
                timeout=self._default_timeout if timeout is None else timeout,
                timeout_error=_timeout,
                what=f"recorder {self.op.lower()}",
            )
        except MetricsRecorderTimeoutError:
            raise
        except Exception as exc:
            return self._failed(exc)
        return OpResult(self.op, True)

    def __await__(self) -> Generator[Any, None, OpResult]:
        return self.wait_async().__await__()

    def _failed(self, exc: Exception) -> OpResult:
        error = exc if isinstance(exc, MetricsError) else MetricsRecorderUnexpectedError(cause=exc)
        return OpResult(self.op, False, error)

    def __repr__(self) -> str:
        return f"<WaitHandle {self.op} done={self.done()}>"
