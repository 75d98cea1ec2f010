"""Import customers, loans and repayments from a core banking system.

``import_file(kind, source, actor=...)`` reads a CSV (UTF-8, with or without a
BOM, or GB18030) or an ``.xlsx`` file; ``import_rows(kind, rows, actor=...)``
takes row dicts (the API's JSON body). Either way each row is validated and
booked through the ledger's rules, every rejected row is reported with its
row number, the column at fault and the reason, and the good rows are
accepted. Importing the same data twice changes nothing: a row that is
already in the ledger with the same data is counted as *unchanged*; the same
key with different data is rejected, naming the column that differs.

Row numbers are the spreadsheet's: the header is row 1, the first data row
row 2 (for API rows, the first object is row 1).

Customers and repayments go row by row through the services
(``customers.services.create_customer``, ``ledger.services.post_repayment``),
each row in its own savepoint. Loans go through a bulk path, because a
service call per loan (book, disburse, replay, several audit rows) is two
orders of magnitude too slow for a core banking feed of 100,000 loans: rows
are validated in Python with the services' own helpers, schedules are made
with ``ledger.schedule`` and the derived state with the replay engine, and
the rows are written in batches; the result is row for row what
``book_loan`` + ``disburse`` write (``tests/ledger/test_import.py`` compares
the two). A batch the database refuses (a loan number taken concurrently)
is redone row by row through the services.

Permissions: the importer needs ``ledger.import``. Holding it lets the import
create customers, book and disburse loans and post repayments of the
importer's branch subtree; every row and audit event is recorded in the
importer's name. Rows of other branches are rejected (column ``branch_code``,
or ``loan_no`` for repayments). ``actor=None`` is the system (command line).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import chain, islice
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from postloan.customers import services as customer_services
from postloan.customers.models import Customer, Industry
from postloan.kernel import businessdate, calendars
from postloan.kernel.models import AuditEvent
from postloan.kernel.money import from_fen, to_fen
from postloan.org.models import Branch, User
from postloan.org.permissions import in_scope, require

from . import engine, schedule, services
from .models import Allocation, Installment, Loan, Posting, Product, ScheduleVersion
from .state import INSTALLMENT_FIELDS, LOAN_FIELDS, loan_status, terms_of

KINDS = ("customers", "loans", "repayments")

#: Columns by kind: (required, optional). A required column must be in the header;
#: its value may still be optional (``first_due_date``, ``method``, ``frequency``).
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (
        ("customer_no", "kind", "name", "id_number", "branch_code"),
        ("officer_username", "industry_code", "region", "phone", "email", "address", "size"),
    ),
    "loans": (
        ("loan_no", "customer_no", "product_code", "currency", "principal", "annual_rate_pct", "term_months",
         "method", "frequency", "start_date", "first_due_date"),
        ("branch_code", "purpose", "guarantee_type", "disbursed", "disbursement_reference", "officer_username"),
    ),
    "repayments": (("loan_no", "value_date", "amount", "reference"), ()),
}

#: What holding ``ledger.import`` lets the import do, per kind (the services check these actions).
IMPLIED_ACTIONS = {
    "customers": frozenset({"customers.manage_customer"}),
    "loans": frozenset({"ledger.book_loan", "ledger.disburse"}),
    "repayments": frozenset({"ledger.post_repayment"}),
}

#: Customers or loans written per database transaction (bulk path); rows per transaction (row by row).
BATCH = 2000
ROW_CHUNK = 200
#: Processes computing schedules for a large loan file (``parallel=True``).
WORKERS = 1
#: SQLite page cache while loans are written (KiB).
SQLITE_CACHE_KIB = 131072

KIND_ALIASES = {"corporate": "corporate", "对公": "corporate", "企业": "corporate", "公司": "corporate",
                "individual": "individual", "个人": "individual", "对私": "individual"}
METHOD_ALIASES = {"equal_installment": "equal_installment", "等额本息": "equal_installment",
                  "equal_principal": "equal_principal", "等额本金": "equal_principal",
                  "interest_only": "interest_only", "按期付息到期还本": "interest_only", "先息后本": "interest_only",
                  "bullet": "bullet", "到期一次还本付息": "bullet", "利随本清": "bullet"}
FREQUENCY_ALIASES = {"monthly": "monthly", "按月": "monthly", "月": "monthly",
                     "quarterly": "quarterly", "按季": "quarterly", "季": "quarterly",
                     "semiannual": "semiannual", "semi-annual": "semiannual", "按半年": "semiannual",
                     "半年": "semiannual", "annual": "annual", "按年": "annual", "年": "annual"}
GUARANTEE_ALIASES = {"credit": "credit", "信用": "credit", "guarantee": "guarantee", "保证": "guarantee",
                     "mortgage": "mortgage", "抵押": "mortgage", "pledge": "pledge", "质押": "pledge"}
YES = {"yes", "y", "true", "1", "是", "已放款"}
NO = {"no", "n", "false", "0", "否", "未放款"}

#: Service field name -> column, for the errors the services raise.
FIELD_COLUMNS = {
    "customers": {"branch": "branch_code", "officer": "officer_username", "industry": "industry_code",
                  "id_type": "id_number", "__all__": "row", "non_field_errors": "row"},
    "loans": {"customer": "customer_no", "product": "product_code", "annual_rate": "annual_rate_pct",
              "principal_fen": "principal", "first_due": "first_due_date", "start": "start_date",
              "branch": "branch_code", "officer": "officer_username", "loan": "loan_no",
              "reference": "disbursement_reference", "value_date": "start_date", "amount": "principal",
              "__all__": "row", "non_field_errors": "row"},
    "repayments": {"loan": "loan_no", "__all__": "row", "non_field_errors": "row"},
}


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rejected_rows(self) -> int:
        return len({e.row for e in self.rejected})

    def as_dict(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "accepted": self.accepted, "unchanged": self.unchanged,
                "rejected_rows": self.rejected_rows, "dry_run": self.dry_run,
                "rejected": [{"row": e.row, "field": e.field, "message": e.message} for e in self.rejected]}


class ImportFormatError(Exception):
    """The file cannot be read at all (not CSV or xlsx, undecodable): a usage error, not a row error."""


class RowRejected(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors)
        self.errors = errors


def _reject(field_name: str, message: str) -> RowRejected:
    return RowRejected([(field_name, str(message))])


# ---------------------------------------------------------------------------
# reading files


def normalise_header(name: object) -> str:
    text = str(name if name is not None else "").replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def cell_text(value: Any, percent: bool = False) -> str:
    """Any value a reader or JSON gives, as the text a person would have typed. Floats (openpyxl, JSON)
    become their shortest decimal representation, never a binary approximation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | int | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            return str(value)
        if percent:
            number = number * 100
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    return str(value).strip()


