"""CPU instructions per operation, counted by valgrind's callgrind, against the peers.

Run: ``python benchmarks/bench_instructions.py [--quick]``. Needs valgrind
(``apt-get install -y valgrind``); without it, full mode exits non-zero and quick mode
(the test suite's smoke run) says loudly that it counted nothing.

Timings on a shared VM move by tens of percent between runs; instruction counts do not.
Each operation runs in a small child interpreter (this script writes it to a temporary
folder) under ``valgrind --tool=callgrind``, twice: with N1 and with N2 iterations. The
child calls a marker (``os.getsid``) before its loop, after it, and after draining, and
callgrind dumps its counters each time the marker returns (``--dump-after``), so one run
yields separate counts for the loop (the caller's side) and for the drain (the owning
loop's side). The figure is ``(Ir(N2) - Ir(N1)) / (N2 - N1)`` for each side: start-up,
imports, setup and the markers themselves cancel out.

1. Hot path, caller side: ``recorder.register_event(event=...)`` on a running recorder in
   direct mode (asyncio), called in a loop that never yields, so that nothing is processed
   during it; against prometheus_client ``Counter.inc()`` and ``Counter.labels("ok").inc()``,
   the OpenTelemetry SDK ``counter.add(1, attributes)`` and mvx-common 0.3
   ``register_event``.
2. Processing, owner side: the N buffered events applied by ``await recorder.aflush()``,
   for a label-less ``Counter``, a labelled ``Counter`` plus a ``Histogram``, and a
   ``Distribution``; beside prometheus_client doing the same update in the caller.

3. Many idle recorders: N runtime recorders with two metrics each, then one full
   ``gc.collect()`` (the "drain"), against prometheus_client with two label children per
   recorder. Only the collector's own work is counted (``--toggle-collect``): what each
   recorder adds to every full collection of the application. Callgrind also simulates
   the caches there (``--cache-sim=yes``, with a fixed geometry, :data:`CACHE_SIM`, so
   that the counts do not depend on the machine): a collection is mostly memory traffic,
   and the estimated cycles (``Ir + 10 x L1 misses + 100 x last-level misses``,
   KCachegrind's estimate) weigh its misses. Neither models the hardware prefetcher or
   the TLB, which the timed figure of ``bench_workloads.py`` section 3 includes.

Every event is built once, outside the loop, and every call is written as an
application writes it. The garbage collector is off in the children (a collection
inside a loop would be charged to its calls) and ``PYTHONHASHSEED=0``, so that a run
counts the same instructions every time. Callgrind counts user-space instructions only:
a system call costs only its few instructions on the user side.

Full mode writes ``docs/images/instructions.png`` (needs matplotlib, in the ``bench``
extra) and ``benchmarks/results/instructions.json``; quick mode counts two operations
with a small N and writes both to a temporary folder instead.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from _harness import parse_quick, print_missing_peers
from run_all import describe_checkout

if TYPE_CHECKING:
    from matplotlib.axes import Axes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHART = ROOT / "docs" / "images" / "instructions.png"
RESULTS = HERE / "results" / "instructions.json"
COMMAND = "python benchmarks/bench_instructions.py"

# A libc function that nothing else in the children calls: callgrind dumps as it returns.
MARKER = "getsid"
# Dumps per child: before the loop, after it, after the drain (the exit adds one more).
MARKS = 3
# Multiples of the recorder's credit chunk (128) and batch (1024), so that their slow
# paths fall the same number of times per event in both runs.
FULL_N = (10_240, 102_400)
QUICK_N = (1_024, 5_120)
CHILD_TIMEOUT_S = 900.0
VALGRIND_OPTIONS = (
    "--tool=callgrind",
    # Totals per dump are all this reads: no per-instruction or per-line tables to write.
    "--dump-instr=no",
    "--dump-line=no",
    # No gdbserver polling. (Starting uninstrumented, --instr-atstart=no, would make the
    # start-up 3x faster, but only callgrind_control can then switch counting on, from
    # outside and not in step with the child: tried, the loop's count came out 13% off.)
    "--vgdb=no",
    f"--dump-after={MARKER}",
)

# --- the child interpreter -------------------------------------------------------------------

CHILD = """\
import gc
import os
import sys
{imports}

