"""``postloan schedule``: print a repayment schedule from contract terms.

Why a separate, pure module: the command must work (and be tested) without
Django settings, so the top-level ``postloan`` entry point only dispatches
here.  ``main`` takes its streams as arguments and returns an exit status
instead of calling ``sys.exit``: 0 on success, 2 on a bad argument (the same
status argparse uses), with a one-line message on stderr naming the option.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import NoReturn, TextIO

from postloan.kernel.calendar import BusinessCalendar, china_calendar, china_calendar_years
from postloan.kernel.daycount import DAY_COUNTS
from postloan.kernel.money import format_amount, parse_amount, to_fen
from postloan.ledger.schedule import (
    FREQUENCIES,
    INTEREST_BASES,
    METHODS,
    Installment,
    ScheduleTerms,
    generate_schedule,
    schedule_totals,
)

__all__ = ["main"]

PROG = "postloan schedule"
#: Upper bound of --annual-rate, in percent.  Rates above 36 % a year are not
#: protected by Chinese courts (法释〔2015〕18号 / 2020 amendments), so a higher
#: figure is almost certainly a typo (e.g. 435 for 4.35).
MAX_RATE_PERCENT = Decimal(36)
EXIT_USAGE = 2

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class _UsageError(Exception):
    """A bad argument: message already names the option."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the streams given to ``main`` and
    reports errors as one line instead of exiting the interpreter."""

    def __init__(self, *args: object, stdout: TextIO, stderr: TextIO, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._stdout = stdout
        self._stderr = stderr

    def _print_message(self, message: str, file: object = None) -> None:
        if message:
            (self._stderr if file is sys.stderr else self._stdout).write(message)

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _build_parser(stdout: TextIO, stderr: TextIO) -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Generate a loan repayment schedule.",
        stdout=stdout,
        stderr=stderr,
    )
    parser.add_argument("--principal", required=True, help="loan principal, e.g. 100000 or 100,000.00")
    parser.add_argument(
        "--annual-rate", required=True, help="annual interest rate in percent, 0 to 36 (4.35 means 4.35%%)"
    )
    parser.add_argument("--term", required=True, help="term in months, a multiple of the frequency")
    parser.add_argument("--method", required=True, choices=METHODS, help="repayment method")
    parser.add_argument(
        "--frequency", default="monthly", choices=tuple(FREQUENCIES), help="repayment frequency"
    )
    parser.add_argument("--start", required=True, help="start (disbursement) date, YYYY-MM-DD")
    parser.add_argument("--first-due", help="first due date, YYYY-MM-DD (default: start plus one period)")
    parser.add_argument("--day-count", default="ACT/360", choices=DAY_COUNTS, help="day count convention")
    parser.add_argument(
        "--interest-basis",
        default="period",
        choices=INTEREST_BASES,
        help="period: annual rate x months / 12 per period; daily: by the day count",
    )
    parser.add_argument(
        "--holidays",
        default="CN",
        choices=("none", "CN"),
        help="move due dates on holidays to the next business day (CN: mainland China calendar)",
    )
    parser.add_argument("--format", default="table", choices=("table", "json", "csv"), help="output format")
    return parser


def _parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    if not _ISO_DATE.fullmatch(text.strip()):
        raise _UsageError(f"{option}: {text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _UsageError(f"{option}: {text!r} is not a valid date") from None


def _parse_rate(text: str) -> Decimal:
    """Percent text → annual rate as a fraction (4.35 → 0.0435)."""
    stripped = text.strip()
    if not _PLAIN_NUMBER.fullmatch(stripped):
        raise _UsageError(f"--annual-rate: {text!r} is not a number")
    percent = Decimal(stripped)
    if not Decimal(0) <= percent <= MAX_RATE_PERCENT:
        raise _UsageError(f"--annual-rate: {text} is outside 0-{MAX_RATE_PERCENT}%")
    return percent / 100


def _parse_term(text: str, frequency: str, method: str) -> int:
    stripped = text.strip()
    if not re.fullmatch(r"[+-]?\d+", stripped):
        raise _UsageError(f"--term: {text!r} is not a whole number of months")
    term = int(stripped)
    if term <= 0:
        raise _UsageError(f"--term: must be positive, got {term}")
    months = FREQUENCIES[frequency]
    if method != "bullet" and term % months:
        raise _UsageError(f"--term: {term} months is not a multiple of {months} ({frequency})")
    return term


def _calendar(choice: str, first: date, last: date, stderr: TextIO) -> BusinessCalendar | None:
    """The calendar for --holidays, warning on stderr where its data stop."""
    if choice == "none":
        return None
    known_first, known_last = china_calendar_years()
    # A due date late in December may move into January: ask for one more year.
    try:
        calendar = china_calendar(first.year, (last + timedelta(days=31)).year)
    except ValueError:
        calendar = BusinessCalendar(first=date(known_first, 1, 1), last=date(known_last, 12, 31))
    if not (calendar.covers(first) and calendar.covers(last)):
        stderr.write(
            f"{PROG}: warning: China holiday data cover {known_first}-{known_last}; "
            "other due dates are adjusted for weekends only\n"
        )
    return calendar


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _write_json(rows: list[Installment], stdout: TextIO) -> None:
    total_principal, total_interest, total = schedule_totals(rows)
    document = {
        "installments": [
            {
                "number": row.number,
                "due_date": row.due_date.isoformat(),
                "principal": _amount(row.principal),
                "interest": _amount(row.interest),
                "total": _amount(row.total),
                "balance": _amount(row.balance),
            }
            for row in rows
        ],
        "total_principal": _amount(total_principal),
        "total_interest": _amount(total_interest),
        "total": _amount(total),
    }
    stdout.write(json.dumps(document, indent=2) + "\n")


def _write_csv(rows: list[Installment], stdout: TextIO) -> None:
    writer = csv.writer(stdout, lineterminator="\n")
    writer.writerow(["number", "due_date", "principal", "interest", "total", "balance"])
    for row in rows:
        writer.writerow(
            [
                row.number,
                row.due_date.isoformat(),
                _amount(row.principal),
                _amount(row.interest),
                _amount(row.total),
                _amount(row.balance),
            ]
        )


def _write_table(rows: list[Installment], stdout: TextIO) -> None:
    total_principal, total_interest, total = schedule_totals(rows)
    header = ["No.", "Due date", "Principal", "Interest", "Total", "Balance"]
    body = [
        [
            str(row.number),
            row.due_date.isoformat(),
            *(
                format_amount(to_fen(value))
                for value in (row.principal, row.interest, row.total, row.balance)
            ),
        ]
        for row in rows
    ]
    footer = ["Total", "", *(format_amount(to_fen(v)) for v in (total_principal, total_interest, total)), ""]
    widths = [max(len(line[i]) for line in [header, *body, footer]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        # Number and date left-aligned, amounts right-aligned.
        parts = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        parts += [cell.rjust(width) for cell, width in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [render(header), rule, *(render(line) for line in body), rule, render(footer)]
    stdout.write("\n".join(lines) + "\n")


def main(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run ``postloan schedule`` with ``argv`` (without the program name).

    Returns 0 on success and 2 on a bad argument, after writing one line
    naming the option to ``stderr``.
    """
    parser = _build_parser(stdout, stderr)
    try:
        args = parser.parse_args(argv)
        try:
            principal = parse_amount(args.principal, field="--principal")
        except ValueError as error:
            raise _UsageError(str(error)) from None
        rate = _parse_rate(args.annual_rate)
        term = _parse_term(args.term, args.frequency, args.method)
        start = _parse_date(args.start, "--start")
        first_due = _parse_date(args.first_due, "--first-due")
        assert start is not None  # --start is required
        if first_due is not None and first_due <= start:
            raise _UsageError(f"--first-due: {first_due} must be after --start {start}")
        terms = ScheduleTerms(
            principal=principal,
            annual_rate=rate,
            term_months=term,
            start=start,
            method=args.method,
            frequency=args.frequency,
            first_due=first_due,
            day_count=args.day_count,
            interest_basis=args.interest_basis,
        )
        calendar = _calendar(args.holidays, start, terms.maturity, stderr)
        if calendar is not None:
            terms = replace(terms, calendar=calendar)
    except _UsageError as error:
        stderr.write(f"{PROG}: error: {error}\n")
        return EXIT_USAGE
    except SystemExit as exit_:  # --help, or any other argparse exit
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except (ValueError, InvalidOperation) as error:
        stderr.write(f"{PROG}: error: {error}\n")
        return EXIT_USAGE

    rows = generate_schedule(terms)
    {"json": _write_json, "csv": _write_csv, "table": _write_table}[args.format](rows, stdout)
    return 0
