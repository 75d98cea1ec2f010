"""Benchmark: CPU time to post a repayment on a 30-year monthly loan with 100 prior repayments.

Posting a repayment replays the whole history (the engine is a pure function
of schedule + events), so the figure is one full :func:`engine.replay`.
Run with ``python -m postloan.ledger.bench_engine``; it prints milliseconds
of CPU per replay (the budget is well under 10 ms).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from postloan.ledger import engine


def _add_months(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, min(start.day, 28))


def loan_30y(principal: int = 100_000_000, rate: Decimal = Decimal("0.0435"), months: int = 360):
    """An equal-installment (等额本息) schedule computed by hand, with its disbursement."""
    start = date(2020, 1, 15)
    r = rate / 12
    payment = int((Decimal(principal) * r / (1 - (1 + r) ** -months)).to_integral_value())
    dues = []
    balance = principal
    prev = start
    for n in range(1, months + 1):
        due = _add_months(start, n)
        interest = int((Decimal(balance) * r).to_integral_value())
        capital = balance if n == months else payment - interest
        dues.append(engine.Due(n, prev, due, capital, interest))
        balance -= capital
        prev = due
    return dues, [engine.Disbursement(start, principal, "D1")]


def scenario(prior: int = 100):
    """Mostly on time; every seventh installment paid 12 days late with a little extra (credit held)."""
    dues, events = loan_30y()
    for k, due in enumerate(dues[:prior]):
        late = (k % 7 == 3) * 12
        amount = due.principal + due.interest + (2_000 if late else 0)
        events.append(engine.Repayment(due.due_date + timedelta(days=late), amount, f"R{k + 1}"))
    nxt = dues[prior]
    posting = engine.Repayment(nxt.due_date, nxt.principal + nxt.interest, f"R{prior + 1}")
    return dues, events + [posting], nxt.due_date


def arrears(prior: int = 100):
    """Chronic arrears: every installment paid 20 days late and only 80 % of it (dozens overdue at once)."""
    dues, events = loan_30y()
    for k, due in enumerate(dues[: prior + 1]):
        amount = (due.principal + due.interest) * 8 // 10
        events.append(engine.Repayment(due.due_date + timedelta(days=20), amount, f"R{k + 1}"))
    return dues, events, events[-1].value_date


def _time(dues, events, as_of, terms, rounds: int) -> tuple[float, engine.LoanState]:
    state = engine.replay(dues, events, terms, as_of)  # warm up
    start = time.process_time()
    for _ in range(rounds):
        engine.replay(dues, events, terms, as_of)
    return (time.process_time() - start) / rounds * 1000, state


def main(rounds: int = 200) -> float:
    terms = engine.Terms(annual_rate=Decimal("0.0435"))
    dues, events, as_of = scenario()
    per, state = _time(dues, events, as_of, terms, rounds)
    print(f"replay of a 360-installment loan with {len(events)} events (1 disbursement, 101 repayments): "
          f"{per:.2f} ms CPU per posting ({rounds} rounds); status {state.status}")
    dues, events, as_of = arrears()
    worst, state = _time(dues, events, as_of, terms, rounds)
    print(f"same loan in chronic arrears ({sum(i.status == 'overdue' for i in state.installments)} installments "
          f"overdue, {state.days_past_due} days past due): {worst:.2f} ms CPU per posting")
    return per


if __name__ == "__main__":
    main()