gc.disable()  # a collection inside the loop would be charged to its calls


def mark():
    os.{marker}(0)  # callgrind dumps its counters, and zeroes them, as this returns

{declarations}

{async_}def main(n):
{setup}
    mark()
    for _ in range(n):
{stmt}
    mark()
{drain}
    mark()
    # Checked after the last marker: this lands in the exit's dump, which is not used.
{check}
    sys.stdout.flush()
    os._exit(0)  # no teardown: slow under valgrind, and its dump is not used


{run}
"""


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: the code of its child, timeit-style (setup, then stmt N times)."""

    key: str
    label: str
    module: str  # what must be importable for the op to run
    imports: str
    setup: str
    stmt: str
    declarations: str = ""
    drain: str = "pass"  # for peers that update in the caller, nothing is left to do
    check: str = "pass"
    is_async: bool = False
    #: (N1, N2) for an op whose N counts something heavier than a call (a recorder).
    sizes: tuple[int, int] | None = None
    #: More callgrind options for this op's children.
    valgrind_options: tuple[str, ...] = ()

    def source(self) -> str:
        return CHILD.format(
            imports=self.imports,
            marker=MARKER,
            declarations=self.declarations,
            async_="async " if self.is_async else "",
            setup=_indent(self.setup, 1),
            stmt=_indent(self.stmt, 2),
            drain=_indent(self.drain, 1),
            check=_indent(self.check, 1),
            run="asyncio.run(main(int(sys.argv[1])))"
            if self.is_async
            else "main(int(sys.argv[1]))",
        )


def _indent(code: str, levels: int) -> str:
    return textwrap.indent(textwrap.dedent(code).strip(), "    " * levels)


BUCKETS = "(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)"

MVX_IMPORTS = """\
import asyncio
from dataclasses import dataclass

from mvx_metrics import Counter, Distribution, Histogram, MetricEvent, MetricsRecorder"""

MVX_EVENT = """
@dataclass(slots=True)
class Request(MetricEvent):
    route: str
    duration_s: float
"""

MVX_METRICS = {
    "count": ('Counter("requests", event=Request)',),
    "labelled": (
        'Counter("requests", event=Request, labels=("route",))',
        'Histogram("seconds", event=Request, value="duration_s", labels=("route",), '
        f"buckets={BUCKETS})",
    ),
    "distribution": ('Distribution("seconds", event=Request, value="duration_s")',),
}


# Room for every event: the loop never yields, so nothing is processed during it.
MVX_SETUP = """
    recorder = MetricsRecorder("bench", queue_max_size=n + 1024)
    {registrations}
    await recorder.start()
    await recorder.aflush()
    event = Request("/", 0.012)
"""


def mvx_op(shape: str, label: str) -> Op:
    """A direct-mode recorder on asyncio: the loop buffers N events, aflush() applies them."""
    registrations = [f"recorder.register_metric({metric})" for metric in MVX_METRICS[shape]]
    return Op(
        key=f"mvx_{shape}",
        label=label,
        module="mvx_metrics",
        imports=MVX_IMPORTS,
        declarations=MVX_EVENT,
        is_async=True,
        setup=MVX_SETUP.format(registrations="\n    ".join(registrations)),
        stmt="recorder.register_event(event=event)",
        drain="await recorder.aflush()",
        check="""
            stats = recorder.get_stats()
            assert stats.processed == n and stats.dropped_total == 0, stats
            assert not stats.metric_errors, stats
        """,
    )


def prometheus_op(key: str, label: str, metrics: str, stmt: str, check: str) -> Op:
    return Op(
        key=key,
        label=label,
        module="prometheus_client",
        imports="import prometheus_client as pc",
        setup="registry = pc.CollectorRegistry()\n" + metrics,
        stmt=stmt,
        check=check,
    )


PROM_COUNTER = 'counter = pc.Counter("requests", "requests", registry=registry)'
PROM_LABELLED = 'counter = pc.Counter("requests", "requests", ["route"], registry=registry)'

OTEL_IMPORTS = """\
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader"""

OTEL_SETUP = """
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("bench").create_counter("requests")
    attributes = {"outcome": "ok"}
"""

