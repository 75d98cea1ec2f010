"""The loan ledger: products, loans, schedules (versioned) and postings.

Money is stored as integer fen (``*_fen`` columns) and computed with
``Decimal``. Postings are never edited or deleted: a wrong posting is undone by
a reversal posting. A loan's balances and its installments' paid amounts are
derived: ``ledger.state.refresh`` replays the schedule and the postings that
stand through the pure engine (``ledger.engine``) and stores the result, and
``postloan ledger check`` proves stored == replayed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Method(models.TextChoices):
    EQUAL_INSTALLMENT = "equal_installment", _("Equal installment (等额本息)")
    EQUAL_PRINCIPAL = "equal_principal", _("Equal principal (等额本金)")
    INTEREST_ONLY = "interest_only", _("Interest only, principal at maturity")
    BULLET = "bullet", _("Bullet (principal and interest at maturity)")
    MANUAL = "manual", _("Schedule entered by hand")


class Frequency(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    SEMIANNUAL = "semiannual", _("Semi-annual")
    ANNUAL = "annual", _("Annual")


class DayCount(models.TextChoices):
    ACT_360 = "ACT/360", "ACT/360"
    ACT_365F = "ACT/365F", "ACT/365F"
    THIRTY_360 = "30/360", "30/360"
    THIRTY_E_360 = "30E/360", "30E/360"
    ACT_ACT = "ACT/ACT", "ACT/ACT ISDA"


class InterestBasis(models.TextChoices):
    PERIOD = "period", _("Per period (rate ÷ periods a year)")
    DAILY = "daily", _("Daily (by the day count)")


class HolidayRule(models.TextChoices):
    NONE = "none", _("No adjustment")
    FOLLOWING = "following", _("Next business day")
    MODIFIED_FOLLOWING = "modified_following", _("Modified following")
    PRECEDING = "preceding", _("Previous business day")


class Product(models.Model):
    class Segment(models.TextChoices):
        CORPORATE = "corporate", _("Corporate")
        RETAIL = "retail", _("Retail")

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    segment = models.CharField(_("segment"), max_length=20, choices=Segment.choices)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    method = models.CharField(_("repayment method"), max_length=20, choices=Method.choices)
    frequency = models.CharField(_("frequency"), max_length=20, choices=Frequency.choices, default="monthly")
    day_count = models.CharField(_("day count"), max_length=10, choices=DayCount.choices, default="ACT/360")
    interest_basis = models.CharField(_("interest basis"), max_length=10, choices=InterestBasis.choices,
                                      default="period")
    holiday_rule = models.CharField(_("holiday adjustment"), max_length=20, choices=HolidayRule.choices,
                                    default="following")
    penalty_markup = models.DecimalField(_("penalty interest markup"), max_digits=6, decimal_places=4,
                                         default=Decimal("0.5"), help_text=_("0.5 = contract rate × 150% (PBOC: 30%–50%)"))
    compound_markup = models.DecimalField(_("compound interest markup"), max_digits=6, decimal_places=4,
                                          default=Decimal("0.5"))
    misuse_markup = models.DecimalField(_("misused-funds markup"), max_digits=6, decimal_places=4, default=Decimal("1.0"))
    allocation_order = models.CharField(_("repayment allocation order"), max_length=80,
                                        default="fee,penalty,compound,interest,principal")
    allocation_mode = models.CharField(_("allocation mode"), max_length=20, default="installment_first",
                                       choices=[("installment_first", _("Oldest installment first")),
                                                ("component_first", _("Component across installments first"))])
    grace_days = models.PositiveSmallIntegerField(_("grace days"), default=0)
    upfront_fee_rate = models.DecimalField(_("upfront fee rate"), max_digits=7, decimal_places=6, default=Decimal("0"))
    min_rate = models.DecimalField(_("minimum annual rate"), max_digits=8, decimal_places=6, default=Decimal("0"))
    max_rate = models.DecimalField(_("maximum annual rate"), max_digits=8, decimal_places=6, default=Decimal("0.24"))
    min_term_months = models.PositiveSmallIntegerField(_("minimum term (months)"), default=1)
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"), default=360)
    classification_rules = models.CharField(_("classification rule set"), max_length=20, default="standard",
                                            choices=[("standard", _("Standard (2023 measures)")),
                                                     ("credit_card", _("Credit card"))])
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(min_rate__lte=models.F("max_rate")),
                                   name="product_rate_range"),
            models.CheckConstraint(condition=models.Q(penalty_markup__gte=0) & models.Q(compound_markup__gte=0),
                                   name="product_markups_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Loan(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting disbursement")
        ACTIVE = "active", _("Performing")
        OVERDUE = "overdue", _("Overdue")
        SETTLED = "settled", _("Settled")
        WRITTEN_OFF = "written_off", _("Written off")

    class Guarantee(models.TextChoices):
        CREDIT = "credit", _("Unsecured (credit)")
        GUARANTEE = "guarantee", _("Guaranteed")
        MORTGAGE = "mortgage", _("Mortgage")
        PLEDGE = "pledge", _("Pledge")

    loan_no = models.CharField(_("loan number"), max_length=32, unique=True)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="loans")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="loans")
    # branch and officer: no index of their own, (branch, status) and (officer, status) lead with them (every
    # index is written again when the close of business's daily update of a loan cannot be HOT)
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="loans",
                               db_index=False)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("credit officer"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="loans", db_index=False)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    principal_fen = models.BigIntegerField(_("contract amount"))
    annual_rate = models.DecimalField(_("annual rate"), max_digits=8, decimal_places=6)
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    method = models.CharField(_("repayment method"), max_length=20, choices=Method.choices)
    frequency = models.CharField(_("frequency"), max_length=20, choices=Frequency.choices)
    day_count = models.CharField(_("day count"), max_length=10, choices=DayCount.choices)
    interest_basis = models.CharField(_("interest basis"), max_length=10, choices=InterestBasis.choices)
    holiday_rule = models.CharField(_("holiday adjustment"), max_length=20, choices=HolidayRule.choices)
    start_date = models.DateField(_("start date"))
    first_due_date = models.DateField(_("first due date"), null=True, blank=True)
    maturity_date = models.DateField(_("maturity date"))
    original_maturity_date = models.DateField(_("original maturity date"))
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)
    guarantee_type = models.CharField(_("guarantee"), max_length=20, choices=Guarantee.choices, default="credit")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default="pending")
    restructured = models.BooleanField(_("restructured"), default=False)
    restructured_on = models.DateField(_("restructured on"), null=True, blank=True)
    extension_months = models.PositiveSmallIntegerField(_("months extended"), default=0)
    source = models.CharField(_("source"), max_length=20, default="manual")
    manual_schedule = models.JSONField(_("schedule entered by hand"), null=True, blank=True,
                                       help_text=_("rows of due_date, principal, interest; for method manual"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Derived state: written only by ledger.state.refresh (replay of schedule and postings).
    state_as_of = models.DateField(_("state as of"), null=True, blank=True)
    disbursed_fen = models.BigIntegerField(_("disbursed"), default=0)
    principal_outstanding_fen = models.BigIntegerField(_("principal outstanding"), default=0)
    principal_due_fen = models.BigIntegerField(_("principal due"), default=0)
    interest_due_fen = models.BigIntegerField(_("interest due"), default=0)
    penalty_due_fen = models.BigIntegerField(_("penalty interest due"), default=0)
    compound_due_fen = models.BigIntegerField(_("compound interest due"), default=0)
    fee_due_fen = models.BigIntegerField(_("fees due"), default=0)
    overdue_principal_fen = models.BigIntegerField(_("overdue principal"), default=0)
    overdue_interest_fen = models.BigIntegerField(_("overdue interest"), default=0)
    interest_accrued_fen = models.BigIntegerField(_("interest accrued, not yet due"), default=0)
    credit_fen = models.BigIntegerField(_("credit (overpayment)"), default=0)
    # not indexed: it changes every day for every loan in arrears (an index would make those updates rewrite all
    # the loan's index entries); "in arrears" is status = overdue, which is indexed
    days_past_due = models.IntegerField(_("days past due"), default=0)
    bucket = models.CharField(_("bucket"), max_length=4, default="M0")
    next_due_date = models.DateField(_("next due date"), null=True, blank=True)
    settled_on = models.DateField(_("settled on"), null=True, blank=True)
    # The accrual window (ledger.accrual.window): the interest accrued on the days after state_as_of, through
    # accrual_until, follows from these alone, so the close of business accrues from the loan row. Null until:
    # not computed yet (the next close computes it).
    accrual_until = models.DateField(_("accrual window ends"), null=True, blank=True)
    accrual_start = models.DateField(_("start of the accruing period"), null=True, blank=True)
    accrual_days = models.IntegerField(_("days in the accruing period"), default=0)
    accrual_interest_fen = models.BigIntegerField(_("interest of the accruing period"), default=0)
    accrual_paid_fen = models.BigIntegerField(_("interest of the accruing period paid ahead"), default=0)
    accrual_fixed_fen = models.BigIntegerField(_("interest accrued in full on other periods"), default=0)
    # Penalty and compound interest: the installments' amounts are stored as of penalty_as_of (the day of the
    # last replay or repayment); each close of business adds the loan's daily amounts below to its dues
    # instead of rewriting every overdue installment, and readers bring installments to date
    # (ledger.state.penalty_to_date). The daily amounts are those of the installments whose penalty has
    # started; the close adds those starting on its day.
    penalty_as_of = models.DateField(_("installments' penalty stored as of"), null=True, blank=True)
    penalty_daily_fen = models.BigIntegerField(_("penalty interest a day"), default=0)
    compound_daily_fen = models.BigIntegerField(_("compound interest a day"), default=0)

    history = HistoricalRecords(excluded_fields=[
        "state_as_of", "principal_due_fen", "interest_due_fen", "penalty_due_fen", "compound_due_fen",
        "fee_due_fen", "overdue_principal_fen", "overdue_interest_fen", "interest_accrued_fen", "days_past_due",
        "bucket", "next_due_date", "credit_fen", "principal_outstanding_fen", "disbursed_fen", "accrual_until",
        "accrual_start", "accrual_days", "accrual_interest_fen", "accrual_paid_fen", "accrual_fixed_fen",
        "penalty_as_of", "penalty_daily_fen", "compound_daily_fen"])

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["loan_no"]
        constraints = [
            models.CheckConstraint(condition=models.Q(principal_fen__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(condition=models.Q(annual_rate__gte=0) & models.Q(annual_rate__lte=1),
                                   name="loan_rate_range"),
            models.CheckConstraint(condition=models.Q(term_months__gt=0), name="loan_term_positive"),
            models.CheckConstraint(
                condition=models.Q(principal_outstanding_fen__gte=0) & models.Q(interest_due_fen__gte=0)
                & models.Q(penalty_due_fen__gte=0) & models.Q(compound_due_fen__gte=0)
                & models.Q(fee_due_fen__gte=0) & models.Q(credit_fen__gte=0),
                name="loan_balances_not_negative"),
        ]
        # status: a plain index (db_index on a CharField adds a LIKE index on PostgreSQL, of no use here)
        indexes = [models.Index(fields=["branch", "status"]), models.Index(fields=["officer", "status"]),
                   models.Index(fields=["status"], name="loan_status")]

    def __str__(self) -> str:
        return self.loan_no

    @property
    def total_due_fen(self) -> int:
        return (self.principal_due_fen + self.interest_due_fen + self.penalty_due_fen + self.compound_due_fen
                + self.fee_due_fen)

    @property
    def is_open(self) -> bool:
        return self.status in {self.Status.ACTIVE, self.Status.OVERDUE}


class ScheduleVersion(models.Model):
    """One version of a loan's schedule. Version 1 is the contract's; later ones
    replace the installments not yet due from ``value_date`` (prepayment,
    extension, restructuring, repricing). Old versions are kept."""

    class Reason(models.TextChoices):
        INITIAL = "initial", _("Contract schedule")
        PREPAYMENT = "prepayment", _("Prepayment")
        EXTENSION = "extension", _("Extension")
        RESTRUCTURE = "restructure", _("Restructuring")
        REPRICE = "reprice", _("Rate change")
        DISBURSEMENT = "disbursement", _("Further disbursement")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="schedule_versions")
    number = models.PositiveIntegerField(_("version"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    value_date = models.DateField(_("effective from"))
    posting = models.OneToOneField("Posting", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="schedule_version")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("schedule version")
        verbose_name_plural = _("schedule versions")
        ordering = ["loan", "number"]
        constraints = [models.UniqueConstraint(fields=["loan", "number"], name="schedule_version_unique")]

    def __str__(self) -> str:
        return f"{self.loan_id} v{self.number}"


class Installment(models.Model):
    """A schedule line. Amounts due are fixed when the version is made; the paid
    amounts, penalty, compound and status are derived by replay."""

    class Status(models.TextChoices):
        FUTURE = "future", _("Not yet due")
        DUE = "due", _("Due")
        PARTLY_PAID = "partly_paid", _("Partly paid")
        OVERDUE = "overdue", _("Overdue")
        PAID = "paid", _("Paid")
        SUPERSEDED = "superseded", _("Replaced by a later schedule")

    # no index of its own: (loan, seq), (loan, due_date) and the partial indexes below all start with the loan, and
    # a plain loan index misleads PostgreSQL's planner into scanning every installment of a loan at close of business
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="installments", db_index=False)
    version = models.ForeignKey(ScheduleVersion, on_delete=models.PROTECT, related_name="installments")
    seq = models.PositiveIntegerField(_("sequence"), help_text=_("unique within the loan across versions"))
    number = models.PositiveIntegerField(_("number"))
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    due_date = models.DateField(_("due date"))
    principal_fen = models.BigIntegerField(_("principal"))
    interest_fen = models.BigIntegerField(_("interest"))
    # derived by replay
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default="future")
    penalty_fen = models.BigIntegerField(_("penalty interest"), default=0)
    compound_fen = models.BigIntegerField(_("compound interest"), default=0)
    fee_fen = models.BigIntegerField(_("fees"), default=0)
    paid_principal_fen = models.BigIntegerField(_("principal paid"), default=0)
    paid_interest_fen = models.BigIntegerField(_("interest paid"), default=0)
    paid_penalty_fen = models.BigIntegerField(_("penalty paid"), default=0)
    paid_compound_fen = models.BigIntegerField(_("compound paid"), default=0)
    paid_fee_fen = models.BigIntegerField(_("fees paid"), default=0)

    class Meta:
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        ordering = ["loan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "seq"], name="installment_seq_unique"),
            models.CheckConstraint(condition=models.Q(principal_fen__gte=0) & models.Q(interest_fen__gte=0),
                                   name="installment_amounts_not_negative"),
        ]
        indexes = [
            models.Index(fields=["loan", "due_date"]),
            # with the loan last: the close of business asks for a day's dues in a range of loans
            models.Index(fields=["due_date", "status", "loan"]),
            # the close of business: the installments accruing interest, and the overdue ones, of a range of loans
            models.Index(fields=["loan", "period_start"], name="installment_open_period",
                         condition=models.Q(status__in=["future", "partly_paid"])),
            models.Index(fields=["loan"], name="installment_overdue", condition=models.Q(status="overdue")),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} #{self.number} {self.due_date}"

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.interest_fen

    @property
    def outstanding_fen(self) -> int:
        return (self.principal_fen + self.interest_fen + self.penalty_fen + self.compound_fen + self.fee_fen
                - self.paid_principal_fen - self.paid_interest_fen - self.paid_penalty_fen
                - self.paid_compound_fen - self.paid_fee_fen)


class Posting(models.Model):
    """A money event on a loan, with its value date. Never edited: reversed."""

    class Kind(models.TextChoices):
        DISBURSEMENT = "disbursement", _("Disbursement")
        REPAYMENT = "repayment", _("Repayment")
        PREPAYMENT = "prepayment", _("Prepayment")
        FEE_CHARGE = "fee_charge", _("Fee charged")
        FEE_WAIVER = "fee_waiver", _("Fee waived")
        PENALTY_WAIVER = "penalty_waiver", _("Penalty waived")
        SCHEDULE_CHANGE = "schedule_change", _("Schedule change")
        REVERSAL = "reversal", _("Reversal")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="postings")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value_date = models.DateField(_("value date"))
    booking_date = models.DateField(_("booking date"))
    amount_fen = models.BigIntegerField(_("amount"))
    reference = models.CharField(_("reference"), max_length=64)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by", verbose_name=_("reverses"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("entered by"))
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("approved by"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["loan", "value_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "reference"], name="posting_reference_unique"),
            models.CheckConstraint(condition=models.Q(amount_fen__gte=0), name="posting_amount_not_negative"),
            models.CheckConstraint(
                condition=(models.Q(kind="reversal", reverses__isnull=False)
                           | (~models.Q(kind="reversal") & models.Q(reverses__isnull=True))),
                name="posting_reversal_has_target"),
        ]
        indexes = [models.Index(fields=["value_date", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise TypeError("postings are never edited; reverse them")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("postings are never deleted; reverse them")


class Allocation(models.Model):
    """How a repayment was split over installments and components (derived by replay)."""

    posting = models.ForeignKey(Posting, on_delete=models.CASCADE, related_name="allocations")
    installment = models.ForeignKey(Installment, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="allocations")
    component = models.CharField(_("component"), max_length=10)
    amount_fen = models.BigIntegerField(_("amount"))

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")

    def __str__(self) -> str:
        return f"{self.component} {self.amount_fen}"


class ReversalRequest(models.Model):
    """Maker–checker for reversals: one person asks, another approves."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="reversal_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default="pending")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reversal request")
        verbose_name_plural = _("reversal requests")
        constraints = [
            models.UniqueConstraint(fields=["posting"], condition=models.Q(status="pending"),
                                    name="one_pending_reversal_per_posting"),
        ]

    def __str__(self) -> str:
        return f"{self.posting} ({self.get_status_display()})"
