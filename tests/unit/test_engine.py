"""Tests for postloan.ledger.engine: the reference loan state machine (replay of schedule + events).

Dues are built by hand here (fixed-length periods), independent of the schedule generator.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from postloan.ledger.accrual import accrued_to, penalty_for_days, penalty_per_day
from postloan.ledger.allocation import COMPONENTS, Allocation
from postloan.ledger.engine import (
    Disbursement,
    Due,
    FeeCharge,
    FeeWaiver,
    PenaltyWaiver,
    Repayment,
    ScheduleChange,
    Terms,
    bucket_for,
    payoff,
    replay,
)

RATE = Decimal("0.0435")
TERMS = Terms(annual_rate=RATE)
START = date(2024, 1, 10)
DAY = timedelta(days=1)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def schedule(start: date, rows: list[tuple[int, int]], length: int = 30, first: int = 1) -> list[Due]:
    """Dues of ``length``-day periods from ``start``: rows of (principal, interest)."""
    dues = []
    begin = start
    for number, (principal, interest) in enumerate(rows, start=first):
        end = begin + days(length)
        dues.append(Due(number, begin, end, principal, interest))
        begin = end
    return dues


def disbursed(dues: list[Due], on: date = START) -> list:
    return [Disbursement(on, sum(d.principal for d in dues), "D1")]


def all_zero(state) -> bool:
    return (state.principal_outstanding == state.principal_due == state.interest_due == state.penalty_due
            == state.compound_due == state.fee_due == state.interest_accrued == 0)


# ---------------------------------------------------------------------------
# penalty and compound interest


def test_known_penalty_ten_days_overdue() -> None:
    dues = schedule(START, [(10_000_000, 0)])
    due = dues[0].due_date
    state = replay(dues, disbursed(dues), TERMS, due + days(10))
    # 10,000,000 × 4.35 % × 1.5 / 360 = 1812.5 → 1813 fen a day, 10 days
    assert state.penalty_due == 18_130
    assert state.compound_due == 0
    assert state.days_past_due == 10
    assert state.bucket == "M1"
    assert state.status == "overdue"
    assert state.overdue_principal == 10_000_000
    assert state.principal_due == 10_000_000
    assert state.installments[0].status == "overdue"
    assert state.installments[0].penalty == 18_130


def test_compound_interest_on_overdue_interest() -> None:
    dues = schedule(START, [(0, 4_000_000), (1_000_000, 0)])
    due = dues[0].due_date
    state = replay(dues, disbursed(dues), TERMS, due + days(10))
    # 4,000,000 × 0.06525 / 360 = 725 fen a day
    assert state.compound_due == 7_250
    assert state.penalty_due == 0
    assert state.overdue_interest == 4_000_000
    assert state.installments[0].compound == 7_250


def test_compound_markup_and_day_basis_are_used() -> None:
    terms = Terms(annual_rate=RATE, penalty_markup=Decimal("0.3"), compound_markup=Decimal("1"), day_basis=365)
    dues = schedule(START, [(7_000_000, 2_000_000)])
    state = replay(dues, disbursed(dues), terms, dues[0].due_date + days(4))
    assert state.penalty_due == penalty_for_days(7_000_000, RATE, Decimal("0.3"), 365, 4)
    assert state.compound_due == penalty_for_days(2_000_000, RATE, Decimal("1"), 365, 4)


def test_nothing_accrues_on_the_due_date_itself() -> None:
    dues = schedule(START, [(10_000_000, 5_000)])
    due = dues[0].due_date
    state = replay(dues, disbursed(dues), TERMS, due)
    assert state.penalty_due == 0
    assert state.days_past_due == 0
    assert state.status == "active"
    assert state.installments[0].status == "due"
    assert state.principal_due == 10_000_000
    assert state.overdue_principal == 0
    assert replay(dues, disbursed(dues), TERMS, due + DAY).penalty_due == 1813


def test_partial_repayment_reduces_the_base_from_its_value_date() -> None:
    dues = schedule(START, [(10_000_000, 0)])
    due = dues[0].due_date
    # on due + 5 the penalty of days due+1 … due+4 (4 × 1813) is owed; pay it and half the principal
    events = disbursed(dues) + [Repayment(due + days(5), 5_000_000 + 4 * 1813, "R1")]
    state = replay(dues, events, TERMS, due + days(10))
    assert state.allocations["R1"] == [Allocation(1, "penalty", 7252), Allocation(1, "principal", 5_000_000)]
    # from due + 5 on, 5,000,000 × 0.06525 / 360 = 906.25 → 906 a day, 6 days (due+5 … due+10)
    assert state.penalty_due == 6 * 906
    assert state.installments[0].paid_penalty == 7252
    assert state.installments[0].penalty == 7252 + 6 * 906
    assert state.installments[0].status == "overdue"
    assert state.principal_outstanding == 5_000_000


def test_grace_days_are_never_charged() -> None:
    terms = Terms(annual_rate=RATE, grace_days=3)
    dues = schedule(START, [(10_000_000, 0)])
    due = dues[0].due_date
    on_time = replay(dues, disbursed(dues) + [Repayment(due + days(3), 10_000_000, "R")], terms, due + days(30))
    assert on_time.status == "settled"
    assert on_time.installments[0].penalty == 0
    # overdue (days past due) from due + 1 even within grace
    assert replay(dues, disbursed(dues), terms, due + days(2)).days_past_due == 2
    assert replay(dues, disbursed(dues), terms, due + days(3)).penalty_due == 0
    assert replay(dues, disbursed(dues), terms, due + days(4)).penalty_due == 1813
    # paid on due + 5: only day due + 4 is charged
    late = replay(dues, disbursed(dues) + [Repayment(due + days(5), 10_001_813, "R")], terms, due + days(30))
    assert late.installments[0].paid_penalty == 1813
    assert late.status == "settled"
    assert late.settled_on == due + days(5)


def test_days_past_due_and_buckets() -> None:
    dues = schedule(START, [(1_000_000, 1000), (1_000_000, 1000)])
    due = dues[0].due_date
    expected = {1: "M1", 30: "M1", 31: "M2", 60: "M2", 61: "M3", 91: "M4", 121: "M5", 151: "M6", 180: "M6",
                181: "M7+"}
    for n, bucket in expected.items():
        state = replay(dues, disbursed(dues), TERMS, due + days(n))
        assert state.days_past_due == n
        assert state.bucket == bucket
    assert [bucket_for(n) for n in (0, 1, 30, 31, 90, 120, 150, 180, 181, 5000)] == [
        "M0", "M1", "M1", "M2", "M3", "M4", "M5", "M6", "M7+", "M7+"]


def test_days_past_due_follow_the_oldest_unpaid_installment() -> None:
    dues = schedule(START, [(1_000_000, 1000), (1_000_000, 1000), (1_000_000, 1000)])
    first, second = dues[0].due_date, dues[1].due_date
    events = disbursed(dues) + [Repayment(second + days(2), 1_001_000 + 10_000, "R1")]
    state = replay(dues, events, TERMS, second + days(5))
    # installment 1 cleared on second + 2 (its penalty first), installment 2 now the oldest unpaid
    assert state.installments[0].status == "paid"
    assert state.days_past_due == 5
    assert state.installments[1].status == "overdue"
    assert replay(dues, events, TERMS, second + days(1)).days_past_due == (second + days(1) - first).days


# ---------------------------------------------------------------------------
# repayments, credit, allocation modes


def test_on_time_repayments_settle_at_maturity() -> None:
    dues = schedule(START, [(3_000_000, 10_875), (3_000_000, 7_250), (4_000_000, 4_833)])
    events = disbursed(dues) + [Repayment(d.due_date, d.principal + d.interest, f"R{d.number}") for d in dues]
    maturity = dues[-1].due_date
    mid = dues[0].due_date + days(10)
    state = replay(dues, events, TERMS, mid)
    assert state.status == "active"
    assert state.principal_outstanding == 7_000_000
    assert state.interest_accrued == accrued_to(7_250, dues[1].period_start, dues[1].period_end, mid)
    assert state.next_due_date == dues[1].due_date
    assert state.maturity_date == maturity
    assert [i.status for i in state.installments] == ["paid", "future", "future"]
    final = replay(dues, events, TERMS, maturity + days(40))
    assert final.status == "settled"
    assert final.settled_on == maturity
    assert all_zero(final)
    assert final.credit == 0
    assert final.next_due_date is None
    assert sum(i.penalty + i.compound for i in final.installments) == 0
    assert final.allocations["R3"] == [Allocation(3, "interest", 4_833), Allocation(3, "principal", 4_000_000)]


def test_paying_early_is_held_as_credit_and_applied_on_the_due_date() -> None:
    dues = schedule(START, [(1_000_000, 3_000), (1_000_000, 1_500)])
    first = dues[0].due_date
    events = disbursed(dues) + [Repayment(first - days(10), 1_003_000, "EARLY")]
    before = replay(dues, events, TERMS, first - DAY)
    assert before.allocations["EARLY"] == [Allocation(0, "credit", 1_003_000)]
    assert before.credit == 1_003_000
    assert before.installments[0].status == "future"
    on = replay(dues, events, TERMS, first + days(20))
    assert on.credit == 0
    assert on.installments[0].status == "paid"
    assert on.penalty_due == 0
    assert on.credit_allocations == {first: [Allocation(1, "interest", 3_000), Allocation(1, "principal", 1_000_000)]}


def test_credit_left_over_pays_the_next_installments_in_part() -> None:
    dues = schedule(START, [(1_000_000, 3_000), (1_000_000, 1_500)])
    first, second = dues[0].due_date, dues[1].due_date
    events = disbursed(dues) + [Repayment(first, 1_503_000, "R")]
    state = replay(dues, events, TERMS, second + days(2))
    assert state.allocations["R"][-1] == Allocation(0, "credit", 500_000)
    assert state.installments[1].paid_interest == 1_500
    assert state.installments[1].paid_principal == 498_500
    assert state.credit == 0
    # the 501,500 still unpaid bears penalty from second + 1
    assert state.penalty_due == penalty_for_days(501_500, RATE, Decimal("0.5"), 360, 2)


def test_component_first_mode() -> None:
    terms = Terms(annual_rate=RATE, mode="component_first")
    dues = schedule(START, [(1_000_000, 10_000), (1_000_000, 10_000), (1_000_000, 10_000)])
    pay_on = dues[1].due_date + days(3)
    state0 = replay(dues, disbursed(dues), terms, pay_on - DAY)
    pen1, pen2 = state0.installments[0].penalty, state0.installments[1].penalty
    comp1, comp2 = state0.installments[0].compound, state0.installments[1].compound
    amount = pen1 + pen2 + comp1 + comp2 + 10_000 + 5_000
    state = replay(dues, disbursed(dues) + [Repayment(pay_on, amount, "R")], terms, pay_on)
    assert state.allocations["R"] == [
        Allocation(1, "penalty", pen1), Allocation(2, "penalty", pen2),
        Allocation(1, "compound", comp1), Allocation(2, "compound", comp2),
        Allocation(1, "interest", 10_000), Allocation(2, "interest", 5_000),
    ]


def test_product_order_principal_first() -> None:
    terms = Terms(annual_rate=RATE, order=("principal", "interest", "penalty", "compound", "fee"))
    dues = schedule(START, [(1_000_000, 10_000)])
    pay_on = dues[0].due_date + days(5)
    state = replay(dues, disbursed(dues) + [Repayment(pay_on, 1_005_000, "R")], terms, pay_on)
    assert state.allocations["R"] == [Allocation(1, "principal", 1_000_000), Allocation(1, "interest", 5_000)]


def test_back_valued_repayment_recomputes_everything_after_it() -> None:
    dues = schedule(START, [(10_000_000, 0)])
    due = dues[0].due_date
    late = [Repayment(due + days(20), 10_000_000, "LATE")]
    back = [Repayment(due + days(2), 6_000_000, "BACK")]
    without = replay(dues, disbursed(dues) + late, TERMS, due + days(30))
    with_back = replay(dues, disbursed(dues) + late + back, TERMS, due + days(30))
    in_order = replay(dues, disbursed(dues) + back + late, TERMS, due + days(30))
    assert with_back == in_order
    assert with_back.installments[0].penalty < without.installments[0].penalty
    # day due+1 on 10,000,000; from due+2 on the 4,000,000 + … left after BACK
    assert with_back.allocations["BACK"] == [Allocation(1, "penalty", 1813), Allocation(1, "principal", 5_998_187)]


# ---------------------------------------------------------------------------
# fees and waivers


def test_fee_is_owed_from_its_value_date_and_paid_first() -> None:
    dues = schedule(START, [(1_000_000, 3_000)])
    fee_day = START + days(5)
    events = disbursed(dues) + [FeeCharge(fee_day, 5_000, "FEE1"), Repayment(fee_day + DAY, 3_000, "R1")]
    state = replay(dues, events, TERMS, fee_day + days(2))
    assert state.allocations["R1"] == [Allocation(0, "fee", 3_000)]
    assert state.fee_due == 2_000
    assert state.fees[0].paid == 3_000
    assert state.fee_installment.number == 0
    assert state.fee_installment.fee == 5_000
    assert state.fee_installment.paid_fee == 3_000
    assert state.fee_installment.status == "overdue"
    assert state.days_past_due == 0  # fees do not count for days past due
    waived = replay(dues, events + [FeeWaiver(fee_day + days(2), 2_000, "W1")], TERMS, fee_day + days(2))
    assert waived.fee_due == 0
    assert waived.fees[0].waived == 2_000
    assert waived.fee_installment.fee == 3_000
    assert waived.fee_installment.status == "paid"
    with pytest.raises(ValueError, match="amount"):
        replay(dues, events + [FeeWaiver(fee_day + days(2), 2_001, "W1")], TERMS, fee_day + days(2))


def test_unpaid_fee_keeps_the_loan_open() -> None:
    dues = schedule(START, [(1_000_000, 3_000)])
    due = dues[0].due_date
    events = disbursed(dues) + [FeeCharge(START + DAY, 700, "FEE"), Repayment(due, 1_003_000, "R1")]
    state = replay(dues, events, TERMS, due + days(3))
    assert state.status == "overdue"
    assert state.fee_due == 0  # the fee was paid first, so 700 of principal is unpaid
    assert state.installments[0].paid_principal == 1_000_000 - 700
    assert state.days_past_due == 3
    events2 = disbursed(dues) + [FeeCharge(due + DAY, 700, "FEE"), Repayment(due, 1_003_000, "R1")]
    state2 = replay(dues, events2, TERMS, due + days(3))
    assert state2.fee_due == 700
    assert state2.status == "active"
    assert state2.settled_on is None
    settled = replay(dues, events2 + [Repayment(due + days(4), 700, "R2")], TERMS, due + days(10))
    assert settled.status == "settled"
    assert settled.settled_on == due + days(4)


def test_fee_charged_while_credit_is_held_is_paid_from_it() -> None:
    dues = schedule(START, [(1_000_000, 3_000)])
    events = disbursed(dues) + [Repayment(START + DAY, 10_000, "R1"), FeeCharge(START + days(3), 4_000, "F")]
    state = replay(dues, events, TERMS, START + days(3))
    assert state.credit == 6_000
    assert state.fee_due == 0
    assert state.credit_allocations == {START + days(3): [Allocation(0, "fee", 4_000)]}


def test_penalty_waiver() -> None:
    dues = schedule(START, [(10_000_000, 4_000_000)])
    due = dues[0].due_date
    waive_on = due + days(11)
    # through due + 10: penalty 18,130, compound 7,250
    events = disbursed(dues) + [PenaltyWaiver(waive_on, 20_000, "PW")]
    state = replay(dues, events, TERMS, waive_on)
    inst = state.installments[0]
    assert inst.penalty_waived == 18_130
    assert inst.compound_waived == 1_870
    assert inst.penalty == 1813  # day due + 11, after the waiver
    assert inst.compound == 7_250 - 1_870 + 725
    with pytest.raises(ValueError, match="amount"):
        replay(dues, disbursed(dues) + [PenaltyWaiver(waive_on, 25_381, "PW")], TERMS, waive_on)


# ---------------------------------------------------------------------------
# schedule changes


def test_extension_replaces_the_installments_not_yet_due() -> None:
    dues = schedule(START, [(1_000_000, 3_000), (1_000_000, 3_000)])
    change_on = dues[0].due_date + days(5)
    new = schedule(dues[1].period_start, [(0, 3_000), (500_000, 3_000), (500_000, 1_500)], first=3)
    events = disbursed(dues) + [Repayment(dues[0].due_date, 1_003_000, "R1"),
                                ScheduleChange(change_on, new, "EXT", "extension")]
    state = replay(dues, events, TERMS, change_on)
    assert [i.number for i in state.installments] == [1, 3, 4, 5]
    assert state.maturity_date == new[-1].due_date
    assert state.next_due_date == new[0].due_date
    later = replay(dues, events, TERMS, new[0].due_date + days(3))
    assert later.installments[1].status == "overdue"
    assert later.penalty_due == 0  # no principal in installment 3
    assert later.compound_due == 3 * penalty_per_day(3_000, RATE, Decimal("0.5"), 360)


def test_partial_prepayment_by_a_due_on_the_value_date() -> None:
    dues = schedule(START, [(1_000_000, 3_000), (1_000_000, 3_000), (1_000_000, 3_000)])
    x = dues[0].due_date + days(10)
    quote = payoff(dues, disbursed(dues) + [Repayment(dues[0].due_date, 1_003_000, "R1")], TERMS, x)
    accrued = quote.interest  # nothing due: all of it is interest accrued through x − 1
    assert accrued == accrued_to(3_000, dues[1].period_start, dues[1].period_end, x - DAY) == 1_000
    head = Due(4, dues[1].period_start, x, 800_000, accrued, period_end=x)
    rest = [Due(5, x, dues[1].due_date, 600_000, 2_000), Due(6, dues[1].due_date, dues[2].due_date, 600_000, 2_000)]
    events = disbursed(dues) + [Repayment(dues[0].due_date, 1_003_000, "R1"),
                                ScheduleChange(x, [head, *rest], "PRE:schedule", "prepayment"),
                                Repayment(x, 801_000, "PRE")]
    state = replay(dues, events, TERMS, x)
    assert state.allocations["PRE"] == [Allocation(4, "interest", 1_000), Allocation(4, "principal", 800_000)]
    assert state.principal_outstanding == 1_200_000
    assert state.credit == 0
    assert [i.number for i in state.installments] == [1, 4, 5, 6]
    events += [Repayment(d.due_date, d.principal + d.interest, f"R{d.number}") for d in rest]
    final = replay(dues, events, TERMS, dues[2].due_date + days(5))
    assert final.status == "settled"
    assert all_zero(final)


def test_schedule_change_validation() -> None:
    dues = schedule(START, [(1_000_000, 3_000), (1_000_000, 3_000)])
    x = dues[0].due_date + days(5)
    early = [Due(3, START, x - DAY, 1_000_000, 0)]
    with pytest.raises(ValueError, match="dues"):
        replay(dues, disbursed(dues) + [ScheduleChange(x, early, "C")], TERMS, x)
    clash = [Due(1, x, x + days(30), 1_000_000, 0)]  # number 1 is still in the schedule (due)
    with pytest.raises(ValueError, match="dues"):
        replay(dues, disbursed(dues) + [ScheduleChange(x, clash, "C")], TERMS, x)
    short = [Due(3, x, x + days(30), 900_000, 0)]
    with pytest.raises(ValueError, match="dues"):
        replay(dues, disbursed(dues) + [ScheduleChange(x, short, "C")], TERMS, x + DAY)


# ---------------------------------------------------------------------------
# payoff


def test_payoff_settles_with_nothing_left() -> None:
    dues = schedule(START, [(2_000_000, 8_000), (2_000_000, 6_000), (2_000_000, 4_000)])
    x = dues[1].due_date + days(7)  # installment 1 paid, installment 2 a week overdue
    events = disbursed(dues) + [Repayment(dues[0].due_date, 2_008_000, "R1"), FeeCharge(x - DAY, 1_000, "FEE")]
    quote = payoff(dues, events, TERMS, x)
    assert quote.principal == 4_000_000
    assert quote.penalty == penalty_for_days(2_000_000, RATE, Decimal("0.5"), 360, 6)
    assert quote.compound == penalty_for_days(6_000, RATE, Decimal("0.5"), 360, 6)
    assert quote.interest == 6_000 + accrued_to(4_000, dues[2].period_start, dues[2].period_end, x - DAY)
    assert quote.fee == 1_000
    assert quote.credit == 0
    assert quote.total == quote.principal + quote.interest + quote.penalty + quote.compound + quote.fee
    state = replay(dues, events + [Repayment(x, quote.total, "PAYOFF")], TERMS, x + days(60))
    assert state.status == "settled"
    assert state.settled_on == x
    assert all_zero(state)
    assert state.credit == 0
    assert state.installments[2].status == "paid"
    assert state.installments[2].interest_cancelled == 4_000 - state.installments[2].interest
    # a repayment after the settlement date is refused; on the same day it is held as credit
    with pytest.raises(ValueError, match="loan is settled"):
        replay(dues, events + [Repayment(x, quote.total, "PAYOFF"), Repayment(x + DAY, 5, "R9")], TERMS, x + DAY)
    # a fee charged after settlement reopens the loan, and a repayment may then pay it
    reopened = events + [Repayment(x, quote.total, "PAYOFF"), FeeCharge(x + DAY, 50, "F2"), Repayment(x + DAY, 50, "R9")]
    state = replay(dues, reopened, TERMS, x + DAY)
    assert state.status == "settled"
    assert state.settled_on == x + DAY
    other_order = events + [Repayment(x, quote.total, "PAYOFF"), Repayment(x + DAY, 50, "R9"), FeeCharge(x + DAY, 50, "F2")]
    assert replay(dues, other_order, TERMS, x + DAY).settled_on == x + DAY
    extra = replay(dues, events + [Repayment(x, quote.total + 100, "PAYOFF")], TERMS, x + DAY)
    assert extra.status == "settled"
    assert extra.credit == 100


def test_payoff_nets_the_credit() -> None:
    dues = schedule(START, [(1_000_000, 3_000), (1_000_000, 1_500)])
    x = START + days(10)
    events = disbursed(dues) + [Repayment(START + days(2), 300_000, "R1")]
    quote = payoff(dues, events, TERMS, x)
    assert quote.credit == 300_000
    assert quote.total == 2_000_000 + accrued_to(3_000, START, dues[0].period_end, x - DAY) - 300_000
    state = replay(dues, events + [Repayment(x, quote.total, "R2")], TERMS, x)
    assert state.status == "settled"
    assert state.credit == 0


def test_auto_settle_can_be_switched_off() -> None:
    terms = Terms(annual_rate=RATE, auto_settle=False)
    dues = schedule(START, [(1_000_000, 3_000)])
    x = START + days(10)
    quote = payoff(dues, disbursed(dues), terms, x)
    state = replay(dues, disbursed(dues) + [Repayment(x, quote.total, "R")], terms, x)
    assert state.status == "active"
    assert state.credit == quote.total


# ---------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("amount", [0, -5, 1.5, Decimal("10")])
def test_repayment_amount_must_be_positive_fen(amount) -> None:
    dues = schedule(START, [(1_000_000, 0)])
    with pytest.raises(ValueError, match="amount"):
        replay(dues, disbursed(dues) + [Repayment(START + DAY, amount, "R")], TERMS, START + days(3))


def test_event_before_the_first_disbursement() -> None:
    dues = schedule(START, [(1_000_000, 0)])
    with pytest.raises(ValueError, match="value_date"):
        replay(dues, disbursed(dues) + [Repayment(START - DAY, 5, "R")], TERMS, START + days(3))
    with pytest.raises(ValueError, match="value_date"):
        replay(dues, [FeeCharge(START, 5, "F")] + disbursed(dues), TERMS, START + days(3))


def test_dues_must_add_up_to_the_disbursement() -> None:
    dues = schedule(START, [(1_000_000, 0)])
    events = [Disbursement(START, 900_000, "D1")]
    replay(dues, events, TERMS, START)  # on the disbursement day the schedule may still follow
    with pytest.raises(ValueError, match="dues"):
        replay(dues, events, TERMS, START + DAY)
    with pytest.raises(ValueError, match="dues"):
        payoff(dues, events, TERMS, START + DAY)
    # a second tranche not yet disbursed: nothing to check
    replay(dues, events + [Disbursement(START + days(9), 100_000, "D2")], TERMS, START + days(5))


@pytest.mark.parametrize(
    ("dues", "message"),
    [
        ([Due(1, START, START + days(30), 1_000_000, 0), Due(1, START, START + days(60), 0, 0)], "dues"),
        ([Due(0, START, START + days(30), 1_000_000, 0)], "dues"),
        ([Due(1, START, START + days(30), -1, 0)], "dues"),
        ([Due(1, START, START + days(30), 1_000_000, 2.5)], "dues"),
        ([Due(1, START + days(40), START + days(30), 1_000_000, 0, START + days(30))], "dues"),
        (["not a due"], "dues"),
    ],
)
def test_due_validation(dues, message) -> None:
    with pytest.raises(ValueError, match=message):
        replay(dues, [Disbursement(START, 1_000_000, "D")], TERMS, START)


def test_terms_validation() -> None:
    with pytest.raises(ValueError, match="order"):
        Terms(annual_rate=RATE, order=("fee", "penalty", "interest", "principal"))
    with pytest.raises(ValueError, match="mode"):
        Terms(annual_rate=RATE, mode="sideways")
    with pytest.raises(ValueError, match="grace_days"):
        Terms(annual_rate=RATE, grace_days=-1)
    with pytest.raises(ValueError, match="day_basis"):
        Terms(annual_rate=RATE, day_basis=0)
    with pytest.raises(TypeError):
        Terms(annual_rate=0.0435)  # type: ignore[arg-type]


def test_repayment_references_are_unique() -> None:
    dues = schedule(START, [(1_000_000, 0)])
    events = disbursed(dues) + [Repayment(START + DAY, 5, "R"), Repayment(START + days(2), 5, "R")]
    with pytest.raises(ValueError, match="ref"):
        replay(dues, events, TERMS, START + days(3))


def test_nothing_disbursed_yet() -> None:
    dues = schedule(START, [(1_000_000, 0)])
    state = replay(dues, [], TERMS, START)
    assert state.disbursed == 0
    assert state.status == "active"
    assert state.settled_on is None
    assert state.allocations == {}


# ---------------------------------------------------------------------------
# a day-by-day cross-check of the span arithmetic


def _charged(state, component: str) -> int:
    return sum(getattr(i, component) + getattr(i, f"{component}_waived") for i in state.installments)


def _check_daily(dues, events, terms, day: date) -> None:
    """The penalty (compound) charged for ``day`` is the per-day amount on each accruing installment's
    base as it stands after that day's events: what a day-by-day close of business posts."""
    today = replay(dues, events, terms, day)
    yesterday = replay(dues, events, terms, day - DAY)
    pen = comp = 0
    for inst in today.installments:
        if inst.due_date + days(1 + terms.grace_days) <= day:
            pen += penalty_per_day(inst.principal - inst.paid_principal, terms.annual_rate, terms.penalty_markup,
                                   terms.day_basis)
            comp += penalty_per_day(inst.interest - inst.paid_interest, terms.annual_rate, terms.compound_markup,
                                    terms.day_basis)
    assert _charged(today, "penalty") - _charged(yesterday, "penalty") == pen, day
    assert _charged(today, "compound") - _charged(yesterday, "compound") == comp, day


