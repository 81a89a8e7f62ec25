"""Cost of reading metric snapshots from outside the owning loop, against mvx-common 0.3.

Run: ``python benchmarks/bench_snapshot.py [--quick]``.

Every read here comes from outside the owning loop: the recorder lives on a MetricsRuntime
loop thread and the reader is either a plain thread (this script's main thread) or a
coroutine on an asyncio, uvloop or trio loop running in a third thread.

Two kinds of read are timed. "idle" reads find nothing pending and are served in the
reader's thread (no hop). "after a write" reads follow a register_event by the same
reader, so the event is usually still pending and the read goes to the owning loop and
back. Two "raw hop" rows give the floor of such a round trip: call_soon_threadsafe and a
future, nothing else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from _harness import (
    Row,
    Sample,
    cost_ratio,
    fmt,
    load_peer,
    median_of,
    parse_quick,
    print_missing_peers,
    print_table,
    thread_cpu_clock,
)
from _workload import CountingMetric, Ev

from mvx_metrics import MetricsRuntime

T = TypeVar("T")

MVX_THREAD = "bench-snapshot-runtime"
FLOOR_THREAD = "bench-snapshot-floor"
COMMON_NAMESPACE = "bench-snapshot-common"
COMMON_THREAD = f"{COMMON_NAMESPACE}.metrics_runtime"
EVENTS = 1_000
WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Sizes:
    calls: int
    repeats: int


FULL = Sizes(calls=2_000, repeats=7)
QUICK = Sizes(calls=200, repeats=5)


def new_fast_loop() -> asyncio.AbstractEventLoop:
    """The loop MetricsRuntime uses by default, so that the raw floor is comparable."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """An event loop running forever in its own daemon thread."""

    def __init__(self, name: str, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self.loop = factory()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro_fn: Callable[[], Awaitable[T]]) -> T:
        async def wrapper() -> T:
            return await coro_fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(WAIT_S)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT_S)
        self.loop.close()


class TrioThread:
    """A trio run in its own daemon thread, taking coroutines from other threads."""

    def __init__(self, name: str) -> None:
        import trio

        self._trio = trio
        ready = threading.Event()

        async def host() -> None:
            self.token = trio.lowlevel.current_trio_token()
            self._closing = trio.Event()
            ready.set()
            await self._closing.wait()

        self.thread = threading.Thread(target=trio.run, args=(host,), name=name, daemon=True)
        self.thread.start()
        if not ready.wait(WAIT_S):
            raise RuntimeError("trio waiter did not start")

    def run(self, coro_fn: Callable[[], Awaitable[T]]) -> T:
        async def wrapper() -> T:
            return await coro_fn()

        return self._trio.from_thread.run(wrapper, trio_token=self.token)

    def close(self) -> None:
        self._trio.from_thread.run_sync(self._closing.set, trio_token=self.token)
        self.thread.join(WAIT_S)


Waiter = LoopThread | TrioThread


class Meter:
    """Times batches of ``calls`` calls; also the owner thread's CPU per call."""

    def __init__(self, calls: int, owner_thread: str) -> None:
        self.calls = calls
        self.owner_cpu = thread_cpu_clock(owner_thread)
        self.owner_us: list[float] = []
        self.warmed = False

    def sync(self, repeats: int, call: Callable[[], object]) -> Sample:
        return median_of(repeats, lambda: self._sync_batch(call))

    def asynchronous(
        self, repeats: int, waiter: Waiter, call: Callable[[], Awaitable[object]]
    ) -> Sample:
        return median_of(repeats, lambda: waiter.run(lambda: self._async_batch(call)))

    def _sync_batch(self, call: Callable[[], object]) -> float:
        if not self.warmed:
            self.warmed = True
            for _ in range(self.calls):
                call()
        gc.collect()
        o0 = self.owner_cpu() if self.owner_cpu else 0
        t0 = time.perf_counter_ns()
        for _ in range(self.calls):
            call()
        elapsed = time.perf_counter_ns() - t0
        self._owner(o0)
        return elapsed / self.calls / 1_000

    async def _async_batch(self, call: Callable[[], Awaitable[object]]) -> float:
        if not self.warmed:
            self.warmed = True
            for _ in range(self.calls):
                await call()
        gc.collect()
        o0 = self.owner_cpu() if self.owner_cpu else 0
        t0 = time.perf_counter_ns()
        for _ in range(self.calls):
            await call()
        elapsed = time.perf_counter_ns() - t0
        self._owner(o0)
        return elapsed / self.calls / 1_000

    def _owner(self, o0: int) -> None:
        if self.owner_cpu:
            self.owner_us.append((self.owner_cpu() - o0) / self.calls / 1_000)

    def note(self) -> str:
        if not self.owner_us:
            return ""
        return f"owner-loop-thread CPU {fmt(statistics.median(self.owner_us))} us/call"


