"""Steps of the close of business. Each app registers its own, with an order;
a step runs per partition of loans (``per_partition=True``) or once per day.

A step function takes ``(date, loans)`` for a partition, ``loans`` being a
:class:`LoanRange` (or ``(date, None)`` once a day), and returns ``(rows,
totals)``: how many rows it changed and the sums it booked, recorded as the
batch's audit of that step. It runs inside the transaction that also marks its
partition done, so a step is done exactly once. Set-based steps work on the
range (``WHERE loan_id BETWEEN first AND last``); others ask for ``ids()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass


def closing(day: dt.date):
    """The loans the close of ``day`` works on: open ones, and those settled that day (their last snapshot)."""
    from django.db.models import Q

    from postloan.ledger.models import Loan

    return Q(status__in=(Loan.Status.ACTIVE, Loan.Status.OVERDUE)) | Q(settled_on=day)


@dataclass(frozen=True)
class LoanRange:
    """A partition: the loans with ids ``first``…``last`` that the day closes (open, or settled that day)."""

    day: dt.date
    first: int
    last: int

    def queryset(self):
        from postloan.ledger.models import Loan

        return Loan.objects.filter(closing(self.day), id__gte=self.first, id__lte=self.last)

    def ids(self) -> list[int]:
        return list(self.queryset().order_by("id").values_list("id", flat=True))


@dataclass(frozen=True)
class Step:
    name: str
    order: int
    fn: Callable
    per_partition: bool = True
    follow: Callable | None = None
    collect: Callable | None = None
    prepare: Callable | None = None


_STEPS: dict[str, Step] = {}


def step(name: str, order: int, per_partition: bool = True, follow: Callable | None = None,
         collect: Callable | None = None, prepare: Callable | None = None):
    """Register a step. A per-partition step may name a ``prepare``: ``prepare(date, loans)`` only reads what
    the step function of that partition would read first — nothing an earlier partition of the step changes —
    and the function then takes ``prepared=`` its result. On SQLite the runner reads it ahead, on a second
    connection while the partition before is written, and hands it over only if no other connection wrote to
    the database in between; otherwise, and on PostgreSQL, the function gets ``prepared=None`` and reads for
    itself. A step may also name a ``follow``: ``follow(date, loans)`` only reads what the partition's work
    wrote (and nothing a later partition changes) and returns a summary; ``collect(date, [(loans, summary),
    …])`` writes summaries. The runner calls both right after the step function, in the partition's
    transaction — or, on SQLite, runs ``follow`` on a second connection and core after the partition
    committed, while the writer goes on, and ``collect`` once at the end of the step. A partition done but
    not collected (the process stopped in between) is the step owner's to catch up, e.g. in a later step."""

    def decorate(fn):
        _STEPS[name] = Step(name, order, fn, per_partition, follow, collect, prepare)
        return fn

    return decorate


def steps() -> list[Step]:
    return sorted(_STEPS.values(), key=lambda s: s.order)


def get(name: str) -> Step:
    return _STEPS[name]
