"""Changes to customers: each one transaction, permission-checked, validated and audited."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from postloan.kernel import audit
from postloan.kernel.errors import ValidationError, field_error
from postloan.org.permissions import require

from . import identifiers
from .models import Contact, Customer, Industry

CUSTOMER_FIELDS = ["customer_no", "kind", "name", "id_type", "id_number", "branch", "officer", "industry", "size",
                   "region", "address", "phone", "email", "group"]


def normalise_identifier(kind: str, id_number: str) -> tuple[str, str]:
    """(id_type, normalised id_number) for the customer's kind, or a ValidationError naming ``id_number``."""
    try:
        if kind == Customer.Kind.CORPORATE:
            return Customer.IdType.USCC, identifiers.validate_uscc(id_number or "")
        if kind == Customer.Kind.INDIVIDUAL:
            return Customer.IdType.RESIDENT_ID, identifiers.validate_resident_id(id_number or "")
    except ValueError as exc:
        raise field_error("id_number", str(exc))
    raise field_error("kind", _("Choose corporate or individual."))


@transaction.atomic
def create_customer(*, actor, customer_no: str, kind: str, name: str, id_number: str, branch, officer=None,
                    industry: Industry | None = None, contacts: list[dict] | None = None, **extra) -> Customer:
    if actor is not None:
        require(actor, "customers.manage_customer", branch)
    errors: dict[str, list] = {}
    id_type = None
    try:
        id_type, id_number = normalise_identifier(kind, id_number)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not (name or "").strip():
        errors.setdefault("name", []).append(_("Give the customer's name."))
    if not (customer_no or "").strip():
        errors.setdefault("customer_no", []).append(_("Give the customer number."))
    elif Customer.objects.filter(customer_no=customer_no).exists():
        errors.setdefault("customer_no", []).append(_("A customer with this number exists already."))
    if id_type and Customer.objects.filter(id_type=id_type, id_number=id_number).exists():
        errors.setdefault("id_number", []).append(_("Another customer has this identifier."))
    if kind == Customer.Kind.CORPORATE and industry is None:
        errors.setdefault("industry", []).append(_("A corporate customer needs an industry (GB/T 4754)."))
    if industry is not None and industry.section_id is None:
        errors.setdefault("industry", []).append(_("Choose an industry division (two digits), not a section."))
    if errors:
        raise ValidationError(errors)
    customer = Customer(customer_no=customer_no.strip(), kind=kind, name=name.strip(), id_type=id_type,
                        id_number=id_number, branch=branch, officer=officer, industry=industry, **extra)
    customer.full_clean()
    customer.save()
    for contact in contacts or []:
        Contact.objects.create(customer=customer, **contact)
    audit.record(actor=actor, action="customers.create_customer", obj=customer,
                 after=audit.snapshot(customer, CUSTOMER_FIELDS))
    return customer


@transaction.atomic
def update_customer(*, actor, customer: Customer, reason: str = "", **changes) -> Customer:
    require(actor, "customers.manage_customer", customer.branch)
    allowed = {"name", "officer", "industry", "size", "region", "address", "phone", "email", "group"}
    unknown = set(changes) - allowed
    if unknown:
        raise field_error(sorted(unknown)[0], _("This field cannot be changed here."))
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = audit.snapshot(customer, sorted(changes))
    for field, value in changes.items():
        setattr(customer, field, value)
    customer.full_clean()
    customer._change_reason = reason
    customer.save()
    audit.record(actor=actor, action="customers.update_customer", obj=customer, before=before,
                 after=audit.snapshot(customer, sorted(changes)), reason=reason)
    return customer
