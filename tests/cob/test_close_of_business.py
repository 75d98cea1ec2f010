import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import translation

from postloan.cob import registry, runner, steps
from postloan.cob.models import CobDay, CobRun, CobStep, LoanSnapshot, PortfolioAggregate
from postloan.kernel import businessdate
from postloan.kernel.models import AuditEvent, CalendarCoverage
from postloan.ledger import services
from postloan.ledger.models import Loan
from postloan.ledger.state import check


def all_consistent():
    problems = []
    for loan in Loan.objects.exclude(status="pending"):
        problems += check(loan)
    return problems


def test_fast_close_agrees_with_full_replay_to_the_fen(portfolio):
    """The incremental path and the reference engine give the same balances, day after day, with
    postings (some back-valued) in between."""
    runner.run(to=dt.date(2026, 1, 31))
    assert businessdate.current() == dt.date(2026, 2, 1)
    assert all_consistent() == []
    loan = Loan.objects.filter(status="overdue").order_by("id").first()
    services.post_repayment(actor=None, loan=loan, amount=Decimal("5000.00"), value_date=dt.date(2026, 1, 20),
                            reference="BACK-1")
    other = Loan.objects.filter(status="active").order_by("id").first()
    services.post_repayment(actor=None, loan=other, amount=Decimal("100.00"), value_date=dt.date(2026, 2, 1),
                            reference="TODAY-1")
    runner.run(to=dt.date(2026, 3, 10))
    assert all_consistent() == []
    steps = CobStep.objects.filter(name="ledger.close_day")
    advanced = sum(s.totals.get("advanced", 0) for s in steps)
    replayed = sum(s.totals.get("replayed", 0) for s in steps)
    assert advanced > replayed > 0  # most loans take the fast path, and the replayed ones agree too
    assert sum(s.totals.get("penalty_accrued", 0) for s in steps) > 0
    assert Loan.objects.filter(state_as_of=dt.date(2026, 3, 10), status__in=["active", "overdue"]).count() == \
        Loan.objects.filter(status__in=["active", "overdue"]).count()


def test_snapshots_and_aggregates_are_written_per_day(portfolio, monkeypatch):
    monkeypatch.setattr(runner, "PARTITION_SIZE", 7)  # several partitions' shares summed
    runner.run(to=dt.date(2026, 1, 7))
    open_loans = Loan.objects.filter(status__in=["active", "overdue"]).count()
    snapshots = list(LoanSnapshot.objects.filter(date=dt.date(2026, 1, 7)))
    assert len(snapshots) == open_loans
    by_branch = PortfolioAggregate.objects.filter(date=dt.date(2026, 1, 7), dimension="branch")
    assert sum(a.loans for a in by_branch) == open_loans
    # every dimension's figures are the day's snapshots grouped by it
    for dimension, column in steps.DIMENSIONS.items():
        expected = {}
        for snap in snapshots:
            sums = expected.setdefault(str(getattr(snap, column)), [0] * (1 + len(steps.MEASURES)))
            sums[0] += 1
            for i, measure in enumerate(steps.MEASURES, start=1):
                sums[i] += getattr(snap, measure)
        stored = {a.key: [a.loans, *(getattr(a, m) for m in steps.MEASURES)]
                  for a in PortfolioAggregate.objects.filter(date=dt.date(2026, 1, 7), dimension=dimension)}
        assert stored == expected, dimension
    assert len({s.branch_id for s in snapshots}) > 1 and len({s.bucket for s in snapshots}) > 1
    day = CobDay.objects.get(date=dt.date(2026, 1, 7))
    assert day.status == "done"
    assert AuditEvent.objects.filter(action="cob.close_day", object_id=str(day.pk)).exists()


def _ranges(day):
    step = CobStep.objects.get(day__date=day, name="ledger.close_day")
    return list(step.partitions.order_by("number").values_list("first_loan", "last_loan"))


