"""The close-of-business benchmark (``postloan bench cob``): a synthetic portfolio on a scratch database.

``postloan bench cob --loans N --days D --database sqlite|postgres`` never touches the user's database: it
makes a scratch one (a SQLite file in a temporary directory, or a PostgreSQL database it creates and drops)
and runs each phase in a subprocess pointed at it (``python -m postloan.cob.bench PHASE``):

``generate``
    N loans in bulk (a few statements per 10,000 loans, no per-loan services): one customer each; a mix of
    products (equal installment, equal principal, interest only, bullet; monthly, quarterly, semi-annual;
    four day counts; grace days); the contract schedules from ``ledger.schedule.generate_schedule``
    (cached for identical terms) and their derived state from the reference engine (``engine.replay``,
    cached too), so the stored state is exact by construction. About 93 % are young loans (started less
    than one period before the first date closed, state as of the day before it); their installments
    falling due in the measured days are paid on the day (a repayment posting with that value date)
    except ~3 %, which become overdue. About 7 % started 45–210 days before and never paid: they are in
    arrears (M1…M7+, penalty and compound interest accrued), stored as of the day before like the rest, as
    earlier closes of business would have left them.
``measure``
    D business days of ``cob.runner.run`` (in process, no broker), timed per step from the batch's own
    records; then, on the same table, one plain set-based ``UPDATE`` touching every open loan (median of
    three); the peak memory of that process (``ru_maxrss``).
``check``
    ``ledger.state.check`` (what ``postloan ledger check`` runs) on a sample of 200 loans: overdue ones,
    ones with a repayment in the window and random ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import time
from decimal import Decimal
from types import SimpleNamespace

FIRST_DATE = dt.date(2026, 3, 2)  # the first business date closed
CHUNK = 10_000

# code, segment, method, frequency, day count, interest basis, grace days, terms (months),
# amounts (yuan), rates, weight (share of loans)
PRODUCTS = [
    ("CON", "retail", "equal_installment", "monthly", "ACT/365F", "daily", 3, [12, 24, 36],
     [20_000, 50_000, 80_000, 120_000, 200_000, 300_000], ["0.0560", "0.0720", "0.0880"], 34),
    ("PBL", "retail", "equal_principal", "monthly", "30/360", "period", 3, [12, 24, 36],
     [100_000, 200_000, 500_000, 1_000_000], ["0.0450", "0.0550"], 14),
    ("MTG", "retail", "equal_installment", "monthly", "ACT/360", "period", 3, [120, 240, 360],
     [300_000, 600_000, 1_000_000, 1_500_000, 3_000_000], ["0.0310", "0.0355", "0.0390"], 6),
    ("SME", "corporate", "equal_installment", "monthly", "ACT/360", "period", 0, [12, 24, 36],
     [200_000, 500_000, 1_000_000, 2_000_000, 3_000_000], ["0.0450", "0.0520", "0.0600"], 20),
    ("CWC", "corporate", "interest_only", "monthly", "ACT/360", "period", 0, [12, 24],
     [500_000, 1_000_000, 5_000_000, 10_000_000, 20_000_000], ["0.0365", "0.0395", "0.0435"], 12),
    ("CFA", "corporate", "equal_principal", "quarterly", "ACT/365F", "daily", 0, [36, 60],
     [2_000_000, 10_000_000, 50_000_000], ["0.0420", "0.0465"], 5),
    ("AGR", "corporate", "interest_only", "semiannual", "ACT/ACT", "daily", 0, [12, 24],
     [100_000, 300_000, 800_000], ["0.0385", "0.0435"], 3),
    ("TRD", "corporate", "bullet", "monthly", "30E/360", "daily", 0, [3, 6, 12],
     [500_000, 2_000_000, 8_000_000], ["0.0400", "0.0450"], 6),
]
OVERDUE_SHARE = 0.07
MISSED_SHARE = 0.03


def _missed(installment_id: int) -> bool:
    """Whether the borrower misses this installment (~3 %), the same in every phase."""
    return random.Random(installment_id).random() < MISSED_SHARE
INDUSTRIES = ["13", "17", "26", "34", "39", "47", "51", "54", "61", "65", "70", "72"]


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postloan.config.settings")
    import django

    django.setup()


def _mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- generate -------------------------------------------------------------------------------------


class _Insert:
    """Whole rows in bulk: the model's columns in order, values given as tuples. ``executemany`` of an
    ``INSERT`` on SQLite (in process, as fast as it gets); ``COPY`` on PostgreSQL (a round trip per row made
    generating a million loans take half an hour)."""

    def __init__(self, model, columns: list[str]) -> None:
        from django.db import connection

        qn = connection.ops.quote_name
        self.sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})")
        self.copy = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        names = {f.column for f in model._meta.concrete_fields}
        missing = names - set(columns)
        assert not missing, f"{model.__name__}: columns not given {sorted(missing)}"

    def __call__(self, rows: list[tuple]) -> None:
        from django.db import connection

        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(self.copy) as copy:  # psycopg's own cursor
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, rows)


def generate(loans: int, days: int, seed: int, out) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from postloan.customers.models import Customer
    from postloan.kernel import calendars
    from postloan.kernel.models import BusinessDate
    from postloan.kernel.money import from_fen
    from postloan.ledger import engine, schedule, services
    from postloan.ledger.models import Installment, Loan, Posting, ScheduleVersion
    from postloan.ledger.state import LOAN_FIELDS, loan_status, terms_of
    from postloan.org import services as org_services

    started = time.monotonic()
    rng = random.Random(seed)
    ho = org_services.create_branch(actor=None, code="HO", name="总行", level="head_office")
    branches = [org_services.create_branch(actor=None, code=code, name=name, level="branch", parent=ho).pk
                for code, name in (("BJ", "北京分行"), ("SH", "上海分行"), ("GZ", "广州分行"), ("CD", "成都分行"))]
    products = {}
    for code, segment, method, frequency, day_count, basis, grace, _terms, _amounts, _rates, _w in PRODUCTS:
        products[code] = services.create_product(
            actor=None, code=code, name=code, segment=segment, method=method, frequency=frequency,
            day_count=day_count, interest_basis=basis, holiday_rule="following", grace_days=grace,
            min_rate=Decimal("0.01"), max_rate=Decimal("0.2"), min_term_months=1, max_term_months=360)
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": FIRST_DATE})
    state_day = FIRST_DATE - dt.timedelta(days=1)
    window_end = FIRST_DATE + dt.timedelta(days=days - 1)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    weights = [p[-1] for p in PRODUCTS]
    monthly = [p for p in PRODUCTS if p[3] == "monthly" and p[2] != "bullet"]

    loan_fields = list(LOAN_FIELDS)
    cust_cols = ["id", "customer_no", "kind", "name", "id_type", "id_number", "branch_id", "officer_id",
                 "industry_id", "size", "region", "address", "phone", "email", "group_id", "created_at"]
    loan_cols = ["id", "loan_no", "customer_id", "product_id", "branch_id", "officer_id", "currency", "principal_fen",
                 "annual_rate", "term_months", "method", "frequency", "day_count", "interest_basis", "holiday_rule",
                 "start_date", "first_due_date", "maturity_date", "original_maturity_date", "purpose",
                 "guarantee_type", "status", "restructured", "restructured_on", "extension_months", "source",
                 "manual_schedule", "created_at", "state_as_of", *loan_fields]
    post_cols = ["id", "loan_id", "kind", "value_date", "booking_date", "amount_fen", "reference", "reverses_id",
                 "actor_id", "approver_id", "reason", "created_at"]
    ver_cols = ["id", "loan_id", "number", "reason", "value_date", "posting_id", "created_at"]
    inst_cols = ["id", "loan_id", "version_id", "seq", "number", "period_start", "period_end", "due_date",
                 "principal_fen", "interest_fen", "status", "penalty_fen", "compound_fen", "fee_fen",
                 "paid_principal_fen", "paid_interest_fen", "paid_penalty_fen", "paid_compound_fen", "paid_fee_fen"]
    insert_customers = _Insert(Customer, cust_cols)
    insert_loans = _Insert(Loan, loan_cols)
    insert_postings = _Insert(Posting, post_cols)
    insert_versions = _Insert(ScheduleVersion, ver_cols)
    insert_installments = _Insert(Installment, inst_cols)

    cache: dict[tuple, tuple] = {}
    calendar = calendars.load("CN")  # the products' holiday rule is "following"

    def contract(spec, principal_fen: int, rate: str, term: int, start: dt.date, as_of: dt.date):
        """(installment rows, loan derived values, installment derived values) for these terms, cached."""
        key = (spec[0], principal_fen, rate, term, start, as_of)
        hit = cache.get(key)
        if hit is not None:
            return hit
        code, _s, method, frequency, day_count, basis, *_rest = spec
        terms = schedule.ScheduleTerms(principal=from_fen(principal_fen), annual_rate=Decimal(rate),
                                       term_months=term, start=start, method=method, frequency=frequency,
                                       day_count=day_count, interest_basis=basis, calendar=calendar,
                                       holiday_rule="following")
        # schedule amounts are Decimals with two places: × 100 is exact
        rows = [(i, r.number, r.period_start, r.period_end, r.due_date, int(r.principal * 100),
                 int(r.interest * 100)) for i, r in enumerate(schedule.generate_schedule(terms), start=1)]
        fake = SimpleNamespace(annual_rate=Decimal(rate), day_count=day_count, product=products[code],
                               status=Loan.Status.ACTIVE)
        dues = [engine.Due(number=seq, period_start=ps, due_date=due, principal=p, interest=i, period_end=pe)
                for seq, _n, ps, pe, due, p, i in rows]
        state = engine.replay(dues, [engine.Disbursement(start, principal_fen, "D")], terms_of(fake), as_of)
        loan_values = tuple(getattr(state, a) for a in LOAN_FIELDS.values())
        effective = {s.number: s for s in state.installments}
        inst_values = [(s.status, s.penalty, s.compound, s.fee, s.paid_principal, s.paid_interest, s.paid_penalty,
                        s.paid_compound, s.paid_fee) for s in (effective[seq] for seq, *_r in rows)]
        hit = cache[key] = (rows, loan_status(fake, state), loan_values, inst_values)
        return hit

    def months_of(spec, term: int) -> int:
        return term if spec[2] == "bullet" else {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}[spec[3]]

    # Foreign keys are checked at each commit on SQLite; the rows here are consistent by construction and the
    # close of business runs with the checks on again.
    constraints_off = connection.disable_constraint_checking()
    inst_id = 0
    repayments = overdue = 0
    rows_total = 0
    for first in range(1, loans + 1, CHUNK):
        customers, loan_rows, postings, versions, installments = [], [], [], [], []
        for loan_id in range(first, min(first + CHUNK, loans + 1)):
            late = rng.random() < OVERDUE_SHARE
            spec = rng.choices(monthly if late else PRODUCTS, weights=None if late else weights)[0]
            code, segment, method, frequency, day_count, basis, _g, terms_list, amounts, rates, _w = spec
            term = rng.choice(terms_list)
            principal_fen = rng.choice(amounts) * 100
            rate = rng.choice(rates)
            if late:
                start = FIRST_DATE - dt.timedelta(days=rng.randrange(45, 211))
                as_of = state_day  # in arrears since their first due date, brought up to date by earlier closes
            else:
                span = 28 * min(months_of(spec, term), 3 if method == "bullet" else 12) - 1
                start = FIRST_DATE - dt.timedelta(days=rng.randrange(1, span + 1))
                as_of = state_day
            rows, status, loan_values, inst_values = contract(spec, principal_fen, rate, term, start, as_of)
            if not late and rows[0][4] <= state_day:  # an adjusted date fell before: start the day before
                start = state_day
                rows, status, loan_values, inst_values = contract(spec, principal_fen, rate, term, start, as_of)
            overdue += late
            corporate = segment == "corporate"
            branch = branches[loan_id % len(branches)]
            customers.append((loan_id, f"BC{loan_id:09d}", "corporate" if corporate else "individual",
                              f"客户{loan_id}", "uscc" if corporate else "resident_id", f"B{loan_id:017d}", branch,
                              None, rng.choice(INDUSTRIES) if corporate else None, "", "", "", "", "", None, now))
            maturity = rows[-1][4]
            loan_rows.append((loan_id, f"BL{loan_id:09d}", loan_id, products[code].pk, branch, None, "CNY",
                              principal_fen, Decimal(rate), term, method, frequency, day_count, basis, "following",
                              start, None, maturity, maturity, "", "credit", status, False, None, 0, "bench", None,
                              now, as_of, *loan_values))
            postings.append((loan_id, loan_id, "disbursement", start, start, principal_fen, f"D{loan_id}", None,
                             None, None, "", now))
            versions.append((loan_id, loan_id, 1, "initial", start, loan_id, now))
            for (seq, number, ps, pe, due, p, i), values in zip(rows, inst_values, strict=True):
                inst_id += 1
                installments.append((inst_id, loan_id, loan_id, seq, number, ps, pe, due, p, i, *values))
                if not late and FIRST_DATE <= due <= window_end and not _missed(inst_id):
                    repayments += 1  # posted by ``measure`` on the day, before that day's close
        with transaction.atomic():
            insert_customers(customers)
            insert_loans(loan_rows)
            # a disbursement posting before its schedule version, repayments after (ids in posting order)
            insert_postings(postings)
            insert_versions(versions)
            insert_installments(installments)
        rows_total += len(installments)
        if out:
            out(f"  {min(first + CHUNK - 1, loans):,} loans, {rows_total:,} installments "
                f"({time.monotonic() - started:.0f} s)")
    if constraints_off:
        connection.enable_constraint_checking()
    _finish_load()
    return {"loans": loans, "installments": rows_total, "repayments": repayments, "overdue_at_start": overdue,
            "schedules_generated": len(cache), "seconds": round(time.monotonic() - started, 2)}


def _finish_load() -> None:
    """Sequences past the ids given explicitly (PostgreSQL), and fresh planner statistics."""
    from django.core.management.color import no_style
    from django.db import connection

    from postloan.customers.models import Customer
    from postloan.ledger.models import Installment, Loan, Posting, ScheduleVersion

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Customer, Loan, Posting, ScheduleVersion,
                                                                  Installment]):
            cursor.execute(sql)
        cursor.execute("ANALYZE")


# --- measure ----------------------------------------------------------------------------------------


def plain_update_seconds() -> float:
    """One set-based UPDATE writing every open loan's row (its accrued interest + 1 fen, undone afterwards,
    untimed), committed: what the database alone needs to rewrite each open loan once. (Setting columns to
    themselves is not a baseline: SQLite then writes nothing.)"""
    from django.db import connection, transaction

    qn = connection.ops.quote_name
    sql = (f"UPDATE {qn('ledger_loan')} SET {qn('interest_accrued_fen')} = {qn('interest_accrued_fen')} + %s "
           "WHERE status IN ('active', 'overdue')")
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [1])
    seconds = time.monotonic() - started
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [-1])
    return seconds


def measure(days: int) -> dict:
    from django.db import connection

    from postloan.cob import runner
    from postloan.cob.models import CobDay, CobStep
    from postloan.kernel import businessdate
    from postloan.ledger.models import Loan

    first = businessdate.current()
    open_loans = Loan.objects.filter(status__in=("active", "overdue")).count()
    memory_before = _mib()
    wall = paying = 0.0
    posted = 0
    for n in range(days):
        day = first + dt.timedelta(days=n)
        started = time.monotonic()
        posted += post_the_days_repayments(day)
        paying += time.monotonic() - started
        started = time.monotonic()
        runner.run(to=day)
        wall += time.monotonic() - started
    steps: dict[str, float] = {}
    per_day = []
    for day in CobDay.objects.order_by("date"):
        entry = {"date": str(day.date), "seconds": round(day.seconds, 3), "steps": {}}
        for step in CobStep.objects.filter(day=day).order_by("order"):
            steps[step.name] = steps.get(step.name, 0) + step.seconds
            entry["steps"][step.name] = {"seconds": round(step.seconds, 3), "rows": step.rows} | {
                k: v for k, v in (step.totals or {}).items() if k in ("replayed", "advanced", "skipped", "fell_due",
                                                                     "became_overdue")}
        per_day.append(entry)
    loans_closed = sum(s.totals.get("loans", 0) for s in CobStep.objects.filter(name="ledger.close_day"))
    plain = statistics.median(plain_update_seconds() for _ in range(3))
    batch_per_day = wall / days
    return {
        "database": connection.vendor,
        "open_loans": open_loans,
        "days": days,
        "loans_closed": loans_closed,
        "seconds": round(wall, 3),
        "loans_per_second": round(loans_closed / wall) if wall else None,
        "steps": {name: round(seconds, 3) for name, seconds in steps.items()},
        "steps_loans_per_second": {name: round(loans_closed / s) if s else None for name, s in steps.items()},
        "plain_update_seconds": round(plain, 4),
        "ratio_to_plain_update": round(batch_per_day / plain, 2) if plain else None,
        "peak_memory_mib": round(_mib(), 1),
        "repayments_posted": posted,
        "repayment_seconds": round(paying, 3),
        "memory_before_mib": round(memory_before, 1),
        "per_day": per_day,
    }


def post_the_days_repayments(day: dt.date) -> int:
    """Auto-debit: the installments falling due on ``day`` are paid that day (except the missed ones) through
    the ledger's bulk repayment service, as a core-banking feed is posted during the day, before the close.
    Not part of the close's figures (reported apart)."""
    from django.db import transaction

    from postloan.ledger import services
    from postloan.ledger.models import Installment, Loan

    due = [row for row in Installment.objects.filter(
        due_date=day, status=Installment.Status.FUTURE, loan__status=Loan.Status.ACTIVE,
        loan__state_as_of=day - dt.timedelta(days=1)).order_by("loan_id").values_list(
        "id", "loan_id", "principal_fen", "interest_fen") if not _missed(row[0])]
    for i in range(0, len(due), 2_000):
        chunk = due[i:i + 2_000]
        loans = Loan.objects.select_related("product", "branch").in_bulk([row[1] for row in chunk])
        with transaction.atomic():
            services.post_repayments(actor=None, items=[
                {"loan": loans[loan_id], "amount": Decimal(p + interest) / 100, "value_date": day,
                 "reference": f"R{inst_id}"} for inst_id, loan_id, p, interest in chunk])
    return len(due)


