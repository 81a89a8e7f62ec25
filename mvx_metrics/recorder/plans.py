"""Batch plans: one generated function per event class, applying a run of its events.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

Applying an event the obvious way costs a pop, a routing lookup, and for each metric a
call of ``handle_event`` that reads its value and labels again. Most of that is the
same for every event of a class, so the recorder compiles, per event class, a function
that applies a whole run of consecutive events of that class to every metric routed to
it. The processor pops a batch of items out of the hand-off buffer in one C call
(``processing.py``); a plan walks its run in that list:

- each attribute read by any built-in metric is read once per event, as a plain
  attribute access;
- each built-in metric's part (its :class:`~mvx_metrics.metrics._fragment.Fragment`) is
  inlined: no call per metric, and label-less counters keep a run-length count;
- within a run, a histogram's or sketch's values after a series' first are only
  appended to a list kept with the series (a count beside them takes the list's
  length), and each list is added in one go, sorted, by C loops
  (``metrics/_deferred.py``): before the exact path applies an event, and before the
  plan returns. A call's first event, and a series' first value, are applied in place,
  so that a call for one event, or a series seen once, costs no more than that;
- when the whole batch is of one class and every metric can take a run at once (a
  label-less count), the run is applied without a loop at all; when the metrics are
  label-less counts, histograms and sketches that read plain attributes, each value
  attribute is read for the whole batch and checked by C loops, and added at once
  (falling back to the walk below if any value is not a finite float);
- the event is applied by the inlined parts only if every one of them vouches for it
  (values of the exact types and range ``handle_event`` accepts, label sets already
  admitted); otherwise it takes the *exact* path, every built-in metric's own
  ``handle_event`` with failures isolated and counted as before. So states, snapshots
  and error counts are the per-event path's, event for event;
- other metrics (user ``Metric``s, built-ins reading a callable) get ``handle_event``
  per event, isolated as before.

Nothing observable changes in between: the owning loop holds the hand-off guard for the
whole batch, so no read sees a run half-applied. Plans are used with
``MetricErrorPolicy.ISOLATE`` only; ``FAIL`` keeps the per-event loop, whose first
failure must stop the recorder on that very event.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any

from ..events import MetricEvent
from ..metrics._builtin import BuiltinMetric
from ..metrics._fragment import Fragment
from ..metrics.base import Metric
from .handoff import ControlItem
from .policies import PROPAGATED_EXCEPTIONS

__all__ = ["Plan", "build_plan", "leading_run"]

#: ``plan(batch, i) -> end``: applies ``batch[i]`` (of the plan's class) and the items
#: of the same class that follow it, and returns the index after the last one applied.
Plan = Callable[[list[Any], int], int]

#: Called for a metric that raised on an event: counts and logs it (ISOLATE).
FailureSink = Callable[[Metric, MetricEvent, BaseException], None]


class _Source:
    """The generated function's text and the objects it names, built up together."""

    def __init__(self) -> None:
        self.names: dict[str, object] = {
            "ISFINITE": math.isfinite,
            "MAXF": sys.float_info.max,
            "CEIL": math.ceil,
            "LOG2": math.log2,
            "bisect_left": bisect_left,
            "leading_run": leading_run,
            "ITER": iter,
            "TYPE": type,
            # The checks' builtins, as locals too (a local costs less than a builtin's
            # lookup, even a specialised one).
            "str": str,
            "float": float,
            "int": int,
            "MAP": map,
            "LIST": list,
            "SUM": sum,
        }
        self.reads: dict[str, str] = {}  # attribute path -> local name
        self.helpers: list[str] = []  # functions defined beside the plan, for its text

    def bind(self, name: str, value: object) -> str:
        self.names[name] = value
        return name

    def read(self, attribute: str) -> str:
        """The local holding ``e.<attribute>``, read once per event."""
        local = self.reads.get(attribute)
        if local is None:
            local = self.reads[attribute] = "a_" + attribute.replace(".", "__")
        return local


