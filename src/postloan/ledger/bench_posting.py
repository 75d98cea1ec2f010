"""CPU time of posting a repayment through the service (validation, posting, stored state, audit): back-valued
(a full replay) and dated today (the incremental path).

    .venv/bin/python -m postloan.ledger.bench_posting [--repeat 50]

Uses a scratch SQLite database in a temporary directory, never your data.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="postloan-bench-")
    os.environ["POSTLOAN_DATA_DIR"] = tmp
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postloan.config.settings")
    import datetime as dt
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from postloan.customers import services as customers
    from postloan.customers.models import Industry
    from postloan.kernel.models import BusinessDate
    from postloan.ledger import services
    from postloan.ledger.models import Installment
    from postloan.org import services as org

    ho = org.create_branch(actor=None, code="HO", name="HO", level="head_office")
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": dt.date(2026, 11, 1)})
    product = services.create_product(actor=None, code="MTG", name="mortgage", segment="retail",
                                      method="equal_installment", frequency="monthly", holiday_rule="following",
                                      max_term_months=360)
    customer = customers.create_customer(actor=None, customer_no="C1", kind="individual", name="张三",
                                         id_number="11010519491231002X", branch=ho,
                                         industry=Industry.objects.filter(section__isnull=False).first())
    loan = services.book_loan(actor=None, loan_no="L1", customer=customer, product=product, principal="1000000",
                              annual_rate=Decimal("0.039"), term_months=360, start_date=dt.date(2018, 1, 10))
    services.disburse(actor=None, loan=loan, value_date=dt.date(2018, 1, 10), reference="D")
    loan.refresh_from_db()
    rows = list(Installment.objects.filter(loan=loan, due_date__lt=dt.date(2026, 10, 1)).order_by("due_date"))
    items = [{"loan": loan, "amount": Decimal(r.principal_fen + r.interest_fen) / 100, "value_date": r.due_date,
              "reference": f"R{r.number}"} for r in rows]
    services.post_repayments(actor=None, items=items)
    print(f"loan: 30-year monthly mortgage with {len(rows)} repayments posted")
    loan.refresh_from_db()
    samples = []
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for i in range(10):
            services.post_repayment(actor=None, loan=loan, amount="10.00", value_date=dt.date(2026, 10, 20),
                                    reference=f"P{i}")
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    for i in range(args.repeat):
        start = time.process_time()
        services.post_repayment(actor=None, loan=loan, amount="10.00", value_date=dt.date(2026, 10, 20),
                                reference=f"B{i}")
        samples.append((time.process_time() - start) * 1000)
    samples.sort()
    print(f"post_repayment CPU ms, back-valued (full replay): median {samples[len(samples) // 2]:.2f}, "
          f"p90 {samples[int(len(samples) * .9)]:.2f}, min {samples[0]:.2f}  ({args.repeat} postings)")
    # dated today on a loan the close of business left as of yesterday: the incremental path (ledger/quick.py)
    from postloan.ledger.state import refresh

    today = dt.date(2026, 11, 1)
    samples = []
    for i in range(args.repeat):
        refresh(loan, today - dt.timedelta(days=1))  # as the close of business leaves it (untimed)
        loan.refresh_from_db()
        start = time.process_time()
        services.post_repayment(actor=None, loan=loan, amount="10.00", value_date=today, reference=f"T{i}")
        samples.append((time.process_time() - start) * 1000)
    samples.sort()
    print(f"post_repayment CPU ms, dated today (incremental): median {samples[len(samples) // 2]:.2f}, "
          f"p90 {samples[int(len(samples) * .9)]:.2f}, min {samples[0]:.2f}  ({args.repeat} postings)")


if __name__ == "__main__":
    main()