def _covered(day):
    """Each loan the close of ``day`` worked on lies in exactly one of its ranges, for every step."""
    ids = set(LoanSnapshot.objects.filter(date=day).values_list("loan_id", flat=True))
    steps = CobStep.objects.filter(day__date=day, partitions__isnull=False).distinct()  # the per-partition ones
    assert {s.name for s in steps} >= {"ledger.close_day", "cob.snapshot"}
    for step in steps:
        ranges = list(step.partitions.values_list("first_loan", "last_loan"))
        assert all(sum(first <= i <= last for first, last in ranges) == 1 for i in ids), step.name


def test_partitions_are_kept_from_day_to_day_while_balanced(portfolio, monkeypatch):
    """Numbering every open loan to plan the partitions costs a partition's work at a million loans: the next
    day keeps the ranges (the first widened to the lowest id), plans only new loans past the last, and plans
    afresh once the ranges no longer hold about a partition's loans."""
    monkeypatch.setattr(runner, "PARTITION_SIZE", 7)
    numbered = []  # the ids above which loans were numbered: 0 is every loan
    number = runner._number
    monkeypatch.setattr(runner, "_number", lambda day, after=0: numbered.append(after) or number(day, after))
    runner.run(to=dt.date(2026, 1, 6))
    first, second = _ranges(dt.date(2026, 1, 5)), _ranges(dt.date(2026, 1, 6))
    assert numbered == [0, first[-1][1]]  # the first day all, the second only past the last range
    assert len(first) == -(-Loan.objects.filter(status__in=["active", "overdue"]).count() // 7) > 4
    assert second == [(1, first[0][1]), *first[1:]]
    _covered(dt.date(2026, 1, 6))
    # a new loan past the last range: planned after it (a handful: the last partition takes it)
    old = portfolio[0]
    new = services.book_loan(actor=None, loan_no="L-NEW", customer=old.customer, product=old.product,
                             principal=Decimal("50000"), term_months=12, annual_rate=Decimal("0.0435"),
                             start_date=dt.date(2026, 1, 7))
    services.disburse(actor=None, loan=new, value_date=dt.date(2026, 1, 7), reference="D-NEW")
    runner.run()
    third = _ranges(dt.date(2026, 1, 7))
    assert numbered[2:] == [second[-1][1]]
    assert new.pk > second[-1][1] and third == [*second[:-1], (second[-1][0], new.pk)]
    _covered(dt.date(2026, 1, 7))
    assert LoanSnapshot.objects.filter(date=dt.date(2026, 1, 7), loan=new).exists()
    # bigger partitions configured: yesterday's ranges hold far fewer loans than that, so numbered afresh
    monkeypatch.setattr(runner, "PARTITION_SIZE", 30)
    runner.run()
    fourth = _ranges(dt.date(2026, 1, 8))
    assert numbered[3:] == [0]
    assert len(fourth) == 2 and fourth[0][0] == Loan.objects.filter(status__in=["active", "overdue"]).order_by(
        "id").first().pk
    _covered(dt.date(2026, 1, 8))
    assert all_consistent() == []


def test_a_range_read_ahead_is_used_only_while_no_other_connection_wrote(portfolio, monkeypatch):
    """SQLite reads a partition's loans needing attention ahead, on another connection; the close uses that
    read only if the database's data version is still the one the writer saw when the read began. Here the
    read handed over is a made-up one (every loan "to replay"): taken with a version since changed it is
    ignored, taken with the current one it is used — the gate, not luck, decides (and replaying is exact
    either way)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("reading ahead is the embedded SQLite's (one writer, a second core for reads)")
    monkeypatch.setattr(runner, "PARTITION_SIZE", 20)
    runner.run()  # the first date: afterwards every open loan's state is as of the day before the next
    day = businessdate.current()
    cob_run = runner._acquire([day], None)
    cob_day = CobDay.objects.create(date=day, run=cob_run)
    step = CobStep.objects.create(day=cob_day, name="ledger.close_day", order=100)
    first, second = runner._plan_partitions(step, day)
    open_loans = Loan.objects.filter(status__in=["active", "overdue"])

    def made_up(part):
        return [(pk, 2) for pk in open_loans.filter(id__gte=part.first_loan, id__lte=part.last_loan)
                .order_by("id").values_list("id", flat=True)]

    read = made_up(first)
    runner.execute_partition(first.pk, prepared=(runner._data_version() + 1, read))
    first.refresh_from_db()
    assert len(read) > 10 and first.totals["advanced"] == len(read) and first.totals["replayed"] == 0

    read = made_up(second)
    runner.execute_partition(second.pk, prepared=(runner._data_version(), read))
    second.refresh_from_db()
    assert len(read) > 10 and second.totals["replayed"] == len(read) and second.totals["advanced"] == 0
    assert all_consistent() == []


def test_a_closed_date_is_not_closed_again(portfolio):
    runner.run()
    with pytest.raises(ValidationError) as err:
        runner.run(to=dt.date(2026, 1, 5))
    assert "to" in err.value.message_dict
    assert CobDay.objects.count() == 1


def test_refuses_past_the_loaded_calendar(portfolio):
    last = CalendarCoverage.objects.get(code="CN").last
    with translation.override("en"), pytest.raises(ValidationError) as err:
        runner.run(to=last + dt.timedelta(days=1))
    assert "calendar" in str(err.value)
    assert CobRun.objects.count() == 0


def test_refuses_a_second_run_naming_the_running_one(portfolio):
    import os

    CobRun.objects.create(from_date=dt.date(2026, 1, 5), to_date=dt.date(2026, 1, 5), host="elsewhere",
                          pid=os.getpid(), status="running", heartbeat=__import__("django.utils.timezone").utils.
                          timezone.now())
    with translation.override("en"), pytest.raises(ValidationError) as err:
        runner.run()
    assert "already running" in str(err.value) and "elsewhere" in str(err.value)


def test_a_failing_step_stops_the_date_and_resume_finishes_it(portfolio, monkeypatch):
    calls = {"n": 0}

    def broken(day, loans=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return 0, {}

    monkeypatch.setitem(registry._STEPS, "test.broken", registry.Step("test.broken", 500, broken, False))
    with pytest.raises(runner.CobFailed, match="test.broken"):
        runner.run()
    assert businessdate.current() == dt.date(2026, 1, 5)
    assert CobDay.objects.get().status == "failed"
    assert CobRun.objects.get().status == "failed"
    assert CobStep.objects.get(name="ledger.close_day").status == "done"
    runner.run()
    assert businessdate.current() == dt.date(2026, 1, 6)
    assert all_consistent() == []


@pytest.mark.parametrize("value", ["0", "-2", "ten", "1.5"])
def test_partition_and_thread_settings_refuse_anything_but_a_positive_count(monkeypatch, value):
    monkeypatch.setenv("POSTLOAN_COB_THREADS", value)
    with pytest.raises(ImproperlyConfigured, match="POSTLOAN_COB_THREADS"):
        runner._env_count("POSTLOAN_COB_THREADS", None)


def test_partition_and_thread_settings_default_when_unset(monkeypatch):
    monkeypatch.delenv("POSTLOAN_COB_THREADS", raising=False)
    assert runner._env_count("POSTLOAN_COB_THREADS", 4) == 4
    monkeypatch.setenv("POSTLOAN_COB_THREADS", " 3 ")
    assert runner._env_count("POSTLOAN_COB_THREADS", 4) == 3


def test_postgresql_statistics_of_the_loans_are_taken_for_the_columns_the_close_selects_by(portfolio):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL planner statistics")
    runner.run(to=dt.date(2026, 1, 6))
    with connection.cursor() as cursor:
        runner._analyze(cursor, "public", "ledger_loan")
        cursor.execute("SELECT attname FROM pg_stats WHERE schemaname = 'public' AND tablename = 'ledger_loan'")
        analysed = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT most_common_vals::text FROM pg_stats WHERE schemaname = 'public' "
                       "AND tablename = 'ledger_loan' AND attname = 'state_as_of'")
        (dates,), = cursor.fetchall()
    assert analysed >= set(runner.ANALYZED_COLUMNS["ledger_loan"]) and "loan_no" not in analysed
    assert "2026-01-06" in dates  # the statistics know the day the loans are as of