def build_plan(
    event_class: type, metrics: tuple[Metric, ...], failed: FailureSink, progress: list[int]
) -> Plan:
    """Compile the plan of ``event_class`` for the metrics routed to it.

    ``progress[0]`` is set to the index after the event being applied when the plan
    raises (a ``BaseException`` only: metric errors are isolated), so that the caller can
    count the events up to it as processed, as the per-event loop does.
    """
    src = _Source()
    fused: list[tuple[Metric, Fragment]] = []
    others: list[Metric] = []
    for metric in metrics:
        fragment = metric.fragment() if isinstance(metric, BuiltinMetric) else None
        if fragment is None:
            others.append(metric)
        else:
            fused.append((metric, fragment))

    # Metrics with the same label names share one lookup per event: a cache from the
    # label values to the tuple of their series (see _shared_lookup). Values deferred
    # for a series wait in lists in the same tuple (see _defer_group); a metric that
    # defers goes through such a cache even alone.
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, (_, fragment) in enumerate(fused):
        if fragment.labels:
            groups.setdefault(fragment.labels, []).append(i)
    shared: dict[int, tuple[int, list[int]]] = {}
    deferred: set[int] = set()  # metrics whose events are added when the plan settles
    for g, members in enumerate(groups.values()):
        values = [j for j in members if _defers_values(fused[j][1])]
        if values:
            deferred.update(j for j in members if fused[j][1].add_values is not None)
        if len(members) > 1 or values:
            shared.update((i, (g, members)) for i in members)

    checks: list[str] = []
    unpacks: list[str] = []
    applies: list[str] = []
    runs: list[str] = []  # whole runs at once, usable if every metric has them
    inits: list[str] = []
    finishes: list[str] = []
    settles: list[str] = []  # add deferred values: before the exact path, and at the end
    in_place: dict[int, list[str]] = {}  # a deferred metric's apply, for a first value
    # The first event of a call is applied in place, deferring nothing: a call for one
    # event (classes that alternate) then costs what in place costs, with nothing to add.
    first_unpacks: list[str] = []
    first_applies: list[str] = []
    group_lists: dict[int, tuple[list[int], list[int]]] = {}  # g: members, deferring lists
    for i, (metric, fragment) in enumerate(fused):
        fill = {key: src.bind(f"{key}{i}", value) for key, value in fragment.bindings.items()}
        fill |= {"k": f"k{i}", "t": f"t{i}", "u": f"u{i}", "r": "r"}
        if fragment.value is not None:
            fill["v"] = src.read(fragment.value)
        assert isinstance(metric, BuiltinMetric)
        check_fill = fill
        if fragment.labels:
            labels = [src.read(name) for name in fragment.labels]
            checks += [f"{local}.__class__ is str" for local in labels]
            key = labels[0] if len(labels) == 1 else f"({', '.join(labels)},)"
            fill["s"] = f"s{i}"
            if i in shared:
                g, members = shared[i]
                if i == members[0]:
                    lists = [j for j in members if j in deferred and _defers_values(fused[j][1])]
                    group_lists[g] = (members, lists)
                    cached, fill_in = _shared_lookup([fused[j][0] for j in members], len(lists))
                    got, fill_fn = src.bind(f"P{g}", cached), src.bind(f"F{g}", fill_in)
                    checks.append(
                        f"((p{g} := {got}({key})) is not None "
                        f"or (p{g} := {fill_fn}({key})) is not None)"
                    )
                    # The series applied in place, and the lists: one unpacking if it
                    # takes every item, else an index each (a deferred series is read
                    # only for its first value of a run).
                    names = [f"s{j}" for j in members] + [f"w{j}" for j in lists]
                    first_unpacks.append(f"{', '.join(names)}, = p{g}")
                    read = [j not in deferred for j in members] + [True] * len(lists)
                    if all(read):
                        unpacks.append(f"{', '.join(names)}, = p{g}")
                    else:
                        unpacks += [
                            f"{name} = p{g}[{k}]" for k, name in enumerate(names) if read[k]
                        ]
                # The check runs before the unpacking: it reads its series from the tuple.
                check_fill = fill | {"s": f"p{g}[{members.index(i)}]"}
            else:
                lookup = src.bind(f"G{i}", metric._series_key_getter())
                checks.append(f"(s{i} := {lookup}({key})) is not None")
        else:
            fill["s"] = src.bind(f"S{i}", metric._single)
            if _defers_values(fragment):
                deferred.add(i)
        if fragment.check:
            checks.append(fragment.check.format(**check_fill))
        own = [line.format(**fill) for line in fragment.apply]
        first_applies += own
        if i not in deferred:
            applies += own
        elif fragment.labels:
            in_place[i] = own
        else:
            assert fragment.add_values is not None
            applies += _defer_alone(src, i, fill["s"], fill["v"], own, fragment.add_values, settles)
        runs += [line.format(**fill) for line in fragment.run]
        inits += [line.format(**fill) for line in fragment.init]
        finishes += [line.format(**fill) for line in fragment.finish]
    for g, (members, lists) in group_lists.items():
        if lists:
            applies += _defer_group(src, g, members, lists, fused, in_place, settles)
    applies = unpacks + applies
    first_applies = first_unpacks + first_applies
    finishes += settles

    exact = tuple(metric for metric, _ in fused)

    def slow(event: MetricEvent) -> None:
        """The exact path for an event the inlined parts do not vouch for."""
        for metric in exact:
            try:
                metric.handle_event(event)
            except PROPAGATED_EXCEPTIONS:
                raise
            except BaseException as exc:
                failed(metric, event, exc)

    src.bind("CLS", event_class)
    src.bind("PROPAGATED", PROPAGATED_EXCEPTIONS)
    src.bind("slow", slow)
    src.bind("progress", progress)

    def body(applies: list[str], settles: list[str]) -> list[str]:
        """The statements applying event ``e``."""
        lines: list[str] = []
        if fused:
            if src.reads or checks:
                lines.append("try:")
                lines += [f"    {local} = e.{attribute}" for attribute, local in src.reads.items()]
                # dict.fromkeys: a label read by several metrics is type-checked once.
                lines.append(f"    good = {' and '.join(dict.fromkeys(checks)) or 'True'}")
                lines += ["except PROPAGATED:", "    raise", "except BaseException:"]
                lines += ["    good = False", "if good:"]
                lines += [f"    {line}" for line in applies]
                lines += ["else:"] + [f"    {line}" for line in settles] + ["    slow(e)"]
            else:
                lines += applies  # nothing to read or check: cannot fail
        for j, metric in enumerate(others):
            handle = src.bind(f"h{j}", metric.handle_event)
            fail = src.bind(f"fail{j}", _failure_of(failed, metric))
            lines += ["try:", f"    {handle}(e)", "except PROPAGATED:", "    raise"]
            lines += ["except BaseException as exc:", f"    {fail}(e, exc)"]
        return lines

    first_body = body(first_applies, [])  # nothing waits before the first event
    run_body = body(applies, settles)

    # A whole batch of the class at once: nothing read or checked per event.
    at_once = not others and len(runs) == len(fused) and not src.reads and not checks
    # A batch all of the class, with values to add: column by column, in C loops.
    by_columns = (
        _columns(src, fused, runs)
        if not at_once and _by_columns(event_class, fused, others, deferred)
        else []
    )
    # Every name the text uses is a positional default, so a local of the function: read
    # per event, a local costs a fraction of a global's lookup; and positional defaults
    # are copied from a tuple per call, where keyword-only ones are looked up by name.
    defaults = ", ".join(f"{name}={name}" for name in src.names)
    lines = [
        *src.helpers,
        f"def plan(batch, i, {defaults}):",
        "    end = len(batch)",
        "    it = None",
    ]
    lines += [f"    {line}" for line in inits]
    lines += ["    try:"]
    if at_once:
        lines += ["        if not i and (r := leading_run(batch, CLS)):"]
        lines += [f"            {line}" for line in runs]
        lines += ["            return r"]
    lines += [f"        {line}" for line in by_columns]
    # The first event was routed here by the caller, by its __class__.
    lines += ["        e = batch[i]", "        i += 1"]
    lines += [f"        {line}" for line in first_body]
    if _keeps_its_class(event_class):
        # A run of the class follows: a list iterator walks it at C speed, and its length
        # hint tells how far it got. The run ends at an item of another type (type()
        # neither raises nor lies: the caller routes that item by its __class__).
        lines += [
            "        if i < end and TYPE(batch[i]) is CLS:",
            "            it = ITER(batch)",
            "            it.__setstate__(i)",
            "            for e in it:",
            "                if TYPE(e) is not CLS:",
            "                    return end - it.__length_hint__() - 1",
        ]
        lines += [f"                {line}" for line in run_body]
        lines += ["            return end"]
    lines += [
        "    except BaseException:",
        # The index after the event being applied: the caller counts it as processed.
        "        progress[0] = i if it is None else end - it.__length_hint__()",
        "        raise",
    ]
    if finishes:
        lines.append("    finally:")
        lines += [f"        {line}" for line in finishes]
    lines.append("    return i")
    code = compile("\n".join(lines), f"<mvx_metrics plan for {event_class.__qualname__}>", "exec")
    namespace = dict(src.names)
    exec(code, namespace)  # the text is ours: identifiers checked at metric construction
    plan: Plan = namespace["plan"]  # type: ignore[assignment]
    return plan


