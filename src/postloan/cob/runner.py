"""Running the close of business: dates in order, steps in order, partitions of loans.

Each partition is one transaction that also marks it done, so a run killed at
any moment resumes from the last committed partition with the same result. A
date is closed (and the business date moved) only when every step succeeded.
On the embedded SQLite database partitions run one after another in this
process (SQLite has one writer), with two threads beside the writer on
connections of their own: the ``Checkpointer`` copies the log back into the
database file, and ``_Side`` reads ahead (a step's ``prepare``) and after
(its ``follow``); on PostgreSQL they run on a thread per CPU (each with its
own connection), or, with a Celery broker, as parallel tasks on the workers.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from postloan.kernel import audit, businessdate
from postloan.kernel.errors import field_error
from postloan.kernel.models import CalendarCoverage
from postloan.ledger.models import Loan

from . import registry
from .models import CobDay, CobPartition, CobRun, CobStep, Status

ONE_DAY = dt.timedelta(days=1)
# loans per partition: a unit of work and of restart; big enough that the per-partition bookkeeping is noise
def _env_count(name: str, default: int | None) -> int | None:
    """A positive whole number from the environment (``default`` when unset), or a clear error naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ImproperlyConfigured(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


PARTITION_SIZE = _env_count("POSTLOAN_COB_PARTITION", 10_000)
STALE_AFTER = dt.timedelta(minutes=10)


class CobFailed(Exception):
    """A step failed: the date stays open and the business date where it was."""


def plan_dates(to: dt.date | None) -> list[dt.date]:
    current = businessdate.current()
    to = to or current
    if not isinstance(to, dt.date):
        raise field_error("to", _("Enter a valid date."))
    if to < current:
        raise field_error("to", _("%(to)s is before the current business date %(current)s: closed dates are not "
                                  "closed again.") % {"to": to, "current": current})
    coverage = CalendarCoverage.objects.filter(code="CN").first()
    if coverage is not None and to > coverage.last:
        raise field_error("to", _("The business calendar is loaded only to %(last)s: extend it (new holiday notice) "
                                  "before closing %(to)s.") % {"last": coverage.last, "to": to})
    return [current + dt.timedelta(days=i) for i in range((to - current).days + 1)]


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire(dates: list[dt.date], actor) -> CobRun:
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return CobRun.objects.create(from_date=dates[0], to_date=dates[-1], actor=actor if getattr(
                    actor, "pk", None) else None, host=socket.gethostname(), pid=os.getpid(),
                    heartbeat=timezone.now())
        except IntegrityError:
            running = CobRun.objects.filter(status=Status.RUNNING).first()
            if running is None:
                continue
            dead = (running.host == socket.gethostname() and not _pid_alive(running.pid)) or (
                running.heartbeat and timezone.now() - running.heartbeat > STALE_AFTER)
            if not dead:
                raise field_error("run", _("A close of business is already running: run #%(id)s for %(from)s–%(to)s, "
                                           "started %(at)s by process %(pid)s on %(host)s.") % {
                    "id": running.pk, "from": running.from_date, "to": running.to_date,
                    "at": timezone.localtime(running.started_at).strftime("%Y-%m-%d %H:%M:%S"),
                    "pid": running.pid, "host": running.host})
            CobRun.objects.filter(pk=running.pk).update(status=Status.INTERRUPTED, finished_at=timezone.now(),
                                                        error="the process stopped before finishing")
    raise field_error("run", _("Could not start the close of business."))


def run(*, to: dt.date | None = None, actor=None, progress: bool = False, out=None) -> CobRun:
    """Close the current business date and each following one up to ``to``."""
    if actor is not None and not actor.has_perm("cob.run"):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(_("Only an administrator may run the close of business."))
    dates = plan_dates(to)
    cob_run = _acquire(dates, actor)
    global _checkpointer
    _checkpointer = Checkpointer.for_connection()
    try:
        _autocheckpoint(WAL_PAGES)
        for day in dates:
            started = time.monotonic()
            close_day(cob_run, day, progress=progress, out=out)
            if out:
                out.write(f"{day} closed in {time.monotonic() - started:.2f} s\n")
        CobRun.objects.filter(pk=cob_run.pk).update(status=Status.DONE, finished_at=timezone.now())
    except BaseException as exc:
        _mark_failed(cob_run, exc)
        raise
    finally:
        _autocheckpoint(1000)
        if _checkpointer is not None:
            _checkpointer.close()
            _checkpointer = None
    cob_run.refresh_from_db()
    return cob_run


WAL_PAGES = 262_144  # 1 GiB of 4 KiB pages
WAL_LIMIT = 65_536  # log frames (256 MiB) past which the batch lets the checkpoint catch up so the log restarts


def _autocheckpoint(every: int) -> None:
    """SQLite (WAL): by default SQLite copies the log back into the database file whenever the log passes 1,000
    pages, at a commit, in the writer's own time — in the close of business nearly every partition. The batch
    switches that off (``every`` = a gigabyte) while it runs; its :class:`Checkpointer` does the copying."""
    if connection.vendor != "sqlite":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(every)}")
    except DatabaseError:  # the batch's outcome does not depend on it
        pass


