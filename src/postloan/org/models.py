"""Branches in a hierarchy, and the bank's users.

A branch's ``path`` is the chain of codes from head office down
(``/HO/BJ/BJ01/``), so "this branch and everything below it" is one
``path__startswith`` filter that any queryset can use.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords


class Branch(models.Model):
    class Level(models.TextChoices):
        HEAD_OFFICE = "head_office", _("Head office")
        BRANCH = "branch", pgettext_lazy("branch level", "Branch")
        SUB_BRANCH = "sub_branch", _("Sub-branch")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("path"), max_length=255, unique=True, editable=False)
    region = models.CharField(_("region"), max_length=100, blank=True)
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(level="head_office") | models.Q(parent__isnull=True),
                name="branch_head_office_has_no_parent",
            ),
            models.CheckConstraint(
                condition=models.Q(level="head_office") | models.Q(parent__isnull=False),
                name="branch_has_parent_unless_head_office",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs) -> None:
        self.path = (self.parent.path if self.parent_id else "/") + f"{self.code}/"
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.level == self.Level.HEAD_OFFICE and self.parent_id:
            raise ValidationError({"parent": _("A head office has no parent.")})
        if self.level != self.Level.HEAD_OFFICE and not self.parent_id:
            raise ValidationError({"parent": _("Every branch below head office needs a parent.")})

    @property
    def is_head_office(self) -> bool:
        return self.level == self.Level.HEAD_OFFICE


class User(AbstractUser):
    """A member of staff. Roles are Django groups (see ``org.roles``)."""

    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username
