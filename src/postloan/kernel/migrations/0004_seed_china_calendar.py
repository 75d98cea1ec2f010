from django.db import migrations


def seed(apps, schema_editor):
    from postloan.kernel.calendar import china_calendar, china_calendar_years

    Coverage = apps.get_model("kernel", "CalendarCoverage")
    Day = apps.get_model("kernel", "CalendarDay")
    first, last = china_calendar_years()
    cal = china_calendar(first, last)
    coverage, _ = Coverage.objects.update_or_create(
        code="CN", defaults={"name": "中国大陆 / Mainland China", "first": cal.first, "last": cal.last})
    Day.objects.bulk_create(
        [Day(calendar=coverage, date=d, kind="holiday") for d in sorted(cal.holidays)]
        + [Day(calendar=coverage, date=d, kind="workday") for d in sorted(cal.workdays)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("kernel", "0003_calendar")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