# --- check --------------------------------------------------------------------------------------------


def check(sample: int, seed: int) -> dict:
    from postloan.ledger.models import Loan
    from postloan.ledger.state import check as check_loan

    rng = random.Random(seed)
    ids: set[int] = set()
    overdue = list(Loan.objects.filter(status="overdue").values_list("id", flat=True)[:20_000])
    repaid = list(Loan.objects.filter(postings__kind="repayment").values_list("id", flat=True)[:20_000])
    everyone = list(Loan.objects.exclude(status="pending").values_list("id", flat=True))
    for pool, count in ((overdue, sample // 4), (repaid, sample // 4), (everyone, sample)):
        for loan_id in rng.sample(pool, min(count, len(pool))):
            if len(ids) >= sample:
                break
            ids.add(loan_id)
    problems: list[str] = []
    for loan in Loan.objects.select_related("product").filter(id__in=ids):
        problems += check_loan(loan)
    return {"checked": len(ids), "passed": not problems, "problems": problems[:20]}


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m postloan.cob.bench")
    parser.add_argument("phase", choices=["generate", "measure", "check"])
    parser.add_argument("--loans", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--profile", help="write cProfile statistics of the phase to this file")
    args = parser.parse_args(argv)
    _setup()

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def phase():
        if args.phase == "generate":
            return generate(args.loans, args.days, args.seed, say)
        if args.phase == "measure":
            return measure(args.days)
        return check(args.sample, args.seed)

    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(phase)
        profiler.dump_stats(args.profile)
    else:
        result = phase()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
