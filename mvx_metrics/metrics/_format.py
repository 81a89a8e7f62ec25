"""Float text as Prometheus writes it, for ``le`` and ``quantile`` label values."""

from __future__ import annotations

import math

__all__ = ["go_float"]


def go_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` text, as prometheus_client has it.

    Keeps bucket and quantile keys byte-identical to what prometheus_client exposes
    ("0.005", "1.0", "2.5", "1e+06", "+Inf"), so snapshots and exposition text agree.
    """
    value = float(value)
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(value)
    dot = text.find(".")
    # Go switches to exponent notation from 1e+21 down to 1e+06; Python only from 1e+16.
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text