def sync_row(name: str, owner_thread: str, sizes: Sizes, call: Callable[[], object]) -> Row:
    """Time ``call()`` from this (plain) thread."""
    meter = Meter(sizes.calls, owner_thread)
    return Row(name, meter.sync(sizes.repeats, call), "us/call", meter.note())


def async_row(
    name: str,
    owner_thread: str,
    sizes: Sizes,
    waiter: Waiter,
    call: Callable[[], Awaitable[object]],
) -> Row:
    """Time ``await call()`` on ``waiter``'s loop."""
    meter = Meter(sizes.calls, owner_thread)
    return Row(name, meter.asynchronous(sizes.repeats, waiter, call), "us/call", meter.note())


def bench_floor(sizes: Sizes, waiters: dict[str, Waiter]) -> dict[str, Row]:
    target = LoopThread(FLOOR_THREAD, new_fast_loop)
    try:
        payload = {"count": {"count": EVENTS}}

        def resolve(fut: concurrent.futures.Future[object]) -> None:
            fut.set_result(dict(payload))

        def hop() -> object:
            fut: concurrent.futures.Future[object] = concurrent.futures.Future()
            target.loop.call_soon_threadsafe(resolve, fut)
            return fut.result(WAIT_S)

        async def ahop() -> object:
            fut: concurrent.futures.Future[object] = concurrent.futures.Future()
            target.loop.call_soon_threadsafe(resolve, fut)
            return await asyncio.wrap_future(fut)

        return {
            # call_soon_threadsafe + concurrent Future.result()
            "floor": sync_row("raw hop floor [plain thread]", FLOOR_THREAD, sizes, hop),
            # call_soon_threadsafe + await wrap_future()
            "afloor": async_row(
                "raw hop floor [asyncio loop thread]",
                FLOOR_THREAD,
                sizes,
                waiters["asyncio"],
                ahop,
            ),
        }
    finally:
        target.close()


def bench_mvx(sizes: Sizes, waiters: dict[str, Waiter], failures: list[str]) -> dict[str, Row]:
    runtime = MetricsRuntime(namespace="bench-snapshot", thread_name=MVX_THREAD)
    runtime.start()
    rows: dict[str, Row] = {}
    try:
        recorder = runtime.create_recorder("snap")
        recorder.register_metric(CountingMetric())
        for i in range(EVENTS):
            recorder.register_event(event=Ev(i))
        expected = {"count": {"count": EVENTS}}
        got = recorder.get_metric_snapshots()
        print(f"check {'OK  ' if got == expected else 'FAIL'} mvx snapshot: {got}")
        if got != expected:
            failures.append("mvx snapshot")

        rows["sync"] = sync_row(
            "mvx get_metric_snapshots() idle [plain thread]",
            MVX_THREAD,
            sizes,
            recorder.get_metric_snapshots,
        )
        for library, waiter in waiters.items():
            rows[f"async_{library}"] = async_row(
                f"mvx aget_metric_snapshots() idle [{library} loop thread]",
                MVX_THREAD,
                sizes,
                waiter,
                recorder.aget_metric_snapshots,
            )

        event = Ev(0)

        def write_then_read() -> object:
            recorder.register_event(event=event)
            return recorder.get_metric_snapshots()

        async def awrite_then_read() -> object:
            recorder.register_event(event=event)
            return await recorder.aget_metric_snapshots()

        rows["sync_rw"] = sync_row(
            "mvx register_event + get_metric_snapshots() [plain thread]",
            MVX_THREAD,
            sizes,
            write_then_read,
        )
        rows["async_rw"] = async_row(
            "mvx register_event + aget_metric_snapshots() [asyncio loop thread]",
            MVX_THREAD,
            sizes,
            waiters["asyncio"],
            awrite_then_read,
        )
        # Two rows, each a warm-up batch and then the timed repeats, one write per call.
        writes = 2 * sizes.calls * (sizes.repeats + 1)
        got = recorder.get_metric_snapshots()
        wanted = {"count": {"count": EVENTS + writes}}
        print(f"check {'OK  ' if got == wanted else 'FAIL'} mvx reads saw every write: {got}")
        if got != wanted:
            failures.append("mvx read-your-writes")
    finally:
        runtime.shutdown()
    return rows


