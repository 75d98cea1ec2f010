"""The synthetic bank, built step by step. Each app contributes a step.

A step is a function ``(ctx: DemoContext) -> None`` registered with an order;
the builder runs them in order inside the demo database, recording the last
completed step so an interrupted build resumes (or ``--rebuild`` starts over).
Everything is deterministic from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .models import DemoBuild

DEMO_PASSWORD = "Postloan-demo-2026"


@dataclass
class DemoContext:
    seed: int
    customers: int
    rng: random.Random
    out: Callable[[str], None] = print
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    order: int
    run: Callable[[DemoContext], None]
    atomic: bool = True  # a long step (the history) commits as it goes and resumes by itself


_STEPS: dict[str, Step] = {}


def step(name: str, order: int, atomic: bool = True):
    def decorate(fn):
        _STEPS[name] = Step(name, order, fn, atomic)
        return fn

    return decorate


def steps() -> list[Step]:
    return sorted(_STEPS.values(), key=lambda s: s.order)


def build(*, seed: int, customers: int, out=print, history_days: int | None = None) -> DemoBuild:
    marker = DemoBuild.objects.order_by("-id").first()
    if marker is None:
        marker = DemoBuild.objects.create(seed=seed, customers=customers)
    done = {s.name for s in steps() if marker.step and s.order <= _STEPS[marker.step].order} if marker.step else set()
    ctx = DemoContext(seed=marker.seed, customers=marker.customers, rng=random.Random(marker.seed), out=out,
                      data={"history_days": history_days})
    for s in steps():
        ctx.rng = random.Random(f"{marker.seed}:{s.name}")
        if s.name in done:
            continue
        out(f"  {s.name} …")
        if s.atomic:
            with transaction.atomic():
                s.run(ctx)
                marker.step = s.name
                marker.save(update_fields=["step"])
        else:
            s.run(ctx)
            marker.step = s.name
            marker.save(update_fields=["step"])
    marker.finished_at = timezone.now()
    marker.save(update_fields=["finished_at"])
    return marker


from . import ledger_step, org_step  # noqa: E402,F401  (register their steps)
