"""How a built-in metric applies one event inside a generated batch function.

The recorder compiles one function per event class that applies a run of events to all
the built-in metrics routed to it (``recorder/plans.py``). Each kind contributes a
:class:`Fragment`: where its value and labels are read, the condition under which the
event can be applied without further checks, and the statements that apply it. Anything
the condition does not vouch for (a value of another type, NaN, a new label set, a
missing attribute) goes through the metric's own ``handle_event``, so the outcome is
exactly the per-event one.

Templates name their locals in braces, filled in per metric by the planner:
``{v}`` the value, ``{s}`` the series state, ``{k}`` a run-length count, ``{t}`` and
``{u}`` scratch locals, ``{r}`` the length of a run applied at once, and any key of
``bindings`` (an object the statements use).

A kind that can add a run of values at once (a histogram, a sketch) also gives
``add_values``: the plan applies a call's first event, and each series' first value of
a run, with ``apply``, and only appends the later values its ``check`` vouches for to a
list kept with the series; it adds the lists (``add_values(series, values)``) before
the exact path applies an event and before it returns, so that no read and no other
path sees a series behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FINITE", "FINITE_FLOAT", "Fragment"]

#: The check of a finite real value, as the built-ins' handle_event make it. For a float,
#: one call of math.isfinite costs less than a chained comparison with two infinities.
FINITE = (
    "(({v}.__class__ is float and ISFINITE({v})) "
    "or ({v}.__class__ is int and -MAXF <= {v} <= MAXF))"
)
#: A finite float (a sketch adds floats only).
FINITE_FLOAT = "({v}.__class__ is float and ISFINITE({v}))"


@dataclass(frozen=True, slots=True)
class Fragment:
    """One metric's part of a generated batch function (see the module docstring)."""

    #: Dotted attribute the value is read from; None when the kind reads no value.
    value: str | None
    #: Label attribute names, in the metric's order (empty: the metric's single series).
    labels: tuple[str, ...]
    #: A condition on ``{v}`` under which ``apply`` cannot fail; "" for none.
    check: str
    #: Statements applying the event to series ``{s}``.
    apply: tuple[str, ...]
    #: Statements applying a run of ``{r}`` events at once, for a kind that reads nothing
    #: per event (a label-less count); used when every metric of the plan has them.
    run: tuple[str, ...] = ()
    #: Run before the first event and after the last (a run-length count, say).
    init: tuple[str, ...] = ()
    finish: tuple[str, ...] = ()
    #: ``add_values(series, values)`` adds deferred ``values`` to ``series`` as
    #: ``handle_event`` would, one by one in order, and empties the list; None when the
    #: kind applies each event in place. A kind that reads no value (a count) is given
    #: the list of another metric with the same labels, and only counts it: it is
    #: deferred when such a metric is, else it uses ``apply``.
    add_values: Callable[[Any, list[Any]], None] | None = None
    #: Objects the templates name.
    bindings: dict[str, object] = field(default_factory=dict)
