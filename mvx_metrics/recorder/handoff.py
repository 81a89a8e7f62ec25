"""The hand-off between producers (any thread) and the owning loop: one shared state object.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

The hand-off is the base of a recorder's core (``driving.Driver``, which is also its
routes and processor): producers use only the part defined here.

Producers append events to ``buffer``; the owning loop is the only one that pops them.

**Slots.** The pending-event limit is enforced without a lock on the hot path by
*credits*: a bytearray holding one byte per free slot handed out to producers.
``credits.pop()`` is atomic, so taking a slot either succeeds or raises ``IndexError``,
even with many producer threads. Free slots are handed out ``CREDIT_CHUNK`` at a time;
the rest are a plain count (``unissued``), so a recorder's memory does not grow with its
limit. A producer that finds ``credits`` empty takes the slow path
(:meth:`Handoff.issue_credits`), under ``room``'s lock, once per chunk. The owning loop
gives slots back after it has processed the events that held them. Hence
``pending == capacity - unissued - len(credits)`` at every instant.

**Back-pressure.** Under the GIL, a consumer thread that wants to run waits up to a
switch interval (5 ms) behind busy producers; a flood of tight producers can fill any
limit while the consumer waits its turn, and then events are dropped although the
consumer could have kept up. So a producer in a foreign thread that needs more credits
while at least half of the limit is pending first *presses*: it wakes the owning loop and
waits for it to process something, at most ``PRESS_WAIT_S`` plus whatever time the
garbage collector held the GIL meanwhile. Waiting releases the GIL to the consumer. A press that times out marks the consumer as stalled, and nobody presses
again until it has made progress, so a stuck loop costs producers one wait, not one per
event. Below the watermark the hot path is unchanged.

**Control items** (metric registration, snapshot and flush requests, stop) travel
through the same ``buffer`` so that they are ordered with events: a snapshot request
appended after an event's ``register_event`` returned is served after that event is
applied. They take no credit.

**Wake-ups.** ``mode`` says what the owning side is doing (:class:`Intake`, with its
table of moves); only the owning loop changes it. A busy or polling owner looks at the
buffer by itself, so most appends wake nothing. ``wake_on_append`` is True only while an
append must wake the owner (PARKED, STOPPED, FAILED): a producer that appends and sees it
calls :meth:`Handoff.claim_wake`. Reads and other urgent items wake a polling owner too
(:meth:`Handoff.claim_wake_urgently`). Producers racing there compete for a single *wake
token* (a list popped atomically), so at most one wake-up is in flight. The owner puts
the token back before it rests, then looks at ``buffer`` one last time, so an append that
raced with it is never left unnoticed (:meth:`Handoff.rest`).

**Reads in place.** ``guard`` is held by whoever touches metric state, so that a reader
in another thread can skip the round trip to the owning loop. The owning loop holds it
for each batch it applies (never across an await). A reader takes it without blocking;
if it gets it and ``buffer`` is empty, every item accepted so far has been applied and
nothing will change the metrics until it lets go, so it may take its snapshot right
there. Any other outcome sends the read through ``buffer`` as before. A reader in place
only reads: metric state still changes on the owning loop alone.
"""

from __future__ import annotations

import enum
import gc
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol, cast

from .._tables import EMPTY, own
from .delay import DelayCounts

__all__ = [
    "CREDIT_CHUNK",
    "FORK_DISCARDED",
    "NO_CREDITS",
    "PRESS_COLLECTION_ALLOWANCE_S",
    "PRESS_WAIT_S",
    "UNUSED_BUFFER",
    "CollectorTime",
    "ControlItem",
    "Handoff",
    "Intake",
    "Waker",
]

#: The drop reason of events a forked child found pending in its copy of the parent's
#: recorder: the parent processes its own; the child discards its copies.
FORK_DISCARDED = "fork_discarded"

#: Free slots handed to producers at a time: the slow path runs once per this many events.
CREDIT_CHUNK = 128
#: Longest a producer presses (waits for the owning loop to make progress) per chunk,
#: not counting the time the garbage collector ran meanwhile (see
#: :class:`CollectorTime`).
PRESS_WAIT_S = 0.05
#: The most a press is extended by garbage collections: a loop that does not progress
#: for this long after them is stalled whatever the cause.
PRESS_COLLECTION_ALLOWANCE_S = 2.0