@dataclass
class Table:
    """A file's header and its data rows, read as they are consumed: ``(row number, values)``."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]


def _read_bytes(source) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), None
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise ImportFormatError(_("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror})
    if hasattr(source, "seek"):
        try:
            source.seek(0)
        except (OSError, ValueError):
            pass
    data = source.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data, getattr(source, "name", None)


def read_table(source, filename: str | None = None) -> Table:
    """The header and the data rows (with spreadsheet row numbers) of a CSV or xlsx file."""
    data, name = _read_bytes(source)
    name = (filename or name or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        raise ImportFormatError(_("Old Excel (.xls) files cannot be read: save the sheet as .xlsx or CSV."))
    return _read_csv(data)


def _read_csv(data: bytes) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportFormatError(_("The file is neither UTF-8 nor GB18030 text, nor an .xlsx workbook."))
    if "\x00" in text:
        raise ImportFormatError(_("The file is not a CSV text file (it holds binary data)."))
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise ImportFormatError(_("The CSV file is malformed: %(error)s") % {"error": exc})

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, record in enumerate(reader, start=2):
                yield number, [v.strip() for v in record]
        except csv.Error as exc:
            raise ImportFormatError(_("The CSV file is malformed: %(error)s") % {"error": exc})

    return Table(header=header, rows=rows())


def _read_xlsx(data: bytes) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFormatError(_("The workbook cannot be read: %(error)s") % {"error": exc})
    sheet = workbook.worksheets[0]
    sheet.reset_dimensions()  # some writers record wrong dimensions: read to the last row there is
    cells = enumerate(sheet.iter_rows(), start=1)

    def values(row) -> list[str]:
        return [cell_text(getattr(c, "value", None), percent="%" in (getattr(c, "number_format", None) or ""))
                for c in row]

    first = next(cells, None)
    header = values(first[1]) if first else []

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, row in cells:
                yield number, values(row)
        finally:
            workbook.close()

    return Table(header=header, rows=rows())


# ---------------------------------------------------------------------------
# parsing values (each raises RowRejected naming the column)


_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?|(\d{4})(\d{2})(\d{2})")


def parse_date(text: str, column: str) -> dt.date:
    match = _DATE.fullmatch(text.strip())
    if match:
        y, m, d = (match.group(1), match.group(2), match.group(3)) if match.group(1) else match.group(4, 5, 6)
        try:
            return dt.date(int(y), int(m), int(d))
        except ValueError:
            pass
    raise _reject(column, _("Enter a valid date (YYYY-MM-DD)."))


def parse_int(text: str, column: str) -> int:
    if not re.fullmatch(r"\d{1,6}", text.strip()):
        raise _reject(column, _("Enter a whole number."))
    return int(text)


def parse_rate_pct(text: str, column: str = "annual_rate_pct") -> Decimal:
    """A percentage (4.35 or 4.35%) as the annual rate fraction Decimal("0.0435")."""
    try:
        pct = Decimal(text.strip().removesuffix("%").strip())
    except InvalidOperation:
        raise _reject(column, _("Enter the annual rate in percent, such as 4.35."))
    if not pct.is_finite():
        raise _reject(column, _("Enter the annual rate in percent, such as 4.35."))
    rate = pct / 100
    if rate != rate.quantize(Decimal("0.000001")):
        raise _reject(column, _("At most 4 decimal places in the percentage."))
    try:
        return services._rate(rate, column)
    except ValidationError as exc:
        raise _rejection(exc, {})


def parse_choice(text: str, aliases: dict[str, str], column: str) -> str:
    value = aliases.get(text.strip().lower()) or aliases.get(text.strip())
    if value is None:
        choices = ", ".join(sorted(set(aliases.values())))
        raise _reject(column, _("Choose one of %(choices)s.") % {"choices": choices})
    return value


def parse_bool(text: str, column: str, default: bool) -> bool:
    value = text.strip().lower()
    if not value:
        return default
    if value in YES:
        return True
    if value in NO:
        return False
    raise _reject(column, _("Enter yes or no."))


def _rejection(exc: ValidationError, columns: dict[str, str]) -> RowRejected:
    errors: list[tuple[str, str]] = []
    if hasattr(exc, "error_dict"):
        for name, messages in exc.message_dict.items():
            for message in messages:
                errors.append((columns.get(name, name), message))
    else:
        errors += [(columns.get("__all__", "row"), m) for m in exc.messages]
    return RowRejected(errors)


class _Errors:
    """Collects the errors of one row, column by column, so a row reports every problem at once."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def add(self, column: str, message) -> None:
        self.errors.append((column, str(message)))

    def run(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except RowRejected as exc:
            self.errors += exc.errors
        return None

    def raise_any(self) -> None:
        if self.errors:
            raise RowRejected(self.errors)


# ---------------------------------------------------------------------------
# the import


@dataclass
class _Context:
    kind: str
    actor: Any  # the importing user, or None for the system
    service_actor: Any  # the same user, allowed the actions the import implies
    today: dt.date
    result: ImportResult
    branches: dict[str, Branch] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)

    def branch(self, code: str, column: str = "branch_code") -> Branch:
        if not self.branches:
            self.branches = {b.code: b for b in Branch.objects.all()}
        branch = self.branches.get(code)
        if branch is None:
            raise _reject(column, _("No branch with code %(code)s.") % {"code": code})
        return branch

    def user(self, username: str, column: str = "officer_username") -> User:
        if username not in self.users:
            self.users[username] = User.objects.filter(username=username, is_active=True).first()
        user = self.users[username]
        if user is None:
            raise _reject(column, _("No active user %(username)s.") % {"username": username})
        return user

    def check_scope(self, branch: Branch, column: str) -> None:
        if self.actor is not None and not in_scope(self.actor, branch):
            raise _reject(column, _("This belongs to branch %(branch)s, outside yours.") % {"branch": branch.code})

    def reject(self, row: int, errors: list[tuple[str, str]]) -> None:
        for column, message in errors or [("row", _("Rejected."))]:
            self.result.rejected.append(RowError(row, column, message))


def _acting_for_import(user, kind: str):
    """The importer, allowed the service actions that ``ledger.import`` implies for ``kind``.

    The services check their own actions (``ledger.book_loan`` is a credit officer's, but the
    import is an accountant's or administrator's job) and record the actor: a copy of the user
    whose ``has_perm`` also grants the implied actions keeps both the branch checks and the
    name on every posting and audit event."""
    if user is None:
        return None
    granted = IMPLIED_ACTIONS[kind]
    delegate = copy.copy(user)

    def has_perm(perm, obj=None):
        return perm in granted or user.has_perm(perm, obj)

    delegate.has_perm = has_perm
    return delegate


class _DryRun(Exception):
    pass


def import_file(kind: str, source, *, actor, filename: str | None = None, dry_run: bool = False,
                bulk: bool = True, parallel: bool = False) -> ImportResult:
    """Import a CSV or xlsx file (a path, bytes or a binary file object). Raises ``ImportFormatError``
    when the file cannot be read at all, ``PermissionDenied`` when the actor may not import.

    ``bulk=False`` books every loan through the services (slow; the bulk path is tested against it).
    ``parallel=True`` computes large loan files' schedules in a worker process (command line only)."""
    _check_kind(kind)
    if actor is not None:
        require(actor, "ledger.import")
    table = read_table(source, filename)
    header = [normalise_header(h) for h in table.header]
    result = ImportResult(kind=kind, dry_run=dry_run)
    problems = _header_problems(kind, header)
    if problems:
        result.rows = sum(1 for _n, values in table.rows if any(values))
        result.rejected += [RowError(1, column, message) for column, message in problems]
        return result
    width = len(header)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for number, values in table.rows:
            if not any(values):
                continue  # blank lines are not rows
            result.rows += 1
            if any(values[width:]):
                result.rejected.append(RowError(number, "row", _("This row has more values than the header "
                                                                  "has columns.")))
                continue
            yield number, {h: (values[i] if i < len(values) else "") for i, h in enumerate(header) if h}

    return _run(kind, rows(), actor=actor, result=result, dry_run=dry_run, bulk=bulk, parallel=parallel)