_checkpointer: Checkpointer | None = None


def _committed(*, wait: bool = False) -> None:
    """The batch committed some work: have it checkpointed (``wait``: and in the database file before going on)."""
    if _checkpointer is not None:
        _checkpointer.committed(wait=wait)
    elif connection.vendor == "sqlite" and wait:
        try:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except DatabaseError:
            pass


class Checkpointer:
    """SQLite (WAL): copies the log's pages back into the database file on a thread and connection of its own,
    while the batch goes on writing the next partitions (SQLite lets one connection checkpoint while another
    writes; the sqlite3 module lets go of the interpreter meanwhile, so this is the machine's second core at
    work). Copying in the writer's time was an eighth of a day at a million loans.

    The log starts afresh only at a write that finds everything in it copied, which a checkpoint running behind
    the writer never lets happen; so once the log has grown past ``limit`` frames the writer waits, once, for
    a checkpoint that takes everything committed so far (a partition or two behind), and the next write
    restarts the log. A long log slows every read (each looks the page up in the log's index first). Nor does
    the writer run more than ``LAG`` commits ahead of the copying (when the disk is the slower)."""

    LAG = 2

    def __init__(self, path: str, limit: int = WAL_LIMIT) -> None:
        import threading

        self.path, self.limit = path, limit
        self._cond = threading.Condition()
        self._asked = self._done = 0  # commits announced; announcements a finished checkpoint covers
        self._frames = 0  # the log's frames as the last checkpoint found them
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="cob-checkpoint", daemon=True)
        self._thread.start()

    @classmethod
    def for_connection(cls) -> Checkpointer | None:
        """One for the default database if it is a SQLite file and the batch commits its own work (inside a
        caller's transaction another connection would see nothing to copy)."""
        if connection.vendor != "sqlite" or connection.is_in_memory_db() or connection.in_atomic_block:
            return None
        return cls(str(connection.settings_dict["NAME"]))

    def _loop(self) -> None:
        import sqlite3

        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous = NORMAL")
            while True:
                with self._cond:
                    while self._done == self._asked and not self._closing:
                        self._cond.wait()
                    if self._done == self._asked:
                        return
                    target = self._asked
                _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                with self._cond:
                    self._done, self._frames = target, frames
                    self._cond.notify_all()
        except sqlite3.Error:  # the batch's outcome does not depend on it; the writer stops waiting
            pass
        finally:
            if conn is not None:
                conn.close()
            with self._cond:
                self._closing = True
                self._cond.notify_all()

    def committed(self, *, wait: bool = False) -> None:
        """After a commit: copy it in the background; ``wait`` (or a log past the limit): until it is copied."""
        with self._cond:
            self._asked += 1
            target = self._asked
            self._cond.notify_all()
            full = wait or self._frames > self.limit
            # never more than LAG commits ahead of the copying, so the log's size is known in time
            need = target if full else target - self.LAG
            while self._done < need and self._thread.is_alive():
                self._cond.wait(1.0)
            if full:
                self._frames = 0  # the next write starts the log afresh

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()


def _mark_failed(cob_run: CobRun, exc: BaseException) -> None:
    try:
        if not connection.in_atomic_block:  # a broken connection is replaced; a caller's transaction is kept
            connection.close_if_unusable_or_obsolete()
        CobRun.objects.filter(pk=cob_run.pk).update(status=Status.FAILED, finished_at=timezone.now(),
                                                    error=f"{type(exc).__name__}: {exc}"[:2000])
    except Exception:  # the database itself is gone: the next run finds this one stale and resumes
        pass