def _by_columns(
    event_class: type,
    fused: list[tuple[Metric, Fragment]],
    others: list[Metric],
    deferred: set[int],
) -> bool:
    """Whether a batch all of the class can be applied column by column: every metric is
    label-less and either counts (a run of it is applied at once) or defers its values,
    and every value is a plain attribute, whose reading runs no user code."""
    if others or not deferred:
        return False
    for i, (_, fragment) in enumerate(fused):
        if fragment.labels or not (fragment.run or i in deferred):
            return False
        if fragment.value is not None and not _plain_attribute(event_class, fragment.value):
            return False
    return True


def _columns(src: _Source, fused: list[tuple[Metric, Fragment]], runs: list[str]) -> list[str]:
    """Statements that apply a batch all of the class column by column and return its
    length: each value attribute is read for the whole batch by a comprehension (its
    read of a slot is specialised, at about half the cost of ``map(attrgetter)``), checked
    by C loops (every value an exact float, and their sum finite, which an infinity or a
    NaN would not leave), and added at once (``add_values``, as the deferred values of a
    run are). If a check fails, nothing has been applied, and the statements fall through
    to the walk event by event, which sorts each event out. Ints, which a histogram takes,
    are left to that walk (their range would need a check of its own).

    The batch may end in an item of another type (the read or flush that woke the loop,
    or an event of another class): the run stops before it. The first column's
    comprehension keeps only items of the class, so its length tells whether the rest of
    the batch is all of it."""
    columns: dict[str, str] = {}  # attribute -> the local holding its column
    reads: list[str] = []
    for _, fragment in fused:
        attribute = fragment.value
        if attribute is not None and attribute not in columns:
            column = columns[attribute] = f"c{len(columns)}"
            # A function of its own: the comprehension's names are then its locals, where
            # in the plan they would turn the plan's locals into cells for every event.
            reader = f"COL{len(columns) - 1}"
            keep = " if TYPE(e) is CLS" if len(columns) == 1 else ""
            src.helpers += [
                f"def {reader}(run, TYPE=TYPE, CLS=CLS):",
                f"    return [e.{attribute} for e in run{keep}]",
            ]
            reads.append(f"{column} = {reader}(run)")
    checks = [
        f"LIST(MAP(TYPE, {column})).count(float) == r and ISFINITE(SUM({column}))"
        for column in columns.values()
    ]
    readers = [(i, fragment) for i, (_, fragment) in enumerate(fused) if fragment.value]
    adds: list[str] = []
    for n, (i, fragment) in enumerate(readers):
        assert fragment.add_values is not None and fragment.value is not None
        add = src.bind(f"ADD{i}", fragment.add_values)
        column = columns[fragment.value]
        # add_values empties the list it is given: only the column's last reader gets it.
        last = all(other.value != fragment.value for _, other in readers[n + 1 :])
        adds.append(f"{add}(S{i}, {column if last else column + '[:]'})")
    # The first event's values first: a metric fed ints (sizes in bytes, say) finds
    # out there, at the cost of one read per batch rather than of reading the columns.
    # (Of the class itself, first: an item may claim the class through __class__.)
    # And the second item too: where classes alternate, the pass would be lost.
    keeps = src.bind("KEEPS", _keeps_its_class)
    firsts = ["TYPE(batch[0]) is CLS", "(end < 2 or TYPE(batch[1]) is CLS)", f"{keeps}(CLS)"]
    firsts += [f"TYPE(batch[0].{attribute}) is float" for attribute in columns]
    return [
        "if not i:",
        "    try:",
        f"        if {' and '.join(firsts)}:",
        "            run = batch if TYPE(batch[-1]) is CLS else batch[:-1]",
        *(f"            {line}" for line in reads[:1]),
        "            r = len(c0)",
        # Only then the other columns: an item of another class may run code when read.
        "            good = r == len(run)",
        "            if good:",
        *(f"                {line}" for line in reads[1:]),
        f"                good = {' and '.join(checks)}",
        "        else:",
        "            good = False",
        "    except PROPAGATED:",
        "        raise",
        "    except BaseException:",
        "        good = False",
        "    if good:",
        *(f"        {line}" for line in runs + adds),
        "        return r",
    ]