def import_rows(kind: str, rows: Iterable[dict], *, actor, dry_run: bool = False, bulk: bool = True,
                first_row: int = 1) -> ImportResult:
    """Import row objects (the API's JSON list): the same columns as the files; the first object is
    row ``first_row``. A missing or unknown key is an error for that row only."""
    _check_kind(kind)
    if actor is not None:
        require(actor, "ledger.import")
    required, optional = COLUMNS[kind]
    known = set(required) | set(optional)
    result = ImportResult(kind=kind, dry_run=dry_run)

    def good() -> Iterator[tuple[int, dict[str, str]]]:
        for number, raw in enumerate(rows, start=first_row):
            result.rows += 1
            if not isinstance(raw, dict):
                result.rejected.append(RowError(number, "row", _("Each row must be an object of column: value.")))
                continue
            row = {normalise_header(k): cell_text(v) for k, v in raw.items()}
            errors = [(c, _("Unknown column.")) for c in row if c not in known]
            errors += [(c, _("This column is required.")) for c in required if c not in row]
            if errors:
                result.rejected += [RowError(number, c, str(m)) for c, m in errors]
                continue
            yield number, row

    return _run(kind, good(), actor=actor, result=result, dry_run=dry_run, bulk=bulk)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def _header_problems(kind: str, header: list[str]) -> list[tuple[str, str]]:
    required, optional = COLUMNS[kind]
    known = set(required) | set(optional)
    problems = [(c, _("This column is required.")) for c in required if c not in header]
    seen: set[str] = set()
    for column in header:
        if not column:
            continue
        if column not in known:
            problems.append((column, _("Unknown column (expected %(columns)s).")
                             % {"columns": ", ".join(required + optional)}))
        elif column in seen:
            problems.append((column, _("This column appears twice.")))
        seen.add(column)
    return problems


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _run(kind: str, rows: Iterable[tuple[int, dict[str, str]]], *, actor, result: ImportResult, dry_run: bool,
         bulk: bool, parallel: bool = False) -> ImportResult:
    ctx = _Context(kind=kind, actor=actor, service_actor=_acting_for_import(actor, kind),
                   today=businessdate.current(), result=result)
    handler = {"customers": _import_customers if bulk else _import_customers_by_row,
               "loans": (lambda c, r: _import_loans(c, r, parallel)) if bulk else _import_loans_by_row,
               "repayments": _import_repayments}[kind]
    if dry_run:  # everything in one transaction, rolled back at the end
        try:
            with transaction.atomic():
                handler(ctx, rows)
                raise _DryRun
        except _DryRun:
            pass
    else:  # committed batch by batch: a rerun after a crash carries on (the rows done are unchanged)
        handler(ctx, rows)
    result.rejected.sort(key=lambda e: e.row)
    return result


def _row_by_row(ctx: _Context, rows: Iterable[tuple[int, Any]], handle: Callable[[_Context, int, Any], str]
                ) -> None:
    """Each row in its own savepoint: ``handle`` returns "accepted" or "unchanged" or raises."""
    for chunk in _chunks(rows, ROW_CHUNK):
        with transaction.atomic():
            for number, row in chunk:
                try:
                    with transaction.atomic():
                        outcome = handle(ctx, number, row)
                except RowRejected as exc:
                    ctx.reject(number, exc.errors)
                except ValidationError as exc:
                    ctx.reject(number, _rejection(exc, FIELD_COLUMNS[ctx.kind]).errors)
                except PermissionDenied as exc:
                    ctx.reject(number, [(_scope_column(ctx.kind), str(exc))])
                except IntegrityError as exc:
                    ctx.reject(number, [("row", _("The database refused the row: %(error)s") % {"error": exc})])
                else:
                    if outcome == "unchanged":
                        ctx.result.unchanged += 1
                    else:
                        ctx.result.accepted += 1


def _scope_column(kind: str) -> str:
    return "loan_no" if kind == "repayments" else "branch_code"


def _differs(column: str, key: str, value) -> RowRejected:
    return _reject(column, _("%(key)s exists with %(column)s %(value)s.")
                   % {"key": key, "column": column, "value": value if value not in ("", None) else _("(empty)")})


# ---------------------------------------------------------------------------
# customers


@dataclass
class _CustomerRow:
    row: int
    customer_no: str
    kind: str
    name: str
    id_type: str
    id_number: str
    branch: Branch
    officer: User | None
    industry: Industry | None
    extra: dict[str, str]


def _parse_customer(ctx: _Context, industries: dict[str, Industry], number: int, row: dict[str, str]
                    ) -> _CustomerRow:
    """``create_customer``'s checks that need no database, with its messages; the lookups."""
    errors = _Errors()
    customer_no, name = row["customer_no"], row["name"]
    if not customer_no:
        errors.add("customer_no", _("Give the customer number."))
    if not name:
        errors.add("name", _("Give the customer's name."))
    kind = errors.run(lambda: parse_choice(row["kind"], KIND_ALIASES, "kind"))
    id_type = id_number = None
    if kind is not None:
        try:
            id_type, id_number = customer_services.normalise_identifier(kind, row["id_number"])
        except ValidationError as exc:
            errors.errors += _rejection(exc, FIELD_COLUMNS["customers"]).errors
    branch = None
    if not row["branch_code"]:
        errors.add("branch_code", _("Give the branch code."))
    else:
        branch = errors.run(lambda: ctx.branch(row["branch_code"]))
    if branch is not None:
        errors.run(lambda: ctx.check_scope(branch, "branch_code"))
    officer = errors.run(lambda: ctx.user(row["officer_username"])) if row.get("officer_username") else None
    industry = None
    if row.get("industry_code"):
        industry = industries.get(row["industry_code"])
        if industry is None:
            errors.add("industry_code", _("No GB/T 4754 industry with code %(code)s.") % {"code": row["industry_code"]})
        elif industry.section_id is None:
            errors.add("industry_code", _("Choose an industry division (two digits), not a section."))
    elif kind == Customer.Kind.CORPORATE:
        errors.add("industry_code", _("A corporate customer needs an industry (GB/T 4754)."))
    errors.raise_any()
    extra = {k: row[k] for k in ("region", "phone", "email", "address", "size") if row.get(k)}
    return _CustomerRow(row=number, customer_no=customer_no, kind=kind, name=name, id_type=id_type,
                        id_number=id_number, branch=branch, officer=officer, industry=industry, extra=extra)


def _compare_customer(ctx: _Context, r: _CustomerRow, existing: Customer) -> None:
    """Unchanged, or RowRejected naming each column that differs from the customer on file."""
    ctx.check_scope(existing.branch, "branch_code")
    facts = {"kind": (r.kind, existing.kind), "name": (r.name, existing.name),
             "id_number": (r.id_number, existing.id_number), "branch_code": (r.branch.code, existing.branch.code)}
    if r.officer is not None:
        facts["officer_username"] = (r.officer.username, existing.officer.username if existing.officer_id else "")
    if r.industry is not None:
        facts["industry_code"] = (r.industry.code, existing.industry_id or "")
    for key, value in r.extra.items():
        facts[key] = (value, getattr(existing, key))
    key = _("Customer %(no)s") % {"no": r.customer_no}
    different = [_differs(c, key, old).errors[0] for c, (new, old) in facts.items() if new != old]
    if different:
        raise RowRejected(different)


def _industries() -> dict[str, Industry]:
    return {i.code: i for i in Industry.objects.all()}


def _customer_via_service(ctx: _Context, r: _CustomerRow) -> str:
    existing = Customer.objects.select_related("branch", "officer").filter(customer_no=r.customer_no).first()
    if existing is not None:
        _compare_customer(ctx, r, existing)
        return "unchanged"
    customer_services.create_customer(
        actor=ctx.service_actor, customer_no=r.customer_no, kind=r.kind, name=r.name, id_number=r.id_number,
        branch=r.branch, officer=r.officer, industry=r.industry, **r.extra)
    return "accepted"


