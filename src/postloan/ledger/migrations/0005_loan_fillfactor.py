"""PostgreSQL: leave a fifth of each loan page free, so the close of business's daily update of every open loan
(accrued interest, as-of date: no indexed column) is a HOT update that writes no index entry. Existing pages
get the free space when the table is rewritten (``VACUUM FULL ledger_loan``, see docs/operations.md)."""

from django.db import migrations


def fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE ledger_loan SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0004_close_of_business_indexes"),
    ]

    operations = [migrations.RunPython(fillfactor(80), fillfactor(100))]
