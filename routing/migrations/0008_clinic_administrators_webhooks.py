"""The "Clinic administrators" group may set up their clinics' webhook subscriptions (no
delete: switch one off, its deliveries stay on record), see the deliveries and replay a
failed one (change_webhookdelivery). Which rows they see is decided by ClinicScopedAdmin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Clinic administrators"
CODENAMES = [
    "view_webhooksubscription",
    "add_webhooksubscription",
    "change_webhooksubscription",
    "view_webhookdelivery",
    "change_webhookdelivery",
]


def _permissions(Permission):
    return list(
        Permission.objects.filter(content_type__app_label="routing", codename__in=CODENAMES)
    )


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*_permissions(apps.get_model("auth", "Permission")))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps.get_model("auth", "Permission")))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_clinic_administrators_integrations"),
        ("routing", "0007_webhook_subscriptions_and_deliveries"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
