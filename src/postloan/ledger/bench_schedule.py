"""Benchmark schedule generation (not a test: timings vary by machine).

Why: the close of business regenerates schedules in bulk and the web UI
previews them on every keystroke, so generating a 30-year monthly
equal-installment schedule must stay well under 10 ms of CPU.

Run: ``python -m postloan.ledger.bench_schedule``.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from postloan.kernel.calendar import china_calendar
from postloan.ledger.schedule import ScheduleTerms, generate_schedule


def bench(repeat: int = 200) -> dict[str, float]:
    """Print and return the mean CPU milliseconds per schedule for a few cases."""
    cases = {
        "30y monthly equal_installment, period basis, no calendar": ScheduleTerms(
            principal=Decimal("1000000.00"),
            annual_rate=Decimal("0.049"),
            term_months=360,
            start=date(2024, 1, 31),
        ),
        "30y monthly equal_installment, daily ACT/ACT, CN calendar": ScheduleTerms(
            principal=Decimal("1000000.00"),
            annual_rate=Decimal("0.04123456"),
            term_months=360,
            start=date(2024, 1, 31),
            day_count="ACT/ACT",
            interest_basis="daily",
            calendar=china_calendar(2024, 2054),
        ),
    }
    results: dict[str, float] = {}
    for name, terms in cases.items():
        generate_schedule(terms)  # warm-up
        began = time.process_time()
        for _ in range(repeat):
            generate_schedule(terms)
        elapsed_ms = (time.process_time() - began) * 1000 / repeat
        results[name] = elapsed_ms
        print(f"{elapsed_ms:7.3f} ms CPU  {name}")
    return results


if __name__ == "__main__":
    bench()