def close_day(cob_run: CobRun, day: dt.date, *, progress: bool = False, out=None) -> CobDay:
    if businessdate.current() != day:
        raise field_error("date", _("The business date is %(current)s, not %(day)s.")
                          % {"current": businessdate.current(), "day": day})
    cob_day, _created = CobDay.objects.get_or_create(date=day, defaults={"run": cob_run})
    if cob_day.status == Status.DONE:
        return cob_day
    CobDay.objects.filter(pk=cob_day.pk).update(run=cob_run, status=Status.RUNNING)
    started = time.monotonic()
    _refresh_statistics()
    for reg in registry.steps():
        step, _created = CobStep.objects.get_or_create(day=cob_day, name=reg.name, defaults={"order": reg.order})
        if step.status == Status.DONE:
            continue
        CobStep.objects.filter(pk=step.pk).update(status=Status.RUNNING, error="")
        step_started = time.monotonic()
        try:
            if reg.per_partition:
                _run_partitions(cob_run, step, reg, day, progress=progress)
            else:
                with transaction.atomic():
                    rows, totals = reg.fn(day, None)
                    CobStep.objects.filter(pk=step.pk).update(rows=rows, totals=totals)
        except Exception as exc:
            # a server's operational errors mean it (or the network) went away; SQLite's mean "locked" and the like
            if isinstance(exc, (OperationalError, InterfaceError)) and connection.vendor == "postgresql":
                message = _("The database connection was lost during step %(step)s on %(day)s (%(error)s). Nothing "
                            "of the unfinished partition was kept; run the close of business again when the "
                            "database is back: it resumes there.") % {"step": reg.name, "day": day,
                                                                       "error": str(exc).strip()}
            else:
                message = _("Step %(step)s failed on %(day)s: %(error)s") % {"step": reg.name, "day": day,
                                                                            "error": exc}
            try:
                CobStep.objects.filter(pk=step.pk).update(status=Status.FAILED, error=message)
                CobDay.objects.filter(pk=cob_day.pk).update(status=Status.FAILED)
            except DatabaseError:  # still gone: the run is marked failed (or found stale) when it is back
                pass
            raise CobFailed(message) from exc
        _committed()
        elapsed = time.monotonic() - step_started
        step.refresh_from_db()
        CobStep.objects.filter(pk=step.pk).update(status=Status.DONE, finished_at=timezone.now(),
                                                  seconds=step.seconds + elapsed)
    _committed(wait=True)  # the day's work in the database file before the day counts as closed
    with transaction.atomic():
        totals = {s.name: s.totals for s in cob_day.steps.all()}
        audit.record(actor=None, action="cob.close_day", obj=cob_day, object_repr=f"COB {day}",
                     after={"steps": totals}, reason=f"run #{cob_run.pk}")
        CobDay.objects.filter(pk=cob_day.pk).update(status=Status.DONE, finished_at=timezone.now(),
                                                    seconds=time.monotonic() - started)
        businessdate.advance(to=day + ONE_DAY, reason=f"close of business {day} (run #{cob_run.pk})")
    return cob_day


