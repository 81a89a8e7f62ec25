"""The hand-off between producers (any thread) and the owning loop: one shared state object.

Producers append events to ``buffer``; the processing task on the owning loop is the only
one that pops them. The pending-event limit is enforced without a lock by *credits*: a
deque holding one token per free slot. ``credits.pop()`` is atomic, so taking a slot
either succeeds or raises ``IndexError``, even with many producer threads; the
consumer gives slots back after it has processed the events that held them.
Hence ``pending == capacity - len(credits)``, exactly, at every instant.

Control items (metric registration, snapshot and flush requests, stop) travel through
the same ``buffer`` so that they are ordered with events: a snapshot request appended
after an event's ``register_event`` returned is served after that event is applied.
They take no credit.

Wake-ups: ``idle`` is True only while the processing task waits for work. A producer
that appends and then sees ``idle`` calls :meth:`Handoff.claim_wake`: one wake-up per
batch, not per event. Producers racing there compete for a single *wake token* (again a
deque popped atomically), so at most one wake-up is ever in flight. The consumer puts
the token back and sets ``idle`` before looking at ``buffer`` one last time, so an append
that raced with it is never left unnoticed (:meth:`Handoff.go_idle`).

Reads in place: ``guard`` is held by whoever touches metric state, so that a reader in
another thread can skip the round trip to the owning loop. The owning loop holds it for
each batch it applies (never across an await). A reader takes it without blocking; if it
gets it and ``buffer`` is empty, every item accepted so far has been applied and nothing
will change the metrics until it lets go, so it may take its snapshot right there. Any
other outcome sends the read through ``buffer`` as before. A reader in place only reads:
metric state still changes on the owning loop alone.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from itertools import repeat
from typing import Any

__all__ = ["ControlItem", "Handoff"]


class ControlItem:
    """A callable run on the owning loop in buffer order; its class never routes to metrics."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn = fn


class Handoff:
    """Buffer, credits and counters shared by producers and the owning loop."""

    __slots__ = (
        "_drop_lock",
        "_dropped",
        "_room",
        "_seq",
        "_wake_token",
        "append",
        "blocked_producers",
        "buffer",
        "capacity",
        "credits",
        "guard",
        "idle",
        "processed",
        "take_credit",
        "wake",
    )

    def __init__(self, capacity: int, wake: Callable[[], None]) -> None:
        self.capacity = capacity
        self.buffer: deque[Any] = deque()
        self.credits: deque[None] = deque(repeat(None, capacity))
        # Bound methods, looked up once: the hot path calls them per event.
        self.append = self.buffer.append
        self.take_credit = self.credits.pop
        #: True while the consumer sleeps waiting for work (see module docstring).
        self.idle = False
        #: Holds one token while a wake-up may be sent; whoever pops it sends it.
        self._wake_token: deque[None] = deque(maxlen=1)
        #: Schedules the owner-side wake-up; supplied by the recorder.
        self.wake = wake
        #: Events processed; written only by the owning loop.
        self.processed = 0
        # Even while processed and credits agree; odd while the consumer updates them.
        # Readers in other threads retry until they see one even value on both sides.
        self._seq = 0
        self._dropped: Counter[str] = Counter()
        self._drop_lock = threading.Lock()
        #: Held while metric state is applied or read (see "Reads in place" above).
        #: Reentrant: a metric's snapshot() may itself read the recorder.
        self.guard = threading.RLock()
        #: Producers waiting for room under OverflowPolicy.BLOCK.
        self.blocked_producers = 0
        self._room = threading.Condition(threading.Lock())

    # --- wake-ups -----------------------------------------------------------------------

    def claim_wake(self) -> None:
        """Called by a producer that appended and saw ``idle``: wake the owner, once."""
        self.idle = False
        try:
            self._wake_token.pop()
        except IndexError:
            return  # another producer's wake-up is already on its way
        self.wake()

    def go_idle(self) -> bool:
        """Consumer, before sleeping. True: sleep until woken. False: work came, go on."""
        self._wake_token.append(None)
        self.idle = True
        if not self.buffer:
            return True
        self.idle = False
        try:
            self._wake_token.pop()
        except IndexError:
            return True  # a producer claimed it: its wake-up arrives at once
        return False

    def disarm(self) -> None:
        """No wake-ups wanted (before the processing task runs)."""
        self.idle = False
        self._wake_token.clear()

    # --- consumer side (owning loop only) ---------------------------------------------

    def release(self, events: int) -> None:
        """Record ``events`` as processed and give their slots back."""
        if not events:
            return
        self._seq += 1
        self.processed += events
        self.credits.extend(repeat(None, events))
        self._seq += 1
        if self.blocked_producers:
            with self._room:
                self._room.notify_all()

    # --- producer slow paths ------------------------------------------------------------

    def count_dropped(self, reason: str) -> None:
        """Count one event that was not accepted."""
        with self._drop_lock:
            self._dropped[reason] += 1

    def wait_for_credit(self, timeout: float) -> bool:
        """Block the calling (foreign) thread until a slot is free; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._room:
            self.blocked_producers += 1
            try:
                while True:
                    try:
                        self.take_credit()
                        return True
                    except IndexError:
                        pass
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._room.wait(remaining)
            finally:
                self.blocked_producers -= 1

    # --- readers (any thread) -----------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """``(processed, pending)`` from one consistent instant."""
        while True:
            seq = self._seq
            processed = self.processed
            free = len(self.credits)
            if seq == self._seq and not seq & 1:
                return processed, self.capacity - free
            # The consumer is between its two updates; let it finish (releases the GIL).
            time.sleep(0)

    def dropped(self) -> dict[str, int]:
        with self._drop_lock:
            return dict(self._dropped)