def _plain_attribute(cls: type, name: str) -> bool:
    """Whether reading ``name`` from an instance of ``cls`` runs no user code: a slot or
    an instance attribute, on a class with the default attribute lookup."""
    lookup: object = cls.__getattribute__
    if "." in name or lookup is not object.__getattribute__ or hasattr(cls, "__getattr__"):
        return False
    for klass in cls.__mro__:
        if name in vars(klass):
            found = vars(klass)[name]
            return type(found) is MemberDescriptorType or not hasattr(type(found), "__get__")
    return True


def _defers_values(fragment: Fragment) -> bool:
    """Whether the fragment's values wait in a list: a kind with ``add_values`` that reads
    a value. One that reads none (a count) is deferred only beside one that does, whose
    list then also gives its count."""
    return fragment.add_values is not None and fragment.value is not None


def _defer_alone(
    src: _Source,
    i: int,
    series: str,
    value: str,
    in_place: list[str],
    add_values: Callable[[Any, list[Any]], None],
    settles: list[str],
) -> list[str]:
    """Deferring the values of label-less metric ``i`` (its one series is the plan's
    local ``series``), in a list of the plan's own. The first value of a run is applied
    in place (``in_place``) and leaves a None in the list, which the later ones follow:
    a run of one costs no more than in place, and the list says whether there was one.
    Returns the statements applying a value; adds the settling ones."""
    values: list[Any] = []
    waiting = src.bind(f"W{i}", values)
    append = src.bind(f"Q{i}", values.append)  # the bound method, made once
    add = src.bind(f"ADD{i}", add_values)
    settles += [
        f"if {waiting}:",
        f"    del {waiting}[0]",
        f"    if {waiting}: {add}({series}, {waiting})",
    ]
    return [
        f"if {waiting}:",
        f"    {append}({value})",
        "else:",
        *(f"    {line}" for line in in_place),
        f"    {append}(None)",
    ]


