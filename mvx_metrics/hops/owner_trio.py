"""Reaching a trio owning run."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import trio

from . import OwnerGoneError

__all__ = ["TrioOwnerHop"]


class TrioOwnerHop:
    """Owner hop for a trio run, through its ``TrioToken``."""

    library = "trio"

    def __init__(self, token: trio.lowlevel.TrioToken, thread_id: int) -> None:
        self.token = token
        self.thread_id = thread_id
        self._finished = False

    @classmethod
    def current(cls) -> TrioOwnerHop:
        return cls(trio.lowlevel.current_trio_token(), threading.get_ident())

    def call_soon(self, callback: Callable[[], object]) -> None:
        try:
            self.token.run_sync_soon(callback)
        except trio.RunFinishedError as exc:
            self._finished = True
            raise OwnerGoneError("the owning trio run has finished") from exc

    def spawn(self, task_fn: Callable[[], Awaitable[None]], name: str) -> None:
        # A system task: it belongs to the run, not to whichever task called start(), and
        # is cancelled (-> recorder CANCELLED) when the run's main task returns.
        trio.lowlevel.spawn_system_task(task_fn, name=name)

    def is_alive(self) -> bool:
        return not self._finished