OTEL_CHECK = """
    data = reader.get_metrics_data()
    points = [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    ]
    assert sum(point.value for point in points) == n, points
"""

COMMON_IMPORTS = """\
import asyncio
from dataclasses import dataclass

from mvx.common.metrics import AsyncioMetricsRecorder, Metric, MetricEvent"""

COMMON_DECLARATIONS = '''
@dataclass(slots=True)
class Done(MetricEvent):
    outcome: str

    @property
    def event_type(self):  # abstract in mvx-common 0.3
        return "done"


class Counting(Metric):
    """mvx-common 0.3 has no built-in metrics: the cheapest one that counts."""

    def __init__(self):
        self.count = 0

    @property
    def metric_name(self):
        return "count"

    def handle_event(self, event):
        self.count += 1
        return True

    def snapshot(self):
        return {"count": self.count}
'''

# register_event schedules one call_soon_threadsafe per event, even on the owning loop;
# a loop that never yields runs none of them, so its processing is left out here.
COMMON_SETUP = """
    recorder = AsyncioMetricsRecorder("bench", queue_max_size=n + 1024)
    recorder.register_metric(Counting())
    result = await recorder.start()
    assert result.success, result
    event = Done("ok")
"""


# Many idle recorders: the loop creates N of them, the "drain" is one full collection.
MANY_N = (1_000, 5_000)
QUICK_MANY_N = (100, 500)

MVX_MANY_SETUP = """
    runtime = MetricsRuntime(namespace="bench-many").__enter__()
"""

MVX_MANY_STMT = """
    recorder = runtime.create_recorder(f"r{_}")
    recorder.register_metric(Counter("saves", event=Request, labels=("route",)))
    recorder.register_metric(
        Histogram("seconds", event=Request, value="duration_s", buckets=(0.1, 1.0))
    )
"""

# Every recorder parked first (its quiet spell over): a polling one holds a place on the
# loop's ticker, and how many still poll would depend on timing. Not counted: only the
# collector is (see ONLY_THE_COLLECTOR).
MVX_MANY_DRAIN = """
    import time
    from mvx_metrics.recorder.handoff import Intake

    deadline = time.monotonic() + 600
    hosted = list(runtime._recorders.by_id.values())
    while any(r._handoff.mode is not Intake.PARKED for r in hosted):
        assert time.monotonic() < deadline, "recorders did not park"
        time.sleep(0.05)
    gc.collect()
"""

PROM_MANY_SETUP = """
    registry = pc.CollectorRegistry()
    counter = pc.Counter("saves", "saves", ["recorder", "route"], registry=registry)
    histogram = pc.Histogram(
        "seconds", "s", ["recorder"], buckets=(0.1, 1.0), registry=registry
    )
"""


#: Only the collector's own work is counted for the many-recorders ops: the runtime's
#: thread polls busy recorders on its own schedule, and its ticks, however many fall in a
#: segment, would make the counts move with the machine's load.
ONLY_THE_COLLECTOR = ("--toggle-collect=gc_collect_main",)

#: The simulated caches of the many-recorders ops: 32 KiB L1s, 8-way, and an 8 MiB,
#: 16-way last level, with 64-byte lines (a server core and its share of the last level).
CACHE_SIM = ("--cache-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64")


def many_ops(sizes: tuple[int, int]) -> list[Op]:
    """Idle recorders with two metrics each, then one full ``gc.collect()``, of which only
    the collector is counted; against prometheus_client's two label children each."""
    return [
        Op(
            key="mvx_many",
            label="mvx_metrics runtime recorder with 2 metrics",
            module="mvx_metrics",
            imports=MVX_IMPORTS + ", MetricsRuntime",
            declarations=MVX_EVENT,
            setup=MVX_MANY_SETUP,
            stmt=MVX_MANY_STMT,
            drain=MVX_MANY_DRAIN,
            valgrind_options=ONLY_THE_COLLECTOR + CACHE_SIM,
            check="""
                snapshots = runtime.get_metric_snapshots()
                assert len(snapshots) == n, len(snapshots)
                assert all(len(metrics) == 2 for metrics in snapshots.values()), snapshots
            """,
            sizes=sizes,
        ),
        Op(
            key="prom_many",
            label="prometheus_client 2 label children",
            module="prometheus_client",
            imports="import prometheus_client as pc",
            setup=PROM_MANY_SETUP,
            stmt='counter.labels(f"r{_}", "/")\nhistogram.labels(f"r{_}")',
            drain="gc.collect()",
            sizes=sizes,
            valgrind_options=ONLY_THE_COLLECTOR + CACHE_SIM,
        ),
    ]