def _defer_group(
    src: _Source,
    g: int,
    members: list[int],
    lists: list[int],
    fused: list[tuple[Metric, Fragment]],
    in_place: dict[int, list[str]],
    settles: list[str],
) -> list[str]:
    """Deferring group ``g``'s values. Each series' lists come with it in the cached
    tuple (``w{j}`` for each metric ``j`` of ``lists``). A label set's first event of a
    run is applied in place (``in_place``), leaves a None in each list, and puts the
    tuple on the plan's list of waiting tuples; the later ones append their values. A
    count adds the length of the first list (each vouched-for event adds one value to
    every list), so it is added before the lists are (which empties them). Returns the
    statements applying an event; adds the settling one."""
    steps: list[tuple[int, int, Callable[[Any, list[Any]], None]]] = []
    first = len(members)  # the index of the first list in the tuple
    deferred = [j for j in members if j in in_place]
    for place, j in enumerate(members):
        add = fused[j][1].add_values
        if add is not None and j in in_place and j not in lists:
            steps.append((place, first, add))
    for offset, j in enumerate(lists):
        add = fused[j][1].add_values
        assert add is not None
        steps.append((members.index(j), first + offset, add))
    waiting: list[tuple[Any, ...]] = []
    touched = src.bind(f"T{g}", waiting.append)
    settle = src.bind(f"SETTLE{g}", _settle(steps, waiting))
    settles.append(f"if {src.bind(f'X{g}', waiting)}: {settle}()")
    values = {j: src.reads[fused[j][1].value] for j in lists}  # type: ignore[index]
    return [
        f"if w{lists[0]}:",
        *(f"    w{j}.append({values[j]})" for j in lists),
        "else:",
        *(f"    s{j} = p{g}[{members.index(j)}]" for j in deferred),
        *(f"    {line}" for j in deferred for line in in_place[j]),
        *(f"    w{j}.append(None)" for j in lists),
        f"    {touched}(p{g})",
    ]


