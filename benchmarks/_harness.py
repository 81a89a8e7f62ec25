"""Timing and reporting helpers shared by the benchmark scripts.

The scripts are run as files (``python benchmarks/bench_handoff.py``), not as a package,
so this module is imported by its bare name from the scripts' own directory.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

__all__ = [
    "Row",
    "Sample",
    "collector",
    "cost_ratio",
    "fmt",
    "load_peer",
    "median_of",
    "medians_in_turn",
    "parse_quick",
    "print_missing_peers",
    "print_table",
    "run_threads",
    "thread_cpu_clock",
    "throughput_ratio",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement repeated: its median, min and max over the repeats."""

    median: float
    min: float
    max: float
    repeats: int


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    sample: Sample
    unit: str
    note: str = ""


def median_of(repeats: int, fn: Callable[[], float]) -> Sample:
    """Call ``fn`` ``repeats`` times; ``fn`` times its own region and returns the figure."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    values = [fn() for _ in range(repeats)]
    return Sample(statistics.median(values), min(values), max(values), repeats)


def medians_in_turn(repeats: int, fns: Sequence[Callable[[], float]]) -> list[Sample]:
    """Like ``median_of`` for several figures that are compared with each other: each round
    calls every ``fn`` once, starting one further along each time. Run one after the other,
    a slow spell of the machine (a shared VM's spells last seconds) hits one figure's
    repeats and skews the ratio; in turn, it hits every figure alike.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    values: list[list[float]] = [[] for _ in fns]
    for round_ in range(repeats):
        for step in range(len(fns)):
            index = (round_ + step) % len(fns)
            values[index].append(fns[index]())
    return [Sample(statistics.median(v), min(v), max(v), repeats) for v in values]


def run_threads(threads: int, body: Callable[[int], None]) -> float:
    """Start ``threads`` threads running ``body(index)`` together; wall seconds until all end."""
    barrier = threading.Barrier(threads + 1)

    def main(index: int) -> None:
        barrier.wait()
        body(index)

    workers = [threading.Thread(target=main, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - t0


@contextmanager
def collector(*, on: bool) -> Iterator[None]:
    """A timed region with the garbage collector on or off, after a full collection (so
    that none left over from setup lands in the region); on again afterwards."""
    gc.collect()
    if not on:
        gc.disable()
    try:
        yield
    finally:
        gc.enable()


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:,.1f}"


def print_table(title: str, rows: Sequence[Row], baseline: str | None = None) -> None:
    """Print rows; the ratio column is median / baseline median, for rows of the same unit."""
    base = next((r for r in rows if r.name == baseline), None)
    ratio_head = f"x {baseline}" if base is not None else ""
    name_w = max(len(r.name) for r in rows)
    print(f"\n== {title}")
    head = f"{'':{name_w}}  {'median':>12} {'min':>12} {'max':>12}  {'unit':<10} {ratio_head:>10}"
    print(head.rstrip())
    for r in rows:
        ratio = ""
        if base is not None and r.unit == base.unit and base.sample.median:
            ratio = f"{r.sample.median / base.sample.median:.2f}x"
        s = r.sample
        line = (
            f"{r.name:{name_w}}  {fmt(s.median):>12} {fmt(s.min):>12} {fmt(s.max):>12}"
            f"  {r.unit:<10} {ratio:>10}  {r.note}"
        )
        print(line.rstrip())


def cost_ratio(a: Row, b: Row) -> str:
    """A sentence comparing two per-call costs (lower is better)."""
    return f"{a.name} is {a.sample.median / b.sample.median:.2f}x the cost of {b.name}"


def throughput_ratio(a: Row, b: Row) -> str:
    """A sentence comparing two throughputs (higher is better)."""
    return f"{a.name} sustains {a.sample.median / b.sample.median:.2f}x the throughput of {b.name}"


def thread_cpu_clock(thread_name: str) -> Callable[[], int] | None:
    """Read the CPU time (ns) of another live thread, found by name; None where unsupported.

    Wall time of a producer loop includes the consumer thread's share of the GIL, so the
    per-thread CPU split is what tells caller cost from consumer cost.
    """
    thread = next((t for t in threading.enumerate() if t.name == thread_name), None)
    getclock = getattr(time, "pthread_getcpuclockid", None)
    if thread is None or thread.ident is None or getclock is None:
        return None
    try:
        clock = getclock(thread.ident)
        time.clock_gettime_ns(clock)
    except OSError:
        return None
    return lambda: time.clock_gettime_ns(clock)


def load_peer(label: str, module: str, missing: list[str]) -> ModuleType | None:
    """Import an optional peer library, or note it as missing and return None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        print(f"peer {label} not installed (import {module} failed): skipped")
        missing.append(label)
        return None


def print_missing_peers(missing: Sequence[str], quick: bool) -> None:
    missing = list(dict.fromkeys(missing))
    if not missing:
        return
    if quick:
        print(f"\n(quick mode: peers not installed, skipped: {', '.join(missing)})")
        return
    bar = "!" * 72
    print(f"\n{bar}\nMISSING PEERS, their figures and ratios are absent from this run:")
    for name in missing:
        print(f"  - {name}")
    print('install them with: pip install -e ".[bench]" opentelemetry-sdk\n' + bar)


def parse_quick(description: str) -> bool:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="small N, for a smoke test (figures are noisy)"
    )
    return bool(parser.parse_args().quick)
