"""The bank's business date and the append-only audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BusinessDate(models.Model):
    """The single row holding the bank's current business date.

    It moves only when the close of business completes, or when an
    administrator sets it with a reason (both go through ``kernel.businessdate``).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    date = models.DateField(_("business date"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("business date")
        verbose_name_plural = _("business date")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="business_date_single_row")]

    def __str__(self) -> str:
        return self.date.isoformat()


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("audit events are append-only")

    def delete(self):
        raise TypeError("audit events are append-only")


class AuditEvent(models.Model):
    """Who did what, when, to which object, with the state before and after, and why."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    business_date = models.DateField(_("business date"), null=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT
    )
    actor_name = models.CharField(_("actor"), max_length=150)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200)
    branch = models.ForeignKey(
        "org.Branch", verbose_name=_("branch"), null=True, blank=True, on_delete=models.PROTECT
    )
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("audit events are append-only")


class CalendarCoverage(models.Model):
    """The range of dates for which a business calendar's holidays are loaded.

    The close of business refuses to run past ``last``: the calendar must be
    extended first (new State Council notice → ``postloan calendar seed`` or the admin).
    """

    code = models.CharField(_("calendar"), max_length=10, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    first = models.DateField(_("first date"))
    last = models.DateField(_("last date"))

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return f"{self.name} {self.first}–{self.last}"


class CalendarDay(models.Model):
    """An exception to the weekend rule: a weekday holiday, or a weekend working day (调休)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKDAY = "workday", _("Make-up working day")

    calendar = models.ForeignKey(CalendarCoverage, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="calendar_day_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"
