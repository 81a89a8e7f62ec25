"""The caller side: waiting for work that an owning loop completes.

Internal: not part of the public API (no name here is public: this is how recorders and
the runtime cross threads).

Every cross-thread operation produces a :class:`Completion` (a ``concurrent.futures``
future) that the owning loop resolves. Callers wait for it in the way their context
allows:

- a plain thread blocks with a timeout (:func:`wait_blocking`);
- the owning loop's own thread must never block on it: that is a deadlock, reported at
  once (``deadlock_error``); nor must a thread that is serving a read *in place* (holding
  a recorder's guard, which the owning loop may be waiting for: see
  :func:`serving_in_place`);
- async code, on any asyncio loop or trio run in any thread, awaits it
  (:func:`wait_async`). Cancelling that await abandons the wait only: the operation on the
  owning loop goes on untouched.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sniffio

from . import OwnerGoneError, OwnerHop

__all__ = [
    "Completion",
    "checkpoint_if_trio",
    "completed",
    "failed",
    "resolve",
    "run_on_owner",
    "serving_in_place",
    "spawn_on_owner",
    "wait_async",
    "wait_blocking",
]

T = TypeVar("T")

#: The result of work done on an owning loop, resolved exactly once.
Completion = concurrent.futures.Future

ErrorFactory = Callable[[str], BaseException]


class _InPlace(threading.local):
    depth = 0


_in_place = _InPlace()


@contextmanager
def serving_in_place() -> Iterator[None]:
    """Mark this thread as running metric code for a read served in place, under a
    recorder's guard. Until it ends, a blocking wait for any owning loop raises the
    deadlock error at once: that loop may be waiting for the guard this thread holds."""
    _in_place.depth += 1
    try:
        yield
    finally:
        _in_place.depth -= 1


def completed(value: T) -> Completion[T]:
    """A completion that is already resolved with ``value``."""
    fut: Completion[T] = Completion()
    fut.set_result(value)
    return fut


def failed(exc: BaseException) -> Completion[T]:
    """A completion that is already resolved with ``exc``."""
    fut: Completion[T] = Completion()
    fut.set_exception(exc)
    return fut


def resolve(fut: Completion[T], fn: Callable[[], T]) -> None:
    """Run ``fn`` and store its outcome in ``fut`` (ignored if ``fut`` is already done)."""
    if fut.done():
        return
    try:
        value = fn()
    except BaseException as exc:  # handed to the waiter, who re-raises it
        fut.set_exception(exc)
    else:
        fut.set_result(value)


def run_on_owner(hop: OwnerHop, fn: Callable[[], T]) -> Completion[T]:
    """Run ``fn`` on the owning loop: inline on its thread, else scheduled there."""
    fut: Completion[T] = Completion()
    if hop.is_owner():
        resolve(fut, fn)
        return fut
    try:
        hop.call_soon(lambda: resolve(fut, fn))
    except OwnerGoneError as exc:
        fut.set_exception(exc)
    return fut


def spawn_on_owner(
    hop: OwnerHop, coro_fn: Callable[[], Awaitable[T]], *, name: str
) -> Completion[T]:
    """Run ``await coro_fn()`` as a new task on the owning loop; resolve with its outcome."""
    fut: Completion[T] = Completion()

    async def runner() -> None:
        try:
            value = await coro_fn()
        except Exception as exc:  # handed to the waiter; the task itself ends cleanly
            fut.set_exception(exc)
            return
        except BaseException as exc:  # cancellation: tell the waiter, then let it unwind
            fut.set_exception(exc)
            raise
        fut.set_result(value)

    def spawn() -> None:
        hop.spawn(runner, name)

    if hop.is_owner():
        spawn()
        return fut
    try:
        hop.call_soon(spawn)
    except OwnerGoneError as exc:
        fut.set_exception(exc)
    return fut


def wait_blocking(
    fut: Completion[T],
    *,
    timeout: float,
    owner: OwnerHop | None,
    deadlock_error: ErrorFactory,
    timeout_error: ErrorFactory,
    what: str,
) -> T:
    """Block the calling thread until ``fut`` resolves, at most ``timeout`` seconds."""
    if not fut.done() and owner is not None and owner.is_owner():
        # Only the loop running in this very thread could resolve fut, and we would be
        # blocking that loop: fail now instead of hanging until the timeout.
        raise deadlock_error(what)
    if not fut.done() and _in_place.depth:
        raise deadlock_error(f"{what} from code run by a read served in place")
    try:
        return fut.result(timeout=None if math.isinf(timeout) else timeout)
    except concurrent.futures.TimeoutError:
        raise timeout_error(what) from None


async def wait_async(
    fut: Completion[T],
    *,
    timeout: float,
    timeout_error: ErrorFactory,
    what: str,
) -> T:
    """Await ``fut`` from any asyncio loop or trio run, in any thread."""
    if not fut.done():
        limit = None if math.isinf(timeout) else timeout
        if sniffio.current_async_library() == "trio":
            await _wait_trio(fut, limit, timeout_error, what)
        else:
            await _wait_asyncio(fut, limit, timeout_error, what)
    return fut.result()


async def checkpoint_if_trio() -> None:
    """After async work that finished without waiting: trio code expects every async call
    to be a checkpoint (a cancellation point and a chance for other tasks to run); asyncio
    code does not, and a loop turn there would cost more than the work."""
    if sniffio.current_async_library() == "trio":
        import trio

        await trio.lowlevel.checkpoint()


# The two waits below are written natively rather than with anyio primitives: they run
# on every snapshot and flush, and anyio's portable Event plus cancel scope cost about
# as much again as the whole cross-thread round trip.


async def _wait_asyncio(
    fut: Completion[T], timeout: float | None, timeout_error: ErrorFactory, what: str
) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[None] = loop.create_future()

    def _set() -> None:
        if not arrived.done():  # it is cancelled if the waiter gave up
            arrived.set_result(None)

    def _on_done(_: Completion[T]) -> None:
        try:
            loop.call_soon_threadsafe(_set)
        except RuntimeError:
            pass  # the waiter's loop is closed: nobody is left to wake

    fut.add_done_callback(_on_done)
    try:
        async with asyncio.timeout(timeout):
            await arrived
    except TimeoutError:
        raise timeout_error(what) from None


async def _wait_trio(
    fut: Completion[T], timeout: float | None, timeout_error: ErrorFactory, what: str
) -> None:
    import trio

    token = trio.lowlevel.current_trio_token()
    arrived = trio.Event()

    def _on_done(_: Completion[T]) -> None:
        try:
            token.run_sync_soon(arrived.set)
        except trio.RunFinishedError:
            pass  # the waiter's run has ended: nobody is left to wake

    fut.add_done_callback(_on_done)
    try:
        with trio.fail_after(math.inf if timeout is None else timeout):
            await arrived.wait()
    except trio.TooSlowError:
        raise timeout_error(what) from None