def _refresh_statistics() -> None:
    """PostgreSQL: take fresh planner statistics of the tables that changed by more than a tenth since their
    last ones. A day's close rewrites every open loan (its as-of date among them); autovacuum analyses such a
    table soon after, but not between the days of a catch-up, and with yesterday's statistics the planner
    takes a day's loans for none and joins the wrong way round (at a million loans the penalty statement
    took 76 ms a partition instead of 20, the rates lookup 30 instead of 5). ``ANALYZED_COLUMNS``: the loan
    table's columns the close selects by, not all of them."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # rows as the statistics know them (pg_class; the activity counters start afresh in a copied database)
        cursor.execute("SELECT s.schemaname, s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                       "WHERE s.n_mod_since_analyze > GREATEST(1000, c.reltuples / 10)")
        for schema, table in cursor.fetchall():
            _analyze(cursor, schema, table)


# The loan table changes every day in every row: only the columns the close's statements select by get fresh
# statistics each day (ANALYZE of all ~50 columns took 0.60 s at 100,000 loans, of these 0.09 s; a day then
# took ~2 s). Such an ANALYZE leaves the table's change counter as it was, so autovacuum still analyses all
# columns in its own time.
ANALYZED_COLUMNS = {"ledger_loan": ("status", "state_as_of", "accrual_until", "credit_fen", "settled_on")}


def _analyze(cursor, schema: str, table: str) -> None:
    qn = connection.ops.quote_name
    columns = ANALYZED_COLUMNS.get(table)
    cursor.execute(f"ANALYZE {qn(schema)}.{qn(table)}" + (f" ({', '.join(qn(c) for c in columns)})" if columns else ""))


def _plan_partitions(step: CobStep, day: dt.date) -> list[CobPartition]:
    """The step's partitions: ranges of loan ids with about PARTITION_SIZE loans to close each. The day's
    first step plans them, later steps copy its ranges (the set a day closes does not change during it)."""
    existing = list(step.partitions.order_by("number"))
    if existing:
        return existing
    planned = CobPartition.objects.filter(step__day_id=step.day_id).exclude(step=step)
    first_step = planned.order_by("step__order").values_list("step_id", flat=True).first()
    if first_step is not None:
        ranges = list(planned.filter(step_id=first_step).order_by("number").values_list("first_loan", "last_loan"))
    else:
        ranges = _ranges(day)
    CobPartition.objects.bulk_create(
        [CobPartition(step=step, number=n, first_loan=first, last_loan=last) for n, (first, last) in enumerate(ranges)],
        batch_size=1000)
    return list(step.partitions.order_by("number"))


def _ranges(day: dt.date) -> list[tuple[int, int]]:
    """The day's ranges of loan ids. Yesterday's are kept while they still hold PARTITION_SIZE / 2 to 2 ×
    PARTITION_SIZE loans on average and at most (loans close, a few are added), with the first widened to
    the lowest id and the loans past the last (new since) planned after it: numbering every open loan costs
    more than a step's partition at a million loans. Otherwise all are numbered afresh."""
    from django.db.models import Max

    # the last closed day (by the unique date index, not by sorting every partition ever planned)
    last_day = CobDay.objects.filter(date__lt=day, status=Status.DONE).order_by("-date").values_list(
        "pk", flat=True).first()
    if last_day is not None:
        # a partition's loans: the most rows any step did in it (steps count what they did, e.g. loans closed
        # and not those already brought up to date that day)
        old = list(CobPartition.objects.filter(step__day_id=last_day).values("number", "first_loan", "last_loan")
                   .annotate(rows=Max("rows")).order_by("number").values_list("first_loan", "last_loan", "rows"))
        sizes = [rows for _first, _last, rows in old]
        if old and sum(sizes) >= len(sizes) * PARTITION_SIZE // 2 and max(sizes) <= 2 * PARTITION_SIZE:
            ranges = [(first, last) for first, last, _rows in old]
            ranges[0] = (min(1, ranges[0][0]), ranges[0][1])
            tail = _number(day, after=ranges[-1][1])
            if tail and len(tail) == 1 and tail[0][2] < PARTITION_SIZE // 2:
                ranges[-1] = (ranges[-1][0], tail[0][1])  # a few new loans: the last partition takes them
            else:
                ranges += [(first, last) for first, last, _n in tail]
            return ranges
    return [(first, last) for first, last, _n in _number(day)]


def _number(day: dt.date, after: int = 0) -> list[tuple[int, int, int]]:
    """(first id, last id, loans) of each run of PARTITION_SIZE loans the close of ``day`` works on, with ids
    above ``after``, from one query that numbers them in the database (a range runs from its first loan to
    the next one's first − 1)."""
    from django.db.models import Count, F, Max, Window
    from django.db.models.functions import Mod, RowNumber

    closing = Loan.objects.filter(registry.closing(day), id__gt=after)
    firsts = list(closing.annotate(n=Window(RowNumber(), order_by=F("id").asc()))
                  .annotate(m=Mod(F("n") - 1, PARTITION_SIZE)).filter(m=0).order_by("id")
                  .values_list("id", flat=True))
    if not firsts:
        return []
    total = closing.aggregate(last=Max("id"), n=Count("id"))
    ends = [f - 1 for f in firsts[1:]] + [total["last"]]
    counts = [PARTITION_SIZE] * (len(firsts) - 1) + [total["n"] - PARTITION_SIZE * (len(firsts) - 1)]
    return list(zip(firsts, ends, counts, strict=True))


