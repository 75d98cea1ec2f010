"""Tests for postloan.ledger.schedule_cli: the ``postloan schedule`` command."""

from __future__ import annotations

import csv
import io
import json

import pytest

from postloan.kernel.calendar import china_calendar_years
from postloan.ledger.schedule_cli import main

BASE = {
    "--principal": "100000",
    "--annual-rate": "4.35",
    "--term": "12",
    "--method": "equal_installment",
    "--start": "2024-01-15",
    "--holidays": "none",
}


def run(*extra: str, **options: str | None) -> tuple[int, str, str]:
    """Run the command with BASE, updated by ``options`` (None removes one)."""
    merged = dict(BASE)
    for key, value in options.items():
        option = "--" + key.replace("_", "-")
        if value is None:
            merged.pop(option, None)
        else:
            merged[option] = value
    argv = [part for item in merged.items() for part in item] + list(extra)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(argv, stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_json_shape_and_values() -> None:
    code, out, err = run(format="json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert list(document) == ["installments", "total_principal", "total_interest", "total"]
    assert document["total_principal"] == "100000.00"
    assert document["total_interest"] == "2371.90"
    assert document["total"] == "102371.90"
    rows = document["installments"]
    assert len(rows) == 12
    assert rows[0] == {
        "number": 1,
        "due_date": "2024-02-15",
        "principal": "8168.49",
        "interest": "362.50",
        "total": "8530.99",
        "balance": "91831.51",
    }
    assert rows[-1] == {
        "number": 12,
        "due_date": "2025-01-15",
        "principal": "8500.20",
        "interest": "30.81",
        "total": "8531.01",
        "balance": "0.00",
    }
    assert all(
        set(row) == {"number", "due_date", "principal", "interest", "total", "balance"} for row in rows
    )


def test_equal_principal_json() -> None:
    code, out, _ = run(format="json", principal="120000", annual_rate="6", method="equal_principal")
    assert code == 0
    first = json.loads(out)["installments"][0]
    assert (first["principal"], first["interest"], first["total"]) == ("10000.00", "600.00", "10600.00")


def test_csv() -> None:
    code, out, err = run(format="csv")
    assert (code, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["number", "due_date", "principal", "interest", "total", "balance"]
    assert rows[1] == ["1", "2024-02-15", "8168.49", "362.50", "8530.99", "91831.51"]
    assert len(rows) == 13


def test_table_has_separators_and_a_totals_row() -> None:
    code, out, err = run()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["No.", "Due", "date", "Principal", "Interest", "Total", "Balance"]
    assert "8,530.99" in lines[2] and "91,831.51" in lines[2]
    assert lines[-1].split() == ["Total", "100,000.00", "2,371.90", "102,371.90"]
    # amounts are right-aligned: every data line has the same length up to the balance
    data = lines[2:-2]
    assert len({len(line) for line in data}) == 1


def test_cn_holidays_move_the_due_date() -> None:
    code, out, err = run(format="json", start="2024-09-01", holidays="CN")
    assert (code, err) == (0, "")
    rows = json.loads(out)["installments"]
    assert rows[0]["due_date"] == "2024-10-08"
    assert rows[0]["interest"] == "362.50"  # accrual is not moved


def test_cn_is_the_default_calendar() -> None:
    code, out, _ = run(format="json", start="2024-09-01", holidays=None)
    assert code == 0
    assert json.loads(out)["installments"][0]["due_date"] == "2024-10-08"


def test_warns_where_holiday_data_stop() -> None:
    _, known_last = china_calendar_years()
    code, out, err = run(format="json", start=f"{known_last + 10}-01-15", holidays="CN")
    assert code == 0
    assert "warning" in err and "weekends only" in err
    assert json.loads(out)["installments"]


def test_options() -> None:
    code, out, _ = run(
        "--frequency",
        "quarterly",
        "--day-count",
        "ACT/365F",
        "--interest-basis",
        "daily",
        "--first-due",
        "2024-03-31",
        format="json",
    )
    assert code == 0
    rows = json.loads(out)["installments"]
    assert [row["due_date"] for row in rows] == ["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"]
    # 15 Jan → 31 Mar is 76 days: 100,000 × 4.35 % × 76 / 365 = 905.75…
    assert rows[0]["interest"] == "905.75"


def test_zero_rate_and_bullet() -> None:
    code, out, _ = run(format="json", annual_rate="0", method="bullet", term="7")
    assert code == 0
    document = json.loads(out)
    assert len(document["installments"]) == 1
    assert document["installments"][0]["due_date"] == "2024-08-15"
    assert document["total_interest"] == "0.00"


def test_thousands_separator_in_principal() -> None:
    code, out, _ = run(format="json", principal="100,000.00")
    assert code == 0
    assert json.loads(out)["total_principal"] == "100000.00"


@pytest.mark.parametrize(
    ("options", "option_named"),
    [
        ({"principal": "abc"}, "--principal"),
        ({"principal": "0"}, "--principal"),
        ({"principal": "-100"}, "--principal"),
        ({"principal": "100.001"}, "--principal"),
        ({"principal": "NaN"}, "--principal"),
        ({"annual_rate": "abc"}, "--annual-rate"),
        ({"annual_rate": "36.01"}, "--annual-rate"),
        ({"annual_rate": "-1"}, "--annual-rate"),
        ({"annual_rate": "inf"}, "--annual-rate"),
        ({"term": "0"}, "--term"),
        ({"term": "-12"}, "--term"),
        ({"term": "twelve"}, "--term"),
        ({"term": "1.5"}, "--term"),
        ({"term": "7", "frequency": "quarterly"}, "--term"),
        ({"start": "2024-13-01"}, "--start"),
        ({"start": "15/01/2024"}, "--start"),
        ({"start": "20240115"}, "--start"),
        ({"first_due": "2024-02-30"}, "--first-due"),
        ({"first_due": "2024-01-01"}, "--first-due"),
        ({"first_due": "2024-01-15"}, "--first-due"),
        ({"method": "balloon"}, "--method"),
        ({"frequency": "weekly"}, "--frequency"),
        ({"day_count": "ACT/999"}, "--day-count"),
        ({"interest_basis": "hourly"}, "--interest-basis"),
        ({"holidays": "US"}, "--holidays"),
        ({"format": "xml"}, "--format"),
        ({"principal": None}, "--principal"),
        ({"start": None}, "--start"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(options: dict[str, str | None], option_named: str) -> None:
    code, out, err = run(**options)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert option_named in err
    assert err.startswith("postloan schedule: error: ")


def test_unknown_option_exits_2() -> None:
    code, out, err = run("--colour", "red")
    assert code == 2
    assert "--colour" in err


def test_help_goes_to_stdout_and_exits_0() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["--help"], stdout, stderr) == 0
    assert "--annual-rate" in stdout.getvalue()
    assert stderr.getvalue() == ""
