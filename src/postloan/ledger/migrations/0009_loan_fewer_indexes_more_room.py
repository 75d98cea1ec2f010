"""PostgreSQL: the close of business rewrites every open loan's row each day. Measured at fillfactor 80, two
thirds of those updates were not HOT (a page of ~18 loans has no room for a day's new versions), and each wrote
an entry in every one of the table's eleven indexes. Now half of each loan page is left free (a day's new
versions fit beside the old, which the next day prunes), and the indexes that duplicate others are gone:
branch and officer (covered by (branch, status) and (officer, status)), and the LIKE index of status.
Existing pages get the room when the table is rewritten (``VACUUM FULL ledger_loan``, docs/operations.md)."""

import django.db.models.deletion
from django.conf import settings

from django.db import migrations, models


def fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE ledger_loan SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_seed_industries'),
        ('ledger', '0008_dues_by_day_and_loan'),
        ('org', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(fillfactor(50), fillfactor(80)),
        migrations.AlterField(
            model_name='historicalloan',
            name='status',
            field=models.CharField(choices=[('pending', 'Awaiting disbursement'), ('active', 'Performing'), ('overdue', 'Overdue'), ('settled', 'Settled'), ('written_off', 'Written off')], default='pending', max_length=20, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='loan',
            name='branch',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='loans', to='org.branch', verbose_name='branch'),
        ),
        migrations.AlterField(
            model_name='loan',
            name='officer',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='loans', to=settings.AUTH_USER_MODEL, verbose_name='credit officer'),
        ),
        migrations.AlterField(
            model_name='loan',
            name='status',
            field=models.CharField(choices=[('pending', 'Awaiting disbursement'), ('active', 'Performing'), ('overdue', 'Overdue'), ('settled', 'Settled'), ('written_off', 'Written off')], default='pending', max_length=20, verbose_name='status'),
        ),
        migrations.AddIndex(
            model_name='loan',
            index=models.Index(fields=['status'], name='loan_status'),
        ),
    ]
