"""Benchmark the import: N customers and N loans from CSV into a scratch database.

Run: ``python -m postloan.ledger.bench_import --loans 100000`` (target: the
loans in under a minute on a 2-core machine). It never touches your data: it
makes a temporary directory, points ``POSTLOAN_DATA_DIR`` and
``DATABASE_URL`` (a SQLite file) there before Django starts, migrates it,
writes the CSV files, imports customers, then loans, then the loans file a
second time (everything unchanged), then ``--services`` more loans one by
one through ``book_loan`` and ``disburse`` (the path the bulk import replaces,
for comparison), checks a sample of the imported loans against a replay
(``postloan ledger check``'s test) and prints the figures.
The directory is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

BUSINESS_DATE = dt.date(2026, 6, 30)


def write_files(directory: Path, n: int, seed: int = 42) -> tuple[Path, Path]:
    """``customers.csv`` and ``loans.csv``: one loan per customer, a mix of products, terms and methods."""
    from postloan.customers.identifiers import make_resident_id, make_uscc

    rng = random.Random(seed)
    customers, loans = directory / "customers.csv", directory / "loans.csv"
    ids: set[str] = set()
    with customers.open("w", newline="", encoding="utf-8") as cf, loans.open("w", newline="", encoding="utf-8") as lf:
        cw, lw = csv.writer(cf), csv.writer(lf)
        cw.writerow(["customer_no", "kind", "name", "id_number", "branch_code", "industry_code", "region", "phone"])
        lw.writerow(["loan_no", "customer_no", "product_code", "currency", "principal", "annual_rate_pct",
                     "term_months", "method", "frequency", "start_date", "first_due_date", "purpose",
                     "guarantee_type"])
        for i in range(1, n + 1):
            corporate = i % 3 == 0
            while True:
                id_number = make_uscc(rng) if corporate else make_resident_id(rng)
                if id_number not in ids:
                    ids.add(id_number)
                    break
            cw.writerow([f"C{i:08d}", "corporate" if corporate else "individual",
                         f"测试企业{i}有限公司" if corporate else f"客户{i}", id_number,
                         rng.choice(["BJ01", "BJ02", "SH01"]), "13" if corporate else "", "北京",
                         f"138{i:08d}"])
            product, method, frequency, term = rng.choice([
                ("WC", "", "", 12), ("WC", "", "", 24), ("WC", "equal_principal", "", 36),
                ("WC", "interest_only", "quarterly", 12), ("RC", "", "", 36), ("RC", "", "", 12)])
            start = BUSINESS_DATE - dt.timedelta(days=rng.randint(1, 700))
            lw.writerow([f"L{i:08d}", f"C{i:08d}", product, "CNY", f"{rng.randint(100, 50_000) * 100}.00",
                         rng.choice(["3.45", "4.35", "4.9", "5.5", "6.175"]), term, method, frequency,
                         start.isoformat(), "", "流动资金周转" if corporate else "消费",
                         "credit" if i % 4 else "mortgage"])
    return customers, loans


def setup_bank() -> None:
    from decimal import Decimal

    from postloan.kernel.models import BusinessDate
    from postloan.ledger import services
    from postloan.org import services as org

    ho = org.create_branch(actor=None, code="HO", name="总行", level="head_office")
    bj = org.create_branch(actor=None, code="BJ", name="北京分行", level="branch", parent=ho)
    sh = org.create_branch(actor=None, code="SH", name="上海分行", level="branch", parent=ho)
    org.create_branch(actor=None, code="BJ01", name="海淀支行", level="sub_branch", parent=bj)
    org.create_branch(actor=None, code="BJ02", name="朝阳支行", level="sub_branch", parent=bj)
    org.create_branch(actor=None, code="SH01", name="浦东支行", level="sub_branch", parent=sh)
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": BUSINESS_DATE})
    common = {"frequency": "monthly", "day_count": "ACT/360", "interest_basis": "period",
              "min_rate": Decimal("0.01"), "max_rate": Decimal("0.15"), "min_term_months": 1,
              "max_term_months": 120}
    services.create_product(actor=None, code="WC", name="流动资金贷款", segment="corporate",
                            method="equal_installment", holiday_rule="none", **common)
    services.create_product(actor=None, code="RC", name="个人消费贷款", segment="retail",
                            method="equal_installment", holiday_rule="following", **common)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the schedule worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(label: str, fn):
    began, cpu = time.perf_counter(), _cpu()
    result = fn()
    seconds, cpu = time.perf_counter() - began, _cpu() - cpu
    rate = result.rows / seconds if seconds else 0.0
    print(f"{label:<28} {result.rows:>8} rows  {seconds:8.1f} s  {rate:9.0f} rows/s  (CPU {cpu:.1f} s)   "
          f"accepted {result.accepted}, unchanged {result.unchanged}, rejected rows {result.rejected_rows}")
    for error in result.rejected[:5]:
        print(f"    {error}")
    return result, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=100_000, help="number of customers and of loans")
    parser.add_argument("--sample", type=int, default=500, help="imported loans to re-check by replay")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-parallel", dest="parallel", action="store_false",
                        help="compute schedules in this process only (default: one worker process too)")
    parser.add_argument("--services", type=int, default=1000, metavar="N",
                        help="for comparison, import N more loans one by one through book_loan and disburse")
    parser.add_argument("--repayments", type=int, default=1000, metavar="N",
                        help="then import one repayment for each of N loans (through post_repayment)")
    parser.add_argument("--profile", action="store_true", help="profile the loans import (cProfile, top 30)")
    args = parser.parse_args(argv)
    if "django.conf" in sys.modules and os.environ.get("DJANGO_SETTINGS_MODULE"):
        from django.conf import settings

        if settings.configured:
            print("run this as a program (python -m postloan.ledger.bench_import): Django is already set up",
                  file=sys.stderr)
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="postloan-bench-import-"))
    os.environ["POSTLOAN_DATA_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "postloan.config.settings"
    os.environ["POSTLOAN_DEBUG"] = "0"  # DEBUG would keep every query in memory
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    assert str(settings.DATABASES["default"]["NAME"]).startswith(str(tmp)), "not the scratch database"
    try:
        print(f"scratch database {settings.DATABASES['default']['NAME']}")
        began = time.perf_counter()
        call_command("migrate", verbosity=0)
        setup_bank()
        print(f"migrate and set up           {time.perf_counter() - began:8.1f} s")
        began = time.perf_counter()
        customers, loans = write_files(tmp, args.loans)
        print(f"write the CSV files          {time.perf_counter() - began:8.1f} s "
              f"({loans.stat().st_size / 1e6:.1f} MB of loans)")

        from postloan.ledger.imports import import_file
        from postloan.ledger.models import Installment, Loan
        from postloan.ledger.state import check

        _timed("import customers", lambda: import_file("customers", customers, actor=None))
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result, seconds = _timed("import loans (profiled)",
                                     lambda: profiler.runcall(import_file, "loans", loans, actor=None,
                                                                      parallel=args.parallel))
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        else:
            result, seconds = _timed("import loans", lambda: import_file("loans", loans, actor=None, parallel=args.parallel))
        _timed("import loans again", lambda: import_file("loans", loans, actor=None, parallel=args.parallel))
        if args.services:
            lines = loans.read_text(encoding="utf-8").splitlines()[:args.services + 1]
            slow = tmp / "loans-services.csv"
            slow.write_text("\n".join([lines[0]] + ["S" + line[1:] for line in lines[1:]]) + "\n", encoding="utf-8")
            _timed("same, through the services", lambda: import_file("loans", slow, actor=None, bulk=False))
        if args.repayments:
            repayments = tmp / "repayments.csv"
            with repayments.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["loan_no", "value_date", "amount", "reference"])
                for loan_no, start in Loan.objects.filter(loan_no__startswith="L").order_by("loan_no").values_list(
                        "loan_no", "start_date")[:args.repayments]:
                    writer.writerow([loan_no, min(start + dt.timedelta(days=31), BUSINESS_DATE), "1000.00",
                                     f"R-{loan_no}"])
            _timed("import repayments", lambda: import_file("repayments", repayments, actor=None))
        ids = list(Loan.objects.values_list("id", flat=True))
        sample = random.Random(1).sample(ids, min(args.sample, len(ids)))
        problems = [p for loan in Loan.objects.select_related("product").filter(id__in=sample)
                    for p in check(loan)]
        print(f"loans {Loan.objects.count()}, installments {Installment.objects.count()}; replay check of "
              f"{len(sample)} imported loans: {len(problems)} difference(s)")
        for line in problems[:10]:
            print(f"    {line}")
        load = os.getloadavg()[0]
        print(f"{os.cpu_count()} CPUs, load average {load:.1f} (other work on the machine slows the figures)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory {peak:.0f} MB; loans: {result.rows / seconds:.0f} rows/s, {seconds:.1f} s for "
              f"{result.rows} (target: 100,000 in under 60 s)")
        return 1 if problems or result.rejected else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