def _import_customers_by_row(ctx: _Context, rows) -> None:
    """Every customer through ``create_customer`` (the reference the bulk path is tested against)."""
    industries = _industries()
    _row_by_row(ctx, rows, lambda c, n, row: _customer_via_service(c, _parse_customer(c, industries, n, row)))


def _import_customers(ctx: _Context, rows) -> None:
    """Customers in batches: checked as ``create_customer`` checks them, written as it writes them."""
    industries = _industries()
    deferred: list[_CustomerRow] = []
    seen: set[str] = set()
    for batch in _chunks(rows, BATCH):
        parsed: list[_CustomerRow] = []
        for number, row in batch:
            try:
                r = _parse_customer(ctx, industries, number, row)
            except RowRejected as exc:
                ctx.reject(number, exc.errors)
                continue
            if r.customer_no in seen:
                deferred.append(r)  # decided against the ledger once the batch is written
            else:
                seen.add(r.customer_no)
                parsed.append(r)
        existing = {c.customer_no: c for c in Customer.objects.select_related("branch", "officer").filter(
            customer_no__in=[r.customer_no for r in parsed])}
        taken = set(Customer.objects.filter(id_number__in=[r.id_number for r in parsed]).values_list(
            "id_type", "id_number"))
        new: list[Customer] = []
        for r in parsed:
            try:
                if r.customer_no in existing:
                    _compare_customer(ctx, r, existing[r.customer_no])
                    ctx.result.unchanged += 1
                    continue
                if (r.id_type, r.id_number) in taken:
                    raise _reject("id_number", _("Another customer has this identifier."))
                customer = Customer(customer_no=r.customer_no, kind=r.kind, name=r.name, id_type=r.id_type,
                                    id_number=r.id_number, branch=r.branch, officer=r.officer, industry=r.industry,
                                    **r.extra)
                try:
                    customer.clean_fields(exclude=["branch", "officer", "industry", "group"])
                except ValidationError as exc:
                    raise _rejection(exc, FIELD_COLUMNS["customers"])
            except RowRejected as exc:
                ctx.reject(r.row, exc.errors)
                continue
            customer._import_row = r
            taken.add((r.id_type, r.id_number))
            new.append(customer)
        if new:
            try:
                with transaction.atomic():
                    _write_customers(ctx, new)
            except (DatabaseError, NotImplementedError):
                deferred += [c._import_row for c in new]  # e.g. taken meanwhile: row by row below
            else:
                ctx.result.accepted += len(new)
    _row_by_row(ctx, [(r.row, r) for r in deferred], lambda c, n, r: _customer_via_service(c, r))


CUSTOMER_COLUMNS = [f.attname for f in Customer._meta.concrete_fields]


def _write_customers(ctx: _Context, customers: list[Customer]) -> None:
    """What ``create_customer`` writes (no contacts come from a file): the rows, their history, the audit."""
    user_id = ctx.actor.pk if getattr(ctx.actor, "pk", None) else None
    actor_name = (getattr(ctx.actor, "username", None) or str(ctx.actor or "system"))[:150]
    now = timezone.now()
    for customer, pk in zip(customers, _reserve_ids(Customer, len(customers)), strict=True):
        customer.pk = pk
        customer.created_at = now
    _Insert(Customer, CUSTOMER_COLUMNS).run([tuple(getattr(c, a) for a in CUSTOMER_COLUMNS) for c in customers])
    history = Customer.history.model
    tracked = [f.attname for f in history.tracked_fields]
    _Insert(history, [*tracked, "history_date", "history_user_id", "history_change_reason", "history_type"]).run(
        [(*(getattr(c, a) for a in tracked), now, user_id, None, "+") for c in customers])
    label = Customer._meta.label_lower
    snapshot = customer_services.CUSTOMER_FIELDS
    _Insert(AuditEvent, AUDIT_COLUMNS).run([
        (now, ctx.today, user_id, actor_name, "customers.create_customer", label, str(c.pk), str(c)[:200],
         c.branch_id, None, {name: _plain(c, name) for name in snapshot}, "")
        for c in customers])


def _plain(obj, name: str):
    """The value ``audit.snapshot`` records for a field: a related object's key, dates as text."""
    value = getattr(obj, name)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# ---------------------------------------------------------------------------
# repayments


def _import_repayments(ctx: _Context, rows) -> None:
    def handle(ctx: _Context, number: int, row: dict[str, str]) -> str:
        errors = _Errors()
        loan_no, reference = row["loan_no"], row["reference"]
        loan = Loan.objects.select_related("branch").filter(loan_no=loan_no).first() if loan_no else None
        if not loan_no:
            errors.add("loan_no", _("Give the loan number."))
        elif loan is None:
            errors.add("loan_no", _("No loan with this number."))
        else:
            errors.run(lambda: ctx.check_scope(loan.branch, "loan_no"))
        value_date = errors.run(lambda: parse_date(row["value_date"], "value_date"))
        amount_fen = errors.run(lambda: _amount(row["amount"], "amount"))
        if not reference:
            errors.add("reference", _("Give a reference (e.g. the core banking transaction number)."))
        errors.raise_any()
        posting = Posting.objects.filter(loan=loan, reference=reference).first()
        if posting is not None:
            key = _("Reference %(reference)s on loan %(loan)s") % {"reference": reference, "loan": loan_no}
            if posting.kind != Posting.Kind.REPAYMENT:
                raise _reject("reference", _("%(key)s is a %(kind)s posting.")
                              % {"key": key, "kind": posting.get_kind_display()})
            different = []
            if posting.amount_fen != amount_fen:
                different += _differs("amount", key, from_fen(posting.amount_fen)).errors
            if posting.value_date != value_date:
                different += _differs("value_date", key, posting.value_date).errors
            if different:
                raise RowRejected(different)
            return "unchanged"
        services.post_repayment(actor=ctx.service_actor, loan=loan, amount=from_fen(amount_fen),
                                value_date=value_date, reference=reference)
        return "accepted"

    _row_by_row(ctx, rows, handle)


#: How an amount is written in a file: digits, thousands separators only in threes (as
#: kernel.money.parse_amount reads it), at most one point. Refused: exponents ("1e5") and a
#: decimal comma ("1,5"), which the services' parser would read as 100000 and 15.
_AMOUNT = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?|[+-]?\.\d+")


def _amount(text: str, column: str) -> int:
    if text.strip() and not _AMOUNT.fullmatch(text.strip()):
        raise _reject(column, _("Enter an amount such as 1234.56."))
    try:
        return services._amount(text, column)
    except ValidationError as exc:
        raise _rejection(exc, {})


# ---------------------------------------------------------------------------
# loans


@dataclass
class _LoanRow:
    row: int
    loan_no: str
    customer: Customer
    product: Product
    currency: str
    principal_fen: int
    rate: Decimal
    term_months: int
    method: str
    frequency: str
    start_date: dt.date
    first_due_date: dt.date | None
    purpose: str
    guarantee_type: str
    officer: User | None
    branch_code: str
    disbursed: bool
    reference: str
    given: frozenset[str]

    def facts(self) -> dict[str, Any]:
        facts = {"customer_no": self.customer.customer_no, "product_code": self.product.code,
                 "currency": self.currency, "principal": self.principal_fen, "annual_rate_pct": self.rate,
                 "term_months": self.term_months, "start_date": self.start_date,
                 "first_due_date": self.first_due_date, "method": self.method, "frequency": self.frequency}
        optional = {"purpose": self.purpose, "guarantee_type": self.guarantee_type,
                    "officer_username": self.officer.username if self.officer else "",
                    "branch_code": self.branch_code}
        return facts | {k: v for k, v in optional.items() if k in self.given}


