"""Borrowers: corporate and individual customers, their groups, related parties and contacts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Industry(models.Model):
    """A section (门类, one letter) or division (大类, two digits) of GB/T 4754-2017."""

    code = models.CharField(_("code"), max_length=4, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150)
    section = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="divisions",
                                verbose_name=_("section"))

    class Meta:
        verbose_name = _("industry")
        verbose_name_plural = _("industries")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CustomerGroup(models.Model):
    """A group of related enterprises (集团客户)."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("customer group")
        verbose_name_plural = _("customer groups")

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    class Kind(models.TextChoices):
        CORPORATE = "corporate", _("Corporate")
        INDIVIDUAL = "individual", _("Individual")

    class IdType(models.TextChoices):
        USCC = "uscc", _("Unified social credit code")
        RESIDENT_ID = "resident_id", _("Resident identity card")

    class Size(models.TextChoices):
        LARGE = "large", _("Large")
        MEDIUM = "medium", _("Medium")
        SMALL = "small", _("Small")
        MICRO = "micro", _("Micro")

    customer_no = models.CharField(_("customer number"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    id_type = models.CharField(_("identifier type"), max_length=20, choices=IdType.choices)
    id_number = models.CharField(_("identifier"), max_length=18)
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="customers")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("credit officer"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="customers")
    industry = models.ForeignKey(Industry, verbose_name=_("industry"), null=True, blank=True,
                                 on_delete=models.PROTECT)
    size = models.CharField(_("enterprise size"), max_length=10, choices=Size.choices, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    group = models.ForeignKey(CustomerGroup, verbose_name=_("group"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="members")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["customer_no"]
        constraints = [
            models.UniqueConstraint(fields=["id_type", "id_number"], name="customer_identifier_unique"),
            models.CheckConstraint(
                condition=(models.Q(kind="corporate", id_type="uscc")
                           | models.Q(kind="individual", id_type="resident_id")),
                name="customer_identifier_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_no})"


class Contact(models.Model):
    """A person the bank may contact about the customer's loans (for notices and collection)."""

    class Role(models.TextChoices):
        BORROWER = "borrower", _("Borrower")
        LEGAL_REPRESENTATIVE = "legal_rep", _("Legal representative")
        FINANCE = "finance", _("Finance contact")
        GUARANTOR = "guarantor", _("Guarantor")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts",
                                 verbose_name=_("customer"))
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    may_contact = models.BooleanField(_("may be contacted"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class RelatedParty(models.Model):
    """Shareholders, subsidiaries, guarantors, key persons: parties related to the customer."""

    class Relation(models.TextChoices):
        SHAREHOLDER = "shareholder", _("Shareholder")
        SUBSIDIARY = "subsidiary", _("Subsidiary")
        PARENT = "parent", _("Parent company")
        CONTROLLER = "controller", _("Actual controller")
        SPOUSE = "spouse", _("Spouse")
        GUARANTOR = "guarantor", _("Guarantor")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="related_parties",
                                 verbose_name=_("customer"))
    relation = models.CharField(_("relation"), max_length=20, choices=Relation.choices)
    related_customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+", verbose_name=_("related customer"))
    name = models.CharField(_("name"), max_length=200)
    id_number = models.CharField(_("identifier"), max_length=18, blank=True)
    share_pct = models.DecimalField(_("share %"), max_digits=6, decimal_places=2, null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("related party")
        verbose_name_plural = _("related parties")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relation_display()})"
