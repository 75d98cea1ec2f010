"""Repayment allocation: how an amount is split over what a borrower owes.

Pure Python, integer fen, no Django.  DOMAIN.md §1: the default order is
costs and fees → penalty and compound interest → interest → principal,
oldest installment first (民法典 Art 561), and a product may change it.

What is owed is a list of :class:`Bucket` s, one per (installment,
component) with its outstanding amount.  :func:`allocate` pays them in one
of two modes:

``installment_first`` (a bank's "horizontal" order, the default)
    the oldest installment is cleared completely, its components in
    ``order``, before anything goes to the next installment.  Installments
    are ordered by (due date, installment number).

``component_first`` (the "vertical" order)
    the first component of ``order`` is cleared on every installment,
    oldest first, before anything goes to the next component.

Buckets that tie (same installment and component) are paid in the order
given.  The result lists the non-zero allocations in the order they were
made, and the remainder that nothing was owed for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "COMPONENTS",
    "DEFAULT_ORDER",
    "MODES",
    "Allocation",
    "Bucket",
    "allocate",
    "check_mode",
    "check_order",
]

#: Every component an installment (or the fee account) can owe.
COMPONENTS: tuple[str, ...] = ("fee", "penalty", "compound", "interest", "principal")

#: DOMAIN.md §1: costs/fees → penalty and compound → interest → principal.
DEFAULT_ORDER: tuple[str, ...] = ("fee", "penalty", "compound", "interest", "principal")

#: The two allocation modes.
MODES: tuple[str, ...] = ("installment_first", "component_first")


@dataclass(frozen=True, slots=True)
class Bucket:
    """``outstanding`` fen of ``component`` owed on ``installment``, due on ``due_date``."""

    installment: int
    due_date: date
    component: str
    outstanding: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """``amount`` fen paid to ``component`` of ``installment``.

    The loan engine also uses the component ``"credit"`` (installment 0)
    for the part of a repayment held as an overpayment.
    """

    installment: int
    component: str
    amount: int


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_order(order: object) -> tuple[str, ...]:
    """Return ``order`` as a tuple if it is a permutation of COMPONENTS, else ValueError naming "order"."""
    try:
        result = tuple(order)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"order must be a sequence of components, got {order!r}")
    if len(result) != len(COMPONENTS) or sorted(result) != sorted(COMPONENTS):
        raise ValueError(f"order must be a permutation of {COMPONENTS}, got {result!r}")
    return result


def check_mode(mode: object) -> str:
    """Return ``mode`` if it is one of MODES, else ValueError naming "mode"."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode  # type: ignore[return-value]


def plan(amount: int, items: Iterable[tuple[int, int, int, int, Any]], mode: str,
         ) -> tuple[list[tuple[Any, int]], int]:
    """The allocation core, without validation (the engine's hot path).

    ``items`` are ``(due_key, installment, rank, outstanding, tag)`` where
    ``rank`` is the component's position in the order and ``due_key`` any
    comparable stand-in for the due date.  Returns ``[(tag, paid), ...]``
    for the non-zero payments, in payment order, and the remainder.
    """
    if mode == "installment_first":
        ranked = sorted(items, key=lambda it: (it[0], it[1], it[2]))
    else:
        ranked = sorted(items, key=lambda it: (it[2], it[0], it[1]))
    paid: list[tuple[Any, int]] = []
    left = amount
    for item in ranked:
        if left <= 0:
            break
        owed = item[3]
        if owed <= 0:
            continue
        take = owed if owed < left else left
        paid.append((item[4], take))
        left -= take
    return paid, left


def allocate(amount: int, buckets: Sequence[Bucket], order: tuple[str, ...] = DEFAULT_ORDER,
             mode: str = "installment_first") -> tuple[list[Allocation], int]:
    """Split ``amount`` fen over ``buckets``; return (allocations, unallocated remainder).

    ``allocated + remainder == amount`` always.  ValueError (naming the
    field) for an order that is not a permutation of COMPONENTS, an unknown
    mode, a negative or non-integer amount, an unknown component or a
    negative outstanding.
    """
    order = check_order(order)
    mode = check_mode(mode)
    if not _is_int(amount) or amount < 0:
        raise ValueError(f"amount must be a non-negative integer number of fen, got {amount!r}")
    rank = {component: i for i, component in enumerate(order)}
    items = []
    for index, bucket in enumerate(buckets):
        if bucket.component not in rank:
            raise ValueError(f"component must be one of {COMPONENTS}, got {bucket.component!r}")
        if not _is_int(bucket.outstanding) or bucket.outstanding < 0:
            raise ValueError(f"outstanding must be a non-negative integer number of fen, got {bucket.outstanding!r}")
        if not _is_int(bucket.installment):
            raise ValueError(f"installment must be an integer, got {bucket.installment!r}")
        if not isinstance(bucket.due_date, date):
            raise ValueError(f"due_date must be a date, got {bucket.due_date!r}")
        items.append((bucket.due_date, bucket.installment, rank[bucket.component], bucket.outstanding, index))
    paid, left = plan(amount, items, mode)
    allocations = [Allocation(buckets[i].installment, buckets[i].component, take) for i, take in paid]
    return allocations, left
