"""Each process's own metrics in multiprocess mode: kept per process, never summed.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.multiprocess`.

A process's CPU seconds, memory, descriptors and GC counts
(:mod:`mvx_metrics.exposition.process`) describe that process alone: a sum over
workers, or a dead worker's last RSS, would mean nothing. So a process whose runtime
has ``process_metrics=True`` writes its families into its file at each publication
(:func:`families_to_json`), and a read shows those of every live process, each sample
labelled with the process's identity (:func:`label_per_process`), under the label
name and value a ``per_process`` gauge gets (:data:`.merging.INSTANCE_LABEL`, the
process's ``instance_id()``), so that one name means "which process" everywhere.

The JSON form, under the file's ``"process"`` key, is a list of families::

    [{"name": "process_cpu_seconds", "kind": "counter",
      "description": "Total user and system CPU time spent in seconds.", "unit": "",
      "samples": [{"labels": {}, "value": 1.25}]},
     ...]

Kinds are ``counter`` and ``gauge`` (all the process families are), one sample per
series (no ``_bucket``-like suffixes); labels are the series' own, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..snapshots import MetricFamily, Sample
from .merging import INSTANCE_LABEL

__all__ = ["PROCESS_KEY", "families_from_json", "families_to_json", "label_per_process"]

#: The key of a process file holding the process's families (absent: none published).
PROCESS_KEY = "process"

#: The kinds the JSON form carries: every process family is one of them.
_KINDS = frozenset({"counter", "gauge"})


def families_to_json(families: Iterable[MetricFamily]) -> list[dict[str, Any]]:
    """``families`` in the JSON form of the module docstring; ValueError for a family
    the form cannot carry (another kind, or samples with a suffix)."""
    out = []
    for family in families:
        if family.kind not in _KINDS or any(sample.suffix for sample in family.samples):
            raise ValueError(f"process family {family.name!r} is not a plain counter or gauge")
        out.append(
            {
                "name": family.name,
                "kind": family.kind,
                "description": family.description,
                "unit": family.unit,
                "samples": [
                    {"labels": dict(sample.labels), "value": sample.value}
                    for sample in family.samples
                ],
            }
        )
    return out


def families_from_json(data: object) -> list[MetricFamily]:
    """The families :func:`families_to_json` wrote; ValueError if ``data`` is not that
    form (a torn or foreign file: the caller counts it and shows none of it)."""
    if not isinstance(data, list):
        raise ValueError("process families: not a list")
    return [_family(one) for one in data]


def label_per_process(
    processes: Iterable[tuple[str, Sequence[MetricFamily]]],
) -> tuple[list[MetricFamily], int]:
    """``(families, conflicts)``: one family per name over ``[(instance, families)]``,
    in order of first appearance, holding every process's samples, each labelled
    ``instance="<instance>"``. A family whose kind differs from the first process's is
    left out for that process and counted in ``conflicts``."""
    merged: dict[str, _Open] = {}
    conflicts = 0
    for instance, families in processes:
        for family in families:
            into = merged.get(family.name)
            if into is None:
                into = merged[family.name] = _Open(family.kind, family.description, family.unit)
            elif into.kind != family.kind:
                conflicts += 1
                continue
            into.samples.extend(
                Sample(sample.suffix, _labelled(sample.labels, instance), sample.value)
                for sample in family.samples
            )
    families = [
        MetricFamily(name, one.kind, one.description, one.unit, tuple(one.samples))
        for name, one in merged.items()
    ]
    return families, conflicts


@dataclass(slots=True)
class _Open:
    """A family being gathered across processes."""

    kind: str
    description: str
    unit: str
    samples: list[Sample] = field(default_factory=list)


def _labelled(labels: tuple[tuple[str, str], ...], instance: str) -> tuple[tuple[str, str], ...]:
    # The process's identity replaces a label of that name: series stay unique per process.
    return (*((k, v) for k, v in labels if k != INSTANCE_LABEL), (INSTANCE_LABEL, instance))


def _family(data: object) -> MetricFamily:
    if not isinstance(data, Mapping):
        raise ValueError("process family: not an object")
    name, kind = data.get("name"), data.get("kind")
    description, unit = data.get("description", ""), data.get("unit", "")
    if not isinstance(name, str) or kind not in _KINDS:
        raise ValueError(f"process family {name!r}: no name, or a kind other than {_KINDS}")
    if not isinstance(description, str) or not isinstance(unit, str):
        raise ValueError(f"process family {name!r}: description and unit must be strings")
    samples = data.get("samples")
    if not isinstance(samples, list):
        raise ValueError(f"process family {name!r}: samples must be a list")
    return MetricFamily(name, str(kind), description, unit, tuple(_sample(s) for s in samples))


def _sample(data: object) -> Sample:
    if not isinstance(data, Mapping):
        raise ValueError("process sample: not an object")
    labels, value = data.get("labels", {}), data.get("value")
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ValueError("process sample: labels must map strings to strings")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"process sample: value {value!r} is not a number")
    return Sample("", tuple(labels.items()), float(value))