def create_ops(sizes: tuple[int, int]) -> list[Op]:
    """Making those recorders (their loop, every thread counted; the child runs with the
    collector off), against making prometheus_client's two label children each."""
    return [
        replace(op, key=key, drain="pass", valgrind_options=())
        for op, key in zip(many_ops(sizes), ("mvx_create", "prom_create"), strict=True)
    ]


def all_ops() -> dict[str, Op]:
    # The longest children first, so that the last ones to finish are short ones.
    ops = [
        Op(
            key="otel_add",
            label='OpenTelemetry SDK counter.add(1, {"outcome": "ok"})',
            module="opentelemetry.sdk.metrics",
            imports=OTEL_IMPORTS,
            setup=OTEL_SETUP,
            stmt="counter.add(1, attributes)",
            check=OTEL_CHECK,
        ),
        prometheus_op(
            "prom_labelled",
            'prometheus_client labels("/").inc() + labels("/").observe()',
            PROM_LABELLED
            + "\nhistogram = pc.Histogram("
            + f'"seconds", "s", ["route"], buckets={BUCKETS}, registry=registry)',
            'counter.labels("/").inc()\nhistogram.labels("/").observe(0.012)',
            'assert registry.get_sample_value("seconds_count", {"route": "/"}) == n',
        ),
        Op(
            key="mvx_common",
            label="mvx-common 0.3 register_event",
            module="mvx.common.metrics",
            imports=COMMON_IMPORTS,
            declarations=COMMON_DECLARATIONS,
            is_async=True,
            setup=COMMON_SETUP,
            stmt="recorder.register_event(event=event)",
        ),
        mvx_op("labelled", "mvx_metrics, labelled Counter + Histogram"),
        mvx_op("distribution", "mvx_metrics, Distribution"),
        mvx_op("count", "mvx_metrics, label-less Counter"),
        prometheus_op(
            "prom_labels_inc",
            'prometheus_client Counter.labels("ok").inc()',
            PROM_LABELLED,
            'counter.labels("ok").inc()',
            'assert registry.get_sample_value("requests_total", {"route": "ok"}) == n',
        ),
        prometheus_op(
            "prom_histogram",
            "prometheus_client Histogram.observe()",
            'histogram = pc.Histogram("seconds", "s", registry=registry)',
            "histogram.observe(0.012)",
            'assert registry.get_sample_value("seconds_count") == n',
        ),
        prometheus_op(
            "prom_inc",
            "prometheus_client Counter.inc()",
            PROM_COUNTER,
            "counter.inc()",
            'assert registry.get_sample_value("requests_total") == n',
        ),
        *many_ops(MANY_N),
        *create_ops(MANY_N),
    ]
    return {op.key: op for op in ops}


# Quick mode: the mvx hot path and its processing, and the one peer they are set against.
QUICK_OPS = ("mvx_count", "prom_inc")