def test_day_by_day_matches_the_spans() -> None:
    terms = Terms(annual_rate=Decimal("0.0612"), grace_days=2)
    dues = schedule(START, [(1_234_567, 6_301), (2_345_678, 5_003), (3_456_789, 2_999)])
    events = disbursed(dues) + [
        Repayment(dues[0].due_date + days(6), 400_000, "R1"),
        Repayment(dues[1].due_date + days(1), 777_777, "R2"),
        Repayment(dues[1].due_date + days(33), 1_500_000, "R3"),
    ]
    day = dues[0].due_date
    while day <= dues[2].due_date + days(10):
        _check_daily(dues, events, terms, day)
        day += DAY


# ---------------------------------------------------------------------------
# properties over random loans and event histories

rates = st.integers(100, 2400).map(lambda n: Decimal(n) / 10000)


@st.composite
def loans(draw):
    n = draw(st.integers(1, 6))
    start = date(2023, 1, 1) + days(draw(st.integers(0, 365)))
    lengths = draw(st.lists(st.integers(28, 35), min_size=n, max_size=n))
    principals = draw(st.lists(st.integers(0, 5_000_000), min_size=n, max_size=n))
    assume(sum(principals) > 0)
    interests = draw(st.lists(st.integers(0, 80_000), min_size=n, max_size=n))
    dues = []
    begin = start
    for number, (length, principal, interest) in enumerate(zip(lengths, principals, interests, strict=True), 1):
        dues.append(Due(number, begin, begin + days(length), principal, interest))
        begin += days(length)
    terms = Terms(
        annual_rate=draw(rates),
        penalty_markup=draw(st.sampled_from([Decimal("0.3"), Decimal("0.5")])),
        compound_markup=draw(st.sampled_from([Decimal("0.3"), Decimal("0.5")])),
        day_basis=draw(st.sampled_from([360, 365])),
        grace_days=draw(st.integers(0, 5)),
        order=tuple(draw(st.permutations(COMPONENTS))),
        mode=draw(st.sampled_from(["installment_first", "component_first"])),
    )
    horizon = (begin - start).days + 90
    total = sum(principals)
    others = []
    for k in range(draw(st.integers(0, 10))):
        offset = draw(st.integers(0, horizon))
        amount = draw(st.one_of(
            st.integers(1, total // 2 + 1),
            st.sampled_from([d.principal + d.interest + 1 for d in dues]),  # an installment, about
            st.integers(total, 2 * total),  # enough to settle, often
        ))
        others.append(Repayment(start + days(offset), amount, f"R{k}"))
    for k in range(draw(st.integers(0, 2))):
        others.append(FeeCharge(start + days(draw(st.integers(0, horizon))), draw(st.integers(1, 20_000)), f"F{k}"))
    others = draw(st.permutations(others))
    return dues, [Disbursement(start, total, "D1"), *others], terms, start + days(horizon)


def viable(dues, events, terms, end):
    """Drop the latest repayments until none comes after the loan is settled."""
    events = list(events)
    while True:
        try:
            return events, replay(dues, events, terms, end)
        except ValueError as exc:
            if "loan is settled" not in str(exc):
                raise
            latest = max((e for e in events if isinstance(e, Repayment)), key=lambda e: e.value_date)
            events.remove(latest)


def check_invariants(events, state) -> None:
    repaid = sum(e.amount for e in events if isinstance(e, Repayment) and e.value_date <= state.as_of)
    parts = [a for parts in state.allocations.values() for a in parts]
    swept = [a for parts in state.credit_allocations.values() for a in parts]
    assert all(a.amount > 0 for a in parts + swept)
    assert sum(a.amount for a in parts) == repaid  # money is conserved
    credited = sum(a.amount for a in parts if a.component == "credit")
    assert credited == sum(a.amount for a in swept) + state.credit
    assert state.credit >= 0
    paid: dict[tuple[int, str], int] = {}
    for a in parts + swept:
        if a.component != "credit":
            paid[(a.installment, a.component)] = paid.get((a.installment, a.component), 0) + a.amount
    for inst in state.installments:
        for component in ("principal", "interest", "penalty", "compound"):
            got = getattr(inst, f"paid_{component}")
            assert got == paid.get((inst.number, component), 0)
            assert 0 <= got <= getattr(inst, component)
        assert inst.penalty >= 0 and inst.compound >= 0 and inst.interest >= 0
    fees_paid = sum(f.paid for f in state.fees)
    assert fees_paid == paid.get((0, "fee"), 0)
    assert all(0 <= f.paid + f.waived <= f.amount for f in state.fees)
    principal_paid = sum(i.paid_principal for i in state.installments)
    assert principal_paid == state.principal_paid <= state.disbursed
    assert state.principal_outstanding == state.disbursed - principal_paid >= 0
    for name in ("principal_due", "interest_due", "penalty_due", "compound_due", "fee_due", "overdue_principal",
                 "overdue_interest", "interest_accrued", "days_past_due"):
        assert getattr(state, name) >= 0, name
    assert state.bucket == bucket_for(state.days_past_due)
    if state.status == "settled":
        assert all_zero(state)
        assert all(i.status == "paid" for i in state.installments)
    else:
        assert state.settled_on is None


def without_allocations(state):
    """The balances without the split of each payment (which may depend on the order of same-day events)."""
    return dataclasses.replace(state, allocations={}, credit_allocations={}, fees=())


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(loan=loans(), data=st.data())
def test_random_histories_conserve_money_and_never_go_negative(loan, data) -> None:
    dues, events, terms, end = loan
    events, final = viable(dues, events, terms, end)
    check_invariants(events, final)
    start = events[0].value_date
    for _ in range(3):
        as_of = start + days(data.draw(st.integers(0, (end - start).days)))
        state = replay(dues, events, terms, as_of)
        check_invariants(events, state)
        # the state at as_of only depends on the events up to as_of
        assert replay(dues, [e for e in events if e.value_date <= as_of], terms, as_of) == state


@PROPERTY
@given(loan=loans(), data=st.data())
def test_state_is_a_function_of_the_event_set(loan, data) -> None:
    dues, events, terms, end = loan
    events, state = viable(dues, events, terms, end)
    rest = data.draw(st.permutations(events[1:]))
    reordered = replay(dues, [events[0], *rest], terms, end)
    # balances never depend on the order events are listed in; the split of two payments on the
    # same day may, so allocations are compared only when no two events share a day
    assert without_allocations(reordered) == without_allocations(state)
    if len({e.value_date for e in events}) == len(events):
        assert reordered == state
    if len(events) > 1:
        # a reversal: the event is left out and everything is replayed
        gone = data.draw(st.sampled_from(events[1:]))
        remaining = [e for e in events if e is not gone]
        try:
            after = replay(dues, remaining, terms, end)
        except ValueError as exc:  # leaving out a fee can settle the loan before a later repayment
            assert "loan is settled" in str(exc)
            return
        check_invariants(remaining, after)
        if isinstance(gone, Repayment):
            assert gone.ref not in after.allocations
        # putting it back, anywhere in the list, gives the original state back
        back = replay(dues, [*remaining, gone], terms, end)
        assert without_allocations(back) == without_allocations(state)


@PROPERTY
@given(loan=loans(), data=st.data())
def test_paying_the_payoff_settles_the_loan(loan, data) -> None:
    dues, events, terms, end = loan
    start = events[0].value_date
    x = start + days(data.draw(st.integers(0, (end - start).days)))
    before = [e for e in events if e.value_date <= x]
    before, state = viable(dues, before, terms, x)
    quote = payoff(dues, before, terms, x)
    assert quote.total == max(0, quote.principal + quote.interest + quote.penalty + quote.compound + quote.fee
                              - quote.credit)
    if quote.total == 0:
        assert state.status == "settled"
        return
    assert state.status != "settled"
    paid = [*before, Repayment(x, quote.total, "PAYOFF")]
    settled = replay(dues, paid, terms, x)
    assert settled.status == "settled", quote
    assert settled.settled_on == x
    assert all_zero(settled)
    assert settled.credit == 0
    check_invariants(paid, settled)
    later = replay(dues, paid, terms, x + days(100))
    assert later == dataclasses.replace(settled, as_of=x + days(100))


@PROPERTY
@given(loan=loans())
def test_paying_every_installment_on_its_due_date_settles_at_maturity(loan) -> None:
    dues, events, terms, end = loan
    on_time = [events[0]] + [Repayment(d.due_date, d.principal + d.interest, f"R{d.number}") for d in dues
                             if d.principal + d.interest > 0]
    state = replay(dues, on_time, terms, end)
    assert state.status == "settled"
    assert state.settled_on == max(d.due_date for d in dues if d.principal + d.interest > 0)
    assert sum(i.penalty + i.compound for i in state.installments) == 0
    assert all_zero(state)
    assert state.credit == 0
    assert state.credit_allocations == {}
    check_invariants(on_time, state)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loan=loans(), data=st.data())