def bench_mvx_common(sizes: Sizes, failures: list[str], missing: list[str]) -> dict[str, Row]:
    mc = load_peer("mvx-common 0.3", "mvx.common.metrics", missing)
    if mc is None:
        return {}

    class CommonCounting(mc.Metric):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.count = 0

        @property
        def metric_name(self) -> str:
            return "count"

        def handle_event(self, event: Any) -> bool:
            self.count += 1
            return True

        def snapshot(self) -> Mapping[str, Any]:
            return {"count": self.count}

    runtime = mc.MetricsRuntime(namespace=COMMON_NAMESPACE)
    runtime.start()
    try:
        recorder = runtime.create_recorder("snap")
        recorder.register_metric(CommonCounting())
        got = recorder.get_metric_snapshots()
        print(f"check {'OK  ' if got == {'count': {'count': 0}} else 'FAIL'} mvx-common: {got}")
        if got != {"count": {"count": 0}}:
            failures.append("mvx-common snapshot")
        meter = Meter(sizes.calls, COMMON_THREAD)
        sample = meter.sync(sizes.repeats, recorder.get_metric_snapshots)
        row = Row(
            "mvx-common get_metric_snapshots() [plain thread]",
            sample,
            "us/call",
            meter.note() + "; not read-your-writes",
        )
    finally:
        runtime.shutdown()
    return {"common": row}


def run_pass(sizes: Sizes, failures: list[str], missing: list[str]) -> dict[str, Row]:
    """Every row once; threads are created here, so they inherit the caller's CPU affinity."""
    waiters: dict[str, Waiter] = {
        "asyncio": LoopThread("bench-waiter-asyncio", asyncio.new_event_loop)
    }
    try:
        import uvloop

        waiters["uvloop"] = LoopThread("bench-waiter-uvloop", uvloop.new_event_loop)
    except ImportError:
        print("uvloop not installed: no uvloop waiter row")
    try:
        waiters["trio"] = TrioThread("bench-waiter-trio")
    except ImportError:
        print("trio not installed: no trio waiter row")
    try:
        rows = bench_mvx(sizes, waiters, failures)
        rows |= bench_floor(sizes, waiters)
    finally:
        for waiter in waiters.values():
            waiter.close()
    return rows | bench_mvx_common(sizes, failures, missing)


def report(title: str, rows: dict[str, Row]) -> None:
    order = (
        "common",
        "sync",
        "async_asyncio",
        "async_uvloop",
        "async_trio",
        "floor",
        "sync_rw",
        "afloor",
        "async_rw",
    )
    baseline = rows["common"].name if "common" in rows else rows["sync"].name
    print_table(title, [rows[k] for k in order if k in rows], baseline=baseline)
    print("-- ratios (medians)")
    if "common" in rows:
        for key in ("sync", "async_asyncio", "async_uvloop", "async_trio"):
            if key in rows:
                print(cost_ratio(rows[key], rows["common"]) + "  (target: under 0.10x)")
    print(cost_ratio(rows["sync_rw"], rows["floor"]))
    print(cost_ratio(rows["async_rw"], rows["afloor"]))


def main() -> int:
    quick = parse_quick(__doc__ or "")
    sizes = QUICK if quick else FULL
    failures: list[str] = []
    missing: list[str] = []
    print(
        f"bench_snapshot ({'quick' if quick else 'full'}): Python {sys.version.split()[0]}, "
        f"{sizes.calls:,} sequential calls per repeat after one untimed warm-up batch, "
        f"median of {sizes.repeats} repeats; one metric registered"
    )
    rows = run_pass(sizes, failures, missing)
    report("A. snapshot read latency, default scheduling: timed region = the calls", rows)

    # A thread woken on another vCPU of this VM costs ~100+ us; the scheduler moves a
    # ping-ponging pair onto one CPU only after a while, so pass A can be bimodal. Pinned,
    # what remains is the software cost of each path.
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(affinity) > 1:
        cpu = min(affinity)
        os.sched_setaffinity(0, {cpu})
        try:
            rows = run_pass(sizes, failures, missing)
        finally:
            os.sched_setaffinity(0, affinity)
        report(f"B. same, every thread pinned to CPU {cpu}", rows)
    print_missing_peers(missing, quick)
    if failures:
        print(f"\nFAILED checks: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
