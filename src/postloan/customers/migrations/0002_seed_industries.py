from django.db import migrations


def seed(apps, schema_editor):
    from postloan.customers.industries import SECTIONS

    Industry = apps.get_model("customers", "Industry")
    for section in SECTIONS:
        sec, _ = Industry.objects.update_or_create(
            code=section.code, defaults={"name": section.name_zh, "name_en": section.name_en, "section": None})
        for division in section.divisions:
            Industry.objects.update_or_create(
                code=division.code, defaults={"name": division.name_zh, "name_en": division.name_en, "section": sec})


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