class CollectorTime:
    """Seconds the garbage collector ran while this callback was in ``gc.callbacks``.

    A full collection of a big heap takes tens to hundreds of milliseconds and holds the
    GIL, so the owning loop cannot progress during it: a press timed by the wall clock
    alone would mark a healthy loop as stalled, and the burst that follows would be
    dropped although nothing was wrong. Registered only for the length of a press, so
    that collections cost nothing more at other times.
    """

    __slots__ = ("_started", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
        elif self._started is not None:
            self.seconds += time.monotonic() - self._started
            self._started = None

    def so_far(self) -> float:
        """The collectors' time so far, a collection still running included."""
        started = self._started
        running = 0.0 if started is None else time.monotonic() - started
        return min(self.seconds + running, PRESS_COLLECTION_ALLOWANCE_S)


#: The buffer of a recorder nobody has appended to yet: empty, and no object of its own
#: (an empty deque is one more object for every full collection to visit, and a runtime
#: may hold thousands of recorders that never see an event). The first credit handed
#: out, or the first control item, makes the deque (:meth:`Handoff.appendable`). Only
#: truth tests and ``len()`` ever see it: nobody pops from an empty buffer.
UNUSED_BUFFER: Final = cast("deque[Any]", ())

#: The credits of a recorder that has handed none out yet: one empty bytearray that all
#: of them share (a bytearray of its own is one more object for a full collection to
#: visit, for each of thousands of idle recorders). Always empty: a pop from it fails as
#: from any empty one, and credits are only ever added by :meth:`Handoff._hand_out`,
#: which replaces it.
NO_CREDITS: Final = bytearray()

# Taken only to make a recorder's deque, once, and never held while taking another lock:
# a producer making it holds the hand-off's lock, a control item's sender may hold it.
_making_buffers = threading.Lock()


def _after_fork_in_child() -> None:
    """A press of the parent's that was waiting at the fork never ends here: its
    collector-time callback would stay in ``gc.callbacks`` for good. A buffer being made
    at the fork leaves its lock held."""
    global _making_buffers
    gc.callbacks[:] = [cb for cb in gc.callbacks if not isinstance(cb, CollectorTime)]
    _making_buffers = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Intake(enum.Enum):
    """What the owning side is doing with the buffer; changed on the owning loop only."""

    #: Processing has not begun (before start, or STARTING): appends wake nothing;
    #: processing applies what is buffered when it begins.
    AWAITING_START = "awaiting_start"
    #: Applying items, or about to look at the buffer again before resting.
    BUSY = "busy"
    #: Resting after recent work: the loop's ticker looks at the buffer every
    #: ``max_processing_delay``. Appends wake nothing; urgent items (reads) wake it.
    POLLING = "polling"
    #: Resting with no ticker, after a quiet spell: the next append wakes it.
    PARKED = "parked"
    #: Stopped cleanly: a wake-up applies late events (stragglers) there and then.
    STOPPED = "stopped"
    #: FAILURE or CANCELLED: a wake-up answers control items; events stay pending.
    FAILED = "failed"

    # By identity, as members compare: in C, where Enum's own hash is a Python call,
    # paid at every move (``_MOVES`` is a table keyed by mode).
    __hash__ = object.__hash__


_MOVES: dict[Intake, frozenset[Intake]] = {
    Intake.AWAITING_START: frozenset({Intake.AWAITING_START, Intake.BUSY, Intake.FAILED}),
    # Straight to PARKED when processing begins with nothing to do.
    Intake.BUSY: frozenset({Intake.POLLING, Intake.PARKED, Intake.STOPPED, Intake.FAILED}),
    Intake.POLLING: frozenset({Intake.BUSY, Intake.PARKED, Intake.FAILED}),
    Intake.PARKED: frozenset({Intake.BUSY, Intake.FAILED}),
    Intake.STOPPED: frozenset({Intake.AWAITING_START, Intake.STOPPED}),
    Intake.FAILED: frozenset({Intake.FAILED}),
}

#: Modes in which an append must wake the owner.
_WAKE_ON_APPEND = frozenset({Intake.PARKED, Intake.STOPPED, Intake.FAILED})
#: Modes in which nobody would look at the buffer soon without a wake-up.
_RESTING = frozenset({Intake.POLLING, Intake.PARKED, Intake.STOPPED, Intake.FAILED})


class Waker(Protocol):
    """Whoever schedules the owner-side wake-up (the recorder)."""

    def _wake_owner(self) -> None: ...


class ControlItem:
    """A callable run on the owning loop in buffer order; its class never routes to metrics."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn = fn


class Handoff(DelayCounts):
    """Buffer, credits, wake-up state and counters shared by producers and the owning loop.

    Lists rather than deques wherever only the end is used: an empty deque allocates a
    64-slot block, and a runtime may hold thousands of idle recorders.
    """

    __slots__ = (
        "_dropped",
        "_room",
        "_stalled_at",
        "_unissued",
        "_wake_token",
        "blocked_producers",
        "buffer",
        "capacity",
        "credits",
        "guard",
        "lock",
        "mode",
        "pressing",
        "processed",
        "wake_on_append",
        "waker",
    )

    def __init__(self, capacity: int, waker: Waker) -> None:
        self._init_delay()
        self.capacity = capacity
        #: Made on first use (see UNUSED_BUFFER); then only ever appended to and popped.
        self.buffer: deque[Any] = UNUSED_BUFFER
        #: Free slots handed out to producers (see "Slots" above); empty at first.
        #: A bytearray, not a list of tokens: its pop is as atomic, and the garbage
        #: collector does not track it (a list it always does; a runtime may hold
        #: thousands of recorders).
        self.credits = NO_CREDITS
        # Free slots not handed out; changed under `lock`.
        self._unissued = capacity
        self.mode = Intake.AWAITING_START
        #: True while an append must wake the owner: set by the owner as it rests,
        #: cleared by the first producer that claims the wake-up.
        self.wake_on_append = False
        #: Holds one token (key 0) while a wake-up may be sent; whoever pops it sends it.
        #: Only the owner adds it back, and only when it is missing. A dict rather than a
        #: list: ``dict.pop`` is as atomic, and a dict of atomic values is not tracked by
        #: the garbage collector (a list always is; a runtime may hold many recorders).
        self._wake_token: dict[int, None] = {}
        #: Schedules the owner-side wake-up: the recorder (not a bound method of it,
        #: which would be one more object per recorder for the collector).
        self.waker = waker
        #: Events processed; changed by the owning loop under `lock`.
        self.processed = 0
        self._dropped: dict[str, int] = EMPTY  # its own at the first refusal (``.._tables``)
        #: Held while metric state is applied or read (see "Reads in place" above).
        #: Reentrant: a metric's snapshot() may itself read the recorder.
        self.guard = threading.RLock()
        #: Guards the slot counts and counters; the recorder serialises its lifecycle
        #: (state moves, registrations) with it too, so that a recorder holds one lock
        #: object, not two. Both only ever hold it briefly and call nothing that takes it
        #: again; a producer waiting for room (``_room``) lets go of it while it waits.
        self.lock = threading.Lock()
        # Producers that press or block wait on it for room; made on first need (under
        # `lock`), since most recorders never have a producer waiting.
        self._room: threading.Condition | None = None
        #: Producers waiting for room under OverflowPolicy.BLOCK.
        self.blocked_producers = 0
        #: Producers pressing (waiting for the owner to make progress).
        self.pressing = 0
        # `processed` when a press last timed out: no press until it moves on.
        self._stalled_at = -1

    # --- the owner's mode and wake-ups ------------------------------------------------------

    def move_to(self, mode: Intake) -> None:
        """Owning loop only: change ``mode`` along the table of moves."""
        if mode not in _MOVES[self.mode]:
            raise RuntimeError(f"hand-off cannot move from {self.mode} to {mode}")
        self.mode = mode

    def claim_wake(self) -> None:
        """Called by a producer that appended and saw ``wake_on_append``: wake the owner, once."""
        self.wake_on_append = False
        try:
            self._wake_token.pop(0)
        except KeyError:
            return  # another producer's wake-up is already on its way
        if self.mode is Intake.PARKED:  # nothing was pending: the wait starts now
            self.delay_since = time.perf_counter()
        self.waker._wake_owner()

    def claim_wake_urgently(self) -> None:
        """After appending something that must not wait for a tick (a read, a flush)."""
        if self.mode in _RESTING:
            self.claim_wake()

    def rest(self, mode: Intake) -> bool:
        """Owner, before resting in ``mode``. True: rest. False: work came and no wake-up
        is on its way for it; the owner is BUSY again and must apply it."""
        if not self._wake_token:
            self._wake_token[0] = None
        self.move_to(mode)
        self.wake_on_append = mode in _WAKE_ON_APPEND
        if not self.buffer:
            return True
        try:
            self._wake_token.pop(0)
        except KeyError:
            return True  # a producer claimed it: its wake-up arrives at once
        self.wake_on_append = False
        self.move_to(Intake.BUSY if mode in (Intake.POLLING, Intake.PARKED) else mode)
        return False

    def busy(self) -> None:
        """Owner: start applying (the task starts, or a wake-up or a tick found work)."""
        self.wake_on_append = False
        self.move_to(Intake.BUSY)

    def wake_from_rest(self) -> None:
        """Owner: BUSY again if resting POLLING or PARKED (a wake-up for the task)."""
        if self.mode is Intake.POLLING or self.mode is Intake.PARKED:
            self.busy()

    def await_start(self) -> None:
        """Before a (re)start: no wake-ups until processing begins."""
        self.move_to(Intake.AWAITING_START)
        self.wake_on_append = False
        self._wake_token.clear()

    # --- slots: consumer side (owning loop only) ----------------------------------------------

    def release(self, events: int) -> None:
        """Record ``events`` as processed and give their slots back."""
        if not events:
            return
        with self.lock:
            self.processed += events
            # Top the producers' credits up to a chunk; the rest become unissued slots.
            handed = min(events, max(CREDIT_CHUNK - len(self.credits), 0))
            if handed:
                self._hand_out(handed)
            self._unissued += events - handed
            if self._room is not None and (self.blocked_producers or self.pressing):
                self._room.notify_all()

    # --- slots: producer slow paths -------------------------------------------------------------

    def issue_credits(self, *, may_press: bool) -> bool:
        """The credits ran out: take a slot and hand out a chunk more. False: the limit is
        reached. ``may_press``: the caller is not on the owning loop's thread, and may
        wait for it above the watermark (see "Back-pressure" above)."""
        with self.lock:
            if (
                may_press
                and self._unissued <= self.capacity // 2
                and self.processed != self._stalled_at
            ):
                self._press()
            return self._grant()

    def appendable(self) -> deque[Any]:
        """The buffer, made now if nobody has appended to it yet (see UNUSED_BUFFER)."""
        buffer = self.buffer
        if buffer is UNUSED_BUFFER:
            with _making_buffers:
                buffer = self.buffer
                if buffer is UNUSED_BUFFER:
                    buffer = self.buffer = deque()
        return buffer

    def _grant(self) -> bool:
        """Take one slot and hand out up to a chunk more; hold ``lock``. A producer holds
        no credit before its first grant, so the buffer is made here for it."""
        unissued = self._unissued
        if not unissued:
            return False
        self.appendable()
        grant = min(CREDIT_CHUNK, unissued)
        self._unissued = unissued - grant
        if grant > 1:
            self._hand_out(grant - 1)
        return True

    def _hand_out(self, credits: int) -> None:
        """Add ``credits`` for producers to take; hold ``lock``. The first ones replace
        the shared :data:`NO_CREDITS`, which is never added to."""
        if self.credits is NO_CREDITS:
            self.credits = bytearray(credits)
        else:
            self.credits += bytes(credits)

    def _waiting_room(self) -> threading.Condition:
        """The condition producers wait on for room; hold ``lock``."""
        room = self._room
        if room is None:
            room = self._room = threading.Condition(self.lock)
        return room

    def _press(self) -> None:
        """Wait until the owner processes something, at most PRESS_WAIT_S plus the time
        the garbage collector ran meanwhile (:class:`CollectorTime`); hold ``lock``."""
        room = self._waiting_room()
        start = self.processed
        deadline = time.monotonic() + PRESS_WAIT_S
        collections = CollectorTime()
        gc.callbacks.append(collections)
        self.pressing += 1
        try:
            self.claim_wake_urgently()
            while self.processed == start:
                remaining = deadline + collections.so_far() - time.monotonic()
                if remaining <= 0:
                    self._stalled_at = start
                    return
                room.wait(remaining)
        finally:
            self.pressing -= 1
            gc.callbacks.remove(collections)

    def wait_for_credit(self, timeout: float) -> bool:
        """Block the calling (foreign) thread until a slot is free; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.lock:
            room = self._waiting_room()
            self.blocked_producers += 1
            try:
                while True:
                    try:
                        self.credits.pop()
                        return True
                    except IndexError:
                        pass
                    if self._grant():
                        return True
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self.claim_wake_urgently()
                    room.wait(remaining)
            finally:
                self.blocked_producers -= 1

    def count_dropped(self, reason: str, events: int = 1) -> None:
        """Count ``events`` that were not accepted (or, ``FORK_DISCARDED``, not kept)."""
        with self.lock:
            dropped = self._dropped = own(self._dropped)
            dropped[reason] = dropped.get(reason, 0) + events

    # --- readers (any thread) -----------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """``(processed, pending)`` from one consistent instant."""
        with self.lock:
            return self.processed, self.capacity - self._unissued - len(self.credits)

    def pending_in_forked_child(self) -> int:
        """Pending, read without ``lock``: in a forked child nothing else runs, and a
        thread of the parent may have held the lock at the fork, for good."""
        return self.capacity - self._unissued - len(self.credits)

    def dropped(self) -> dict[str, int]:
        with self.lock:
            return dict(self._dropped)