# --- counting --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Count:
    """Instructions per operation on each side, from the runs with N1 and N2 iterations."""

    key: str
    label: str
    n: tuple[int, int]
    # Callgrind's counters per dump (setup, loop, drain, exit): Ir, and with CACHE_SIM the
    # simulated misses too.
    dumps: tuple[tuple[dict[str, int], ...], tuple[dict[str, int], ...]]

    @property
    def parts(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Ir per dump, of the run with N1 and of the one with N2."""
        first, second = self.dumps
        return tuple(d["Ir"] for d in first), tuple(d["Ir"] for d in second)

    def per_op(self, part: int, event: str = "Ir") -> float:
        (n1, n2), (d1, d2) = self.n, self.dumps
        return (d2[part].get(event, 0) - d1[part].get(event, 0)) / (n2 - n1)

    @property
    def simulated_caches(self) -> bool:
        return "D1mr" in self.dumps[0][0]

    def misses(self, part: int) -> tuple[float, float]:
        """Simulated (L1, last-level) misses per operation, reads and writes of both caches."""
        l1 = sum(self.per_op(part, e) for e in ("I1mr", "D1mr", "D1mw"))
        last = sum(self.per_op(part, e) for e in ("ILmr", "DLmr", "DLmw"))
        return l1, last

    def estimated_cycles(self, part: int) -> float:
        """KCachegrind's estimate: Ir + 10 x L1 misses + 100 x last-level misses."""
        l1, last = self.misses(part)
        return self.per_op(part) + 10 * l1 + 100 * last

    @property
    def caller(self) -> float:
        return self.per_op(1)

    @property
    def owner(self) -> float:
        return self.per_op(2)


def read_events(path: Path) -> dict[str, int]:
    """Callgrind's totals of one dump by event (``Ir``, and the misses with
    ``--cache-sim=yes``): its ``events:`` line and its ``summary:`` or ``totals:`` line."""
    names = ["Ir"]
    for line in path.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            return dict(zip(names, map(int, line.split()[1:]), strict=False))
    raise RuntimeError(f"{path}: no summary: or totals: line")


def child_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts in every run
    # Compiling the imported modules from source (nothing caches them here when
    # PYTHONDONTWRITEBYTECODE is set) is most of a child's start-up under valgrind: the dry
    # run caches their bytecode in a private folder, and the counted runs read it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def _run(command: list[str], label: str, env: dict[str, str]) -> None:
    proc = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{label} exited {proc.returncode}:\n{proc.stderr[-3000:]}")


def dry_run(script: Path, n: int, env: dict[str, str]) -> None:
    """Run the child once without valgrind: its checks fail in a second, not in a minute."""
    _run([sys.executable, str(script), str(n)], f"{script.name} N={n} (dry run)", env)


def count_once(
    script: Path, n: int, env: dict[str, str], options: tuple[str, ...] = ()
) -> tuple[dict[str, int], ...]:
    """Run the child under callgrind; the counters of each dump, in order (marker dumps,
    then exit)."""
    out = script.with_name(f"{script.stem}.{n}.out")
    command = ["valgrind", *VALGRIND_OPTIONS, *options, f"--callgrind-out-file={out}"]
    _run([*command, sys.executable, str(script), str(n)], f"{script.name} N={n}", env)
    # callgrind names the dumps out.1, out.2, ... and writes the last one, at exit, to out.
    dumps = sorted(out.parent.glob(f"{out.name}.*"), key=lambda p: int(p.suffix[1:]))
    if len(dumps) != MARKS:
        raise RuntimeError(
            f"{script.name} N={n}: {len(dumps)} callgrind dumps at {MARKER}(), expected "
            f"{MARKS}: is libc's symbol table readable, or is {MARKER}() called elsewhere?"
        )
    return tuple(read_events(path) for path in [*dumps, out])


def count_all(ops: Sequence[Op], sizes: tuple[int, int]) -> dict[str, Count]:
    """Count every op at both sizes. The children run side by side, one per CPU: what else
    the machine is doing changes how long they take, not what they count."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp,
        ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool,
    ):
        folder = Path(tmp)
        env = child_env(folder)
        scripts = {op.key: folder / f"child_{op.key}.py" for op in ops}
        for op in ops:
            scripts[op.key].write_text(op.source())
        try:
            n_of = {op.key: op.sizes or sizes for op in ops}
            for future in [
                pool.submit(dry_run, scripts[op.key], n_of[op.key][0], env) for op in ops
            ]:
                future.result()
            runs = {
                (op.key, n): pool.submit(count_once, scripts[op.key], n, env, op.valgrind_options)
                for op in ops
                for n in n_of[op.key]
            }
            return {
                op.key: Count(
                    op.key,
                    op.label,
                    n_of[op.key],
                    tuple(runs[op.key, n].result() for n in n_of[op.key]),  # type: ignore[arg-type]
                )
                for op in ops
            }
        except BaseException:
            pool.shutdown(cancel_futures=True)  # one failure is reported, not waited for
            raise


def select_ops(quick: bool, missing: list[str]) -> list[Op]:
    """The ops to count, less those of peers that are not installed (noted in ``missing``)."""
    ops = all_ops()
    chosen = [ops[key] for key in QUICK_OPS] if quick else list(ops.values())
    return [op for op in chosen if _importable(op.module, missing)]


PEER_NAMES = {
    "prometheus_client": "prometheus_client",
    "opentelemetry.sdk.metrics": "opentelemetry-sdk",
    "mvx.common.metrics": "mvx-common 0.3",
}


def _importable(module: str, missing: list[str]) -> bool:
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        found = False
    if not found and module == "mvx_metrics":
        raise SystemExit("mvx_metrics is not importable: pip install -e . first")
    if not found:
        print(f"peer {PEER_NAMES[module]} not installed (import {module} failed): skipped")
        missing.append(PEER_NAMES[module])
    return found


# --- report ----------------------------------------------------------------------------------

HOT_PATH = (
    ("prom_inc", "prometheus_client Counter.inc()"),
    ("prom_labels_inc", 'prometheus_client Counter.labels("ok").inc()'),
    ("otel_add", 'OpenTelemetry SDK counter.add(1, {"outcome": "ok"})'),
    ("mvx_count", "mvx_metrics register_event (running, direct mode)"),
    ("mvx_common", "mvx-common 0.3 register_event"),
)

# (title, mvx op, the prometheus_client op doing the same update in the caller)
SHAPES = (
    ("label-less Counter vs Counter.inc()", "mvx_count", "prom_inc"),
    (
        "labelled Counter + Histogram vs labels().inc() + labels().observe()",
        "mvx_labelled",
        "prom_labelled",
    ),
    ("Distribution vs Histogram.observe()", "mvx_distribution", "prom_histogram"),
)


def _ratio(value: float, base: Count | None) -> str:
    """``value`` against a peer's call, which runs wholly in the caller."""
    return "-" if base is None else f"{value / base.caller:.2f}x"


def print_hot_path(counts: dict[str, Count]) -> None:
    rows = [(label, counts[key]) for key, label in HOT_PATH if key in counts]
    inc, labels = counts.get("prom_inc"), counts.get("prom_labels_inc")
    width = max(len(label) for label, _ in rows)
    print("\n== 1. hot path, caller side: instructions per call (lower is better)")
    print(f"{'':{width}}  {'instr/call':>10}  {'x Counter.inc()':>15}  {'x labels().inc()':>16}")
    for label, count in rows:
        print(
            f"{label:{width}}  {count.caller:>10,.0f}  {_ratio(count.caller, inc):>15}"
            f"  {_ratio(count.caller, labels):>16}"
        )
    if "mvx_common" in counts:
        print(
            "note: mvx-common 0.3 schedules a call_soon_threadsafe per event, even on its own\n"
            "loop, and writes a byte to the loop's self-pipe: the system call is not counted."
        )


def print_processing(counts: dict[str, Count]) -> None:
    print(
        "\n== 2. processing: instructions per event, caller side (register_event) and owning\n"
        "loop side (aflush() applying the buffered events); prometheus_client updates in\n"
        "the caller (lower is better)"
    )
    width = 2 + max(
        [len("mvx_metrics")] + [len(counts[k].label) for _, _, k in SHAPES if k in counts]
    )
    for title, ours, theirs in SHAPES:
        if ours not in counts:
            continue
        print(
            f"{title}\n{'':{width}}  {'caller':>8}  {'owner':>8}  {'total':>8}  x prometheus_client"
        )
        mvx, prom = counts[ours], counts.get(theirs)
        total = mvx.caller + mvx.owner
        print(
            f"{'  mvx_metrics':{width}}  {mvx.caller:>8,.0f}  {mvx.owner:>8,.0f}  {total:>8,.0f}"
            f"  {_ratio(total, prom)}"
        )
        if prom is not None:
            print(
                f"{'  ' + prom.label:{width}}  {prom.caller:>8,.0f}  {'-':>8}  {prom.caller:>8,.0f}"
                "  1.00x"
            )


def print_many(counts: dict[str, Count]) -> None:
    ours, theirs = counts.get("mvx_many"), counts.get("prom_many")
    if ours is None:
        return
    print(
        "\n== 3. many idle recorders: one full gc.collect(), per recorder (2 metrics, in the\n"
        "runtime), against prometheus_client's 2 label children; only the collector is\n"
        "counted, with simulated caches (lower is better)"
    )
    rows = [count for count in (ours, theirs) if count is not None]
    width = max(len(count.label) for count in rows)
    columns = [("instructions", lambda c: c.owner)]
    if all(count.simulated_caches for count in rows):
        columns += [
            ("L1 misses", lambda c: c.misses(2)[0]),
            ("LL misses", lambda c: c.misses(2)[1]),
            ("est. cycles", lambda c: c.estimated_cycles(2)),
        ]
    print(f"{'':{width}}" + "".join(f"  {title:>12}" for title, _ in columns))
    for count in rows:
        print(f"{count.label:{width}}" + "".join(f"  {get(count):>12,.0f}" for _, get in columns))
    if theirs is not None:
        ratios = "".join(f"  {get(ours) / get(theirs):>11.2f}x" for _, get in columns)
        print(f"{'ratio':{width}}{ratios}")


def print_create(counts: dict[str, Count]) -> None:
    """What making one of those recorders costs (section 3's creation figure)."""
    made, theirs = counts.get("mvx_create"), counts.get("prom_create")
    if made is None:
        return
    print(f"\nmaking one, every thread counted, collector off: {made.caller:,.0f} instructions")
    if theirs is not None:
        print(
            f"  prometheus_client's 2 label children: {theirs.caller:,.0f} "
            f"({made.caller / theirs.caller:.2f}x)"
        )


def print_register_check(counts: dict[str, Count]) -> None:
    """register_event does not look at the metrics: its count is the same for every shape."""
    figures = [f"{key[4:]} {counts[key].caller:,.0f}" for _, key, _ in SHAPES if key in counts]
    if len(figures) > 1:
        print(f"\nregister_event per call in each mvx child: {', '.join(figures)}")


def results_json(counts: dict[str, Count], sizes: tuple[int, int]) -> dict[str, object]:
    return {
        "date": datetime.date.today().isoformat(),
        "command": COMMAND,
        "checkout": describe_checkout(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": platform.machine(),
        "valgrind": valgrind_version(),
        "unit": "CPU instructions per operation (callgrind Ir), (Ir(N2) - Ir(N1)) / (N2 - N1)",
        "n": list(sizes),
        "ops": {
            key: {
                "label": count.label,
                "caller": round(count.caller, 1),
                "owner": round(count.owner, 1),
                "ir_per_dump": {
                    str(n): list(parts) for n, parts in zip(count.n, count.parts, strict=True)
                },
                **(
                    {
                        "collector_misses_l1_ll": [round(m, 1) for m in count.misses(2)],
                        "collector_estimated_cycles": round(count.estimated_cycles(2), 1),
                        "cache_sim": " ".join(CACHE_SIM),
                    }
                    if count.simulated_caches
                    else {}
                ),
            }
            for key, count in counts.items()
        },
    }


def valgrind_version() -> str:
    proc = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


# --- chart -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    caller: float
    owner: float = 0.0


def chart_groups(counts: dict[str, Count]) -> list[tuple[str, list[Bar]]]:
    groups = [
        (
            "Hot path: one call in the caller",
            [Bar(label, counts[key].caller) for key, label in HOT_PATH if key in counts],
        )
    ]
    for title, ours, theirs in SHAPES:
        if ours not in counts:
            continue
        bars = [Bar("mvx_metrics: register_event + processing", *_sides(counts[ours]))]
        if theirs in counts:
            bars.append(Bar(counts[theirs].label, counts[theirs].caller))
        groups.append((f"Per event applied: {title}", bars))
    return groups


def _sides(count: Count) -> tuple[float, float]:
    return count.caller, count.owner


def draw_chart(groups: list[tuple[str, list[Bar]]], path: Path) -> None:
    """Horizontal bars, one panel per operation; each bar split by where the work runs."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to the file
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    heights = [len(bars) for _, bars in groups]
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(10, 1.2 + 0.42 * sum(heights) + 0.45 * len(groups)),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    longest = max(bar.caller + bar.owner for _, bars in groups for bar in bars)
    for ax, (title, bars) in zip(axes[:, 0], groups, strict=True):
        _draw_panel(ax, title, bars)
    bottom = axes[-1, 0]
    bottom.set_xlim(0, longest * 1.12)  # room for the figures at the bars' ends
    bottom.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    bottom.set_xlabel("CPU instructions per operation (callgrind; lower is better)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, 0].legend(handles, labels, loc="lower right", fontsize=8, frameon=False)
    fig.suptitle("mvx_metrics against its peers: instructions per operation", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_panel(ax: Axes, title: str, bars: list[Bar]) -> None:
    y = list(range(len(bars)))
    callers = [bar.caller for bar in bars]
    ax.barh(y, callers, color="#4878a8", label="in the caller")
    ax.barh(
        y, [bar.owner for bar in bars], left=callers, color="#e08a3c", label="on the owning loop"
    )
    for i, bar in enumerate(bars):
        total = bar.caller + bar.owner
        ax.text(total, i, f" {total:,.0f}", va="center", fontsize=8)
    ax.set_yticks(y, [bar.label for bar in bars], fontsize=8)
    ax.invert_yaxis()  # first bar on top, in the order of the tables
    ax.set_title(title, loc="left", fontsize=9)


# --- main ------------------------------------------------------------------------------------


def write_outputs(counts: dict[str, Count], sizes: tuple[int, int], quick: bool) -> int:
    """Full mode: the committed JSON and chart. Quick mode: the same into a temporary folder,
    so that the smoke test exercises the code without touching the committed files."""
    if quick:
        with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
            return _write(
                counts, sizes, Path(tmp) / "instructions.json", Path(tmp) / "chart.png", quick
            )
    return _write(counts, sizes, RESULTS, CHART, quick)


def _write(
    counts: dict[str, Count], sizes: tuple[int, int], results: Path, chart: Path, quick: bool
) -> int:
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(results_json(counts, sizes), indent=2) + "\n")
    where = (
        "a temporary folder (quick mode: discarded)" if quick else f"{results.relative_to(ROOT)}"
    )
    if importlib.util.find_spec("matplotlib") is None:
        if quick:
            print(f"\nfigures written to {where}; chart skipped: matplotlib not installed")
            return 0
        print('\nmatplotlib not installed, no chart: pip install -e ".[bench]"', file=sys.stderr)
        return 1
    draw_chart(chart_groups(counts), chart)
    if not quick:
        where += f" and {chart.relative_to(ROOT)}"
    print(f"\nfigures and chart written to {where}")
    return 0


def main() -> int:
    quick = parse_quick(__doc__ or "")
    if shutil.which("valgrind") is None:
        print(
            "valgrind not found: this benchmark counts instructions with callgrind, and "
            "counted NOTHING.\nInstall it (Debian/Ubuntu, as root): apt-get install -y "
            "valgrind (.ci/run and `nox -s bench` do).",
            file=sys.stderr,
        )
        # Quick mode is the test suite's smoke run, which must pass on a machine with
        # only Python and pip; a measurement run must not pass without measuring.
        return 0 if quick else 1
    sizes = QUICK_N if quick else FULL_N
    missing: list[str] = []
    ops = select_ops(quick, missing)
    print(
        f"bench_instructions ({'quick' if quick else 'full'}): {platform.python_implementation()} "
        f"{platform.python_version()}, {valgrind_version()} callgrind; N1={sizes[0]:,}, "
        f"N2={sizes[1]:,}; {2 * len(ops)} children, {os.cpu_count()} at a time"
    )
    t0 = time.perf_counter()
    try:
        counts = count_all(ops, sizes)
    except RuntimeError as exc:  # a child failed its checks, or callgrind did not dump
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"counted in {time.perf_counter() - t0:.1f} s; every child's checks passed")
    print_hot_path(counts)
    print_processing(counts)
    print_many(counts)
    print_create(counts)
    print_register_check(counts)
    print_missing_peers(missing, quick)
    return write_outputs(counts, sizes, quick)


if __name__ == "__main__":
    sys.exit(main())