def _loan_facts(loan: Loan) -> dict[str, Any]:
    return {"customer_no": loan.customer.customer_no, "product_code": loan.product.code, "currency": loan.currency,
            "principal": loan.principal_fen, "annual_rate_pct": Decimal(loan.annual_rate),
            "term_months": loan.term_months, "start_date": loan.start_date, "first_due_date": loan.first_due_date,
            "method": loan.method, "frequency": loan.frequency, "purpose": loan.purpose,
            "guarantee_type": loan.guarantee_type,
            "officer_username": loan.officer.username if loan.officer_id else "", "branch_code": loan.branch.code}


def _show(column: str, value) -> str:
    if column == "principal":
        return str(from_fen(value))
    if column == "annual_rate_pct":
        return format((value * 100).normalize(), "f")
    return "" if value is None else str(value)


def _compare_loan(new: _LoanRow, old: dict[str, Any], key: str) -> list[tuple[str, str]]:
    errors = []
    for column, value in new.facts().items():
        if old.get(column) != value:
            errors += _differs(column, key, _show(column, old.get(column))).errors
    return errors


class _Lookups:
    """What the rows of a batch refer to, fetched once per batch."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.products = {p.code: p for p in Product.objects.all()}
        self.calendar_cache = None
        self.customers: dict[str, Customer] = {}

    def prefetch_customers(self, numbers: set[str]) -> None:
        """Load the batch's customers (the branch objects are shared, not one per customer)."""
        if not self.ctx.branches:
            self.ctx.branches = {b.code: b for b in Branch.objects.all()}
        by_id = {b.pk: b for b in self.ctx.branches.values()}
        self.customers = {}
        wanted = sorted(n for n in numbers if n)
        for start in range(0, len(wanted), 500):
            for c in Customer.objects.select_related("officer").filter(customer_no__in=wanted[start:start + 500]):
                c.branch = by_id.get(c.branch_id) or Branch.objects.get(pk=c.branch_id)
                self.customers[c.customer_no] = c

    def calendar(self, holiday_rule: str):
        """The business calendar ``schedule_terms`` would load, loaded once per import."""
        if holiday_rule == "none":
            return None
        if self.calendar_cache is None:
            self.calendar_cache = calendars.load("CN")
        return self.calendar_cache


def _parse_loan(ctx: _Context, look: _Lookups, number: int, row: dict[str, str]) -> _LoanRow:
    """Formats and references; the product's rules are checked later, for new loans only."""
    errors = _Errors()
    given = frozenset(k for k, v in row.items() if v)
    loan_no = row["loan_no"]
    if not loan_no:
        errors.add("loan_no", _("Give the loan number."))
    elif len(loan_no) > 32:
        errors.add("loan_no", _("At most 32 characters."))
    customer = look.customers.get(row["customer_no"])
    if customer is None:
        errors.add("customer_no", _("No customer with this number.") if row["customer_no"]
                   else _("Give the customer number."))
    product = look.products.get(row["product_code"])
    if product is None:
        errors.add("product_code", _("No product with this code.") if row["product_code"]
                   else _("Give the product code."))
    currency = row["currency"].upper()
    if not currency:
        errors.add("currency", _("Give the currency (e.g. CNY)."))
    elif product is not None and currency != product.currency:
        errors.add("currency", _("Product %(product)s lends in %(currency)s.")
                   % {"product": product.code, "currency": product.currency})
    principal_fen = errors.run(lambda: _amount(row["principal"], "principal"))
    rate = errors.run(lambda: parse_rate_pct(row["annual_rate_pct"]))
    term = errors.run(lambda: parse_int(row["term_months"], "term_months"))
    start = errors.run(lambda: parse_date(row["start_date"], "start_date"))
    first_due = errors.run(lambda: parse_date(row["first_due_date"], "first_due_date")) \
        if row["first_due_date"] else None
    method = frequency = None
    if row["method"]:
        method = errors.run(lambda: parse_choice(row["method"], METHOD_ALIASES, "method"))
    elif product is not None:
        method = product.method
    if row["frequency"]:
        frequency = errors.run(lambda: parse_choice(row["frequency"], FREQUENCY_ALIASES, "frequency"))
    elif product is not None:
        frequency = product.frequency
    guarantee = "credit"
    if row.get("guarantee_type"):
        guarantee = errors.run(lambda: parse_choice(row["guarantee_type"], GUARANTEE_ALIASES, "guarantee_type"))
    purpose = row.get("purpose", "")
    if len(purpose) > 200:
        errors.add("purpose", _("At most 200 characters."))
    officer = errors.run(lambda: ctx.user(row["officer_username"])) if row.get("officer_username") else None
    branch_code = row.get("branch_code", "")
    if branch_code:
        errors.run(lambda: ctx.branch(branch_code))
        if customer is not None and branch_code != customer.branch.code:
            errors.add("branch_code", _("The customer belongs to branch %(branch)s; a loan is booked at its "
                                        "customer's branch.") % {"branch": customer.branch.code})
    if customer is not None:
        errors.run(lambda: ctx.check_scope(customer.branch, "branch_code"))
    disbursed = errors.run(lambda: parse_bool(row.get("disbursed", ""), "disbursed", True))
    reference = row.get("disbursement_reference", "") or f"IMPORT-{loan_no}"
    if len(reference) > 64:
        errors.add("disbursement_reference", _("At most 64 characters."))
    errors.raise_any()
    return _LoanRow(row=number, loan_no=loan_no, customer=customer, product=product, currency=currency,
                    principal_fen=principal_fen, rate=rate, term_months=term, method=method, frequency=frequency,
                    start_date=start, first_due_date=first_due, purpose=purpose, guarantee_type=guarantee,
                    officer=officer, branch_code=branch_code or customer.branch.code, disbursed=disbursed,
                    reference=reference, given=given)


def _new_loan_rules(ctx: _Context, look: _Lookups, r: _LoanRow) -> schedule.ScheduleTerms:
    """``book_loan``'s and ``disburse``'s checks, with the same fields and messages; the schedule terms."""
    errors = _Errors()
    product = r.product
    if not product.active:
        errors.add("product_code", _("This product is no longer offered."))
    if not (product.min_rate <= r.rate <= product.max_rate):
        errors.add("annual_rate_pct", _("The product allows rates from %(min)s to %(max)s.")
                   % {"min": product.min_rate, "max": product.max_rate})
    if r.term_months <= 0:
        errors.add("term_months", _("The term must be a positive number of months."))
    elif not (product.min_term_months <= r.term_months <= product.max_term_months):
        errors.add("term_months", _("The product allows terms from %(min)s to %(max)s months.")
                   % {"min": product.min_term_months, "max": product.max_term_months})
    if r.disbursed and r.start_date > ctx.today:
        errors.add("start_date", _("The value date cannot be after the business date (%(date)s).")
                   % {"date": ctx.today})
    errors.raise_any()
    try:
        return schedule.ScheduleTerms(
            principal=from_fen(r.principal_fen), annual_rate=r.rate, term_months=r.term_months,
            start=r.start_date, method=r.method, frequency=r.frequency, first_due=r.first_due_date,
            day_count=product.day_count, interest_basis=product.interest_basis,
            calendar=look.calendar(product.holiday_rule),
            holiday_rule=product.holiday_rule if product.holiday_rule != "none" else "following")
    except (ValueError, TypeError) as exc:
        raise _rejection(services._engine_error(ValueError(str(exc))), FIELD_COLUMNS["loans"])