def _run_partitions(cob_run: CobRun, step: CobStep, reg, day: dt.date, *, progress: bool) -> None:
    parts = _plan_partitions(step, day)
    pending = [p for p in parts if p.status != Status.DONE]
    bar = None
    if progress and pending:
        from tqdm import tqdm

        total = sum(p.rows for p in parts if p.status == Status.DONE)
        bar = tqdm(total=None, desc=f"{day} {reg.name}", unit=" loans", file=sys.stderr, leave=False,
                   initial=total, dynamic_ncols=True)
    try:
        if _use_workers():
            from .tasks import run_partitions_on_workers

            seen = {"rows": sum(p.rows for p in parts if p.status == Status.DONE)}

            def on_wait() -> None:  # the runner is alive while it waits (a stale run is taken over)
                CobRun.objects.filter(pk=cob_run.pk).update(heartbeat=timezone.now())
                if bar is not None:
                    rows = sum(step.partitions.filter(status=Status.DONE).values_list("rows", flat=True))
                    bar.update(rows - seen["rows"])
                    seen["rows"] = rows

            run_partitions_on_workers([p.pk for p in pending], on_wait=on_wait)
        elif _threads() > 1 and len(pending) > 1:
            _run_in_threads(cob_run, reg, pending, bar)
        else:
            # reads beside the writer where the checkpointer runs: a SQLite file, the batch committing its own work
            side = _Side(reg, day) if (reg.follow or reg.prepare) and _checkpointer is not None else None
            try:
                if side is not None and pending:
                    side.prepare(pending[0])
                for n, part in enumerate(pending):
                    prepared = None
                    if side is not None:
                        prepared = side.prepared(part)
                        if n + 1 < len(pending):
                            side.prepare(pending[n + 1])  # read while this one is written
                    rows = execute_partition(part.pk, follow=side is None, prepared=prepared)
                    _committed()
                    if side is not None:
                        side.follow(part)
                    CobRun.objects.filter(pk=cob_run.pk).update(heartbeat=timezone.now())
                    if bar is not None:
                        bar.update(rows)
                    _crash_hook(reg.name, part.number)
                if side is not None:
                    side.collect()
            finally:
                if side is not None:
                    side.close()
    finally:
        if bar is not None:
            bar.close()
    agg_rows, agg_totals = 0, {}
    for part in step.partitions.all():
        agg_rows += part.rows
        for key, value in (part.totals or {}).items():
            agg_totals[key] = agg_totals.get(key, 0) + value
    CobStep.objects.filter(pk=step.pk).update(rows=agg_rows, totals=agg_totals)


