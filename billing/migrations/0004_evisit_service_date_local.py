# The date of service is stored, on the clinic's calendar (its time zone), instead of
# being read as window_start's UTC date. Existing rows are filled the same way.

from zoneinfo import ZoneInfo

from django.db import migrations, models


def fill_service_dates(apps, schema_editor):
    EVisit = apps.get_model("billing", "EVisit")
    for evisit in EVisit.objects.filter(window_start__isnull=False).select_related("clinic"):
        zone = ZoneInfo(evisit.clinic.time_zone)
        evisit.service_date = evisit.window_start.astimezone(zone).date()
        evisit.save(update_fields=["service_date"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_plain_admin_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="evisit",
            name="service_date",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.RunPython(fill_service_dates, migrations.RunPython.noop),
    ]