@dataclass
class _Plan:
    """A new loan, ready to write: its column values (with the replayed state, if disbursed) and its
    installments as ``(seq, number, period_start, period_end, due_date, principal_fen, interest_fen,
    *derived)``."""

    row: _LoanRow
    loan: dict[str, Any]
    terms: schedule.ScheduleTerms
    installments: list[tuple] = field(default_factory=list)
    allocations: list[tuple[int, str, int]] = field(default_factory=list)


def _fen(amount: Decimal) -> int:
    """Fen of a schedule amount (two places exactly, so no rounding happens; to_fen() if ever not)."""
    scaled = amount.scaleb(2)
    fen = int(scaled)
    return fen if fen == scaled else to_fen(amount)


def compute_loan(terms: schedule.ScheduleTerms, engine_terms: engine.Terms, *, reference: str,
                 today: dt.date, dates_as_text: bool = False) -> tuple[list[tuple], dict[str, Any]]:
    """What ``disburse`` derives for a new loan disbursed in full on its start date: the contract
    schedule and the state a replay to ``today`` gives (pure: no database).

    Returns the installment rows (see ``_Plan``; dates as ISO text if ``dates_as_text``, which is
    how SQLite stores them) and the loan's derived field values."""
    rows = schedule.generate_schedule(terms)
    principal_fen = _fen(terms.principal)
    dues = [engine.Due(number=seq, period_start=x.period_start, due_date=x.due_date, principal=_fen(x.principal),
                       interest=_fen(x.interest), period_end=x.period_end)
            for seq, x in enumerate(rows, start=1)]
    state = engine.replay(dues, [engine.Disbursement(value_date=terms.start, amount=principal_fen, ref=reference)],
                          engine_terms, today)
    effective = {s.number: s for s in state.installments}
    superseded = (Installment.Status.SUPERSEDED.value, 0, 0, 0, 0, 0, 0, 0, 0)
    text = dt.date.isoformat if dates_as_text else (lambda d: d)
    installments = []
    for due, x in zip(dues, rows, strict=True):
        s = effective.get(due.number)
        derived = superseded if s is None else (
            s.status, s.penalty, s.compound, s.fee, s.paid_principal, s.paid_interest, s.paid_penalty,
            s.paid_compound, s.paid_fee)
        installments.append((due.number, x.number, text(x.period_start), text(x.period_end), text(x.due_date),
                             due.principal, due.interest, *derived))
    values = {name: getattr(state, attr) for name, attr in LOAN_FIELDS.items()}
    values["state_as_of"] = state.as_of
    values["_engine_status"] = state.status
    values["_allocations"] = [(a.installment, a.component, a.amount)
                              for a in state.allocations.get(reference, []) if a.amount]
    return installments, values


def compute_many(specs: list[tuple[schedule.ScheduleTerms, engine.Terms, str]], today: dt.date,
                 dates_as_text: bool = False) -> list:
    """``compute_loan`` for a batch (run in a worker process for large imports): a result or the
    ValueError's message for each."""
    out: list = []
    for terms, engine_terms, reference in specs:
        try:
            out.append(compute_loan(terms, engine_terms, reference=reference, today=today,
                                    dates_as_text=dates_as_text))
        except ValueError as exc:
            out.append(str(exc))
    return out


#: A new loan's column values before anything is set: the model's defaults.
LOAN_DEFAULTS = {f.attname: f.get_default() for f in Loan._meta.concrete_fields}


def _plan(ctx: _Context, r: _LoanRow, terms: schedule.ScheduleTerms) -> _Plan:
    """The columns ``book_loan`` gives the loan (a dict: a model instance per row costs too much)."""
    product = r.product
    maturity = terms.maturity
    officer = r.officer or r.customer.officer
    loan = LOAN_DEFAULTS | {
        "loan_no": r.loan_no, "customer_id": r.customer.pk, "product_id": product.pk,
        "branch_id": r.customer.branch_id, "officer_id": officer.pk if officer else None,
        "currency": product.currency, "principal_fen": r.principal_fen, "annual_rate": r.rate,
        "term_months": r.term_months, "method": r.method, "frequency": r.frequency, "day_count": product.day_count,
        "interest_basis": product.interest_basis, "holiday_rule": product.holiday_rule, "start_date": r.start_date,
        "first_due_date": r.first_due_date, "maturity_date": maturity, "original_maturity_date": maturity,
        "purpose": r.purpose, "guarantee_type": r.guarantee_type, "source": "import"}
    return _Plan(row=r, loan=loan, terms=terms)


def _apply(plan: _Plan, computed) -> None:
    """Put the computed schedule and state on the plan (RowRejected if the engine refused)."""
    if isinstance(computed, str):
        raise _rejection(services._engine_error(ValueError(computed)), FIELD_COLUMNS["loans"])
    installments, values = computed
    plan.installments = installments
    plan.allocations = values.pop("_allocations")
    engine_status = values.pop("_engine_status")
    loan = plan.loan
    loan.update(values)
    loan["status"] = str(loan_status(SimpleNamespace(status=loan["status"]),
                                     SimpleNamespace(disbursed=loan["disbursed_fen"], status=engine_status)))


@dataclass
class _Batch:
    plans: list[_Plan]
    later: list[tuple[_LoanRow, Loan]]  # existing loans booked but not disbursed: disburse them
    job: Any = None  # the worker's pending result, or the results computed here


class _Pool:
    """Worker processes computing schedules and replays while this process reads and writes (the pure
    part and the database part overlap). Only for large imports from the command line: forking inside
    a web server is not safe."""

    def __init__(self, processes: int) -> None:
        import multiprocessing

        self.processes = processes
        self.pool = multiprocessing.get_context("fork").Pool(processes=processes)

    def submit(self, specs, today, dates_as_text) -> _Job:
        size = -(-len(specs) // self.processes) or 1
        return _Job([self.pool.apply_async(compute_many, (specs[i:i + size], today, dates_as_text))
                     for i in range(0, len(specs), size)])

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def terminate(self) -> None:
        self.pool.terminate()
        self.pool.join()


@dataclass
class _Job:
    parts: list

    def get(self) -> list:
        return [result for part in self.parts for result in part.get()]


def _import_loans(ctx: _Context, rows, parallel: bool = False) -> None:
    look = _Lookups(ctx)
    batches = _chunks(rows, BATCH)
    head = list(islice(batches, 2))
    pool = _Pool(WORKERS) if parallel and (os.cpu_count() or 1) > 1 and len(head) == 2 else None
    engine_terms: dict[tuple, engine.Terms] = {}
    planned: dict[str, _LoanRow] = {}  # loan numbers of the batches not yet written
    deferred: list[_LoanRow] = []  # a loan number seen before in the file: decided once all is written
    pending: _Batch | None = None
    restore = _sqlite_tuning()
    try:
        for chunk in chain(head, batches):
            batch = _prepare(ctx, look, chunk, planned, deferred)
            specs = [(p.terms, _engine_terms(engine_terms, p.row), p.row.reference)
                     for p in batch.plans if p.row.disbursed]
            text = connection.vendor == "sqlite"
            batch.job = pool.submit(specs, ctx.today, text) if pool else compute_many(specs, ctx.today, text)
            if pending is not None:
                _finish(ctx, pending)
                for p in pending.plans:
                    planned.pop(p.row.loan_no, None)
            pending = batch
        if pending is not None:
            _finish(ctx, pending)
    except BaseException:
        if pool:
            pool.terminate()
        raise
    finally:
        restore()
    if pool:
        pool.close()
    for r in deferred:
        _via_services(ctx, r)


def _sqlite_tuning() -> Callable[[], None]:
    """While loans are written on SQLite: a 128 MB page cache on this connection (the default 2 MB makes
    index inserts slow down as the ledger grows) and WAL checkpoints every 40 MB rather than every 4 MB.
    Both are put back afterwards."""
    if connection.vendor != "sqlite":
        return lambda: None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(SQLITE_CACHE_KIB)}")
        cursor.execute("PRAGMA wal_autocheckpoint = 10000")

    def restore() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {cache}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")

    return restore


