import datetime
from decimal import Decimal

from django.db import migrations

# docs/domain.md: Medicare national rates, approximately, 2025. Billing admins edit them.
MEDICARE_2025 = {
    "99421": "15.00",
    "99422": "31.00",
    "99423": "49.00",
    "98970": "12.00",
    "98971": "21.00",
    "98972": "32.00",
}


def seed(apps, schema_editor):
    fee_schedule = apps.get_model("billing", "FeeSchedule")
    for code, amount in MEDICARE_2025.items():
        fee_schedule.objects.get_or_create(
            code=code,
            payer="",
            effective_from=datetime.date(2025, 1, 1),
            defaults={"amount": Decimal(amount)},
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
