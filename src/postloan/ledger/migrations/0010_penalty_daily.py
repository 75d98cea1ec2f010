"""Penalty stored as of a day: each loan keeps the day it stored its installments' penalty through
(penalty_as_of) and the penalty and compound interest it bears a day (penalty_daily_fen, compound_daily_fen);
the close of business adds those to the loan's dues instead of rewriting every overdue installment.

Existing loans have their installments' penalty stored through state_as_of; their daily amounts are computed
here by the engine's rule (``ledger.accrual``): per overdue installment whose penalty has started (due date + 1
+ grace days <= state_as_of), round_half_up(unpaid principal x daily penalty rate), and the same for compound
interest on unpaid interest, summed per loan. Self-contained: it must give what the engine would at this
revision."""

from decimal import Decimal
from fractions import Fraction

from django.db import migrations, models

DAY_BASIS = {"ACT/360": 360, "30/360": 360, "30E/360": 360, "ACT/365F": 365, "ACT/ACT": 365}
CHUNK = 2000


def _per_day(base: int, rate: Fraction) -> int:
    return (2 * base * rate.numerator + rate.denominator) // (2 * rate.denominator)


def backfill(apps, schema_editor):
    import datetime as dt

    Loan = apps.get_model("ledger", "Loan")
    Installment = apps.get_model("ledger", "Installment")
    Product = apps.get_model("ledger", "Product")
    alias = schema_editor.connection.alias
    Loan.objects.using(alias).update(penalty_as_of=models.F("state_as_of"))
    products = {pk: (Decimal(pen), Decimal(comp), grace) for pk, pen, comp, grace in Product.objects.using(
        alias).values_list("id", "penalty_markup", "compound_markup", "grace_days")}
    loan_ids = list(Installment.objects.using(alias).filter(status="overdue", loan__state_as_of__isnull=False)
                    .values_list("loan_id", flat=True).distinct().order_by("loan_id"))
    for i in range(0, len(loan_ids), CHUNK):
        chunk = loan_ids[i:i + CHUNK]
        loans = {pk: (Decimal(str(rate)), day_count, product_id, as_of) for pk, rate, day_count, product_id, as_of
                 in Loan.objects.using(alias).filter(id__in=chunk).values_list(
                     "id", "annual_rate", "day_count", "product_id", "state_as_of")}
        sums = {}
        for loan_id, due, principal, paid_principal, interest, paid_interest in Installment.objects.using(
                alias).filter(loan_id__in=chunk, status="overdue").values_list(
                "loan_id", "due_date", "principal_fen", "paid_principal_fen", "interest_fen", "paid_interest_fen"):
            rate, day_count, product_id, as_of = loans[loan_id]
            pen_markup, comp_markup, grace = products[product_id]
            if due + dt.timedelta(days=1 + grace) > as_of:
                continue
            basis = DAY_BASIS.get(day_count, 360)
            p = _per_day(principal - paid_principal, Fraction(rate) * (1 + Fraction(pen_markup)) / basis)
            c = _per_day(interest - paid_interest, Fraction(rate) * (1 + Fraction(comp_markup)) / basis)
            total = sums.setdefault(loan_id, [0, 0])
            total[0] += p
            total[1] += c
        objs = [Loan(id=pk, penalty_daily_fen=p, compound_daily_fen=c) for pk, (p, c) in sums.items()]
        Loan.objects.using(alias).bulk_update(objs, ["penalty_daily_fen", "compound_daily_fen"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0009_loan_fewer_indexes_more_room'),
    ]

    operations = [
        migrations.AddField(
            model_name='loan',
            name='compound_daily_fen',
            field=models.BigIntegerField(default=0, verbose_name='compound interest a day'),
        ),
        migrations.AddField(
            model_name='loan',
            name='penalty_as_of',
            field=models.DateField(blank=True, null=True, verbose_name="installments' penalty stored as of"),
        ),
        migrations.AddField(
            model_name='loan',
            name='penalty_daily_fen',
            field=models.BigIntegerField(default=0, verbose_name='penalty interest a day'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
