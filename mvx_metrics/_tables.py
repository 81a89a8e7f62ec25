"""The empty table a recorder's core and a built-in metric hold until their first entry.

Internal: not part of the public API.

A recorder's core keeps five small tables (routes, plans, metric errors, refusals,
processing delays), and each labelled built-in metric its table of series, that stay
empty for most of a runtime's recorders, often for good: an idle recorder never routes,
fails or waits, and its metrics see no event. Each empty dict is 64 bytes and one more
object a full garbage collection visits, per recorder. They all start as :data:`EMPTY`,
one shared dict, and the first write replaces it with a dict of their own
(:func:`own`).

:data:`EMPTY` refuses writes, so that a write that forgot :func:`own` fails loudly rather
than change every recorder's table at once.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

__all__ = ["EMPTY", "own"]

K = TypeVar("K")
V = TypeVar("V")


class _Empty(dict[Any, Any]):
    """A dict that stays empty: every write raises."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("the shared empty table is read-only: replace it with own() first")

    __setitem__ = __delitem__ = setdefault = update = pop = popitem = clear = _refuse
    __ior__ = _refuse

    # Copies are the table itself, so that a copy of a metric or recorder part still
    # holds *the* shared table, which ``own()`` recognises, and not a read-only stranger.
    def __copy__(self) -> _Empty:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _Empty:
        return self

    def __reduce__(self) -> str:
        return "EMPTY"


#: The one empty table every recorder starts with.
EMPTY: dict[Any, Any] = _Empty()


def own(table: dict[K, V]) -> dict[K, V]:
    """``table`` itself if it is a recorder's own, else a new empty dict to store."""
    return {} if table is EMPTY else table