def _engine_terms(cache: dict, r: _LoanRow) -> engine.Terms:
    key = (r.product.pk, r.rate)
    if key not in cache:
        cache[key] = terms_of(Loan(product=r.product, annual_rate=r.rate, day_count=r.product.day_count))
    return cache[key]


def _prepare(ctx: _Context, look: _Lookups, rows, planned: dict[str, _LoanRow], deferred: list) -> _Batch:
    look.prefetch_customers({row["customer_no"] for _n, row in rows})
    existing = _existing_loans({row["loan_no"] for _n, row in rows})
    batch = _Batch(plans=[], later=[])
    for number, row in rows:
        try:
            r = _parse_loan(ctx, look, number, row)
            if r.loan_no in planned:
                deferred.append(r)
                continue
            outcome = _against_existing(ctx, r, existing)
            if outcome == "new":
                batch.plans.append(_plan(ctx, r, _new_loan_rules(ctx, look, r)))
                planned[r.loan_no] = r
            elif outcome == "disburse":
                batch.later.append((r, existing[r.loan_no][0]))
            else:
                ctx.result.unchanged += 1
        except RowRejected as exc:
            ctx.reject(number, exc.errors)
    return batch


def _finish(ctx: _Context, batch: _Batch) -> None:
    """Take the computed schedules and states, write the batch, disburse the existing loans it holds."""
    results = batch.job.get() if hasattr(batch.job, "get") else batch.job
    disbursed = iter(results)
    good: list[_Plan] = []
    for plan in batch.plans:
        try:
            if plan.row.disbursed:
                _apply(plan, next(disbursed))
            good.append(plan)
        except RowRejected as exc:
            ctx.reject(plan.row.row, exc.errors)
    if good:
        try:
            with transaction.atomic():
                _write(ctx, good)
        except (DatabaseError, NotImplementedError):
            # e.g. a loan number booked meanwhile by someone else: redo the batch row by row
            for plan in good:
                _via_services(ctx, plan.row)
        else:
            ctx.result.accepted += len(good)
    for r, loan in batch.later:
        _disburse_existing(ctx, r, loan)


def _existing_loans(numbers: set[str]) -> dict[str, tuple[Loan, dict[str, Any], set[str]]]:
    found: dict[str, tuple[Loan, dict[str, Any], set[str]]] = {}
    numbers = {n for n in numbers if n}
    if numbers:  # usually none exist: a narrow query first
        numbers = set(Loan.objects.filter(loan_no__in=numbers).values_list("loan_no", flat=True))
    if not numbers:
        return found
    loans = list(Loan.objects.select_related("customer", "product", "branch", "officer").filter(loan_no__in=numbers))
    refs: dict[int, set[str]] = {}
    for loan_id, reference in Posting.objects.filter(loan__in=loans, kind=Posting.Kind.DISBURSEMENT).values_list(
            "loan_id", "reference"):
        refs.setdefault(loan_id, set()).add(reference)
    for loan in loans:
        found[loan.loan_no] = (loan, _loan_facts(loan), refs.get(loan.pk, set()))
    return found


def _against_existing(ctx: _Context, r: _LoanRow, existing) -> str:
    """"new", "unchanged" or "disburse" (an existing loan booked but not disbursed); else RowRejected."""
    key = _("Loan %(no)s") % {"no": r.loan_no}
    if r.loan_no not in existing:
        return "new"
    loan, facts, refs = existing[r.loan_no]
    ctx.check_scope(loan.branch, "branch_code")
    errors = _compare_loan(r, facts, key)
    if errors:
        raise RowRejected(errors)
    if loan.disbursed_fen > 0 or refs:
        if not r.disbursed:
            raise _reject("disbursed", _("%(key)s exists and is disbursed already.") % {"key": key})
        if "disbursement_reference" in r.given and r.reference not in refs:
            raise _differs("disbursement_reference", key, ", ".join(sorted(refs)))
        return "unchanged"
    if r.disbursed and loan.status == Loan.Status.PENDING:
        return "disburse"
    return "unchanged"


def _disburse_existing(ctx: _Context, r: _LoanRow, loan: Loan) -> None:
    try:
        with transaction.atomic():
            services.disburse(actor=ctx.service_actor, loan=loan, value_date=r.start_date, reference=r.reference)
    except ValidationError as exc:
        ctx.reject(r.row, _rejection(exc, FIELD_COLUMNS["loans"]).errors)
    except PermissionDenied as exc:
        ctx.reject(r.row, [("branch_code", str(exc))])
    else:
        ctx.result.accepted += 1


def _via_services(ctx: _Context, r: _LoanRow) -> None:
    """One loan through ``book_loan`` and ``disburse`` in its own savepoint (the reference path)."""
    try:
        with transaction.atomic():
            if Loan.objects.filter(loan_no=r.loan_no).exists():
                existing = _existing_loans({r.loan_no})
                outcome = _against_existing(ctx, r, existing)
                if outcome == "unchanged":
                    ctx.result.unchanged += 1
                    return
                if outcome == "disburse":
                    _disburse_existing(ctx, r, existing[r.loan_no][0])
                    return
            loan = services.book_loan(
                actor=ctx.service_actor, loan_no=r.loan_no, customer=r.customer, product=r.product,
                principal=from_fen(r.principal_fen), annual_rate=r.rate, term_months=r.term_months,
                start_date=r.start_date, first_due_date=r.first_due_date, purpose=r.purpose,
                guarantee_type=r.guarantee_type, officer=r.officer, method=r.method, frequency=r.frequency,
                source="import")
            if r.disbursed:
                services.disburse(actor=ctx.service_actor, loan=loan, value_date=r.start_date,
                                  reference=r.reference)
    except RowRejected as exc:
        ctx.reject(r.row, exc.errors)
    except ValidationError as exc:
        ctx.reject(r.row, _rejection(exc, FIELD_COLUMNS["loans"]).errors)
    except PermissionDenied as exc:
        ctx.reject(r.row, [("branch_code", str(exc))])
    except IntegrityError as exc:
        ctx.reject(r.row, [("row", _("The database refused the row: %(error)s") % {"error": exc})])
    else:
        ctx.result.accepted += 1


def _import_loans_by_row(ctx: _Context, rows) -> None:
    """Every loan through ``book_loan`` and ``disburse`` (slow: the reference the bulk path is tested against)."""
    look = _Lookups(ctx)
    for number, row in rows:
        look.prefetch_customers({row["customer_no"]})
        try:
            r = _parse_loan(ctx, look, number, row)
        except RowRejected as exc:
            ctx.reject(number, exc.errors)
            continue
        _via_services(ctx, r)


# ---------------------------------------------------------------------------
# writing a batch of new loans


