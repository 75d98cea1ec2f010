"""Tests for postloan.ledger.allocation: splitting a repayment over what is owed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postloan.ledger.allocation import COMPONENTS, DEFAULT_ORDER, Allocation, Bucket, allocate

D1 = date(2024, 1, 15)
D2 = date(2024, 2, 15)


def owed(installment: int, due: date, **amounts: int) -> list[Bucket]:
    return [Bucket(installment, due, component, amount) for component, amount in amounts.items()]


def test_constants() -> None:
    assert COMPONENTS == ("fee", "penalty", "compound", "interest", "principal")
    assert DEFAULT_ORDER == ("fee", "penalty", "compound", "interest", "principal")


def test_installment_first_clears_the_oldest_installment_first() -> None:
    buckets = owed(2, D2, principal=1000, interest=100, penalty=5) + owed(1, D1, principal=1000, interest=100,
                                                                           penalty=7, compound=3, fee=50)
    allocations, left = allocate(1200, buckets, DEFAULT_ORDER)
    assert allocations == [
        Allocation(1, "fee", 50),
        Allocation(1, "penalty", 7),
        Allocation(1, "compound", 3),
        Allocation(1, "interest", 100),
        Allocation(1, "principal", 1000),
        Allocation(2, "penalty", 5),
        Allocation(2, "interest", 35),
    ]
    assert left == 0


def test_component_first_clears_each_component_across_installments() -> None:
    buckets = owed(1, D1, principal=1000, interest=100, penalty=7) + owed(2, D2, principal=1000, interest=100,
                                                                           penalty=5)
    allocations, left = allocate(150, buckets, DEFAULT_ORDER, mode="component_first")
    assert allocations == [
        Allocation(1, "penalty", 7),
        Allocation(2, "penalty", 5),
        Allocation(1, "interest", 100),
        Allocation(2, "interest", 38),
    ]
    assert left == 0


def test_a_product_order_interest_before_penalty() -> None:
    order = ("interest", "principal", "penalty", "compound", "fee")
    allocations, left = allocate(110, owed(1, D1, penalty=10, interest=100, principal=50), order)
    assert allocations == [Allocation(1, "interest", 100), Allocation(1, "principal", 10)]
    assert left == 0


def test_remainder_when_everything_is_paid() -> None:
    allocations, left = allocate(500, owed(1, D1, interest=100, principal=300), DEFAULT_ORDER)
    assert sum(a.amount for a in allocations) == 400
    assert left == 100


def test_zero_amount_and_no_buckets() -> None:
    assert allocate(0, owed(1, D1, interest=100)) == ([], 0)
    assert allocate(75, []) == ([], 75)


def test_ties_keep_the_given_order_and_zero_buckets_are_skipped() -> None:
    buckets = [Bucket(0, D1, "fee", 30), Bucket(0, D1, "fee", 0), Bucket(0, D1, "fee", 40)]
    allocations, left = allocate(50, buckets)
    assert allocations == [Allocation(0, "fee", 30), Allocation(0, "fee", 20)]
    assert left == 0


def test_same_due_date_orders_by_installment_number() -> None:
    buckets = owed(5, D1, principal=10) + owed(4, D1, principal=10)
    allocations, _ = allocate(15, buckets)
    assert allocations == [Allocation(4, "principal", 10), Allocation(5, "principal", 5)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"order": ("fee", "penalty", "interest", "principal")}, "order"),
        ({"order": ("fee", "fee", "compound", "interest", "principal")}, "order"),
        ({"order": ("fee", "penalty", "compound", "interest", "capital")}, "order"),
        ({"order": 5}, "order"),
        ({"mode": "diagonal"}, "mode"),
        ({"amount": -1}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": True}, "amount"),
        ({"buckets": [Bucket(1, D1, "interest", -1)]}, "outstanding"),
        ({"buckets": [Bucket(1, D1, "credit", 1)]}, "component"),
    ],
)
def test_validation(kwargs: dict, field: str) -> None:
    args = {"amount": 10, "buckets": owed(1, D1, interest=5), "order": DEFAULT_ORDER, "mode": "installment_first"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        allocate(**args)


# ---------------------------------------------------------------------------
# properties

installments = st.lists(
    st.tuples(
        st.integers(0, 400),  # due date offset
        st.fixed_dictionaries({}, optional={c: st.integers(0, 10_000) for c in COMPONENTS}),
    ),
    max_size=8,
)


def _buckets(spec) -> list[Bucket]:
    base = date(2024, 1, 1)
    result = []
    for number, (offset, amounts) in enumerate(spec, start=1):
        result += owed(number, base + timedelta(days=offset), **amounts)
    return result


@given(amount=st.integers(0, 100_000), spec=installments, order=st.permutations(COMPONENTS),
       mode=st.sampled_from(["installment_first", "component_first"]))
def test_allocation_conserves_money_and_respects_the_order(amount, spec, order, mode) -> None:
    order = tuple(order)
    buckets = _buckets(spec)
    allocations, left = allocate(amount, buckets, order, mode)
    assert sum(a.amount for a in allocations) + left == amount
    assert all(a.amount > 0 for a in allocations)
    total = sum(b.outstanding for b in buckets)
    assert left == max(0, amount - total)

    paid: dict[tuple[int, str], int] = {}
    for a in allocations:
        paid[(a.installment, a.component)] = paid.get((a.installment, a.component), 0) + a.amount
    rank = {c: i for i, c in enumerate(order)}

    def key(b: Bucket):
        if mode == "installment_first":
            return (b.due_date, b.installment, rank[b.component])
        return (rank[b.component], b.due_date, b.installment)

    ranked = sorted(buckets, key=key)
    for b in ranked:
        assert paid.get((b.installment, b.component), 0) <= b.outstanding
    # greedy: nothing is paid on a bucket while an earlier one (in the mode's order) is not fully paid
    seen_short = False
    for b in ranked:
        got = paid.get((b.installment, b.component), 0)
        if seen_short:
            assert got == 0, f"{b} paid before an earlier bucket was cleared"
        if got < b.outstanding:
            seen_short = True


@given(amount=st.integers(0, 50_000), spec=installments, order=st.permutations(COMPONENTS))
def test_installment_first_within_an_installment_follows_the_order(amount, spec, order) -> None:
    order = tuple(order)
    buckets = _buckets(spec)
    allocations, _ = allocate(amount, buckets, order, "installment_first")
    by_inst: dict[int, dict[str, int]] = {}
    for a in allocations:
        by_inst.setdefault(a.installment, {})[a.component] = a.amount
    for b in buckets:
        got = by_inst.get(b.installment, {})
        later_paid = any(got.get(c, 0) for c in order[order.index(b.component) + 1:])
        if later_paid:
            assert got.get(b.component, 0) == b.outstanding