def _threads() -> int:
    """Partitions run at once in this process without a broker: on PostgreSQL, ``POSTLOAN_COB_THREADS`` or
    one per CPU (the database does the work, each thread on its own connection); on SQLite one (one writer),
    and one when called inside a transaction."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1  # inside a transaction other connections would not see its work
    return _env_count("POSTLOAN_COB_THREADS", None) or os.cpu_count() or 1


def _run_in_threads(cob_run: CobRun, reg, pending: list[CobPartition], bar) -> None:
    """``execute_partition`` on several threads, each with its own database connection; the first failure
    stops the others after their current partition and is raised here."""
    import queue
    import threading

    from django.db import connections

    todo: queue.SimpleQueue = queue.SimpleQueue()
    for part in pending:
        todo.put(part)
    done: queue.SimpleQueue = queue.SimpleQueue()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            while not failures:
                try:
                    part = todo.get_nowait()
                except queue.Empty:
                    return
                done.put((part, execute_partition(part.pk)))
        except BaseException as exc:  # noqa: BLE001 — handed to the runner's thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"cob-{n}", daemon=True)
               for n in range(min(_threads(), len(pending)))]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < len(pending) and not failures:
        try:
            part, rows = done.get(timeout=5)
        except queue.Empty:
            if not any(t.is_alive() for t in threads):
                break
            CobRun.objects.filter(pk=cob_run.pk).update(heartbeat=timezone.now())
            continue
        finished += 1
        CobRun.objects.filter(pk=cob_run.pk).update(heartbeat=timezone.now())
        if bar is not None:
            bar.update(rows)
        _crash_hook(reg.name, part.number)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


class _Side:
    """SQLite: a thread and connection beside the writer for a step's reads — ``prepare`` of the next partition
    while the writer does this one, ``follow`` of each partition once committed, ``collect`` of the follows at
    the end of the step in one transaction. (Read ahead, the pass that finds a range's loans needing attention
    and, followed, the snapshot's grouping were each a tenth to a fifth of a day.)"""

    def __init__(self, reg, day: dt.date) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.reg, self.day = reg, day
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cob-side")
        self.follows: list = []
        self.ahead: dict = {}

    def _loans(self, part: CobPartition) -> registry.LoanRange:
        return registry.LoanRange(self.day, part.first_loan, part.last_loan)

    def prepare(self, part: CobPartition) -> None:
        if self.reg.prepare is not None:
            # the writer's view of the database now: the read is valid while no other connection writes
            self.ahead[part.pk] = (_data_version(), self.pool.submit(self.reg.prepare, self.day, self._loans(part)))

    def prepared(self, part: CobPartition) -> tuple[int, object] | None:
        entry = self.ahead.pop(part.pk, None)
        if entry is None:
            return None
        version, future = entry
        try:
            return version, future.result()
        except DatabaseError:  # the step reads for itself
            return None

    def follow(self, part: CobPartition) -> None:
        if self.reg.follow is not None:
            loans = self._loans(part)
            self.follows.append((loans, self.pool.submit(self.reg.follow, self.day, loans)))

    def collect(self) -> None:
        if self.reg.follow is None:
            return
        found = [(loans, future.result()) for loans, future in self.follows]
        with transaction.atomic():
            self.reg.collect(self.day, found)
        _committed()

    def close(self) -> None:
        from django.db import connections

        self.pool.submit(connections.close_all).result()
        self.pool.shutdown()


def _data_version() -> int:
    """SQLite: a number that changes when another connection commits to the database (not this one's own
    commits, nor checkpoints)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA data_version")
        return cursor.fetchone()[0]


def execute_partition(partition_id: int, worker: str | None = None, *, follow: bool = True,
                      prepared: tuple[int, object] | None = None) -> int:
    """One unit of work, in one transaction with its done-marker. Safe to call twice. ``worker`` names who
    did it (default host:pid; a Celery worker passes its node name). ``follow``: and the step's ``follow``
    and ``collect`` of the partition (else the caller sees to them). ``prepared``: (data version, result) of
    the step's ``prepare`` read ahead (SQLite), used if no other connection has written since."""
    started = time.monotonic()
    with transaction.atomic():
        # of=self: locking the joined step and day rows too would serialize the partitions of a step
        part = CobPartition.objects.select_for_update(of=("self",)).select_related("step__day").get(pk=partition_id)
        if part.status == Status.DONE:
            return part.rows
        day = part.step.day.date
        reg = registry.get(part.step.name)
        loans = registry.LoanRange(day, part.first_loan, part.last_loan)
        extra = {}
        if reg.prepare is not None:
            extra["prepared"] = prepared[1] if prepared is not None and _data_version() == prepared[0] else None
        rows, totals = reg.fn(day, loans, **extra)
        if follow and reg.follow is not None:
            reg.collect(day, [(loans, reg.follow(day, loans))])
        _lose_connection_hook(part.step.name, part.number)
        CobPartition.objects.filter(pk=part.pk).update(
            status=Status.DONE, rows=rows, totals=totals, seconds=time.monotonic() - started,
            worker=(worker or f"{socket.gethostname()}:{os.getpid()}")[:100])
    return rows


def _use_workers() -> bool:
    return bool(settings.CELERY_BROKER_URL) and connection.vendor == "postgresql"


def _crash_hook(step_name: str, number: int) -> None:
    """For the restart tests: ``POSTLOAN_COB_KILL_AFTER=step:partition`` kills this process right after that
    partition committed, as a power cut would. With ``POSTLOAN_COB_KILL_ONCE=<file>`` only the first process
    to get there dies (it creates the file), so a task redelivered after the kill runs to the end."""
    spec = os.environ.get("POSTLOAN_COB_KILL_AFTER")
    if spec and spec == f"{step_name}:{number}":
        import signal

        once = os.environ.get("POSTLOAN_COB_KILL_ONCE")
        if once:
            try:
                os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)


def _lose_connection_hook(step_name: str, number: int) -> None:
    """For the tests: ``POSTLOAN_COB_LOSE_CONNECTION=step:partition`` has PostgreSQL end this process's
    connection in the middle of that partition (its work done, not committed), as a database that goes away
    would."""
    spec = os.environ.get("POSTLOAN_COB_LOSE_CONNECTION")
    if spec and spec == f"{step_name}:{number}" and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def crash_hook_after(partition_id: int) -> None:
    """``_crash_hook`` for a partition a worker has just committed (only queries when the hook is set)."""
    if os.environ.get("POSTLOAN_COB_KILL_AFTER"):
        name, number = CobPartition.objects.filter(pk=partition_id).values_list("step__name", "number").get()
        _crash_hook(name, number)
