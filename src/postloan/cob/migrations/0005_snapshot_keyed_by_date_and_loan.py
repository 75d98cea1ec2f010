"""The snapshot keyed by (date, loan) instead of a surrogate id plus a unique index on (date, loan): one index
fewer to write for each of a million rows a day (PostgreSQL: a second b-tree; SQLite: the table becomes
``WITHOUT ROWID``, its rows stored in the key's order, where each day's rows are appended)."""

from django.db import migrations, models


def rekey(apps, schema_editor):
    model = apps.get_model("cob", "LoanSnapshot")  # as it is after this migration
    connection = schema_editor.connection
    qn = schema_editor.quote_name
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        for name, info in constraints.items():
            if info["primary_key"] or name == "snapshot_unique":
                schema_editor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        schema_editor.execute(f"ALTER TABLE {qn(table)} DROP COLUMN {qn('id')}")
        schema_editor.execute(f"ALTER TABLE {qn(table)} ADD PRIMARY KEY ({qn('date')}, {qn('loan_id')})")
        return
    # SQLite (and any other): a new table, the rows copied in key order, the old one dropped
    columns = ", ".join(qn(f.column) for f in model._meta.local_concrete_fields)
    schema_editor.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(table + '_old')}")
    sql, params = schema_editor.table_sql(model)
    if connection.vendor == "sqlite":
        sql += " WITHOUT ROWID"
    schema_editor.execute(sql, params or None)
    schema_editor.execute(f"INSERT INTO {qn(table)} ({columns}) SELECT {columns} FROM {qn(table + '_old')} "
                          f"ORDER BY {qn('date')}, {qn('loan_id')}")
    schema_editor.execute(f"DROP TABLE {qn(table + '_old')}")


class Migration(migrations.Migration):

    dependencies = [
        ("cob", "0004_snapshot_one_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveConstraint(
                model_name="loansnapshot",
                name="snapshot_unique",
            ),
            migrations.RemoveField(
                model_name="loansnapshot",
                name="id",
            ),
            migrations.AddField(
                model_name="loansnapshot",
                name="pk",
                field=models.CompositePrimaryKey("date", "loan", blank=True, editable=False, primary_key=True,
                                                 serialize=False),
            ),
        ]),
        # the schema editors cannot change a table's primary key to a composite one (nor write WITHOUT ROWID)
        migrations.RunPython(rekey, elidable=False),  # one way: the old key is not worth a way back
    ]
