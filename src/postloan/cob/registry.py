"""Steps of the close of business. Each app registers its own, with an order;
a step runs per partition of loans (``per_partition=True``) or once per day.

A step function takes ``(date, loan_ids)`` for a partition (or ``(date, None)``
once a day) and returns ``(rows, totals)``: how many rows it changed and the
sums it booked, recorded as the batch's audit of that step. It runs inside the
transaction that also marks its partition done, so a step is done exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    order: int
    fn: Callable
    per_partition: bool = True


_STEPS: dict[str, Step] = {}


def step(name: str, order: int, per_partition: bool = True):
    def decorate(fn):
        _STEPS[name] = Step(name, order, fn, per_partition)
        return fn

    return decorate


def steps() -> list[Step]:
    return sorted(_STEPS.values(), key=lambda s: s.order)


def get(name: str) -> Step:
    return _STEPS[name]
