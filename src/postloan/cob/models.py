"""The close of business: its runs, days, steps and partitions (each recorded with
timing, row counts and outcome), the daily loan snapshot and the day's portfolio aggregates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    INTERRUPTED = "interrupted", _("Interrupted")


class CobRun(models.Model):
    """One invocation of ``postloan cob run`` (or the button): closes one or more dates in order."""

    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    from_date = models.DateField(_("from"))
    to_date = models.DateField(_("to"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              verbose_name=_("started by"))
    host = models.CharField(_("host"), max_length=100, blank=True)
    pid = models.IntegerField(_("process"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("close-of-business run")
        verbose_name_plural = _("close-of-business runs")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["status"], condition=models.Q(status="running"),
                                               name="one_running_cob")]

    def __str__(self) -> str:
        return f"COB #{self.pk} {self.from_date}…{self.to_date} {self.status}"


class CobDay(models.Model):
    """A business date being closed. ``done`` only when every step succeeded."""

    date = models.DateField(_("business date"), unique=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    run = models.ForeignKey(CobRun, on_delete=models.PROTECT, related_name="days")
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    seconds = models.FloatField(_("seconds"), default=0)

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date} {self.status}"


class CobStep(models.Model):
    """One step of one day: its outcome, timing, rows touched and totals (the batch's own audit)."""

    day = models.ForeignKey(CobDay, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(_("step"), max_length=50)
    order = models.IntegerField(_("order"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    seconds = models.FloatField(_("seconds"), default=0)
    rows = models.BigIntegerField(_("rows"), default=0)
    totals = models.JSONField(_("totals"), default=dict)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("close-of-business step")
        verbose_name_plural = _("close-of-business steps")
        ordering = ["day", "order"]
        constraints = [models.UniqueConstraint(fields=["day", "name"], name="cob_step_unique")]

    def __str__(self) -> str:
        return f"{self.day.date} {self.name} {self.status}"


class CobPartition(models.Model):
    """A unit of work: one step over one range of loans, committed in one transaction with its marker."""

    step = models.ForeignKey(CobStep, on_delete=models.CASCADE, related_name="partitions")
    number = models.IntegerField(_("partition"))
    first_loan = models.BigIntegerField(_("first loan id"))
    last_loan = models.BigIntegerField(_("last loan id"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    rows = models.BigIntegerField(_("rows"), default=0)
    totals = models.JSONField(_("totals"), default=dict)
    seconds = models.FloatField(_("seconds"), default=0)
    worker = models.CharField(_("worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("partition")
        verbose_name_plural = _("partitions")
        ordering = ["step", "number"]
        constraints = [models.UniqueConstraint(fields=["step", "number"], name="cob_partition_unique")]

    def __str__(self) -> str:
        return f"{self.step} p{self.number}"


class LoanSnapshot(models.Model):
    """Each loan as it stood at the close of a business date: history and statistics read from here.

    Written only by the batch, copied from the loan rows themselves, and never changed: the foreign keys are
    not enforced by the database (a check per row written, a million rows a day, for nothing). Keyed by
    (date, loan) and by nothing else: each day's rows are appended at the key's end, and no second index is
    written (on SQLite the table is ``WITHOUT ROWID``, its rows kept in the key's order — migration cob 0005;
    a later migration that makes Django rebuild this table on SQLite must keep that). A loan's history is read
    by seeking each date (``date IN (…) AND loan_id = …``); a key led by the loan would take each day's
    million rows at a million places, rewriting nearly all its pages every day."""

    pk = models.CompositePrimaryKey("date", "loan")
    date = models.DateField(_("date"))
    loan = models.ForeignKey("ledger.Loan", on_delete=models.DO_NOTHING, related_name="snapshots", db_index=False,
                             db_constraint=False)
    branch = models.ForeignKey("org.Branch", on_delete=models.DO_NOTHING, related_name="+", db_index=False,
                               db_constraint=False)
    product = models.ForeignKey("ledger.Product", on_delete=models.DO_NOTHING, related_name="+", db_index=False,
                                db_constraint=False)
    industry = models.CharField(_("industry"), max_length=4, blank=True)
    officer_id = models.BigIntegerField(_("officer"), null=True)
    status = models.CharField(_("status"), max_length=20)
    principal_outstanding_fen = models.BigIntegerField()
    principal_due_fen = models.BigIntegerField()
    interest_due_fen = models.BigIntegerField()
    penalty_due_fen = models.BigIntegerField()
    compound_due_fen = models.BigIntegerField()
    fee_due_fen = models.BigIntegerField()
    overdue_principal_fen = models.BigIntegerField()
    overdue_interest_fen = models.BigIntegerField()
    interest_accrued_fen = models.BigIntegerField()
    credit_fen = models.BigIntegerField()
    days_past_due = models.IntegerField()
    bucket = models.CharField(max_length=4)
    classification = models.CharField(_("risk category"), max_length=20, blank=True)
    stage = models.PositiveSmallIntegerField(_("IFRS 9 stage"), null=True)

    class Meta:
        verbose_name = _("loan snapshot")
        verbose_name_plural = _("loan snapshots")

    def __str__(self) -> str:
        return f"{self.loan_id}@{self.date}"


class _PortfolioFigures(models.Model):
    """The figures of a slice of the portfolio (one key of one dimension) on a date."""

    date = models.DateField(_("date"))
    dimension = models.CharField(_("dimension"), max_length=20)
    key = models.CharField(_("key"), max_length=40)
    loans = models.IntegerField(_("loans"))
    principal_outstanding_fen = models.BigIntegerField()
    overdue_principal_fen = models.BigIntegerField()
    overdue_interest_fen = models.BigIntegerField()
    penalty_due_fen = models.BigIntegerField()
    interest_accrued_fen = models.BigIntegerField()

    class Meta:
        abstract = True


class PortfolioPart(_PortfolioFigures):
    """One partition's share of the day's portfolio by one dimension, from its snapshot rows (the day's
    ``PortfolioAggregate`` sums these: no sort of a million snapshot rows)."""

    first_loan = models.BigIntegerField(_("first loan id"))

    class Meta:
        verbose_name = _("portfolio part")
        verbose_name_plural = _("portfolio parts")
        indexes = [models.Index(fields=["date", "first_loan"])]

    def __str__(self) -> str:
        return f"{self.date} #{self.first_loan} {self.dimension}={self.key}"


class PortfolioAggregate(_PortfolioFigures):
    """The day's portfolio by one dimension (branch, product, industry, bucket, status)."""

    class Meta:
        verbose_name = _("portfolio aggregate")
        verbose_name_plural = _("portfolio aggregates")
        constraints = [models.UniqueConstraint(fields=["date", "dimension", "key"], name="aggregate_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.dimension}={self.key}"
