"""What the exposition had to repair or leave out, counted and exported.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`.

One bad metric must never take ``/metrics`` down for everyone: a family that cannot be
exposed faithfully (its name clashes with another's, two of its label names become one,
its kind is unknown) is left out of that exposition, so is a series whose labels repeat
another's, and text that is not valid UTF-8 (a lone surrogate from ``str()`` of some
object) is replaced with U+FFFD. Each is logged (once per distinct cause in the
process, so that a scrape every 15 s does not flood the log) and counted in an
:class:`ExpositionProblems`; an exposition with problems to report ends with
``mvx_exposition_problems_total{problem=...}``, one sample per kind of problem seen:
``name_clash``, ``label_clash``, ``unknown_kind`` (a family left out),
``duplicate_series`` (a series left out), ``text_replaced``.

A recorder or runtime keeps one for its scrapes (:func:`problems_of`), so that its
counts grow from scrape to scrape as a Prometheus counter should; a one-off render
counts the problems of that exposition alone.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref

from ..snapshots import MetricFamily, Sample

__all__ = ["PROBLEM_KINDS", "ExpositionProblems", "problems_of", "valid_text"]

logger = logging.getLogger("mvx_metrics.export")

#: Every problem counted, in the order they are exported.
PROBLEM_KINDS = ("name_clash", "label_clash", "unknown_kind", "duplicate_series", "text_replaced")

#: Distinct causes logged at most: past it, problems are only counted.
_MAX_LOGGED = 100

_SURROGATES = re.compile("[\ud800-\udfff]")


class ExpositionProblems:
    """Process-wide counts of what expositions repaired or left out; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def note(self, problem: str, message: str) -> None:
        """Count one ``problem`` (one of :data:`PROBLEM_KINDS`); log ``message`` the first
        time the process sees it."""
        with self._lock:
            self._counts[problem] = self._counts.get(problem, 0) + 1
        with _logged_lock:
            first = message not in _logged and len(_logged) < _MAX_LOGGED
            if first:
                _logged.add(message)
        if first:
            logger.warning("exposition: %s (counted in mvx_exposition_problems_total)", message)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def families(self) -> list[MetricFamily]:
        """The self-metric, once there is anything to report; else none."""
        counts = self.counts()
        samples = tuple(
            Sample("", (("problem", kind),), float(counts[kind]))
            for kind in PROBLEM_KINDS
            if kind in counts
        )
        if not samples:
            return []
        description = (
            "Problems repaired (text_replaced) or left out (a family: name_clash, "
            "label_clash, unknown_kind; a series: duplicate_series) by expositions, "
            "per exposition written"
        )
        return [MetricFamily("mvx_exposition_problems", "counter", description, "", samples)]


_logged: set[str] = set()
_logged_lock = threading.Lock()

#: Each scraped source's problems, for as long as the source lives.
_by_source: weakref.WeakKeyDictionary[object, ExpositionProblems] = weakref.WeakKeyDictionary()
_by_source_lock = threading.Lock()


def problems_of(source: object) -> ExpositionProblems:
    """The problems counted for ``source`` (a recorder or runtime) across its scrapes."""
    with _by_source_lock:
        problems = _by_source.get(source)
        if problems is None:
            problems = _by_source[source] = ExpositionProblems()
        return problems


def valid_text(text: str, what: str, problems: ExpositionProblems) -> str:
    """``text`` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD, counted."""
    if text.isascii():
        return text
    repaired, replaced = _SURROGATES.subn("\ufffd", text)
    if replaced:
        problems.note("text_replaced", f"{what} was not valid UTF-8; repaired")
    return repaired
