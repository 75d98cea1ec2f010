"""Forms of the loan ledger's UI: they parse what the user typed into the keyword arguments of one
service; every business rule (amount within what is owed, value date, limits) stays in the service.

Each form knows ``service_kwargs()`` (its cleaned data as the service takes it), ``summary()`` (what was
entered, for the preview page) and ``service_fields`` (a service's field name -> the form field that shows
its error).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Method

HUNDRED = Decimal(100)


class DateInput(forms.DateInput):
    """A browser date picker: always ISO ``YYYY-MM-DD`` whatever the language (the Chinese input format is
    ``YYYY/MM/DD``, which a date input would not show)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class AmountField(forms.DecimalField):
    """An amount in yuan with at most two decimals; accepts thousands separators (``1,234.56``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0.01"))
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace("，", "").replace(" ", "")
        return super().to_python(value)


class RateField(forms.DecimalField):
    """An annual rate in percent (``4.35`` means 4.35%)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 7)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("help_text", _("Percent a year: 4.35 means 4.35%."))
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)


class BootstrapForm(forms.Form):
    """Bootstrap 5 classes on every widget, ``is-invalid`` on fields with errors."""

    service_fields: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        self._mark_invalid()

    def add_error(self, field, error):
        super().add_error(field, error)
        self._mark_invalid()

    def _mark_invalid(self):
        for name in getattr(self, "_errors", None) or {}:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)

    def summary(self) -> list[tuple[object, object]]:
        """(label, value as shown) for each field entered, for the preview page."""
        rows = []
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            if isinstance(field, forms.ChoiceField):
                value = dict(field.choices).get(value, value)
            elif isinstance(field, forms.BooleanField):
                value = _("Yes") if value else _("No")
            elif isinstance(field, AmountField):
                value = f"{value:,.2f}"
            elif isinstance(field, RateField):
                value = f"{value}%"
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            rows.append((field.label, value))
        return rows


def value_date_field():
    return forms.DateField(label=_("Value date"), widget=DateInput())


def reference_field():
    return forms.CharField(label=_("Reference"), max_length=64,
                           help_text=_("The core banking transaction number; unique on the loan."))


def reason_field(required: bool = True):
    return forms.CharField(label=_("Reason"), max_length=200, required=required,
                           widget=forms.Textarea(attrs={"rows": 2}))


class DisburseForm(BootstrapForm):
    amount = AmountField(label=_("Amount"), required=False,
                         help_text=_("Leave empty to pay out the rest of the contract amount."))
    value_date = value_date_field()
    reference = reference_field()

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("amount") is None:
            data.pop("amount", None)
        return data


class RepaymentForm(BootstrapForm):
    amount = AmountField(label=_("Amount"))
    value_date = value_date_field()
    reference = reference_field()


class PrepaymentForm(BootstrapForm):
    MODES = [
        ("full", _("Full: settle the loan")),
        ("shorten_term", _("Partial, shorter term (same installment)")),
        ("lower_installment", _("Partial, lower installment (same term)")),
    ]
    mode = forms.ChoiceField(label=_("Kind of prepayment"), choices=MODES)
    amount = AmountField(label=_("Amount"), required=False,
                         help_text=_("For a full prepayment leave empty to pay the payoff amount."))
    value_date = value_date_field()
    reference = reference_field()

    def clean(self):
        data = super().clean()
        if data.get("mode") in ("shorten_term", "lower_installment") and data.get("amount") is None \
                and "amount" not in self.errors:
            self.add_error("amount", _("Give the amount of a partial prepayment."))
        return data

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("amount") is None:
            data.pop("amount", None)
        return data


class ChargeFeeForm(BootstrapForm):
    amount = AmountField(label=_("Amount"))
    value_date = value_date_field()
    reference = reference_field()
    reason = forms.CharField(label=_("What the fee is for"), max_length=200)


class WaiveForm(BootstrapForm):
    component = forms.ChoiceField(label=_("Waive"), choices=[("penalty", _("Penalty interest")),
                                                              ("fee", _("Fees"))])
    amount = AmountField(label=_("Amount"))
    value_date = value_date_field()
    reference = reference_field()
    reason = reason_field()


class ExtendForm(BootstrapForm):
    months = forms.IntegerField(label=_("Extend by (months)"), min_value=1, max_value=600)
    value_date = forms.DateField(label=_("Effective from"), widget=DateInput())
    guarantor_consent = forms.BooleanField(label=_("The guarantor has consented in writing"), required=False)
    reason = reason_field()


class RestructureForm(BootstrapForm):
    METHODS = [("", _("Keep the loan's method"))] + [
        (m.value, m.label) for m in Method if m.value in ("equal_installment", "equal_principal", "interest_only")]
    term_months = forms.IntegerField(label=_("New remaining term (months)"), min_value=1, max_value=600)
    value_date = forms.DateField(label=_("Effective from"), widget=DateInput())
    annual_rate_pct = RateField(label=_("New annual rate (%)"), required=False,
                                help_text=_("Leave empty to keep the current rate."))
    method = forms.ChoiceField(label=_("Repayment method"), choices=METHODS, required=False)
    reason = reason_field()
    service_fields = {"annual_rate": "annual_rate_pct"}

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        rate = data.pop("annual_rate_pct", None)
        data["annual_rate"] = None if rate is None else rate / HUNDRED
        data["method"] = data.get("method") or None
        return data


class RepriceForm(BootstrapForm):
    annual_rate_pct = RateField(label=_("New annual rate (%)"))
    value_date = forms.DateField(label=_("Effective from"), widget=DateInput())
    reason = reason_field()
    service_fields = {"annual_rate": "annual_rate_pct"}

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["annual_rate"] = data.pop("annual_rate_pct") / HUNDRED
        return data


class ReversalRequestForm(BootstrapForm):
    reason = forms.CharField(label=_("Why is the posting wrong?"), max_length=200,
                             widget=forms.Textarea(attrs={"rows": 2}))


class RejectReversalForm(BootstrapForm):
    reason = reason_field(required=False)


class PayoffForm(forms.Form):
    date = forms.DateField(label=_("Payoff date"), widget=DateInput(attrs={"class": "form-control"}))


class StatementForm(forms.Form):
    """The period of a statement (query parameters ``from`` and ``to``)."""

    start = forms.DateField(label=_("From"))
    end = forms.DateField(label=_("To"))

    def __init__(self, data=None, **kwargs):
        if data is not None:
            data = {"start": data.get("from", ""), "end": data.get("to", "")}
        super().__init__(data, **kwargs)
        for field in self.fields.values():
            field.input_formats = ["%Y-%m-%d"]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The period must start on or before its end."))
        return data