def _settle(
    steps: list[tuple[int, int, Callable[[Any, list[Any]], None]]],
    waiting: list[tuple[Any, ...]],
) -> Callable[[], None]:
    """Adds the values waiting for each tuple of ``waiting``: each list's leading None
    (its first value was applied in place) is dropped, then ``add(tuple[series],
    tuple[values])`` for each ``(series, values, add)`` of ``steps``, in order (the last
    adds of each list empty it); then ``waiting`` is emptied. Every list ends empty,
    even on an error."""
    first = min(values for _, values, _ in steps)  # the tuple's lists come last
    more = max(values for _, values, _ in steps) > first  # more than one list

    def settle() -> None:
        try:
            for held in waiting:
                if more:
                    for values in held[first:]:
                        del values[0]
                else:
                    del held[first][0]
                if held[first]:
                    for series, values, add in steps:
                        add(held[series], held[values])
        except BaseException:
            for held in waiting:
                for values in held[first:]:
                    values.clear()
            raise
        finally:
            waiting.clear()

    return settle


def _shared_lookup(
    metrics: list[Metric], lists: int
) -> tuple[Callable[[Any], tuple[Any, ...] | None], Callable[[Any], tuple[Any, ...] | None]]:
    """``(get, fill)`` for metrics with the same label names: ``get(key)`` is the tuple of
    their admitted series for the label values ``key`` (None when not cached yet), then
    ``lists`` lists, in which the values deferred for the series wait (the plan empties
    them before it returns); ``fill(key)`` looks each one up and caches the tuple once
    every metric has admitted that label set (None until then: the event then takes the
    exact path, which admits). Series are never removed from a live metric, so a cached
    tuple stays right."""
    getters = [m._series_key_getter() for m in metrics]  # type: ignore[attr-defined]
    cache: dict[Any, tuple[Any, ...]] = {}

    def fill(key: Any) -> tuple[Any, ...] | None:
        # Only exact strs are cached: the plan's check reads __class__, which an object
        # may set to str; such a one takes the exact path, which converts it with str().
        # (A key of several labels is the plan's own tuple: never iterate anything else.)
        if type(key) is not str and not (
            type(key) is tuple and all(type(part) is str for part in key)
        ):
            return None
        states = tuple(get(key) for get in getters)
        if any(state is None for state in states):
            return None
        states += tuple([] for _ in range(lists))
        cache[key] = states
        return states

    return cache.get, fill


def leading_run(batch: list[Any], cls: type) -> int:
    """The length of ``batch`` when every item is of ``cls``, or all but a last control
    item (the read or flush that woke the loop); else 0. Checked in C, once per batch,
    for plans that then apply the run without a loop.

    Only for a class that keeps ``__class__`` as its type (routing follows
    ``__class__``); a hostile class whose equality raises just gets 0."""
    if not _keeps_its_class(cls):
        return 0
    size = len(batch)
    if size > 1 and batch[-1].__class__ is not cls:
        size -= 1  # the control item, if it is one: not of cls, so not counted below
        if batch[-1].__class__ is not ControlItem:
            return 0
    try:
        # list.count compares with `is` first: one C loop, no Python code per item.
        return size if list(map(type, batch)).count(cls) == size else 0
    except Exception:
        return 0


def _keeps_its_class(cls: type) -> bool:
    """Whether the instances of ``cls`` have ``cls`` as their ``__class__``: no class in
    its MRO (but ``object``) defines ``__class__``."""
    return not any("__class__" in vars(k) for k in cls.__mro__[:-1])


def _failure_of(
    failed: FailureSink, metric: Metric
) -> Callable[[MetricEvent, BaseException], None]:
    def fail(event: MetricEvent, exc: BaseException) -> None:
        failed(metric, event, exc)

    return fail
