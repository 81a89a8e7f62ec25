"""Work that can pause: generators that yield ``None`` where the work may stop for a
moment, and return their result.

A scrape renders thousands of series. Run to the end in one go (:func:`run_to_end`) it
is an ordinary function call; driven by a serving loop, which gives its other tasks a
turn at each pause once a slice of time has passed (``export.scrape``), the same code
never holds that loop for long, without a worker thread competing for the GIL.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeAlias, TypeVar

__all__ = ["SERIES_PER_STEP", "Steps", "run_to_end"]

T = TypeVar("T")

#: Work that pauses (yields None) now and then and returns a T.
Steps: TypeAlias = Generator[None, None, T]

#: Series handled between two pauses: a few hundred microseconds of work at most.
SERIES_PER_STEP = 64


def run_to_end(steps: Steps[T]) -> T:
    """The result of ``steps``, run without pausing."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