class _Insert:
    """Rows written without model instances (COPY on PostgreSQL, executemany elsewhere): a batch of
    loans writes tens of thousands of rows, and Django's bulk_create spends most of its time compiling
    values one by one. Values are prepared for the database as the model fields prepare them;
    integers and text need nothing."""

    PLAIN = (models.IntegerField, models.CharField, models.TextField, models.BooleanField, models.ForeignKey)

    def __init__(self, model, attnames: list[str]) -> None:
        self.connection = connections[router.db_for_write(model)]
        ops = self.connection.ops
        fields = {f.attname: f for f in model._meta.concrete_fields}
        columns = ", ".join(ops.quote_name(fields[a].column) for a in attnames)
        marks = ", ".join(["%s"] * len(attnames))
        self.sql = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
        self.copy_sql = f"COPY {ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
        self.preps: list[tuple[int, Callable[[Any], Any]]] = []
        for i, a in enumerate(attnames):
            f = fields[a]
            if isinstance(f, self.PLAIN):
                continue
            if type(f) is models.DateField:
                self.preps.append((i, ops.adapt_datefield_value))
            elif isinstance(f, models.DateTimeField):
                self.preps.append((i, ops.adapt_datetimefield_value))
            else:
                self.preps.append((i, partial(f.get_db_prep_save, connection=self.connection)))

    def prepare(self, row: tuple) -> tuple:
        if not self.preps:
            return row
        values = list(row)
        for i, prep in self.preps:
            if values[i] is not None:
                values[i] = prep(values[i])
        return tuple(values)

    def run(self, rows: list[tuple], prepared: bool = False) -> None:
        if not rows:
            return
        rows = rows if prepared else [self.prepare(r) for r in rows]
        with self.connection.cursor() as cursor:
            raw = getattr(cursor, "cursor", None)
            if self.connection.vendor == "postgresql" and hasattr(raw, "copy"):
                # psycopg 3: COPY is an order of magnitude faster than one INSERT per row
                with raw.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            for start in range(0, len(rows), 5000):
                cursor.executemany(self.sql, rows[start:start + 5000])


def _reserve_ids(model, count: int) -> list[int]:
    """``count`` new primary keys for ``model`` (call inside the batch's transaction)."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [connection.ops.quote_name(table), model._meta.pk.column, count])
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            # the transaction holds SQLite's write lock (BEGIN IMMEDIATE): nobody else can take these
            cursor.execute(f"SELECT MAX({connection.ops.quote_name(model._meta.pk.column)}) FROM "
                           f"{connection.ops.quote_name(table)}")
            top = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
            return list(range(top + 1, top + 1 + count))
    raise NotImplementedError(connection.vendor)


LOAN_COLUMNS = [f.attname for f in Loan._meta.concrete_fields]
POSTING_COLUMNS = ["id", "loan_id", "kind", "value_date", "booking_date", "amount_fen", "reference", "reverses_id",
                   "actor_id", "approver_id", "reason", "created_at"]
VERSION_COLUMNS = ["id", "loan_id", "number", "reason", "value_date", "posting_id", "created_at"]
INSTALLMENT_COLUMNS = ["loan_id", "version_id", "seq", "number", "period_start", "period_end", "due_date",
                       "principal_fen", "interest_fen", *INSTALLMENT_FIELDS]
AUDIT_COLUMNS = ["at", "business_date", "actor_id", "actor_name", "action", "object_type", "object_id",
                 "object_repr", "branch_id", "before", "after", "reason"]


def _write(ctx: _Context, plans: list[_Plan]) -> None:
    """Write what ``book_loan`` followed by ``disburse`` writes, for a batch of new loans."""
    user_id = ctx.actor.pk if getattr(ctx.actor, "pk", None) else None
    actor_name = (getattr(ctx.actor, "username", None) or str(ctx.actor or "system"))[:150]
    now = timezone.now()
    loans = [p.loan for p in plans]
    for loan, pk in zip(loans, _reserve_ids(Loan, len(loans)), strict=True):
        loan["id"] = pk
        loan["created_at"] = now
    _Insert(Loan, LOAN_COLUMNS).run([tuple(loan[a] for a in LOAN_COLUMNS) for loan in loans])
    # the history row book_loan's save() leaves: the loan as booked, before it was disbursed
    history = Loan.history.model
    tracked = [f.attname for f in history.tracked_fields]
    booked = {"status": Loan.Status.PENDING.value, "settled_on": None}
    _Insert(history, [*tracked, "history_date", "history_user_id", "history_change_reason", "history_type"]).run(
        [(*(booked[a] if a in booked else loan[a] for a in tracked), now, user_id, None, "+") for loan in loans])
    disbursed = [p for p in plans if p.row.disbursed]
    posting_ids = _reserve_ids(Posting, len(disbursed))
    version_ids = _reserve_ids(ScheduleVersion, len(disbursed))
    _Insert(Posting, POSTING_COLUMNS).run([
        (pid, p.loan["id"], Posting.Kind.DISBURSEMENT.value, p.row.start_date, ctx.today, p.loan["principal_fen"],
         p.row.reference, None, user_id, None, "", now) for p, pid in zip(disbursed, posting_ids, strict=True)])
    _Insert(ScheduleVersion, VERSION_COLUMNS).run([
        (vid, p.loan["id"], 1, ScheduleVersion.Reason.INITIAL.value, p.row.start_date, pid, now)
        for p, pid, vid in zip(disbursed, posting_ids, version_ids, strict=True)])
    installments = _Insert(Installment, INSTALLMENT_COLUMNS)
    dates_as_text = connection.vendor == "sqlite"
    rows = []
    for p, vid in zip(disbursed, version_ids, strict=True):
        head = (p.loan["id"], vid)
        rows += [head + row for row in p.installments] if dates_as_text else [
            installments.prepare(head + row) for row in p.installments]
    installments.run(rows, prepared=True)
    allocations = [(p.loan["id"], pid, part) for p, pid in zip(disbursed, posting_ids, strict=True)
                   for part in p.allocations]
    if allocations:  # a disbursement allocates nothing today: kept so that this follows refresh() exactly
        ids = {(loan_id, seq): pk for loan_id, seq, pk in Installment.objects.filter(
            loan__in={a[0] for a in allocations}).values_list("loan_id", "seq", "id")}
        Allocation.objects.bulk_create([
            Allocation(posting_id=pid, installment_id=ids.get((loan_id, seq)), component=component,
                       amount_fen=amount)
            for loan_id, pid, (seq, component, amount) in allocations])
    events = []
    zero = str(from_fen(0))
    label = Loan._meta.label_lower
    for p in plans:
        loan = p.loan
        common = (label, str(loan["id"]), loan["loan_no"][:200], loan["branch_id"])
        events.append((now, ctx.today, user_id, actor_name, "ledger.book_loan", *common, None, {
            "principal": str(from_fen(loan["principal_fen"])), "annual_rate": str(p.row.rate),
            "term_months": loan["term_months"], "method": loan["method"],
            "start_date": loan["start_date"].isoformat()}, ""))
        if p.row.disbursed:
            total_due = sum(loan[f] for f in ("principal_due_fen", "interest_due_fen", "penalty_due_fen",
                                              "compound_due_fen", "fee_due_fen"))
            events.append((now, ctx.today, user_id, actor_name, "ledger.disburse", *common, {
                "status": Loan.Status.PENDING.value, "principal_outstanding": zero, "total_due": zero,
                "days_past_due": 0}, {
                "status": loan["status"], "principal_outstanding": str(from_fen(loan["principal_outstanding_fen"])),
                "total_due": str(from_fen(total_due)), "days_past_due": loan["days_past_due"],
                "amount": str(from_fen(loan["principal_fen"])), "reference": p.row.reference}, ""))
    _Insert(AuditEvent, AUDIT_COLUMNS).run(events)


__all__ = ["COLUMNS", "KINDS", "ImportFormatError", "ImportResult", "RowError", "import_file", "import_rows",
           "read_table"]
