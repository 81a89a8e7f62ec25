"""Argument checks shared by the public constructors: clear errors for bad input."""

from __future__ import annotations

import math
import uuid
from enum import Enum
from typing import TypeVar

__all__ = [
    "check_delay",
    "check_enum",
    "check_id",
    "check_positive_int",
    "check_timeout",
    "random_id",
]

E = TypeVar("E", bound=Enum)


def random_id() -> str:
    """A short random id for things created without a name."""
    return uuid.uuid4().hex[:8]


def check_id(value: object, name: str) -> str:
    """None -> ValueError, not a str -> TypeError; returns the stripped string (maybe '')."""
    if value is None:
        raise ValueError(f"argument {name!r} must not be None")
    if not isinstance(value, str):
        raise TypeError(f"argument {name!r} must be a str, got {type(value).__name__}")
    return value.strip()


def check_positive_int(
    value: object, name: str, default: int, *, maximum: int | None = None
) -> int:
    """None -> default; bool or non-int -> TypeError; <= 0 or > maximum -> ValueError."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"argument {name!r} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"argument {name!r} must be positive, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"argument {name!r} must be at most {maximum:,}, got {value:,}")
    return value


def check_enum(value: object, enum_cls: type[E], name: str, default: E) -> E:
    """None -> default; anything but a member of ``enum_cls`` -> TypeError."""
    if value is None:
        return default
    if not isinstance(value, enum_cls):
        raise TypeError(f"argument {name!r} must be a {enum_cls.__name__} member, got {value!r}")
    return value


def check_timeout(value: object, name: str, default: float) -> float:
    """None -> default; non-number -> TypeError; NaN or <= 0 -> ValueError (inf allowed)."""
    if value is None:
        return default
    value = _seconds(value, name)
    if math.isnan(value) or value <= 0:
        raise ValueError(f"argument {name!r} must be a positive number of seconds, got {value}")
    return float(value)


#: The range of a processing delay: below a millisecond the ticks would cost more than the
#: wake-ups they replace; above a second snapshots' staleness is no longer "soon".
MIN_DELAY_S = 0.0005
MAX_DELAY_S = 1.0


def check_delay(value: object, name: str, default: float) -> float:
    """None -> default; non-number -> TypeError; outside [MIN_DELAY_S, MAX_DELAY_S] -> ValueError."""
    if value is None:
        return default
    value = _seconds(value, name)
    if not MIN_DELAY_S <= value <= MAX_DELAY_S:  # NaN fails this too
        raise ValueError(
            f"argument {name!r} must be between {MIN_DELAY_S} and {MAX_DELAY_S} seconds, "
            f"got {value}"
        )
    return float(value)


def _seconds(value: object, name: str) -> float:
    """``value`` as a float number of seconds; bools and non-numbers -> TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"argument {name!r} must be a number of seconds, got {type(value).__name__}"
        )
    return float(value)