def test_random_histories_match_a_day_by_day_close(loan, data) -> None:
    dues, events, terms, end = loan
    events, _ = viable(dues, events, terms, end)
    start = events[0].value_date
    for _ in range(6):
        _check_daily(dues, events, terms, start + days(data.draw(st.integers(1, (end - start).days))))


@PROPERTY
@given(loan=loans(), data=st.data())
def test_partial_prepayment_by_schedule_change_then_on_time(loan, data) -> None:
    dues, events, terms, _end = loan
    start, maturity = events[0].value_date, dues[-1].due_date
    x = start + days(data.draw(st.integers(0, (maturity - start).days - 1)))
    paid = [events[0]] + [Repayment(d.due_date, d.principal + d.interest, f"R{d.number}") for d in dues
                          if d.due_date <= x and d.principal + d.interest > 0]
    state = replay(dues, paid, terms, x)
    quote = payoff(dues, paid, terms, x)
    future = [d for d in dues if d.due_date > x]
    accrued = quote.interest - state.interest_due
    unbilled = state.principal_outstanding - state.principal_due
    assert unbilled == sum(d.principal for d in future)
    now = data.draw(st.integers(0, unbilled))
    head = Due(100, future[0].period_start, x, now, accrued, period_end=x)
    left, rest = unbilled - now, []
    for k, d in enumerate(future):
        share = left if k == len(future) - 1 else (unbilled - now) // len(future)
        left -= share
        rest.append(Due(200 + k, max(d.period_start, x), d.due_date, share,
                        d.interest if d.period_start >= x else 0))
    changed = [*paid, ScheduleChange(x, [head, *rest], "PRE:schedule", "prepayment")]
    if now + accrued:
        changed.append(Repayment(x, now + accrued, "PRE"))
    after = replay(dues, changed, terms, x)
    assert after.principal_outstanding == unbilled - now
    assert after.credit == 0
    assert after.total_due == 0
    check_invariants(changed, after)
    changed += [Repayment(d.due_date, d.principal + d.interest, f"N{d.number}") for d in rest
                if d.principal + d.interest > 0]
    final = replay(dues, changed, terms, maturity + days(10))
    assert final.status == "settled"
    assert all_zero(final)
    assert sum(i.penalty + i.compound for i in final.installments) == 0
    check_invariants(changed, final)
